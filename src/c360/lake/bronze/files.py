"""Auto-Loader-style file ingestion: discover new objects, parse and validate them, land good
rows in bronze and bad rows (or whole unreadable files) in quarantine, exactly once per file.

Exactly once: each file's rows are appended with a Delta app transaction ``file:<path>@<etag>``
in the same commit, so a crash before the file ledger is written cannot ingest a file twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import struct
import tempfile
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from lxml import etree

from c360 import catalog
from c360.lake.bronze.columnar import (
    IncompleteRead,
    json_lines,
    source_columns,
    validate_json_file,
    validate_json_files,
    validate_table,
)
from c360.lake.bronze.reconcile import KeySample, reconcile
from c360.lake.quarantine import Rejected, quarantine
from c360.ops.audit import StageRecord, dq_ratio, now
from c360.sources.objectstore import ObjectInfo, ObjectStore

LEDGER = "ops.file_ledger"
Format = Literal["jsonl", "json", "csv", "xml", "parquet"]
_EXTENSIONS: dict[str, Format] = {"jsonl": "jsonl", "ndjson": "jsonl", "json": "json", "csv": "csv",
                                  "xml": "xml", "parquet": "parquet", "pq": "parquet"}


@dataclass(frozen=True)
class FileSource:
    """A kind of file drop: where it lands, its format, the bronze table it feeds."""

    name: str
    prefix: str
    format: Format  # what the drop usually holds; each file's own format is detected
    table_id: str
    record_tag: str = ""  # XML: the element holding one record (default: the root's children)


FILE_SOURCES = (
    FileSource("purchases", "purchases/", "jsonl", "bronze.purchases"),
    FileSource("payments", "transactions/", "jsonl", "bronze.payments"),
    FileSource("feedback", "feedback/", "csv", "bronze.feedback"),
    FileSource("surveys", "surveys/", "csv", "bronze.surveys"),
    FileSource("partner_profiles", "profiles/", "xml", "bronze.partner_profiles", record_tag="profile"),
)


class FileRejected(Exception):
    """The whole file is unreadable or has the wrong schema."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule, self.reason = rule, reason


def format_by_name(key: str, default: Format) -> Format | None:
    """The format a file's extension names; ``default`` when it has none; None when the
    extension says nothing (e.g. ``.txt``, ``.json`` — JSON or JSON lines — decided by content)."""
    name = key.rsplit("/", 1)[-1]
    if "." not in name:
        return default
    fmt = _EXTENSIONS.get(name.rsplit(".", 1)[-1].lower())
    return None if fmt == "json" else fmt


def detect_format(key: str, body: bytes | memoryview, default: Format) -> Format:
    """A file's format from its magic bytes, extension and first character (Parquet starts
    with ``PAR1``; ``[`` opens a JSON array; ``{`` JSON lines or one JSON document; ``<`` XML)."""
    head = bytes(body[:4096])
    if head[:4] == b"PAR1":
        return "parquet"
    by_name = format_by_name(key, default)
    if by_name is not None and by_name != "parquet":
        return by_name
    first = head.lstrip()[:1]
    if first == b"[" or (first == b"{" and key.lower().endswith(".json")):
        return "json"
    return {b"{": "jsonl", b"<": "xml"}.get(first, by_name or default)  # type: ignore[return-value]


def parse(src: FileSource, key: str, body: bytes | memoryview, path: str | None = None,
          con: duckdb.DuckDBPyConnection | None = None, fmt: Format | None = None,
          notes: list[str] | None = None) -> tuple[pa.Table, list[Rejected]]:
    """Validated rows of one file (typed, source columns) and its rejected records, columnar.
    ``fmt``: the file's format (detected when not given).

    JSON lines: DuckDB reads the file itself (``path``, or a temporary copy of ``body``); a file
    with a line that is not a JSON object is read again line by line, so each bad line is named.
    JSON (an array of records, or one record), CSV, XML and Parquet: parsed in Python/Arrow,
    validated in DuckDB by the same rules.
    """
    spec = catalog.get(src.table_id)
    fmt = fmt or detect_format(key, body, src.format)
    own = con is None
    con = con or duckdb.connect()  # one connection per ingest: a new one per file costs ~10 ms
    try:
        if fmt == "jsonl":
            return _parse_jsonl(con, spec, key, body, path, notes)
        if fmt == "json":
            return _parse_json(con, spec, key, body, path, notes)
        if fmt == "csv":
            return _parse_csv(con, spec, key, body)
        if fmt == "parquet":
            return _parse_parquet(con, spec, key, body)
        return _parse_xml(con, src, spec, key, body)
    finally:
        if own:
            con.close()


def _parse_json(con: duckdb.DuckDBPyConnection, spec: catalog.TableSpec, key: str, body: bytes | memoryview,
                path: str | None, notes: list[str] | None = None) -> tuple[pa.Table, list[Rejected]]:
    """A JSON document: an array of records (each element validated, named ``key#i``) or one
    record. A ``.json`` file that is not one document is read as JSON lines."""
    try:
        doc = json.loads(bytes(body))
    except UnicodeDecodeError as e:
        raise FileRejected("utf8", f"not UTF-8 text: {e}") from None
    except json.JSONDecodeError as e:
        if bytes(body).lstrip()[:1] == b"[":
            raise FileRejected("json_parse", f"not valid JSON: {e}") from None
        return _parse_jsonl(con, spec, key, body, path, notes)  # several documents: JSON lines
    records = doc if isinstance(doc, list) else [doc]
    locs = pa.array([f"{key}#{i}" for i in range(1, len(records) + 1)], pa.string())
    raw = pa.array([json.dumps(r, ensure_ascii=False) for r in records], pa.string())
    return validate_table(pa.table({"__locator": locs, "__raw": raw}), spec, key, "lines", con)


def _parse_parquet(con: duckdb.DuckDBPyConnection, spec: catalog.TableSpec, key: str,
                   body: bytes | memoryview) -> tuple[pa.Table, list[Rejected]]:
    """A Parquet file: its columns must be the declared ones (like a CSV header); values are
    judged as text by the same rules, so a float 7.0 is an integer and 7.5 is rejected."""
    try:
        t = pq.read_table(pa.BufferReader(pa.py_buffer(body)))
    except (pa.ArrowException, OSError) as e:
        raise FileRejected("parquet_read", f"not a readable Parquet file: {e}") from None
    _check_columns(t.column_names, spec, "Parquet columns", "parquet_schema")
    text = {}
    for name in t.column_names:
        col = t.column(name)
        if pa.types.is_nested(col.type):  # a nested value in a text column: its JSON (as Spark does)
            col = pa.array([None if v is None else json.dumps(v, default=str) for v in col.to_pylist()], pa.string())
        text[name] = col.cast(pa.string())
    locs = pa.array([f"{key}#{i}" for i in range(1, t.num_rows + 1)], pa.string())
    return validate_table(pa.table({"__locator": locs, **text}), spec, key, "text", con)


def _check_columns(found: list[str], spec: catalog.TableSpec, what: str, rule: str) -> None:
    """A file's columns must be exactly the declared source columns (any order)."""
    expected = [n for n, _ in source_columns(spec)]
    if set(found) != set(expected) or len(found) != len(set(found)):
        missing, extra = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
        raise FileRejected(rule, f"wrong {what}: missing {missing}, unexpected {extra}")


def _parse_xml(con: duckdb.DuckDBPyConnection, src: FileSource, spec: catalog.TableSpec, key: str,
               body: bytes | memoryview) -> tuple[pa.Table, list[Rejected]]:
    try:
        root = etree.fromstring(bytes(body), etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as e:
        raise FileRejected("xml_parse", f"not well-formed XML: {e}") from None
    names = [n for n, _ in source_columns(spec)]
    cols: dict[str, list[Any]] = {n: [] for n in names}
    locs = []
    records = root.iter(src.record_tag) if src.record_tag else iter(root)
    for i, el in enumerate(records, start=1):
        fields = {child.tag: child.text for child in el}
        for n in names:
            cols[n].append(fields.get(n))
        locs.append(f"{key}#{i}")
    raw = pa.table({"__locator": pa.array(locs, pa.string()), **{n: pa.array(v, pa.string()) for n, v in cols.items()}})
    return validate_table(raw, spec, key, "text", con)


def _parse_jsonl(con: duckdb.DuckDBPyConnection, spec: catalog.TableSpec, key: str, body: bytes | memoryview,
                 path: str | None, notes: list[str] | None = None) -> tuple[pa.Table, list[Rejected]]:
    tmp = None
    try:
        if path is None:  # an object store without local files: DuckDB reads a temporary copy
            fd, tmp = tempfile.mkstemp(suffix=".jsonl")
            with os.fdopen(fd, "wb") as f:
                f.write(body)
        try:
            good, bad = validate_json_file(path or tmp or "", spec, key, con)
        except IncompleteRead as e:  # worth an operator's eye: the fast reader misread a file
            if notes is not None:
                notes.append(f"read line by line after a short fast read ({e})")
            bad = None
        except (duckdb.Error, pa.ArrowException, OSError):  # (errors surface via Arrow too)
            bad = None
    finally:
        if tmp:
            os.unlink(tmp)
    if bad is None:  # a line is not a JSON object: go line by line to name it
        try:
            numbers, lines = json_lines(body)
        except UnicodeDecodeError as e:
            raise FileRejected("utf8", f"not UTF-8 text: {e}") from None
        locs = pc.binary_join_element_wise(key, pc.cast(numbers, pa.string()), ":")
        return validate_table(pa.table({"__locator": locs, "__raw": lines}), spec, key, "lines", con)
    if bad:  # name each rejected record by its line (DuckDB numbered records, skipping blank lines)
        text = bytes(body).split(b"\n")
        line_of = [i for i, line in enumerate(text, start=1) if line.strip()]
        bad = [Rejected(r.source, f"{key}:{line_of[int(r.locator[1:])]}", r.rule, r.reason,
                        text[line_of[int(r.locator[1:])] - 1].decode("utf-8", "replace")) for r in bad]
    return good, bad


def _parse_csv(con: duckdb.DuckDBPyConnection, spec: catalog.TableSpec, key: str,
               body: bytes | memoryview) -> tuple[pa.Table, list[Rejected]]:
    try:
        text = bytes(body).decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise FileRejected("utf8", f"not UTF-8 text: {e}") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    _check_columns(header, spec, "CSV header", "csv_header")
    rows, locs, bad = [], [], []
    for row in reader:
        line = reader.line_num  # the record's last physical line
        if not row:
            continue
        if len(row) != len(header):
            rule, more = "csv_field_count", "more" if len(row) > len(header) else "fewer"
            bad.append(Rejected(key, f"{key}:{line}", rule, f"line {line} has {more} fields than the header",
                                json.dumps(row)))
            continue
        rows.append(row)
        locs.append(f"{key}:{line}")
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in header]
    raw = pa.table({"__locator": pa.array(locs, pa.string()),
                    **{h: pa.array(c, pa.string()) for h, c in zip(header, cols, strict=True)}})
    good, invalid = validate_table(raw, spec, key, "text", con)
    return good, bad + invalid


def _batch_id(obj: ObjectInfo) -> str:
    """Deterministic per file version, so a retried file reproduces its batch id."""
    return hashlib.sha256(f"{obj.key}@{obj.etag}".encode()).hexdigest()[:16]


def _app_id(obj: ObjectInfo) -> str:
    return f"file:{obj.key}@{obj.etag}"


@dataclass
class _MicroBatch:
    """Files parsed but not yet committed: one bronze commit covers them all (one app transaction
    per file inside it), like an Auto Loader micro-batch."""

    tables: list[pa.Table] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    rejected_batch: list[str] = field(default_factory=list)
    txns: list[tuple[str, int]] = field(default_factory=list)
    # obj, batch, good, bad, format, note for the ledger
    files: list[tuple[ObjectInfo, str, int, int, str, str | None]] = field(default_factory=list)
    rows: int = 0


def ingest_source(ctx: Any, store: ObjectStore, src: FileSource, rec: StageRecord,
                  reprocess: bool = False, max_files: int = 256, max_rows: int = 500_000) -> None:
    """Ingest every new file of one source in micro-batches; fills ``rec`` and reconciles."""
    lake, run_id = ctx.lake, ctx.audit.run_id
    spec = catalog.get(src.table_id)
    objects = [o for o in store.list(src.prefix) if not o.key.endswith("/")]
    seen = set()
    if not reprocess and lake.exists(LEDGER):
        led = lake.read(LEDGER, columns=["path", "etag"]).to_pylist()
        seen = {(r["path"], r["etag"]) for r in led}
    dt = lake.table(src.table_id)
    new = [o for o in objects if (o.key, o.etag) not in seen]
    rec.details.update(files_listed=len(objects), files_new=len(new))
    expected: dict[str, tuple[str, int]] = {}
    ledger_rows: list[dict[str, Any]] = []
    ingested_at = now()
    mb = _MicroBatch()
    sample = KeySample(src.table_id)
    con = duckdb.connect()
    ahead = _ReadAhead(src, store, new, con)

    def flush() -> None:
        nonlocal mb
        if not mb.files:
            return
        # Quarantine first: it is idempotent, so a crash before the bronze commit loses nothing.
        quarantine(lake, mb.rejected, run_id=run_id, batch_id=mb.rejected_batch, stage=rec.stage,
                   table_id=src.table_id)
        if mb.txns:
            lake.append(src.table_id, pa.concat_tables(mb.tables) if mb.rows else spec.schema().empty_table(),
                        txns=mb.txns)
        for obj, batch, n_good, n_bad, fmt, note in mb.files:
            store.copy(obj.key, f"validated/{obj.key}")
            ledger_rows.append(_ledger(obj, src, "SUCCESS", n_good, n_bad, batch, run_id, note, fmt))
        # The ledger is written after the rows: if this run dies first, the app transactions tell
        # the next run these files are done ("recovered").
        _write_ledger(lake, ledger_rows)
        ledger_rows.clear()
        mb = _MicroBatch()

    for obj in new:
        done = (dt.transaction_version(_app_id(obj)) or 0) if dt is not None else 0
        # --reprocess ingests a file again as a new version of its app transaction.
        version = done + 1 if reprocess else 1
        batch = _batch_id(obj) + (f"r{version}" if version > 1 else "")
        if done >= version:
            # Rows landed in an earlier run that crashed before its ledger write: record only.
            ledger_rows.append(_ledger(obj, src, "SUCCESS", None, None, batch, run_id, "recovered", None))
            continue
        good = ahead.get(obj)
        body = b"" if good is not None else store.get(obj.key)
        fmt = "jsonl" if good is not None else detect_format(obj.key, body, src.format)
        notes: list[str] = []
        try:
            if good is None:
                good, bad = parse(src, obj.key, body, store.local_path(obj.key), con, fmt, notes)
            else:
                bad = []
        except FileRejected as e:
            q = [Rejected(obj.key, obj.key, e.rule, e.reason, body[:10_000].decode("utf-8", "replace"))]
            quarantine(lake, q, run_id=run_id, batch_id=batch, stage=rec.stage, table_id=src.table_id)
            store.copy(obj.key, f"error/{obj.key}")
            ledger_rows.append(_ledger(obj, src, "FAILED", 0, 1, batch, run_id, f"{e.rule}: {e.reason}", fmt))
            expected[batch] = (obj.key, 1)  # the file itself is the one quarantined record
            rec.rows_in += 1
            rec.rows_quarantined += 1
            continue
        n_good = good.num_rows
        mb.tables.append(with_lineage(good.drop_columns(["__locator"]), _source=src.name, _source_file=obj.key,
                                      _ingested_at=ingested_at, _batch_id=batch, _run_id=run_id))
        mb.rejected += bad
        mb.rejected_batch += [batch] * len(bad)
        mb.txns.append((_app_id(obj), version))
        mb.files.append((obj, batch, n_good, len(bad), fmt, "; ".join(notes) or None))
        if notes:
            rec.details.setdefault("short_reads", []).append(obj.key)
        mb.rows += n_good
        expected[batch] = (obj.key, n_good + len(bad))
        sample.add(batch, good)
        rec.rows_in += n_good + len(bad)
        rec.rows_out += n_good
        rec.rows_quarantined += len(bad)
        if len(mb.files) >= max_files or mb.rows >= max_rows:
            flush()
    flush()
    con.close()
    if ledger_rows:  # recovered or failed files with no micro-batch after them
        _write_ledger(lake, ledger_rows)
    rec.details["reconciliation"] = reconcile(lake, src.table_id, expected, sample)
    rec.dq_score = dq_ratio(rec.rows_out, rec.rows_in)


class _ReadAhead:
    """Clean JSON-lines files validated in groups by one DuckDB scan (local files only); a file
    with any rejected record is left to ``parse``, which names its lines."""

    def __init__(self, src: FileSource, store: ObjectStore, objects: list[ObjectInfo],
                 con: duckdb.DuckDBPyConnection, group: int = 64, group_bytes: int = 256 << 20) -> None:
        # a group is also bounded in bytes: one broken line fails the whole group's scan, and
        # its files are then read again one by one (with 100 MB monthly logs, the whole year)
        self.spec, self.con, self.group, self.group_bytes = catalog.get(src.table_id), con, group, group_bytes
        self.sizes = {o.key: o.size for o in objects}
        local = store.local_path("") is not None
        # only files named as JSON lines (a .parquet or .json file in the drop is parsed alone)
        self.paths = {o.key: store.local_path(o.key) for o in objects
                      if local and format_by_name(o.key, src.format) == "jsonl"}
        self.order = [o.key for o in objects if o.key in self.paths]
        self.cache: dict[str, pa.Table] = {}
        self.tried: set[str] = set()

    def get(self, obj: ObjectInfo) -> pa.Table | None:
        if obj.key not in self.paths:
            return None
        if obj.key not in self.tried:
            i = self.order.index(obj.key)
            keys, size = [], 0
            for k in self.order[i:i + self.group]:
                if k in self.tried or (keys and size + self.sizes[k] > self.group_bytes):
                    break
                keys.append(k)
                size += self.sizes[k]
            self.tried.update(keys)
            try:
                got = validate_json_files([self.paths[k] or "" for k in keys], self.spec, self.con)
            except (duckdb.Error, pa.ArrowException, OSError):
                got = {}  # some file has a broken line: each goes through parse
            self.cache.update({k: got[self.paths[k] or ""] for k in keys if (self.paths[k] or "") in got})
        return self.cache.pop(obj.key, None)


def _ledger(obj: ObjectInfo, src: FileSource, status: str, rows: int | None, bad: int | None,
            batch: str, run_id: str, reason: str | None, fmt: str | None) -> dict[str, Any]:
    """One file's record: outcome, counts, DQ score (good / all records; a rejected file is 0)
    and where the file was copied."""
    total = (rows or 0) + (bad or 0)
    score = None if rows is None else dq_ratio(rows, total)
    dest = {"SUCCESS": f"validated/{obj.key}", "FAILED": f"error/{obj.key}"}[status]
    return {"path": obj.key, "size": obj.size, "etag": obj.etag, "source": src.name,
            "table_id": src.table_id, "status": status, "rows": rows, "bad_rows": bad, "batch_id": batch,
            "run_id": run_id, "reason": reason, "ingested_at": now(), "format": fmt, "dq_score": score,
            "destination": dest}


def _write_ledger(lake: Any, rows: list[dict[str, Any]]) -> None:
    # schema_merge: a ledger written before the format/DQ columns existed gains them
    lake.merge(LEDGER, pa.Table.from_pylist(rows, schema=catalog.get(LEDGER).schema()), schema_merge=True)


def with_lineage(t: pa.Table, **values: Any) -> pa.Table:
    """``t`` plus one constant column per keyword (the bronze lineage columns); text as
    string views of one shared string (16 bytes a row, not a copy of the text per row: at 18M
    rows the copies cost ~8 s on this VM)."""
    for name, value in values.items():
        t = t.append_column(name, constant_text(value, t.num_rows) if isinstance(value, str)
                            else pa.repeat(value, t.num_rows))
    return t


def constant_text(value: str, n: int) -> pa.Array:
    """A string_view array of ``n`` times ``value`` sharing one data buffer (Arrow's view
    layout: length, then the string inline if ≤ 12 bytes, else its prefix, buffer 0, offset 0)."""
    b = value.encode()
    view = struct.pack("<i", len(b)) + (b.ljust(12, b"\0") if len(b) <= 12 else b[:4] + struct.pack("<ii", 0, 0))
    return pa.Array.from_buffers(pa.string_view(), n, [None, pa.py_buffer(view * n), pa.py_buffer(b)])
