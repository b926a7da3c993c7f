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
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa
from lxml import etree

from c360 import catalog
from c360.lake.bronze.reconcile import reconcile
from c360.lake.bronze.records import source_columns, validate
from c360.lake.quarantine import Rejected, quarantine
from c360.ops.audit import StageRecord, now
from c360.sources.objectstore import ObjectInfo, ObjectStore

LEDGER = "ops.file_ledger"


@dataclass(frozen=True)
class FileSource:
    """A kind of file drop: where it lands, its format, the bronze table it feeds."""

    name: str
    prefix: str
    format: Literal["jsonl", "csv", "xml"]
    table_id: str
    record_tag: str = ""  # XML: the element holding one record


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


def parse(src: FileSource, key: str, body: bytes) -> tuple[list[tuple[str, Any]], list[Rejected]]:
    """Records of one file as (locator, dict) pairs, plus records that could not be parsed."""
    records: list[tuple[str, Any]] = []
    bad: list[Rejected] = []
    if src.format == "jsonl":
        for i, line in enumerate(body.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                records.append((f"{key}:{i}", json.loads(line)))
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                bad.append(Rejected(key, f"{key}:{i}", "json_parse", f"line {i} is not valid JSON: {e}",
                                    line.decode("utf-8", "replace")))
    elif src.format == "csv":
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise FileRejected("utf8", f"not UTF-8 text: {e}") from None
        reader = csv.DictReader(io.StringIO(text))
        expected = {n for n, _ in source_columns(catalog.get(src.table_id))}
        header = set(reader.fieldnames or [])
        if header != expected:
            missing, extra = sorted(expected - header), sorted(header - expected)
            raise FileRejected("csv_header", f"wrong CSV header: missing {missing}, unexpected {extra}")
        for i, row in enumerate(reader, start=2):
            if None in row:  # more fields than the header
                bad.append(Rejected(key, f"{key}:{i}", "csv_field_count",
                                    f"line {i} has more fields than the header", json.dumps(row, default=str)))
                continue
            records.append((f"{key}:{i}", row))
    else:
        try:
            root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as e:
            raise FileRejected("xml_parse", f"not well-formed XML: {e}") from None
        for i, el in enumerate(root.iter(src.record_tag), start=1):
            records.append((f"{key}#{i}", {child.tag: child.text for child in el}))
    return records, bad


def _batch_id(obj: ObjectInfo) -> str:
    """Deterministic per file version, so a retried file reproduces its batch id."""
    return hashlib.sha256(f"{obj.key}@{obj.etag}".encode()).hexdigest()[:16]


def _app_id(obj: ObjectInfo) -> str:
    return f"file:{obj.key}@{obj.etag}"


@dataclass
class _MicroBatch:
    """Files parsed but not yet committed: one bronze commit covers them all (one app transaction
    per file inside it), like an Auto Loader micro-batch."""

    columns: dict[str, list[Any]] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)
    rejected_batch: list[str] = field(default_factory=list)
    txns: list[tuple[str, int]] = field(default_factory=list)
    files: list[tuple[ObjectInfo, str, int, int]] = field(default_factory=list)  # obj, batch, good, bad
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

    def flush() -> None:
        nonlocal mb
        if not mb.files:
            return
        # Quarantine first: it is idempotent, so a crash before the bronze commit loses nothing.
        quarantine(lake, mb.rejected, run_id=run_id, batch_id=mb.rejected_batch, stage=rec.stage,
                   table_id=src.table_id)
        if mb.txns:
            lake.append(src.table_id, pa.table(mb.columns) if mb.rows else spec.schema().empty_table(),
                        txns=mb.txns)
        for obj, batch, n_good, n_bad in mb.files:
            store.copy(obj.key, f"validated/{obj.key}")
            ledger_rows.append(_ledger(obj, src, "SUCCESS", n_good, n_bad, batch, run_id, None))
        # The ledger is written after the rows: if this run dies first, the app transactions tell
        # the next run these files are done ("recovered").
        lake.merge(LEDGER, pa.Table.from_pylist(ledger_rows, schema=catalog.get(LEDGER).schema()))
        ledger_rows.clear()
        mb = _MicroBatch()

    for obj in new:
        done = (dt.transaction_version(_app_id(obj)) or 0) if dt is not None else 0
        # --reprocess ingests a file again as a new version of its app transaction.
        version = done + 1 if reprocess else 1
        batch = _batch_id(obj) + (f"r{version}" if version > 1 else "")
        if done >= version:
            # Rows landed in an earlier run that crashed before its ledger write: record only.
            ledger_rows.append(_ledger(obj, src, "SUCCESS", None, None, batch, run_id, "recovered"))
            continue
        body = store.get(obj.key)
        try:
            records, bad = parse(src, obj.key, body)
        except FileRejected as e:
            q = [Rejected(obj.key, obj.key, e.rule, e.reason, body[:10_000].decode("utf-8", "replace"))]
            quarantine(lake, q, run_id=run_id, batch_id=batch, stage=rec.stage, table_id=src.table_id)
            store.copy(obj.key, f"error/{obj.key}")
            ledger_rows.append(_ledger(obj, src, "FAILED", 0, 1, batch, run_id, f"{e.rule}: {e.reason}"))
            expected[batch] = (obj.key, 1)  # the file itself is the one quarantined record
            rec.rows_in += 1
            rec.rows_quarantined += 1
            continue
        good, invalid = validate(records, spec, obj.key)
        bad += invalid
        n_good = len(good.pop("__locator"))
        good.update(_source=[src.name] * n_good, _source_file=[obj.key] * n_good,
                    _ingested_at=[ingested_at] * n_good, _batch_id=[batch] * n_good, _run_id=[run_id] * n_good)
        for k, v in good.items():
            mb.columns.setdefault(k, []).extend(v)
        mb.rejected += bad
        mb.rejected_batch += [batch] * len(bad)
        mb.txns.append((_app_id(obj), version))
        mb.files.append((obj, batch, n_good, len(bad)))
        mb.rows += n_good
        expected[batch] = (obj.key, n_good + len(bad))
        rec.rows_in += n_good + len(bad)
        rec.rows_out += n_good
        rec.rows_quarantined += len(bad)
        if len(mb.files) >= max_files or mb.rows >= max_rows:
            flush()
    flush()
    if ledger_rows:  # recovered or failed files with no micro-batch after them
        lake.merge(LEDGER, pa.Table.from_pylist(ledger_rows, schema=catalog.get(LEDGER).schema()))
    rec.details["reconciliation"] = reconcile(lake, src.table_id, expected)
    rec.dq_score = round(rec.rows_out / rec.rows_in, 6) if rec.rows_in else 1.0


def _ledger(obj: ObjectInfo, src: FileSource, status: str, rows: int | None, bad: int | None,
            batch: str, run_id: str, reason: str | None) -> dict[str, Any]:
    return {"path": obj.key, "size": obj.size, "etag": obj.etag, "source": src.name,
            "table_id": src.table_id, "status": status, "rows": rows, "bad_rows": bad, "batch_id": batch,
            "run_id": run_id, "reason": reason, "ingested_at": now()}
