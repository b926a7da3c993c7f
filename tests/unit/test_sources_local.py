from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa

from c360.sources.crm import CrmDatabase
from c360.sources.objectstore import LocalObjectStore
from c360.sources.stream import LocalStreamLog


def test_local_stream_resumes_after_position(tmp_path: Path) -> None:
    s = LocalStreamLog(str(tmp_path), "ev")
    s.create(2)
    s.put([(f"k{i}", f'{{"i":{i}}}'.encode()) for i in range(50)])
    total = []
    for shard in s.shards():
        first = s.read(shard, None, 7)
        rest = s.read(shard, first[-1][0], 1000)
        assert not set(p for p, _ in first) & set(p for p, _ in rest)
        total += [d for _, d in first + rest]
        assert s.read(shard, rest[-1][0], 10) == []
    assert sorted(total) == sorted(f'{{"i":{i}}}'.encode() for i in range(50))


def test_local_stream_batch_read_equals_record_read(tmp_path: Path) -> None:
    """The vectorised read gives the records, positions and resume points the record read gives,
    including an empty record, bytes that are not UTF-8 and a partial last record."""
    s = LocalStreamLog(str(tmp_path), "ev")
    s.create(1)
    s.put([(f"k{i}", f'{{"i":{i}}}'.encode()) for i in range(20)] + [("e", b""), ("x", b"\xff\xfe{")])
    with open(s.dir / "shard-00000.log", "ab") as f:
        f.write(b'{"half')
    rows = s.read("shard-00000", None, 100)
    pos, text = s.read_batch("shard-00000", None, 100, chunk_bytes=16)  # several read windows
    assert pos.to_pylist() == [p for p, _ in rows]
    assert text.to_pylist() == [d.decode("utf-8", "replace") for _, d in rows]
    assert len(rows) == 22 and text[20].as_py() == ""
    # resume from a position, with a limit
    p5, t5 = s.read_batch("shard-00000", pos[4].as_py(), 3)
    assert p5.to_pylist() == [p for p, _ in rows[5:8]] and t5.to_pylist() == ['{"i":5}', '{"i":6}', '{"i":7}']
    assert len(s.read_batch("shard-00000", pos[-1].as_py(), 10)[0]) == 0


def test_local_stream_ignores_a_partial_last_record(tmp_path: Path) -> None:
    s = LocalStreamLog(str(tmp_path), "ev")
    s.create(1)
    s.put([("k", b"{}")])
    with open(s.dir / "shard-00000.log", "ab") as f:
        f.write(b'{"half')
    assert [d for _, d in s.read("shard-00000", None, 10)] == [b"{}"]


def test_local_object_store_lists_new_etag_on_rewrite(tmp_path: Path) -> None:
    st = LocalObjectStore(str(tmp_path))
    st.put("a/x.csv", b"1")
    e1 = st.list("a/")[0].etag
    st.put("a/x.csv", b"22")
    assert st.list("a/")[0].etag != e1 and st.list("a/")[0].size == 2
    assert st.list("missing/") == []


def test_crm_keyset_reads_ties_once(tmp_path: Path) -> None:
    db = CrmDatabase(f"sqlite:///{tmp_path}/crm.db")
    ts = [datetime(2024, 1, 1, 10), datetime(2024, 1, 1, 10), datetime(2024, 1, 1, 10), datetime(2024, 1, 2)]
    db.replace_table("customers", pa.table({"customer_id": [4, 1, 3, 2], "updated_at": ts}), "customer_id")
    batches = list(db.read_batches("customers", "updated_at", "customer_id", None, 2))
    assert [t.column("customer_id").to_pylist() for t, _ in batches] == [["1", "3"], ["4", "2"]]
    last = batches[0][1]
    assert last == ("2024-01-01 10:00:00", 3)
    rest = [k for t, _ in db.read_batches("customers", "updated_at", "customer_id", last, 10)
            for k in t.column("customer_id").to_pylist()]
    assert rest == ["4", "2"]
    assert list(db.read_batches("customers", "updated_at", "customer_id", ("2024-01-02 00:00:00", 2), 10)) == []


def test_crm_columnar_batches_match_row_reads(tmp_path: Path) -> None:
    """The columnar SQLite read gives the text of the typed row read (SQLAlchemy), keyset ties
    included, and copes with a column whose first rows are NULL (a type-inferring reader does not)."""
    db = CrmDatabase(f"sqlite:///{tmp_path}/crm.db")
    n = 30
    ts = [datetime(2024, 1, 1, 10, 0, 0, 500 if i == 7 else 0) for i in range(n)]
    db.replace_table("customers", pa.table({
        "customer_id": list(range(n, 0, -1)), "updated_at": ts,
        "phone": [None] * 25 + ["+44 1"] * 5, "price": [None] * 20 + [1.5] * 10,
        "vip": [i % 2 == 0 for i in range(n)]}), "customer_id")
    rows = sorted(db.read_table("customers").to_pylist(), key=lambda r: (r["updated_at"], r["customer_id"]))
    batches = list(db.read_batches("customers", "updated_at", "customer_id", None, 4))
    got = pa.concat_tables([t for t, _ in batches]).to_pylist()
    assert [g["customer_id"] for g in got] == [str(r["customer_id"]) for r in rows]
    assert [g["updated_at"] for g in got] == [r["updated_at"].isoformat(sep=" ") for r in rows]
    assert [g["phone"] for g in got] == [r["phone"] for r in rows]
    assert {g["price"] for g in got} == {None, "1.5"} and {g["vip"] for g in got} == {"0", "1"}
    # resuming from a batch's (watermark, key) reads exactly the rest
    wm = batches[1][1]
    rest = pa.concat_tables([t for t, _ in db.read_batches("customers", "updated_at", "customer_id", wm, 100)])
    assert rest.column("customer_id").to_pylist() == [g["customer_id"] for g in got[8:]]


def test_local_object_store_prefix_is_a_string_prefix_like_s3(tmp_path: Path) -> None:
    st = LocalObjectStore(str(tmp_path))
    st.put("_manifest.json", b"{}")
    st.put("purchases/a.jsonl", b"1")
    st.put("purchases-old/b.jsonl", b"1")
    assert [o.key for o in st.list("_manifest.json")] == ["_manifest.json"]
    assert [o.key for o in st.list("purchases")] == ["purchases-old/b.jsonl", "purchases/a.jsonl"]
    assert [o.key for o in st.list("purchases/")] == ["purchases/a.jsonl"]


def test_unreachable_kinesis_is_one_clear_error() -> None:
    import pytest

    from c360.errors import C360Error
    from c360.sources.stream import KinesisStream

    k = KinesisStream("nowhere", {"endpoint_url": "http://127.0.0.1:1", "region_name": "us-east-1",
                                  "aws_access_key_id": "x", "aws_secret_access_key": "y"}, max_attempts=1)
    with pytest.raises(C360Error, match="cannot reach Kinesis") as e:
        k.shards()
    assert "kinesis://nowhere" in e.value.line() and "services.sh up kinesalite" in e.value.line()
