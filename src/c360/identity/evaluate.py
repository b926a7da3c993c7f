"""Pairwise precision, recall and F1 of a clustering against the truth (the generator's).

Over the records both sides know: a predicted pair is right when the truth puts both records in
the same person. Counted from cluster sizes, never by listing pairs (a person with 200 records
has 19,900 pairs)."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from c360.lake.store import Lake

MAP = "silver.identity_map"


@dataclass(frozen=True)
class PairScores:
    records: int
    predicted_pairs: int
    true_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def pairwise_scores(predicted: pa.Table, truth: pa.Table) -> PairScores:
    """``predicted``: record, cluster. ``truth``: record, person. Records missing from either are
    left out (a record the resolver never saw is not scored as a miss: coverage is reported
    separately)."""
    con = duckdb.connect()
    try:
        con.register("p", predicted.select(["record", "cluster"]))
        con.register("t", truth.select(["record", "person"]))
        row = con.sql("""
            WITH j AS (SELECT p.record, p.cluster, t.person FROM p JOIN t USING (record)),
            pc AS (SELECT count(*) AS n FROM j GROUP BY cluster),
            tc AS (SELECT count(*) AS n FROM j GROUP BY person),
            both_ AS (SELECT count(*) AS n FROM j GROUP BY cluster, person)
            SELECT (SELECT count(*) FROM j),
                   (SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM pc),
                   (SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM tc),
                   (SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM both_)""").fetchall()[0]
    finally:
        con.close()
    return PairScores(*(int(x) for x in row))


def lake_truth(lake: Lake, truth: pa.Table) -> pa.Table:
    """The true person (record, person) of every identity record of the lake, from the generator's
    truth table (source, record_id, person_id): CRM customers and partner profiles directly, an
    order contact through its orders, a cookie through its events."""
    con = duckdb.connect()
    try:
        con.register("truth", truth)
        con.register("orders", lake.dataset("silver.orders"))
        con.register("events", lake.dataset("silver.web_events"))
        con.register("ids", lake.dataset(MAP))
        return con.sql("""
            SELECT 'crm:' || record_id AS record, person_id AS person FROM truth WHERE source = 'crm.customers'
            UNION ALL
            SELECT 'profile:' || record_id, person_id FROM truth WHERE source = 'files.partner_profiles'
            UNION ALL
            SELECT DISTINCT 'order:' || md5(o.email_key), t.person_id
            FROM orders o JOIN truth t ON t.source = 'purchases.order' AND t.record_id = o.order_id
            WHERE o.email_key IS NOT NULL
            UNION ALL
            SELECT DISTINCT 'web:' || e.cookie_id, t.person_id
            FROM events e JOIN truth t ON t.source = 'stream.events' AND t.record_id = e.event_id
            WHERE 'web:' || e.cookie_id IN (SELECT record_key FROM ids WHERE source = 'web')""").arrow().read_all()
    finally:
        con.close()


def score_lake(lake: Lake, truth: pa.Table) -> dict[str, PairScores]:
    """Pairwise scores of ``silver.identity_map`` against the truth: over all records, and over the
    person records alone (CRM customers and partner profiles)."""
    t = lake_truth(lake, truth)
    pred = lake.read(MAP, ["record_key", "source", "person_id"])
    out = {"all": pairwise_scores(pred.select(["record_key", "person_id"]).rename_columns(["record", "cluster"]), t)}
    people = pred.filter(pc.is_in(pred.column("source"), pa.array(["crm", "profile"])))
    out["crm+profiles"] = pairwise_scores(people.select(["record_key", "person_id"])
                                          .rename_columns(["record", "cluster"]), t)
    return out
