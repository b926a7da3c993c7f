"""Shared fixtures. Markers follow the folder (unit / integration / e2e); tests that need the real
services are marked ``services`` and fail loudly (never skip) when a service is down."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from c360.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for kind in ("unit", "integration", "e2e"):
            if f"{os.sep}{kind}{os.sep}" in str(item.fspath):
                item.add_marker(getattr(pytest.mark, kind))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never inherit a developer's C360_* settings."""
    for k in list(os.environ):
        if k.startswith("C360_") and k not in ("C360_S3_ACCESS_KEY", "C360_S3_SECRET_KEY"):
            monkeypatch.delenv(k, raising=False)


@pytest.fixture
def make_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Settings with home under tmp_path (no YAML unless given)."""
    monkeypatch.chdir(tmp_path)

    def make(**overrides: object) -> Settings:
        return load_settings(home=tmp_path / "home", **overrides)

    return make


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


SERVICE_PORTS = {
    "mariadb": int(os.environ.get("C360_MARIADB_PORT", 3306)),
    "postgres": int(os.environ.get("C360_POSTGRES_PORT", 5432)),
    "seaweedfs": int(os.environ.get("C360_S3_PORT", 8333)),
    "kinesalite": int(os.environ.get("C360_KINESIS_PORT", 4567)),
    "tansu": int(os.environ.get("C360_KAFKA_PORT", 9092)),
}
S3_KEY = os.environ.get("C360_S3_ACCESS_KEY", "c360local")
S3_SECRET = os.environ.get("C360_S3_SECRET_KEY", "c360localsecret")


@pytest.fixture
def services() -> dict[str, int]:
    """The real services' ports; fails (not skips) if one is down."""
    down = [n for n, p in SERVICE_PORTS.items() if not port_open(p)]
    if down:
        pytest.fail(f"services down: {', '.join(down)} — start them with `bash scripts/services.sh up`")
    return SERVICE_PORTS
