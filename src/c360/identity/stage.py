"""The identity stage of the pipeline: one ``person_id`` for every CRM customer, partner profile,
guest-order contact and logged-in web cookie, stable from run to run.

Writes ``silver.identity_map`` (record -> person), ``silver.identity_links`` (every link used, with
its rule, match probability and evidence) and appends merges and splits to
``silver.identity_changes``. Every record is clustered afresh each run; ``cluster.assign_ids``
keeps the previous ids.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from c360 import catalog
from c360.engine.models import register_inputs
from c360.identity.cluster import assign_ids, components
from c360.identity.match import LINKS, MatchSettings, links
from c360.identity.prepare import FEATURES, with_first_forms
from c360.lake.build import record_dq
from c360.lake.rules import expand
from c360.lake.standardise import FUNCTIONS
from c360.ops.audit import StageRecord, now
from c360.quality.expectations import check

MAP, LINKS_TABLE, CHANGES = "silver.identity_map", "silver.identity_links", "silver.identity_changes"


def records(ctx: Any) -> pa.Table:
    """FEATURES (+ record_id) of every silver record that names a person."""
    spec = catalog.get(MAP)
    register_inputs(ctx.engine, ctx.lake, spec)
    ctx.engine.ensure_functions(FUNCTIONS)
    out = ctx.engine.sql(expand(resources.files("c360.identity").joinpath("records.sql").read_text()))
    return with_first_forms(out).select([*FEATURES.names, "record_id"]).cast(
        FEATURES.append(pa.field("record_id", pa.string())))


def login_links(ctx: Any, crm_keys: pa.Array) -> pa.Table:
    """Cookie -> customer from login events: each cookie to the customer who logged in on it most
    often (a shared device names its main user; the evidence says how many others)."""
    con = duckdb.connect()
    try:
        con.register("ev", ctx.lake.dataset("silver.web_events") if ctx.lake.exists("silver.web_events")
                     else catalog.get("silver.web_events").schema().empty_table())
        con.register("crm", pa.table({"record_key": crm_keys}))
        t = con.sql("""
            WITH logins AS (
                SELECT cookie_id, customer_id, count(*) AS n FROM ev
                WHERE cookie_id IS NOT NULL AND customer_id IS NOT NULL GROUP BY ALL
            ),
            ranked AS (
                SELECT *, sum(n) OVER (PARTITION BY cookie_id) AS total,
                       count(*) OVER (PARTITION BY cookie_id) AS customers
                FROM logins
                QUALIFY row_number() OVER (PARTITION BY cookie_id ORDER BY n DESC, customer_id) = 1
            )
            SELECT 'crm:' || CAST(customer_id AS VARCHAR) AS record_key_l, 'web:' || cookie_id AS record_key_r,
                   'login' AS rule, n / total AS match_probability, CAST(NULL AS DOUBLE) AS match_weight,
                   '{"logins": ' || n || ', "customers_on_cookie": ' || customers || '}' AS evidence
            FROM ranked
            WHERE 'crm:' || CAST(customer_id AS VARCHAR) IN (SELECT record_key FROM crm)""").arrow().read_all()
    finally:
        con.close()
    return t.cast(LINKS)


def build_identity(ctx: Any, rec: StageRecord) -> None:
    """Resolve every person in silver and write the identity tables (see the module docstring)."""
    cfg = ctx.settings.identity
    ms = MatchSettings(threshold=cfg.match_threshold, u_max_pairs=cfg.u_max_pairs, seed=cfg.seed)
    recs = records(ctx)
    people = recs.filter(pc.is_in(recs.column("source"), pa.array(["crm", "profile"])))
    found, model = links(recs.select(FEATURES.names), ms, probabilistic=people.select(FEATURES.names))
    crm_keys = people.filter(pc.equal(people.column("source"), "crm")).column("record_key")
    web = login_links(ctx, crm_keys.combine_chunks())
    all_links = pa.concat_tables([found, web])
    cookies = web.column("record_key_r")
    keys = pa.concat_arrays([recs.column("record_key").combine_chunks(), cookies.combine_chunks()])
    sources = pa.concat_arrays([recs.column("source").combine_chunks(),
                                pa.array(["web"] * len(cookies), pa.string())])
    ids = pa.concat_arrays([recs.column("record_id").combine_chunks(),
                            pc.utf8_slice_codeunits(cookies, 4).combine_chunks()])
    comp = components(keys, all_links)
    previous = ctx.lake.read(MAP, ["record_key", "person_id"]) if ctx.lake.exists(MAP) else None
    assigned = assign_ids(pa.table({"record_key": keys, "comp": comp}), previous)
    by_key = pa.table({"record_key": keys, "source": sources, "record_id": ids}).join(
        assigned.persons, "record_key")
    run_id, at = ctx.audit.run_id, now()
    size = by_key.group_by("person_id").aggregate([("record_key", "count")])
    mapped = by_key.join(size.rename_columns(["person_id", "person_records"]), "person_id")
    mapped = mapped.append_column("run_id", pa.array([run_id] * mapped.num_rows, pa.string()))
    checked = check(ctx.engine, catalog.get(MAP), catalog.conform(mapped, catalog.get(MAP)))
    meta = {"c360.run_id": run_id}
    ctx.lake.overwrite(LINKS_TABLE, all_links.append_column("run_id", pa.array([run_id] * all_links.num_rows,
                                                                                 pa.string())),
                       metadata={**meta, "c360.splink_model": model})
    ctx.lake.overwrite(MAP, checked.kept, metadata=meta)
    changes = assigned.changes
    if changes.num_rows:
        ctx.lake.append(CHANGES, changes.append_column("run_id", pa.array([run_id] * changes.num_rows, pa.string()))
                        .append_column("changed_at", pa.array([at] * changes.num_rows,
                                                              pa.timestamp("us", tz="UTC"))), metadata=meta)
    rec.rows_in = len(keys)
    rec.rows_out = checked.kept.num_rows
    record_dq(rec, checked, ctx.settings.quality.threshold(MAP))
    kinds = pc.value_counts(changes.column("change")).to_pylist() if changes.num_rows else []
    rec.details["identity"] = {
        "records": dict(zip(*[pc.value_counts(sources).field(f).to_pylist() for f in ("values", "counts")],
                            strict=True)),
        "persons": assigned.persons_total, "new_persons": assigned.new_persons,
        "links": dict(zip(*[pc.value_counts(all_links.column("rule")).field(f).to_pylist()
                            for f in ("values", "counts")], strict=True)),
        **{k["values"] + "s": k["counts"] for k in kinds},
        "threshold": ms.threshold,
        "probability_two_random_records_match": model.get("probability_two_random_records_match"),
        "training_notes": model.get("c360_training_notes", []),
    }
