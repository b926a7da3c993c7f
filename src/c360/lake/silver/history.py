"""SCD Type 2 history, built incrementally: a table whose catalog spec has a ``history_key`` keeps
every version of each key (``valid_from``, ``valid_to``, ``is_current``).

Its model returns only the versions that arrived since the table's watermark (the latest source
change it holds, ``_source_seen_at``, committed with the versions it produced — so a crash before
the MERGE leaves nothing half-done and the re-run picks the same changes up again). Each is
compared with the key's current version: identical content is no new version, an older one than
the current is quarantined as stale, the rest close the current version and become current in one
Delta MERGE.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from c360.catalog import TableSpec
from c360.engine.base import Engine
from c360.engine.models import register_table
from c360.lake.quarantine import Rejected
from c360.lake.store import Lake

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def watermark_table(lake: Lake, spec: TableSpec) -> pa.Table:
    """``c360_watermark``: one row, ``wm``, the latest source change the history already holds."""
    wm = None
    if lake.exists(spec.id):
        wm = lake.sql(f"SELECT max(_source_seen_at) AS wm FROM {spec.sql_name}", spec.id).column(0)[0].as_py()
    return pa.table({"wm": pa.array([wm or EPOCH], pa.timestamp("us", tz="UTC"))})


@dataclass(frozen=True)
class Versions:
    """New versions to write, and what was set aside."""

    new: pa.Table
    unchanged: int
    stale: list[Rejected]
    new_keys: int
    changed_keys: int
    deleted: int


def classify(engine: Engine, lake: Lake, spec: TableSpec, staged: pa.Table) -> Versions:
    """Compare staged versions with each key's current version (see the module docstring)."""
    if staged.num_rows == 0:
        return Versions(staged, 0, [], 0, 0, 0)
    keys = ", ".join(spec.history_key)
    engine.register("__c360_staged", staged)
    register_table(engine, lake, spec.id)
    joined = engine.sql(
        f"SELECT s.*, c.valid_from AS __cur_from, c.row_hash AS __cur_hash FROM __c360_staged AS s "
        f"LEFT JOIN (SELECT {keys}, valid_from, row_hash FROM {spec.sql_name} WHERE is_current) AS c "
        f"USING ({keys})")
    cur_from, cur_hash = joined.column("__cur_from"), joined.column("__cur_hash")
    known = pc.is_valid(cur_from)
    same = pc.fill_null(pc.equal(joined.column("row_hash"), cur_hash), False)
    stale_mask = pc.and_(pc.and_(known, pc.invert(same)),
                         pc.fill_null(pc.less(joined.column("valid_from"), cur_from), False))
    keep = pc.and_(pc.invert(same), pc.invert(stale_mask))
    new = joined.filter(keep)
    stale = [
        Rejected(source=spec.id, locator=f"{spec.id}:" + ",".join(f"{k}={row[k]}" for k in spec.history_key),
                 rule="stale_version",
                 reason=f"version from {row['valid_from']} is older than the current one from {row['__cur_from']}",
                 raw=json.dumps({k: v for k, v in row.items() if not k.startswith("__")}, default=str))
        for row in joined.filter(stale_mask).to_pylist()
    ]
    new_known = pc.sum(pc.is_valid(new.column("__cur_from"))).as_py() or 0
    deleted = pc.sum(new.column("is_deleted")).as_py() or 0 if "is_deleted" in new.column_names else 0
    new = new.drop_columns(["__cur_from", "__cur_hash"])
    return Versions(new, pc.sum(same).as_py() or 0, stale, new.num_rows - new_known, new_known, deleted)
