"""From links to persons: connected components, then person ids that stay stable across runs.

Each run clusters every record afresh, then reconciles the clusters with the previous map:
- a cluster keeps the previous id most of its records had (a new record joins a person without
  renumbering anyone);
- clusters that bring several previous persons together keep the largest one's id: the others
  are *merged* into it;
- a previous person whose records now fall into several clusters keeps its id in the cluster with
  most of them; the records elsewhere are *split* off to that cluster's person;
- a cluster with no previous id gets a new one, derived from its smallest record key (so a fresh
  lake built twice numbers people the same way).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

CHANGES = pa.schema([("change", pa.string()), ("person_id", pa.string()), ("other_person_id", pa.string()),
                     ("records", pa.int64())])


def components(record_keys: pa.Array, links: pa.Table) -> pa.Array:
    """The connected component of each record (an int64 per record, in ``record_keys`` order)."""
    n = len(record_keys)
    if n == 0:
        return pa.array([], pa.int64())
    left = pc.index_in(links.column("record_key_l"), value_set=record_keys).to_numpy(zero_copy_only=False)
    right = pc.index_in(links.column("record_key_r"), value_set=record_keys).to_numpy(zero_copy_only=False)
    ok = ~(np.isnan(left.astype(float)) | np.isnan(right.astype(float)))  # links to unknown records are ignored
    left, right = left[ok].astype(np.int64), right[ok].astype(np.int64)
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return pa.array(labels.astype(np.int64))


@dataclass(frozen=True)
class Assignment:
    """Person id per record, and what changed against the previous map."""

    persons: pa.Table  # record_key, person_id
    changes: pa.Table  # CHANGES: merge / split rows
    new_persons: int
    persons_total: int


def _mint(key_sql: str) -> str:
    """SQL of a new person id from a stable key: ``P`` + the first 64 bits of its md5 in base64url
    (11 characters). Twelve characters in all, so that DuckDB stores the id inline in the string
    header (≤ 12 bytes) instead of behind a pointer: every join and group-by on person_id in silver
    and gold compares and hashes it ~30 % faster than the 18-character ``P-<16 hex>`` ids of
    earlier versions (which a lake keeps: assigned ids never change)."""
    b64 = f"rtrim(to_base64(unhex(substr(md5({key_sql}), 1, 16))), '=')"
    return f"'P' || replace(replace({b64}, '+', '-'), '/', '_')"


def assign_ids(clusters: pa.Table, previous: pa.Table | None) -> Assignment:
    """``clusters``: record_key, comp. ``previous``: record_key, person_id (the last map)."""
    prev = previous if previous is not None else pa.table({"record_key": pa.array([], pa.string()),
                                                          "person_id": pa.array([], pa.string())})
    con = duckdb.connect()
    try:
        con.register("cur", clusters)
        con.register("prev", prev.select(["record_key", "person_id"]))
        con.execute(f"""
            CREATE TEMP TABLE votes AS
            SELECT c.comp, p.person_id, count(*) AS n
            FROM cur c JOIN prev p USING (record_key) GROUP BY c.comp, p.person_id;
            -- each previous id belongs to the cluster holding most of its records
            CREATE TEMP TABLE owner AS
            SELECT person_id, comp FROM votes
            QUALIFY row_number() OVER (PARTITION BY person_id ORDER BY n DESC, comp) = 1;
            -- each cluster keeps the largest previous id it owns
            CREATE TEMP TABLE claim AS
            SELECT v.comp, v.person_id FROM votes v JOIN owner o USING (person_id, comp)
            QUALIFY row_number() OVER (PARTITION BY v.comp ORDER BY v.n DESC, v.person_id) = 1;
            CREATE TEMP TABLE ids AS
            WITH comps AS (SELECT comp, min(record_key) AS min_key, count(*) AS size FROM cur GROUP BY comp),
            minted AS (
                SELECT c.comp, cl.person_id AS kept, {_mint('c.min_key')} AS fresh
                FROM comps c LEFT JOIN claim cl USING (comp)
            )
            SELECT comp, kept IS NULL AS is_new,
                   coalesce(kept, CASE WHEN fresh IN (SELECT person_id FROM claim)
                                       THEN {_mint("fresh || '#'")} ELSE fresh END) AS person_id
            FROM minted;
        """)
        persons = con.sql("SELECT c.record_key, i.person_id FROM cur c JOIN ids i USING (comp) "
                          "ORDER BY c.record_key").arrow().read_all()
        changes = con.sql("""
            -- merged: a previous id owned by a cluster that kept another id
            SELECT 'merge' AS change, i.person_id, o.person_id AS other_person_id, v.n AS records
            FROM owner o JOIN ids i USING (comp) JOIN votes v ON v.person_id = o.person_id AND v.comp = o.comp
            WHERE o.person_id <> i.person_id
            UNION ALL
            -- split: records of a previous id that went to a cluster not owning it
            SELECT 'split', v.person_id, i.person_id, v.n
            FROM votes v JOIN owner o USING (person_id) JOIN ids i ON i.comp = v.comp
            WHERE v.comp <> o.comp
            ORDER BY 1, 2, 3""").arrow().read_all()
        new = con.sql("SELECT count(*) FROM ids WHERE is_new").arrow().read_all()[0][0].as_py()
        total = con.sql("SELECT count(*) FROM ids").arrow().read_all()[0][0].as_py()
    finally:
        con.close()
    return Assignment(persons, changes.cast(CHANGES), int(new), int(total))
