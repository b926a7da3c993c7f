"""Proof of who sees what: for each role, every PII column of every gold table is read directly,
through joins and via `c360 query`, and compared with the base table and with an independent
implementation of the role's rule (clear, masked, hashed, hidden); row filters, escapes from the
sandbox, and the exported Spark views (run on Sail) are checked too."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from c360 import catalog
from c360.cli import app
from c360.config import Settings, load_settings
from c360.errors import C360Error
from c360.governance.crypto import DECRYPT_FUNCTION
from c360.governance.export import export, spark_view_sql
from c360.governance.keys import hash_salt
from c360.governance.policy import role_views
from c360.governance.query import query_as_role, sandbox
from c360.lake.store import Lake, lake_from_settings
from tests.integration.conftest import built_company

ROLES = ("admin", "analyst", "marketing", "support")
GOLD_PII = [(s.name, c.name) for s in catalog.tables("gold") for c in s.columns if c.pii != "public"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    yield from built_company(tmp_path_factory, "governance")


def _expected_mask(table: str, column: str, v: Any) -> Any:
    """The masked value, written independently of governance/masking.py."""
    if v is None:
        return None
    if isinstance(v, date):
        return date(v.year, 1, 1)
    if column == "email" or column.endswith("email"):
        at = v.find("@")
        return v[0] + "***" + v[at:] if at > 0 else "***"
    if column == "phone":
        return "***" + v[-4:] if len(v) > 4 else "***"
    if column in ("first_name", "last_name"):
        return v[0] + "***" if v else "***"
    if column == "postcode":
        return v[:2] + "***" if len(v) > 2 else "***"
    return "***"


def _hashed(salt: str, v: Any) -> str | None:
    return None if v is None else hashlib.sha256((salt + (v.isoformat() if isinstance(v, date) else str(v)))
                                                 .encode()).hexdigest()


def _by_key(t: pa.Table, keys: tuple[str, ...]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(r[k] for k in keys): r for r in t.to_pylist()}


@pytest.mark.parametrize("role", ROLES)
def test_every_pii_column_of_every_gold_table_is_what_the_role_may_see(built: Settings, role: str) -> None:
    lake = lake_from_settings(built)
    salt = hash_salt(built)
    rules = built.governance.roles[role].rules
    checked = 0
    for spec in catalog.tables("gold"):
        got = query_as_role(built, lake, role, f"SELECT * FROM {spec.name}")
        base = lake.decrypted(spec.id, lake.read(spec.id))  # what the rules apply to
        assert got.num_rows == base.num_rows, spec.id
        pii = spec.pii_columns()
        for col in spec.columns:
            rule = rules.get(col.pii, "hidden") if col.pii != "public" else "clear"
            if col.encrypted and not built.governance.roles[role].decrypt:
                rule = "hidden"  # encrypted at rest: only a role that decrypts sees it
            if rule == "hidden":
                assert col.name not in got.column_names, f"{role} sees hidden {spec.id}.{col.name}"
                continue
            assert col.name in got.column_names, f"{role} misses {spec.id}.{col.name}"
        if not pii:
            continue
        rows, want = _by_key(got, spec.primary_key), _by_key(base, spec.primary_key)
        secret_values = {v for name, cls in pii.items() if rules.get(cls, "hidden") != "clear"
                         for v in base.column(name).to_pylist() if isinstance(v, str) and len(v) >= 6}
        secret_values -= {v for c in spec.columns if c.pii == "public"
                          for v in base.column(c.name).to_pylist() if isinstance(v, str)}
        for key, row in rows.items():
            for name, cls in pii.items():
                rule = rules.get(cls, "hidden")
                if rule == "hidden" or name not in got.column_names:
                    continue
                v = want[key][name]
                expected = v if rule == "clear" else _expected_mask(spec.name, name, v) if rule == "masked" \
                    else _hashed(salt, v)
                assert row[name] == expected, f"{role} {spec.id}.{name} {key}: {row[name]!r} != {expected!r}"
                checked += v is not None
            leaked = [c for c, val in row.items() if isinstance(val, str) and val in secret_values]
            assert not leaked, f"{role} {spec.id} {key}: clear PII in {leaked}"
    assert checked > 1000  # the small company has PII in every such table


def test_hashed_columns_join_but_clear_values_do_not_come_back_through_joins(built: Settings) -> None:
    lake = lake_from_settings(built)
    joined = query_as_role(built, lake, "analyst", """
        SELECT c.person_id, c.email, d.email AS dim_email, d.first_name
        FROM customer_360 AS c JOIN gold.dim_customer AS d ON d.email = c.email""")
    base = lake.sql("SELECT count(*) AS n FROM gold_customer_360 AS c JOIN gold_dim_customer AS d "
                    "ON d.email = c.email", "gold.customer_360", "gold.dim_customer")
    assert joined.num_rows == base.column("n")[0].as_py() > 0  # equal hashes join like the values
    clear = set(lake.read("gold.dim_customer", ["email"]).column("email").to_pylist()) - {None}
    assert not clear & set(joined.column("email").to_pylist() + joined.column("dim_email").to_pylist())
    # a join with a public table gives nothing more either
    via_sales = query_as_role(built, lake, "marketing", """
        SELECT DISTINCT c.email FROM fact_sales AS f JOIN marketing.customer_360 AS c USING (person_id)""")
    assert via_sales.num_rows > 0 and not clear & set(via_sales.column("email").to_pylist())
    assert all(e is None or "***@" in e or e == "***" for e in via_sales.column("email").to_pylist())


def test_the_cli_query_reads_only_the_roles_views(built: Settings) -> None:
    runner = CliRunner()
    home = ["--home", str(built.home)]
    r = runner.invoke(app, [*home, "query", "--role", "support", "--json",
                            "SELECT person_id, email, phone FROM customer_360 WHERE email IS NOT NULL"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    clear = {row["person_id"]: row for row in lake_from_settings(built).read(
        "gold.customer_360", ["person_id", "email", "phone"]).to_pylist()}
    assert rows and all(row["email"] == _expected_mask("customer_360", "email", clear[row["person_id"]]["email"])
                        for row in rows)
    assert all(row["phone"] == _expected_mask("customer_360", "phone", clear[row["person_id"]]["phone"])
               for row in rows)
    refused = runner.invoke(app, [*home, "query", "--role", "support", "SELECT email FROM gold_customer_360"])
    assert refused.exit_code != 0 and "cannot read gold_customer_360" in str(refused.exception)
    unknown = runner.invoke(app, [*home, "query", "--role", "intern", "SELECT 1"])
    assert unknown.exit_code != 0 and "unknown role 'intern'" in str(unknown.exception)


ESCAPES = [
    "SELECT * FROM gold_customer_360",  # the base table by its SQL name
    "SELECT * FROM admin.customer_360",  # another role's views
    "SELECT * FROM main.gold.customer_360",
    "SELECT * FROM read_parquet('{lake}/gold/customer_360/*.parquet')",
    "SELECT * FROM '{lake}/gold/customer_360/*.parquet'",
    "SELECT * FROM read_csv('{lake}/../sources/files/feedback/x.csv')",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM customer_360; SELECT 1",
    "ATTACH '{lake}/x.duckdb' AS x",
    "COPY (SELECT 1) TO '{lake}/x.csv'",
    "PRAGMA database_list",
    "SET enable_external_access = true",
    "DESCRIBE gold_customer_360",
    "CREATE TABLE x AS SELECT 1",
    "SELECT * FROM c360_incoming",  # the name the sandbox loads rows under
    "SELECT * FROM (SELECT * FROM gold_dim_customer) AS t",
]


@pytest.mark.parametrize("sql", ESCAPES)
def test_escapes_from_the_role_are_refused(built: Settings, sql: str) -> None:
    lake = lake_from_settings(built)
    with pytest.raises(C360Error, match=r"cannot read|not allowed|single SELECT|not valid SQL"):
        query_as_role(built, lake, "analyst", sql.format(lake=lake.root))


def test_the_sandbox_is_locked_even_for_sql_that_got_past_the_checks(built: Settings) -> None:
    con = sandbox("analyst", {"customer_360": pa.table({"email": ["a***@x.org"]})})
    lake = lake_from_settings(built)
    for sql in (f"SELECT * FROM read_parquet('{lake.root}/gold/customer_360/*.parquet')",
                "SET enable_external_access = true", f"ATTACH '{lake.root}/x.duckdb'", "SELECT c360_salt()"):
        with pytest.raises(duckdb.Error):
            con.sql(sql).fetchall()
    secret = pa.table({"email": ["clear@example.com"]})  # noqa: F841 - a Python variable the query names
    with pytest.raises(duckdb.Error):
        con.sql("SELECT * FROM secret").fetchall()
    assert con.sql("SELECT email FROM analyst.customer_360").fetchall() == [("a***@x.org",)]


def _settings_with_roles(built: Settings, roles: dict[str, Any]) -> Settings:
    return load_settings(home=built.home, governance={"roles": roles})


def test_a_country_scoped_role_sees_only_its_countrys_people_in_every_table(built: Settings) -> None:
    lake = lake_from_settings(built)
    countries = lake.sql("SELECT country, count(*) AS n FROM gold_dim_customer WHERE country IS NOT NULL "
                         "GROUP BY 1 ORDER BY 2 DESC, 1", "gold.dim_customer").column("country").to_pylist()
    mine = countries[0]
    s = _settings_with_roles(built, {"analyst_local": {"rules": {"pii.direct": "masked"},
                                                       "row_filter": {"column": "country", "values": [mine]}}})
    people = set(lake.sql("SELECT person_id FROM gold_dim_customer WHERE country = ?", "gold.dim_customer",
                          params=[mine]).column("person_id").to_pylist())
    assert 0 < len(people) < lake.count("gold.dim_customer")
    for spec in catalog.tables("gold"):
        got = query_as_role(s, lake, "analyst_local", f"SELECT * FROM {spec.name}")
        names = {c.name for c in spec.columns}
        if "country" in names:
            assert set(got.column("country").to_pylist()) <= {mine}, spec.id
            want = lake.sql(f"SELECT count(*) AS n FROM {spec.sql_name} WHERE country = ?", spec.id, params=[mine])
            assert got.num_rows == want.column("n")[0].as_py(), spec.id
        elif "person_id" in names:
            ids = lake.read(spec.id, ["person_id"]).column("person_id").to_pylist()
            assert got.num_rows == sum(p in people for p in ids) > 0, spec.id
            assert set(got.column("person_id").to_pylist()) <= people, spec.id
        else:  # no person-level rows: the whole table
            assert got.num_rows == lake.count(spec.id), spec.id
        assert "gender" not in got.column_names  # pii.quasi is not named: hidden


def test_a_row_filter_that_cannot_reach_a_person_level_table_hides_it(built: Settings) -> None:
    s = _settings_with_roles(built, {"champions_only": {"rules": {}, "row_filter": {"column": "segment",
                                                                                    "values": ["Champions"]}}})
    views = role_views(s, "champions_only")
    assert "customer_rfm" in views and "customer_360" in views  # they have the column
    assert "fact_sales" not in views and "recommendations" not in views  # person rows, no way to filter
    assert "dim_product" in views and "daily_report" in views  # no person-level rows
    lake = lake_from_settings(built)
    with pytest.raises(C360Error, match="cannot read fact_sales"):
        query_as_role(s, lake, "champions_only", "SELECT count(*) FROM fact_sales")
    got = query_as_role(s, lake, "champions_only", "SELECT DISTINCT segment FROM customer_360")
    assert got.column("segment").to_pylist() == ["Champions"]


@pytest.mark.spark
def test_exported_views_give_the_same_rows_on_spark(built: Settings, spark_engine: Any, tmp_path: Path) -> None:
    """The Spark SQL export of each role's views, run on Sail over the same tables, equals DuckDB."""
    from c360.engine.models import register_table

    lake: Lake = lake_from_settings(built)
    salt = hash_salt(built)
    tables = ("customer_360", "dim_salesperson", "sentiment", "fact_orders")
    for t in (*tables, "dim_customer"):
        register_table(spark_engine, lake, f"gold.{t}", decrypt=False)  # as stored: the views decrypt
    spark_engine.register_function(DECRYPT_FUNCTION, lake.keyring.sql_function(), 2, "string")
    s = _settings_with_roles(built, {**{r: built.governance.roles[r].model_dump() for r in ROLES},
                                     "local": {"rules": {"pii.direct": "hashed", "pii.quasi": "masked"},
                                               "row_filter": {"column": "country", "values": ["DE", "FR"]}}})
    for role in (*ROLES, "local"):
        views = role_views(s, role)
        for t in tables:
            spark_sql = spark_view_sql(views[t], "'" + salt + "'")
            on_spark = spark_engine._execute(spark_sql)
            on_duck = query_as_role(s, lake, role, f"SELECT * FROM {t}")
            keys = catalog.get(f"gold.{t}").primary_key
            a = on_spark.sort_by([(k, "ascending") for k in keys])
            b = on_duck.sort_by([(k, "ascending") for k in keys])
            assert a.num_rows == b.num_rows, (role, t)
            for name in b.column_names:
                assert a.column(name).to_pylist() == b.column(name).to_pylist(), (role, t, name)
    paths = export(s, tmp_path)
    spark_text = (tmp_path / "spark_views.sql").read_text()
    assert [p.name for p in paths] == ["duckdb_views.sql", "spark_views.sql", "databricks_grants.sql"]
    assert "CREATE OR REPLACE VIEW gold_local.customer_360" in spark_text and salt not in spark_text
    assert salt not in (tmp_path / "duckdb_views.sql").read_text()


def test_encrypted_columns_are_tokens_at_rest_and_clear_only_for_roles_that_decrypt(built: Settings) -> None:
    import pyarrow.parquet as pq

    lake = lake_from_settings(built)
    spec = catalog.get("gold.sentiment")
    assert spec.encrypted_columns() == ("text",)
    clear = lake.decrypted(spec.id, lake.read(spec.id)).column("text").to_pylist()
    files = list(Path(lake.uri(spec.id)).glob("*.parquet"))
    stored = pa.concat_tables([pq.read_table(f, columns=["text"]) for f in files]).column("text").to_pylist()
    assert len(stored) == len(clear) > 0
    assert all(t.startswith(f"c360e1:{lake.keyring.active}:") for t in stored if t is not None)
    raw = b"".join(f.read_bytes() for f in files)
    assert not [t for t in clear if t and len(t) > 12 and t.encode() in raw]  # no clear comment in the files
    # the admin (decrypt) reads clear text through its view; support (sensitive: clear) does not decrypt
    admin = query_as_role(built, lake, "admin", "SELECT text FROM sentiment")
    assert sorted(admin.column("text").to_pylist()) == sorted(clear)
    assert "text" not in query_as_role(built, lake, "support", "SELECT * FROM sentiment").column_names
    with pytest.raises(C360Error, match=r"query failed"):
        query_as_role(built, lake, "support", "SELECT c360_decrypt(source_id, 'gold.sentiment.text') FROM sentiment")
    # the models read it in clear: the sentiment scores customer_360 averages come from the text
    assert lake.count("gold.customer_360") > 0
