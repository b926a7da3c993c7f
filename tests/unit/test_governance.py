"""Governance units: role config validation, the salt's handling, masks per column meaning,
rules per classification, and the query check."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from c360 import catalog
from c360.catalog import Column
from c360.errors import C360Error
from c360.governance.keys import hash_salt
from c360.governance.masking import mask_kind
from c360.governance.policy import role, role_views, rule_for
from c360.governance.query import referenced_tables


def test_roles_refuse_unknown_classifications_and_masked_public(make_settings) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(C360Error, match="unknown classification"):
        make_settings(governance={"roles": {"x": {"rules": {"pii.secret": "clear"}}}})
    with pytest.raises(C360Error, match="public columns are always clear"):
        make_settings(governance={"roles": {"x": {"rules": {"public": "hidden"}}}})
    with pytest.raises(C360Error, match="lower-case identifiers"):
        make_settings(governance={"roles": {"Bad Role": {"rules": {}}}})
    with pytest.raises(C360Error, match="unknown role 'intern'"):
        role(make_settings(), "intern")


def test_the_hash_salt_is_refused_in_yaml_and_read_from_env(make_settings, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from c360.config import load_settings

    cfg = tmp_path / "elsewhere" / "c360.yaml"
    cfg.parent.mkdir()
    cfg.write_text("governance:\n  hash_salt: abcdefabcdefabcdef\n")
    with pytest.raises(C360Error, match=r"secrets are not allowed in YAML: governance\.hash_salt"):
        load_settings(cfg)
    monkeypatch.setenv("C360_GOVERNANCE__HASH_SALT", "s" * 20)
    s = make_settings()
    assert hash_salt(s) == "s" * 20 and "s" * 20 not in repr(s.governance)
    monkeypatch.setenv("C360_GOVERNANCE__HASH_SALT", "short")
    with pytest.raises(C360Error, match="shorter than 16"):
        hash_salt(make_settings())


def test_dev_keeps_one_private_salt_and_prod_requires_one(make_settings) -> None:  # type: ignore[no-untyped-def]
    s = make_settings()
    first = hash_salt(s)
    assert len(first) == 64 and hash_salt(s) == first
    path = s.home / "secrets" / "hash_salt"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    prod = make_settings(profile="prod", crm={"url": "sqlite:///x.db"}, object_store={"url": "/tmp/f"},
                         stream={"url": "/tmp/s"}, lake={"root": "/tmp/l"}, serving={"url": "/tmp/v.duckdb"})
    with pytest.raises(C360Error, match=r"profile prod needs governance\.hash_salt"):
        hash_salt(prod)


@pytest.mark.parametrize(("col", "kind"), [
    (Column("email", "string", "pii.direct"), "email"), (Column("contact_email", "string", "pii.direct"), "email"),
    (Column("phone", "string", "pii.direct"), "phone"), (Column("first_name", "string", "pii.direct"), "initial"),
    (Column("postcode", "string", "pii.quasi"), "prefix2"), (Column("date_of_birth", "date", "pii.direct"), "year"),
    (Column("gender", "string", "pii.quasi"), "redact"), (Column("text", "string", "sensitive"), "redact"),
    (Column("age", "int32", "pii.quasi"), "null"),
])
def test_each_column_is_masked_by_its_meaning(col: Column, kind: str) -> None:
    assert mask_kind(col) == kind


def test_rules_per_classification_and_unnamed_ones_hidden(make_settings) -> None:  # type: ignore[no-untyped-def]
    s = make_settings(governance={"roles": {"ops": {"rules": {"pii.direct": "masked"}}}})
    r = s.governance.roles["ops"]
    assert rule_for(r, Column("email", pii="pii.direct")) == "masked"
    assert rule_for(r, Column("gender", pii="pii.quasi")) == "hidden"
    assert rule_for(r, Column("country")) == "clear"
    view = role_views(s, "ops")["customer_360"]
    assert '"gender"' not in view and '"email"' in view and "sentiment" in role_views(s, "ops")
    assert '"text"' not in role_views(s, "ops")["sentiment"]
    every = {spec.name for spec in catalog.tables("gold")}
    assert set(role_views(s, "ops")) == every


@pytest.mark.parametrize(("sql", "used"), [
    ("SELECT * FROM customer_360", {"customer_360"}),
    ("WITH a AS (SELECT * FROM gold.fact_sales) SELECT * FROM a JOIN ops.dim_date USING (date_key)",
     {"fact_sales", "dim_date"}),
    ("SELECT 1 UNION ALL SELECT count(*) FROM dim_product", {"dim_product"}),
])
def test_the_query_check_finds_the_tables_read(sql: str, used: set[str]) -> None:
    assert referenced_tables(sql, "ops", {"customer_360", "fact_sales", "dim_date", "dim_product"}) == used


def test_a_cte_cannot_shadow_a_table_of_another_schema() -> None:
    with pytest.raises(C360Error, match=r"cannot read admin\.x"):
        referenced_tables("WITH x AS (SELECT 1) SELECT * FROM admin.x", "ops", {"customer_360"})
