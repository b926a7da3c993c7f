"""A world written in chunks (how M and L fit in memory) is one coherent, deterministic world."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from c360.config import load_settings
from c360.lake.store import lake_from_settings
from c360.ops.pipeline import run_pipeline
from c360.sources.crm import CrmDatabase
from c360.sources.generator import generate
from c360.sources.objectstore import open_object_store
from c360.sources.stream import open_stream


def _generate(home: Path, workers: int) -> tuple:  # type: ignore[type-arg]
    s = load_settings(home=home)
    crm, store, stream = CrmDatabase(s.crm_url), open_object_store(s), open_stream(s)
    man = generate(700, 9, crm, store, stream, shards=2, chunk_customers=300, workers=workers)
    return s, man, crm, store


def _digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.suffix != ".db"}


def test_chunked_world_is_coherent_deterministic_and_ingests(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s, man, crm, store = _generate(tmp_path / "a", workers=2)
    _, _, crm_b, _ = _generate(tmp_path / "b", workers=1)
    # chunks built in parallel give the same world as one after the other: files byte for byte,
    # stream logs, and CRM tables row for row
    assert _digest(tmp_path / "a" / "sources") == _digest(tmp_path / "b" / "sources")
    for name in ("customers", "returns", "support_emails"):
        assert crm.read_table(name).equals(crm_b.read_table(name))
        # the watermark index, built once after the last chunk
        idx = sa.inspect(crm.engine).get_indexes(name)
        assert [i["column_names"][0] for i in idx] == ["updated_at"]
    assert man.counts["persons"] == 700
    assert any("-part002" in f for f in man.files) and not any("-part003" in f for f in man.files)
    # one catalog, customers of every chunk, globally unique ids, a complete truth table
    assert crm.count("products") == man.counts["products"] and crm.count("stores") == man.counts["stores"]
    cust = crm.read_table("customers")
    assert cust.num_rows == man.counts["crm_customers"] == len(set(cust["customer_id"].to_pylist()))
    truth = pa.concat_tables(pq.read_table(io.BytesIO(store.get(o.key))) for o in store.list("_truth/"))
    keys = list(zip(truth["source"].to_pylist(), truth["record_id"].to_pylist(), strict=True))
    assert len(keys) == len(set(keys))
    assert sum(1 for k in keys if k[0] == "crm.customers") == cust.num_rows
    assert sum(1 for k in keys if k[0] == "stream.events") == man.counts["events"]
    assert len({p for p in truth["person_id"].to_pylist()}) == 700
    assert json.loads(store.get("_manifest.json"))["counts"] == man.counts
    # the pipeline reconciles every source of the chunked world
    run_pipeline(s)
    lake = lake_from_settings(s)
    assert lake.count("bronze.purchases") == man.counts["order_lines"]
    assert lake.count("bronze.events") == man.counts["events"] + man.defects["events_duplicate"]
    assert lake.count("bronze.crm_customers") == man.counts["crm_customers"]
