"""Right to erasure (``c360 forget PERSON_ID``): every personal value of one person is removed from
every layer of the lake, and the request is recorded in the run audit.

1. The person's records come from identity resolution (silver.identity_map): CRM customer ids,
   partner profile ids, web cookies, guest-order contacts; their emails and phones are read from
   those records (silver customers, profiles, orders).
2. In each table with personal columns (catalog tag other than public, encrypted ones included),
   the person's rows are found by the linking columns the table has — ``person_id``,
   ``customer_id``, ``profile_id``, ``cookie_id``, ``email_key``, ``email`` — and their personal
   columns set to NULL in one Delta UPDATE per table. Rows are kept, not deleted: orders, sessions
   and scores stay countable, with nobody's name on them. ``ops.quarantine`` rows whose raw text
   holds one of the person's emails or phones lose the raw text (the rule and reason stay).
3. Delta keeps superseded files for time travel: VACUUM removes them once they are older than
   ``governance.erasure_retention_hours`` (a later ``c360 forget`` or ``--vacuum-now``, which
   removes them at once and gives up time travel on those tables).

The audit records the person id, the tables and row counts, never a value. The sources (the
CRM, partner feeds) are systems of record outside the lake: their owners must erase there too,
or the next ingest brings the values back (the audit lists the source ids to hand them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from c360 import catalog
from c360.catalog import TableSpec
from c360.config import Settings
from c360.engine.base import literal
from c360.errors import C360Error
from c360.lake.store import Lake
from c360.ops.audit import RunAudit


@dataclass
class Subject:
    """What links rows to the person."""

    person_id: str
    crm_ids: list[int] = field(default_factory=list)
    profile_ids: list[str] = field(default_factory=list)
    cookies: list[str] = field(default_factory=list)
    email_keys: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)


_LINKS = ("person_id", "customer_id", "profile_id", "cookie_id", "email_key", "email")


def _in(column: str, values: Any, numeric: bool = False) -> str | None:
    vals = sorted(set(values))
    if not vals:
        return None
    return f"{column} IN ({', '.join(str(int(v)) if numeric else literal(str(v)) for v in vals)})"


def find_subject(lake: Lake, person_id: str) -> Subject:
    """The person's source ids, emails and phones; an unknown person is an error."""
    ids = lake.sql("SELECT source, record_id FROM silver_identity_map WHERE person_id = ?",
                   "silver.identity_map", params=[person_id]).to_pylist() if lake.exists("silver.identity_map") else []
    if not ids:
        raise C360Error(f"no person {person_id!r} in silver.identity_map", where="forget",
                        fix="use a person_id from gold.customer_360 (identity resolution assigns them)")
    s = Subject(person_id)
    order_contacts = set()
    for r in ids:
        src, rid = r["source"], r["record_id"]
        if src == "crm":
            s.crm_ids.append(int(rid))
        elif src == "profile":
            s.profile_ids.append(rid)
        elif src == "web":
            s.cookies.append(rid)
        elif src == "order":
            order_contacts.add(rid)
    contact_tables = (("silver.customers", _in("customer_id", s.crm_ids, numeric=True), "phone"),
                      ("silver.partner_profiles", _in("profile_id", s.profile_ids), "phone"),
                      ("silver.orders", _in("md5(email_key)", order_contacts), None))
    for table_id, where, phone in contact_tables:
        if where is None or not lake.exists(table_id):
            continue
        cols = "email, email_key" + (f", {phone}" if phone else "")
        for row in lake.sql(f"SELECT DISTINCT {cols} FROM {catalog.get(table_id).sql_name} WHERE {where}",
                            table_id).to_pylist():
            s.emails |= {row["email"]} - {None}
            s.email_keys |= {row["email_key"]} - {None}
            if phone:
                s.phones |= {row[phone]} - {None}
    s.emails |= s.email_keys
    return s


def predicate(spec: TableSpec, s: Subject) -> str | None:
    """The SQL condition (DuckDB and delta-rs alike) of the person's rows in ``spec``; None when
    the table has no column linking rows to a person."""
    names = {c.name for c in spec.columns}
    parts = []
    if "person_id" in names:
        parts.append(f"person_id = {literal(s.person_id)}")
    if "customer_id" in names:
        parts.append(_in("customer_id", s.crm_ids, numeric=True))
    if "profile_id" in names:
        parts.append(_in("profile_id", s.profile_ids))
    if "cookie_id" in names:
        parts.append(_in("cookie_id", s.cookies))
    if "email_key" in names:
        parts.append(_in("email_key", s.email_keys))
    if "email" in names:
        parts.append(_in("lower(trim(email))", {e.strip().lower() for e in s.emails}))
    if spec.id == "ops.quarantine":
        # the raw text of a rejected record: any mention of the person's emails or phones
        needles = sorted({e.lower() for e in s.emails} | s.phones)
        parts.extend(f"strpos(lower(raw), {literal(n.lower())}) > 0" for n in needles)
    linkable = spec.id == "ops.quarantine" or bool(names & set(_LINKS))
    if not linkable:
        return None
    linked = [p for p in parts if p]
    return " OR ".join(f"({p})" for p in linked) if linked else "FALSE"


def erasable_tables() -> list[TableSpec]:
    """Tables holding personal columns (any tag but public), in catalog order."""
    return [t for t in catalog.tables() if t.pii_columns()]


def forget(settings: Settings, lake: Lake, person_id: str, vacuum_now: bool = False) -> dict[str, Any]:
    """Erase ``person_id`` (module doc); returns the audit details: rows per table, tables with no
    link to persons, and what VACUUM removed."""
    audit = RunAudit(lake, command="forget")
    audit.begin()
    try:
        with audit.stage("governance.forget") as rec:
            subject = find_subject(lake, person_id)
            details: dict[str, Any] = {
                "person_id": person_id,
                "source_ids": {"crm": sorted(subject.crm_ids), "profile": sorted(subject.profile_ids),
                               "web": sorted(subject.cookies), "order_contacts": len(subject.email_keys)},
                "tables": {}, "not_linked": [], "vacuum": {},
            }
            for spec in erasable_tables():
                if not lake.exists(spec.id):
                    continue
                where = predicate(spec, subject)
                if where is None:
                    details["not_linked"].append(spec.id)
                    continue
                present = set(lake.dataset(spec.id).schema.names)
                cols = [c for c in spec.pii_columns() if c in present]
                if not cols:
                    continue
                # only rows with a value left: a second request for the same person commits nothing
                where = f"({where}) AND ({' OR '.join(f'{c} IS NOT NULL' for c in cols)})"
                hits = lake.sql(f"SELECT count(*) AS n FROM {spec.sql_name} WHERE {where}", spec.id)
                if hits.column("n")[0].as_py() == 0:
                    continue
                n = lake.null_columns(spec.id, cols, where, metadata={"c360.run_id": audit.run_id,
                                                                      "c360.operation": "forget"})
                details["tables"][spec.id] = n
                rec.rows_out += n
            # every table with personal columns, not only those touched now: files an earlier
            # erasure superseded are removed once they are old enough
            details["vacuum"] = vacuum(settings, lake, [t.id for t in erasable_tables() if lake.exists(t.id)],
                                       now=vacuum_now)
            rec.details = details
    except BaseException as e:
        audit.end("FAILED", f"{type(e).__name__}: {e}")
        raise
    audit.end("SUCCESS")
    return details


def vacuum(settings: Settings, lake: Lake, table_ids: list[str], now: bool = False) -> dict[str, int]:
    """VACUUM ``table_ids``: files superseded more than ``governance.erasure_retention_hours`` ago
    (or all superseded files with ``now``); returns files removed per table."""
    hours = 0 if now else settings.governance.erasure_retention_hours
    return {t: lake.vacuum(t, hours) for t in table_ids}
