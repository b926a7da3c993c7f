"""Governance units: role config validation, the salt's handling, masks per column meaning,
rules per classification, and the query check."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pyarrow as pa
import pytest

from c360 import catalog
from c360.catalog import Column
from c360.errors import C360Error
from c360.governance.crypto import Keyring
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


def _ring(*kids: str, active: str = "") -> Keyring:
    return Keyring({k: bytes([i + 1]) * 32 for i, k in enumerate(kids)}, active or kids[-1])


def test_tokens_round_trip_keep_nulls_and_differ_for_equal_values() -> None:
    ring = _ring("k1")
    values = pa.array(["Great, thanks!", None, "Great, thanks!", ""])
    tokens = ring.encrypt(values, "gold.sentiment.text").to_pylist()
    assert tokens[1] is None and tokens[0] != tokens[2]  # a fresh nonce per value
    assert all(t.startswith("c360e1:k1:") for t in tokens if t is not None)
    assert "Great" not in "".join(t for t in tokens if t)
    assert ring.decrypt(pa.array(tokens), "gold.sentiment.text").to_pylist() == values.to_pylist()
    assert ring.encrypt(pa.array(tokens), "gold.sentiment.text").to_pylist() == tokens  # sealed once


def test_keys_rotate_old_tokens_still_open_and_a_retired_key_is_named() -> None:
    old = _ring("k1").encrypt(pa.array(["before rotation"]), "t.c")
    rotated = _ring("k1", "k2")  # k2 active, k1 kept
    new = rotated.encrypt(pa.array(["after rotation"]), "t.c")
    assert new.to_pylist()[0].startswith("c360e1:k2:")
    assert rotated.decrypt(pa.concat_arrays([old, new]), "t.c").to_pylist() == ["before rotation", "after rotation"]
    with pytest.raises(C360Error, match="key 'k1', which the keyring lacks"):
        Keyring({"k2": bytes([2]) * 32}, "k2").decrypt(old, "t.c")


def test_a_token_moved_to_another_column_or_altered_does_not_decrypt() -> None:
    ring = _ring("k1")
    token = ring.encrypt(pa.array(["secret text"]), "gold.sentiment.text").to_pylist()[0]
    with pytest.raises(C360Error, match="does not decrypt") as e:
        ring.decrypt(pa.array([token]), "gold.customer_360.email")
    assert "secret" not in str(e.value)
    body = token.rsplit(":", 1)[1]
    flipped = token[: -len(body)] + ("A" if body[0] != "A" else "B") + body[1:]
    with pytest.raises(C360Error, match="does not decrypt"):
        ring.decrypt(pa.array([flipped]), "gold.sentiment.text")
    with pytest.raises(C360Error, match="not an encrypted value"):
        ring.decrypt(pa.array(["plain"]), "gold.sentiment.text")


def test_encryption_keys_come_from_env_or_a_dev_file_never_yaml(make_settings, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from c360.config import load_settings

    dev = make_settings()
    ring = Keyring(settings=dev)
    assert ring.active == "k1"
    assert stat.S_IMODE(os.stat(dev.home / "secrets" / "lake_keys").st_mode) == 0o600
    key = base64.b64encode(bytes(range(32))).decode()
    monkeypatch.setenv("C360_GOVERNANCE__ENCRYPTION_KEYS", f"a={key},b={key}")
    env = make_settings()
    assert Keyring(settings=env).active == "b" and key not in repr(env)
    monkeypatch.setenv("C360_GOVERNANCE__ENCRYPTION_KEYS", "a=tooshort")
    with pytest.raises(C360Error, match="not id=<base64 of 32 bytes>") as e:
        Keyring(settings=make_settings()).active  # noqa: B018 - loads the keys
    assert "tooshort" not in str(e.value)
    cfg = tmp_path / "other" / "c360.yaml"
    cfg.parent.mkdir()
    cfg.write_text(f"governance:\n  encryption_keys: a={key}\n")
    with pytest.raises(C360Error, match="secrets are not allowed in YAML"):
        load_settings(cfg)


def test_the_lake_writes_marked_columns_sealed_and_refuses_without_a_keyring(tmp_path: Path) -> None:
    from c360.lake.store import Lake

    spec = catalog.get("gold.sentiment")
    rows = [{"source": "feedback", "source_id": "F1", "text": "lovely"}]
    data = pa.Table.from_pylist(rows, schema=spec.schema())
    with pytest.raises(ValueError, match="no keyring"):
        Lake(str(tmp_path / "a")).overwrite(spec.id, data)
    lake = Lake(str(tmp_path / "b"), keyring=_ring("k1"))
    lake.overwrite(spec.id, data)
    stored = lake.read(spec.id).column("text").to_pylist()[0]
    assert stored.startswith("c360e1:k1:")
    assert lake.decrypted(spec.id, lake.read(spec.id)).column("text").to_pylist() == ["lovely"]
