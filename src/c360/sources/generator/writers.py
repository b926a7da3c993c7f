"""Write a generated world into the real sources, each in its native shape.

Serialisation is vectorised: DuckDB renders JSON lines, pyarrow renders CSV and XML (Arrow string
kernels, the bytes lxml's pretty printer would give). Output is byte-for-byte deterministic for a
world: DuckDB preserves insertion order, and nothing reads the clock.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterator

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from c360.sources.crm import CrmDatabase
from c360.sources.generator.world import World
from c360.sources.objectstore import ObjectStore
from c360.sources.stream import EventStream
from c360.sources.textbuf import joined_bytes

Step = Callable[[str], None]

CRM_TABLES = {  # CRM table -> primary key
    "customers": "customer_id", "products": "product_id", "stores": "store_id",
    "salespeople": "salesperson_id", "returns": "return_id", "support_tickets": "ticket_id",
    "support_emails": "email_id",
}
XML_CHUNK = 5000


def write_crm(world: World, crm: CrmDatabase, step: Step = lambda s: None, append: bool = False,
              last: bool = True) -> None:
    """Normalised CRM tables with keys and updated_at (``append``: a later chunk of the same world;
    indexes are built after the ``last`` chunk)."""
    for name, pk in CRM_TABLES.items():
        if name not in world.tables:  # the catalog comes with the first chunk only
            continue
        step(f"CRM table {name}")
        if append:
            crm.insert_rows(name, world.tables[name])
        else:
            crm.replace_table(name, world.tables[name], pk, index=False)
    if last:
        for name, pk in CRM_TABLES.items():
            crm.index_table(name, pk)


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
    """JSON through one DuckDB connection (fast, ordered, deterministic)."""

    def __init__(self, threads: int | None = None) -> None:
        # one thread when chunks render in parallel: to_json gains little from a second one
        self.con = duckdb.connect(config={"threads": threads} if threads else {})

    def lines(self, t: pa.Table) -> pa.LargeStringArray:
        """One newline-terminated JSON object per row, as one Arrow string array."""
        self.con.register("t", t)
        cols = ", ".join(f'"{c}"' for c in t.column_names)
        out = self.con.sql(f"SELECT to_json(struct_pack({cols}))::VARCHAR || chr(10) AS j FROM t").arrow().read_all()
        self.con.unregister("t")
        # large_string: at scale M one table's JSON passes the 2 GB limit of 32-bit offsets
        return out.column("j").cast(pa.large_string()).combine_chunks()

    def close(self) -> None:
        self.con.close()


def _partitions(js: _Json, t: pa.Table, ts_col: str, unit: str) -> Iterator[tuple[str, memoryview]]:
    """JSON-lines bodies of ``t`` grouped by the ``unit`` ("M" or "D") of a timestamp column."""
    keys = t.column(ts_col).to_numpy().astype(f"datetime64[{unit}]")
    if len(keys) and np.any(keys[1:] < keys[:-1]):
        order = np.argsort(keys, kind="stable")
        t, keys = t.take(order), keys[order]
    lines = js.lines(t)
    cut = np.nonzero(keys[1:] != keys[:-1])[0] + 1
    bounds = np.concatenate([[0], cut, [len(keys)]]) if len(keys) else np.array([0])
    for a, b in itertools.pairwise(bounds.tolist()):
        yield str(keys[a]), joined_bytes(lines, a, b)


def _csv(t: pa.Table) -> bytes:
    buf = io.BytesIO()
    pcsv.write_csv(t, buf, pcsv.WriteOptions(quoting_style="needed"))
    return buf.getvalue()


def write_files(world: World, store: ObjectStore, step: Step = lambda s: None, part: str = "",
                threads: int | None = None) -> None:
    """Purchases (monthly JSON lines), payment logs (daily, partitioned), feedback and surveys
    (monthly CSV), partner profiles (XML) and the truth table. ``part`` ("-part003") names one
    chunk's files when a big world is written in chunks, like a Spark job's part files."""
    man, tb = world.manifest, world.tables
    js = _Json(threads)
    try:
        for i, (m, body) in enumerate(_partitions(js, tb["order_lines"], "order_ts", "M")):
            step(f"purchases {m}")
            if i == 0 and world.malformed_files:  # one broken line: a truncated record
                body = memoryview(bytes(body) + b'{"order_id": "O9999999999", "line_no": 1, "customer_id": \n')
                man.defects["purchases_malformed_json_line"] = 1
            _put(store, f"purchases/year={m[:4]}/month={m[5:7]}/purchases-{m}{part}.jsonl", body, man)
        for d, body in _partitions(js, tb["payments"], "paid_at", "D"):
            step(f"transactions {d}")
            _put(store, f"transactions/year={d[:4]}/month={d[5:7]}/day={d[8:10]}/payments-{d}{part}.jsonl",
                 body, man)
    finally:
        js.close()

    for name, id_col in (("feedback", "feedback_id"), ("surveys", "survey_id")):
        t = tb[name].sort_by([("_month", "ascending"), (id_col, "ascending")])
        for m, rows in _groups(t, "_month"):
            step(f"{name} {m}")
            _put(store, f"{name}/{name}-{m}{part}.csv", _csv(rows.drop_columns(["_month"])), man)
    if world.malformed_files:  # a re-export whose header renamed a column
        fb = tb["feedback"].drop_columns(["_month"]).slice(0, 5)
        wrong = fb.rename_columns(["stars" if c == "rating" else c for c in fb.column_names])
        _put(store, "feedback/feedback-export-wrong-header.csv", _csv(wrong), man)
        man.defects["feedback_wrong_header_file"] = 1

    records = _xml_records(tb["profiles"], "profile")
    for i in range(0, len(records), XML_CHUNK):
        step(f"partner profiles {i // XML_CHUNK + 1}")
        body = "".join([_XML_HEAD, *records.slice(i, XML_CHUNK).to_pylist(), "</profiles>\n"]).encode()
        _put(store, f"profiles/partner-profiles{part}-{i // XML_CHUNK + 1:05d}.xml", body, man)
    if world.malformed_files:  # an upload cut off mid-way
        _put(store, "profiles/partner-profiles-truncated.xml",
             b'<?xml version="1.0"?>\n<profiles><profile><profile_id>PPX1</profile_id><first_na', man)
        man.defects["profiles_truncated_file"] = 1

    step("truth table")
    buf = io.BytesIO()
    pq.write_table(world.truth, buf)
    store.put(f"_truth/truth{part}.parquet", buf.getvalue())


_XML_HEAD = "<?xml version='1.0' encoding='UTF-8'?>\n<profiles partner=\"acme-partners\">\n"


def _xml_records(t: pa.Table, tag: str) -> pa.Array:
    """One pretty-printed XML element per row, rendered in Arrow (3-4x lxml's per-record
    tree; the same bytes as lxml's ``pretty_print``): a child element per non-null text
    column, ``&``, ``<`` and ``>`` escaped; a missing value is a missing element, as partners
    send it."""
    parts = []
    for name in t.column_names:
        text = t.column(name).cast(pa.string())
        for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
            text = pc.replace_substring(text, char, entity)
        parts.append(pc.fill_null(pc.binary_join_element_wise(f"    <{name}>", text, f"</{name}>\n", ""), ""))
    joined = pc.binary_join_element_wise(f"  <{tag}>\n", *parts, f"  </{tag}>\n", "")
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


def _put(store: ObjectStore, key: str, body: bytes | memoryview, man: object) -> None:
    store.put(key, body)
    man.files.append(key)  # type: ignore[attr-defined]


def stream_records(events: pa.Table, poison_at: np.ndarray, threads: int | None = None) -> tuple[pa.Array, pa.Array]:
    """(partition keys, newline-terminated payloads) in delivery order, with poison records
    (not JSON) slipped in before the positions ``poison_at``."""
    js = _Json(threads)
    try:
        payloads = js.lines(events)
    finally:
        js.close()
    keys = events.column("cookie_id").combine_chunks().cast(pa.string())
    k = len(poison_at)
    if k:
        poison = pa.array([f"<<not json {j}>>\n" for j in range(k)], pa.large_string())
        order = pa.array(np.insert(np.arange(len(keys)), poison_at, len(keys) + np.arange(k)))
        payloads = pa.concat_arrays([payloads, poison]).take(order)
        keys = pa.concat_arrays([keys, pa.array([f"poison-{j}" for j in range(k)])]).take(order)
    return keys, payloads


def write_stream(world: World, stream: EventStream, shards: int, step: Step = lambda s: None) -> None:
    """Clickstream and social events as JSON records keyed by cookie id."""
    put_stream(stream, shards, *stream_records(world.events, world.poison_at), step=step)


def put_stream(stream: EventStream, shards: int, keys: pa.Array, payloads: pa.Array, step: Step = lambda s: None,
               chunk: int = 500_000) -> None:
    """Append rendered stream records (``stream_records``) in their delivery order."""
    stream.create(shards)  # idempotent: later chunks append
    for i in range(0, len(keys), chunk):
        step(f"events {i + 1:,}-{min(i + chunk, len(keys)):,} of {len(keys):,}")
        stream.put_lines(keys[i:i + chunk], payloads.slice(i, chunk))
