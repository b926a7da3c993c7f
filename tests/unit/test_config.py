from __future__ import annotations

from pathlib import Path

import pytest

from c360.config import STARTER_CONFIG, load_settings
from c360.errors import C360Error


def test_defaults_live_under_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(home=tmp_path / "h")
    home = (tmp_path / "h").resolve()
    assert s.crm_url == f"sqlite:///{home}/sources/crm.db"
    assert s.lake_root == str(home / "lake")
    assert s.object_store_url == str(home / "sources" / "files")
    assert s.stream_url == str(home / "sources" / "stream")
    assert s.serving_url == str(home / "serving.duckdb")


def test_home_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("C360_HOME", str(tmp_path / "envhome"))
    assert load_settings().lake_root == str((tmp_path / "envhome" / "lake").resolve())


def test_yaml_then_env_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("lake:\n  root: s3://from-yaml/lake\nstream:\n  shards: 3\n")
    monkeypatch.setenv("C360_LAKE__ROOT", "s3://from-env/lake")
    s = load_settings(cfg)
    assert s.lake_root == "s3://from-env/lake"
    assert s.stream.shards == 3


def test_starter_config_loads(tmp_path: Path) -> None:
    cfg = tmp_path / "c360.yaml"
    cfg.write_text(STARTER_CONFIG)
    s = load_settings(cfg)
    assert s.profile == "dev" and s.engine.name == "duckdb"


def test_unknown_key_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("lake:\n  rooot: /x\n")
    with pytest.raises(C360Error, match=r"unknown key 'lake.rooot'"):
        load_settings(cfg)


def test_bad_value_names_key_and_env(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("crm:\n  url: oracle://x\n")
    with pytest.raises(C360Error) as e:
        load_settings(cfg)
    assert "'crm.url'" in str(e.value) and "C360_CRM__URL" in str(e.value)


@pytest.mark.parametrize("yaml_text", [
    "crm:\n  password: hunter2\n",
    "lake:\n  secret_access_key: abc\n",
    "crm:\n  url: mysql+pymysql://root:hunter2@127.0.0.1/crm\n",
])
def test_secrets_in_yaml_are_refused(tmp_path: Path, yaml_text: str) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml_text)
    with pytest.raises(C360Error, match="secrets are not allowed in YAML") as e:
        load_settings(cfg)
    assert "hunter2" not in str(e.value)


def test_secret_from_env_is_hidden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("C360_CRM__PASSWORD", "hunter2")
    s = load_settings()
    assert s.crm.password is not None and s.crm.password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.model_dump())


def test_secret_from_secret_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "C360_LAKE__SECRET_ACCESS_KEY").write_text("s3cr3t\n")
    (tmp_path / "secrets" / "C360_LAKE__ACCESS_KEY_ID").write_text("AKID")
    monkeypatch.setenv("C360_SECRETS_DIR", str(tmp_path / "secrets"))
    opts = load_settings().lake.delta_storage_options()
    assert opts["AWS_SECRET_ACCESS_KEY"] == "s3cr3t" and opts["AWS_ACCESS_KEY_ID"] == "AKID"


def test_prod_profile_requires_explicit_endpoints(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("profile: prod\nlake:\n  root: s3://b/lake\n")
    with pytest.raises(C360Error, match=r"crm\.url") as e:
        load_settings(cfg)
    assert "lake.root" not in str(e.value)


PROFILES_YAML = """\
stream:
  shards: 2
profiles:
  dev:
    stream:
      shards: 5
  prod:
    crm: {url: "sqlite:////tmp/x.db"}
    object_store: {url: "s3://b/files"}
    stream: {url: "kinesis://events"}
    lake: {root: "s3://b/lake"}
    serving: {url: "/tmp/s.duckdb"}
"""


def test_profile_overlay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(PROFILES_YAML)
    assert load_settings(cfg).stream.shards == 5
    monkeypatch.setenv("C360_PROFILE", "prod")
    prod = load_settings(cfg)
    assert prod.profile == "prod" and prod.stream.shards == 2 and prod.stream_url == "kinesis://events"


def test_invalid_yaml_is_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("lake: [unclosed\n")
    with pytest.raises(C360Error, match="not valid YAML"):
        load_settings(cfg)


def test_missing_explicit_config_file(tmp_path: Path) -> None:
    with pytest.raises(C360Error, match="not found"):
        load_settings(tmp_path / "nope.yaml")


@pytest.mark.parametrize(("key", "value"), [
    ("lake:\n  root", "gs://bucket/lake"), ("object_store:\n  url", "abfss://x/y"),
    ("stream:\n  url", "pulsar://t"), ("serving:\n  url", "mysql+pymysql://x/y"), ("crm:\n  url", "/tmp/crm.db"),
])
def test_unsupported_endpoint_schemes_are_named(tmp_path: Path, key: str, value: str) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"{key}: {value}\n")
    with pytest.raises(C360Error, match="must be"):
        load_settings(cfg)
