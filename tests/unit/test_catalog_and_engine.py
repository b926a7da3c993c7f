from __future__ import annotations

import pyarrow as pa
import pytest
import sqlglot

from c360 import catalog
from c360.engine.base import Engine
from c360.engine.models import model_sql


@pytest.mark.parametrize("spec", [t for t in catalog.tables()
                                  if t.layer in ("silver", "gold") and t.built_by == "model"], ids=str)
def test_every_model_exists_parses_and_reads_declared_inputs(spec: catalog.TableSpec) -> None:
    sql = model_sql(spec)
    tree = sqlglot.parse_one(sql, read="duckdb")
    ctes = {c.alias for c in tree.find_all(sqlglot.exp.CTE)}
    # a history model also reads its watermark (silver/history.py registers it)
    read = {t.name for t in tree.find_all(sqlglot.exp.Table)} - ctes
    assert read == {catalog.get(i).sql_name for i in spec.inputs} | ({"c360_watermark"} if spec.history_key else set())
    assert spec.primary_key and all(k in spec.schema().names for k in spec.primary_key)


def test_every_expectation_compiles() -> None:
    for spec in catalog.tables():
        for e in spec.expectations:
            sqlglot.parse_one(f"SELECT {e.rule} FROM t", read="duckdb")
            assert e.action in ("warn", "drop", "fail")


def test_conform_casts_and_fills() -> None:
    spec = catalog.get("bronze.feedback")
    t = catalog.conform(pa.table({"feedback_id": ["a"], "rating": pa.array([5], pa.int32()), "extra": [1]}), spec)
    assert t.schema.equals(spec.schema())
    assert t.column("customer_id").to_pylist() == [None]


class _Spy(Engine):
    dialect = "spark"

    def register(self, name, data):  # type: ignore[no-untyped-def]
        pass

    def register_function(self, name, fn, arity, returns):  # type: ignore[no-untyped-def]
        pass

    def register_query(self, name, sql):  # type: ignore[no-untyped-def]
        pass

    def _execute(self, sql: str) -> pa.Table:
        self.seen = sql
        return pa.table({})


def test_spark_engine_gets_transpiled_sql() -> None:
    spy = _Spy()
    spy.sql("SELECT regexp_matches(a, 'x') FROM t QUALIFY row_number() OVER (ORDER BY a) = 1")
    assert "RLIKE" in spy.seen and "QUALIFY" not in spy.seen


def test_encrypted_columns_are_text() -> None:
    # tokens are text: a date or number column would change type at rest
    sealed = [(t.id, c.name) for t in catalog.tables() for c in t.columns if c.encrypted]
    assert sealed and all(catalog.get(t).column(c).type == "string" for t, c in sealed)


def test_pii_tags_are_declared_for_contact_columns() -> None:
    for spec in catalog.tables():
        for col in ("email", "phone", "first_name", "last_name"):
            if col in spec.schema().names:
                assert spec.column(col).pii == "pii.direct", f"{spec.id}.{col}"
