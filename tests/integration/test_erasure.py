"""Right to erasure: after `c360 forget PERSON --vacuum-now`, the person's emails, phones and
street are in no current table version of any layer (data and file statistics), in no data file
left on disk, and not back after gold is rebuilt; their orders still count; others are untouched;
the audit records the request without a value."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from typer.testing import CliRunner

from c360 import catalog
from c360.cli import app
from c360.config import Settings
from c360.errors import C360Error
from c360.governance.erasure import find_subject, forget
from c360.lake.store import Lake, lake_from_settings
from c360.ops.audit import read_audit
from c360.ops.pipeline import run_pipeline
from tests.integration.conftest import built_company

FREE_TEXT = ("raw", "text", "comment", "body")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    yield from built_company(tmp_path_factory, "erasure")


def _richest_person(lake: Lake) -> str:
    """A buyer with free text in every table that has some (feedback and survey comments, support
    emails), then the most kinds of records (CRM, profile, cookie, order contact)."""
    return lake.sql("""
        WITH crm AS (SELECT person_id, CAST(record_id AS BIGINT) AS customer_id FROM silver_identity_map
                     WHERE source = 'crm'),
        texts AS (
            SELECT c.person_id,
                   count(DISTINCT f.feedback_id) > 0 AS fb, count(DISTINCT s.survey_id) > 0 AS sv,
                   count(DISTINCT e.email_id) > 0 AS em
            FROM crm AS c
            LEFT JOIN bronze_feedback AS f ON f.customer_id = c.customer_id AND f.comment IS NOT NULL
            LEFT JOIN bronze_surveys AS s ON s.customer_id = c.customer_id AND s.comment IS NOT NULL
            LEFT JOIN bronze_crm_support_emails AS e ON e.customer_id = c.customer_id AND e.body IS NOT NULL
            GROUP BY 1)
        SELECT i.person_id FROM silver_identity_map AS i JOIN texts AS t USING (person_id)
        WHERE i.person_id IN (SELECT person_id FROM gold_fact_orders)
        GROUP BY i.person_id, t.fb, t.sv, t.em
        ORDER BY CAST(t.fb AS INT) + CAST(t.sv AS INT) + CAST(t.em AS INT) DESC, count(DISTINCT i.source) DESC,
                 count(*) DESC, i.person_id
        LIMIT 1""", "silver.identity_map", "gold.fact_orders", "bronze.feedback", "bronze.surveys",
                    "bronze.crm_support_emails").column("person_id")[0].as_py()


def _needles(lake: Lake, person: str) -> set[str]:
    s = find_subject(lake, person)
    streets = lake.sql(f"SELECT street FROM silver_customers WHERE customer_id IN ({','.join(map(str, s.crm_ids))})",
                       "silver.customers").column("street").to_pylist() if s.crm_ids else []
    return {v for v in (*s.emails, *s.phones, *streets) if v and len(v) >= 6}


def _traces(table: pa.Table, needles: set[str]) -> list[str]:
    found = []
    lowered = {n.lower() for n in needles}
    for name in table.column_names:
        if not (pa.types.is_string(table.schema.field(name).type)
                or pa.types.is_large_string(table.schema.field(name).type)):
            continue
        for v in table.column(name).to_pylist():
            if v is None:
                continue
            hit = any(n in v.lower() for n in lowered) if name in FREE_TEXT else v.lower() in lowered
            if hit:
                found.append(name)
    return found


def _current_stats(dt: DeltaTable) -> str:
    adds = dt.get_add_actions(flatten=True)
    return json.dumps(pa.table(adds).to_pylist(), default=str).lower()


def test_forget_leaves_no_trace_of_the_person(built: Settings) -> None:
    lake = lake_from_settings(built)
    person = _richest_person(lake)
    needles = _needles(lake, person)
    subject = find_subject(lake, person)
    links = {"person_id": [person], "customer_id": subject.crm_ids, "profile_id": subject.profile_ids,
             "cookie_id": subject.cookies}
    assert subject.crm_ids and subject.cookies
    assert len(needles) >= 2  # at least an email and a street to look for
    orders_before = lake.sql("SELECT count(*) AS n FROM gold_fact_sales WHERE person_id = ?", "gold.fact_sales",
                             params=[person]).column("n")[0].as_py()
    other = lake.sql("SELECT email FROM gold_customer_360 WHERE person_id <> ? AND email IS NOT NULL "
                     "ORDER BY person_id LIMIT 1", "gold.customer_360", params=[person]).column("email")[0].as_py()
    assert any(_traces(lake.read(t.id), needles) for t in catalog.tables() if lake.exists(t.id))  # there before

    r = CliRunner().invoke(app, ["--home", str(built.home), "forget", person, "--yes", "--vacuum-now", "--json"])
    assert r.exit_code == 0, r.output
    details = json.loads(r.stdout)
    assert details["person_id"] == person and details["tables"] and not any(n in r.stdout for n in needles)

    for spec in catalog.tables():
        if not lake.exists(spec.id):
            continue
        assert not _traces(lake.read(spec.id), needles), f"{spec.id} still holds the person's values"
        stats = _current_stats(lake.table(spec.id))  # type: ignore[arg-type]
        assert not [n for n in needles if n.lower() in stats], f"{spec.id}'s file statistics hold them"
        # and every row linked to the person by an id has no personal value left (free text included)
        names = {c.name for c in spec.columns}
        for column, ids in links.items():
            if column not in names or not ids or not spec.pii_columns():
                continue
            data = lake.read(spec.id)
            mine = data.filter(pa.compute.is_in(data.column(column), pa.array(ids, data.schema.field(column).type)))
            left = [c for c in spec.pii_columns()
                    if c in data.column_names and mine.column(c).null_count < mine.num_rows]
            assert not left, f"{spec.id}: rows of the person by {column} still hold {left}"
    # vacuumed: no data file on disk holds them, current or not
    for f in Path(lake.root).rglob("*.parquet"):
        assert not _traces(pq.read_table(f), needles), f"{f} still holds the person's values"
    # rows are kept: the person's orders still count; another person keeps their email
    assert lake.sql("SELECT count(*) AS n FROM gold_fact_sales WHERE person_id = ?", "gold.fact_sales",
                    params=[person]).column("n")[0].as_py() == orders_before > 0
    assert lake.sql("SELECT count(*) AS n FROM gold_customer_360 WHERE email = ?", "gold.customer_360",
                    params=[other]).column("n")[0].as_py() == 1
    # the audit has the request, without a value
    stages = [a for a in read_audit(lake) if a["stage"] == "governance.forget"]
    assert stages and stages[-1]["status"] == "SUCCESS"
    assert person in stages[-1]["details"] and not any(n in stages[-1]["details"] for n in needles)

    # gold rebuilt from the erased silver has no trace either; forgetting again changes nothing
    run_pipeline(built, ["silver", "gold"])
    for t in catalog.tables("gold"):
        assert not _traces(lake.read(t.id), needles), f"{t.id} got the values back on rebuild"
    again = forget(built, lake, person)
    assert again["tables"] == {}


def test_forget_an_unknown_person_is_a_clear_error(built: Settings) -> None:
    with pytest.raises(C360Error, match="no person 'P-nobody'"):
        forget(built, lake_from_settings(built), "P-nobody")
