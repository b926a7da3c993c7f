"""The shipped example configs load (a renamed key must not silently break them)."""

from __future__ import annotations

from pathlib import Path

from c360.config import load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_prod_example_config_loads() -> None:
    s = load_settings(ROOT / "deploy" / "c360.prod.example.yaml")
    assert s.profile == "prod" and s.engine.name == "spark" and s.lake_root.startswith("s3://")


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "bash scripts/test.sh" in readme
    assert "exec bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
