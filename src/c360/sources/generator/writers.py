"""Write a generated world into the real sources, each in its native shape.

Serialisation is vectorised: DuckDB renders JSON lines, pyarrow renders CSV; only XML is built
per record (lxml). Output is byte-for-byte deterministic for a world: DuckDB preserves insertion
order, and nothing reads the clock.
"""

from __future__ import annotations

import io
import itertools
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
from lxml import etree

from c360.sources.crm import CrmDatabase
from c360.sources.generator.world import World
from c360.sources.objectstore import ObjectStore
from c360.sources.stream import EventStream

Step = Callable[[str], None]

CRM_TABLES = {  # CRM table -> primary key
    "customers": "customer_id", "products": "product_id", "stores": "store_id",
    "salespeople": "salesperson_id", "returns": "return_id", "support_tickets": "ticket_id",
    "support_emails": "email_id",
}
XML_CHUNK = 5000


def write_crm(world: World, crm: CrmDatabase, step: Step = lambda s: None) -> None:
    """Normalised CRM tables with keys and updated_at."""
    for name, pk in CRM_TABLES.items():
        step(f"CRM table {name}")
        crm.replace_table(name, world.tables[name], pk)


def _groups(t: pa.Table, key: str) -> Iterator[tuple[str, pa.Table]]:
    """Consecutive slices of ``t`` sharing ``key`` (``t`` must be sorted by it)."""
    col = t.column(key).to_numpy(zero_copy_only=False)
    if len(col) == 0:
        return
    cut = np.nonzero(col[1:] != col[:-1])[0] + 1
    bounds = np.concatenate([[0], cut, [len(col)]])
    for a, b in itertools.pairwise(bounds.tolist()):
        yield str(col[a]), t.slice(int(a), int(b - a))


class _Json:
    """JSON lines through one DuckDB connection (fast, ordered, deterministic)."""

    def __init__(self) -> None:
        self.con = duckdb.connect()
        self.dir = tempfile.TemporaryDirectory(prefix="c360-gen-")

    def lines(self, t: pa.Table) -> bytes:
        self.con.register("t", t)
        out = Path(self.dir.name) / "part.jsonl"
        self.con.execute(f"COPY (SELECT * FROM t) TO '{out}' (FORMAT JSON)")
        self.con.unregister("t")
        return out.read_bytes()

    def records(self, t: pa.Table) -> list[bytes]:
        self.con.register("t", t)
        cols = ", ".join(f'"{c}"' for c in t.column_names)
        rows = self.con.sql(f"SELECT to_json(struct_pack({cols}))::VARCHAR AS j FROM t").arrow().read_all()
        self.con.unregister("t")
        return [s.encode() for s in rows.column("j").to_pylist()]

    def close(self) -> None:
        self.con.close()
        self.dir.cleanup()


def _csv(t: pa.Table) -> bytes:
    buf = io.BytesIO()
    pcsv.write_csv(t, buf, pcsv.WriteOptions(quoting_style="needed"))
    return buf.getvalue()


def write_files(world: World, store: ObjectStore, step: Step = lambda s: None) -> None:
    """Purchases (monthly JSON lines), payment logs (daily, partitioned), feedback and surveys
    (monthly CSV), partner profiles (XML), the truth table and the manifest."""
    man, tb = world.manifest, world.tables
    js = _Json()
    try:
        lines = tb["order_lines"]
        month = pc.strftime(lines.column("order_ts"), format="%Y-%m")
        lines = lines.append_column("_k", month).sort_by([("_k", "ascending"), ("order_id", "ascending"),
                                                          ("line_no", "ascending")])
        for i, (m, part) in enumerate(_groups(lines, "_k")):
            step(f"purchases {m}")
            body = js.lines(part.drop_columns(["_k"]))
            if i == 0 and world.malformed_files:  # one broken line: a truncated record
                body += b'{"order_id": "O9999999999", "line_no": 1, "customer_id": \n'
                man.defects["purchases_malformed_json_line"] = 1
            _put(store, f"purchases/year={m[:4]}/month={m[5:7]}/purchases-{m}.jsonl", body, man)

        pay = tb["payments"]
        pay = pay.append_column("_k", pc.strftime(pay.column("paid_at"), format="%Y-%m-%d")).sort_by(
            [("_k", "ascending"), ("payment_id", "ascending")])
        for d, part in _groups(pay, "_k"):
            step(f"transactions {d}")
            _put(store, f"transactions/year={d[:4]}/month={d[5:7]}/day={d[8:10]}/payments-{d}.jsonl",
                 js.lines(part.drop_columns(["_k"])), man)
    finally:
        js.close()

    for name, id_col in (("feedback", "feedback_id"), ("surveys", "survey_id")):
        t = tb[name].sort_by([("_month", "ascending"), (id_col, "ascending")])
        for m, part in _groups(t, "_month"):
            step(f"{name} {m}")
            _put(store, f"{name}/{name}-{m}.csv", _csv(part.drop_columns(["_month"])), man)
    if world.malformed_files:  # a re-export whose header renamed a column
        fb = tb["feedback"].drop_columns(["_month"]).slice(0, 5)
        wrong = fb.rename_columns(["stars" if c == "rating" else c for c in fb.column_names])
        _put(store, "feedback/feedback-export-wrong-header.csv", _csv(wrong), man)
        man.defects["feedback_wrong_header_file"] = 1

    prof = tb["profiles"].to_pylist()
    for i in range(0, len(prof), XML_CHUNK):
        step(f"partner profiles {i // XML_CHUNK + 1}")
        root = etree.Element("profiles", partner="acme-partners")
        for p in prof[i:i + XML_CHUNK]:
            el = etree.SubElement(root, "profile")
            for k, v in p.items():
                if v is not None:  # a missing value is a missing element, as partners send it
                    etree.SubElement(el, k).text = v
        body = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
        _put(store, f"profiles/partner-profiles-{i // XML_CHUNK + 1:05d}.xml", body, man)
    if world.malformed_files:  # an upload cut off mid-way
        _put(store, "profiles/partner-profiles-truncated.xml",
             b'<?xml version="1.0"?>\n<profiles><profile><profile_id>PPX1</profile_id><first_na', man)
        man.defects["profiles_truncated_file"] = 1

    step("truth table")
    buf = io.BytesIO()
    pq.write_table(world.truth, buf)
    store.put("_truth/truth.parquet", buf.getvalue())


def _put(store: ObjectStore, key: str, body: bytes, man: object) -> None:
    store.put(key, body)
    man.files.append(key)  # type: ignore[attr-defined]


def stream_records(events: pa.Table, poison_at: np.ndarray) -> list[tuple[str, bytes]]:
    """(partition key, payload) in delivery order, poison records slipped in at ``poison_at``."""
    js = _Json()
    try:
        payloads = js.records(events)
    finally:
        js.close()
    keys = events.column("cookie_id").to_pylist()
    out = list(zip(keys, payloads, strict=True))
    for j, pos in enumerate(poison_at.tolist()[::-1]):  # from the back: positions stay valid
        out.insert(int(pos), (f"poison-{j}", b"<<not json " + str(j).encode() + b">>"))
    return out


def write_stream(world: World, stream: EventStream, shards: int, step: Step = lambda s: None,
                 chunk: int = 50_000) -> None:
    """Clickstream and social events as JSON records keyed by cookie id."""
    stream.create(shards)
    records = stream_records(world.events, world.poison_at)
    for i in range(0, len(records), chunk):
        step(f"events {i + 1:,}-{min(i + chunk, len(records)):,} of {len(records):,}")
        stream.put(records[i:i + chunk])
