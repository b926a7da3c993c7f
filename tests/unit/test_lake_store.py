from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from c360 import catalog
from c360.lake.store import Lake, writer_properties


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(str(tmp_path / "lake"))


def _fb(ids: list[str], rating: int = 5) -> pa.Table:
    return pa.table({"feedback_id": ids, "customer_id": [1] * len(ids), "rating": [rating] * len(ids)})


def test_tables_live_at_root_layer_table(lake: Lake) -> None:
    assert lake.uri("bronze.feedback") == f"{lake.root}/bronze/feedback"
    lake.append("bronze.feedback", _fb(["a"]))
    assert (Path(lake.root) / "bronze" / "feedback" / "_delta_log").is_dir()


def test_append_with_app_transaction_is_idempotent(lake: Lake) -> None:
    assert lake.append("bronze.feedback", _fb(["a", "b"]), txns=[("file:x@1", 1)])
    assert not lake.append("bronze.feedback", _fb(["a", "b"]), txns=[("file:x@1", 1)])
    assert lake.count("bronze.feedback") == 2
    assert lake.txn_version("bronze.feedback", "file:x@1") == 1
    # a new version of the same app id is a new batch
    assert lake.append("bronze.feedback", _fb(["c"]), txns=[("file:x@1", 2)])
    assert lake.count("bronze.feedback") == 3


def test_append_conforms_to_catalog_schema(lake: Lake) -> None:
    lake.append("bronze.feedback", _fb(["a"]))
    assert lake.read("bronze.feedback").schema.equals(catalog.get("bronze.feedback").schema())


def test_merge_upserts_on_primary_key(lake: Lake) -> None:
    lake.merge("silver.feedback", _fb(["a", "b"], rating=3))
    lake.merge("silver.feedback", _fb(["b", "c"], rating=4))
    rows = {r["feedback_id"]: r["rating"] for r in lake.read("silver.feedback").to_pylist()}
    assert rows == {"a": 3, "b": 4, "c": 4}


def test_insert_only_merge_keeps_existing(lake: Lake) -> None:
    lake.merge("silver.feedback", _fb(["a"], rating=1))
    lake.merge("silver.feedback", _fb(["a", "z"], rating=5), insert_only=True)
    rows = {r["feedback_id"]: r["rating"] for r in lake.read("silver.feedback").to_pylist()}
    assert rows == {"a": 1, "z": 5}


def test_commit_metadata_round_trips(lake: Lake) -> None:
    lake.append("bronze.feedback", _fb(["a"]), metadata={"c360.checkpoint": {"s": {"0": "12"}}})
    lake.append("bronze.feedback", _fb(["b"]))  # a commit without the key
    assert lake.last_metadata("bronze.feedback", "c360.checkpoint") == {"s": {"0": "12"}}
    assert lake.last_metadata("bronze.feedback", "nope") is None


def test_sql_filters_tables_written_by_merge(lake: Lake) -> None:
    # delta-rs MERGE writes string_view columns; filtering them must still work
    lake.merge("silver.feedback", _fb(["a", "b"]))
    lake.merge("silver.feedback", _fb(["b", "c"]))
    t = lake.sql("SELECT count(*) AS n FROM silver_feedback WHERE feedback_id IN ('a', 'c')", "silver.feedback")
    assert t.column("n")[0].as_py() == 2


def test_missing_table_reads_empty(lake: Lake) -> None:
    assert not lake.exists("gold.customer_360")
    assert lake.read("gold.customer_360").num_rows == 0
    assert lake.count("gold.customer_360") == 0


def test_constant_text_views_roundtrip_through_delta(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Bronze lineage columns are string views of one shared string; they must be valid Arrow
    and read back from Delta as the same text, short (inline) and long alike."""
    import pyarrow as pa

    from c360.lake.bronze.files import constant_text, with_lineage
    from c360.lake.store import Lake

    for v in ["", "abc", "exactly12byt", "thirteen13byt", "ünïcødé — a longer file name.jsonl"]:
        a = constant_text(v, 4)
        a.validate(full=True)
        assert a.to_pylist() == [v] * 4
    lake = Lake(str(tmp_path))
    rows = pa.table({"feedback_id": ["F1", "F2"], "rating": pa.array([5, 4], pa.int64())})
    lake.append("bronze.feedback", with_lineage(rows, _source="feedback", _source_file="feedback/a long name.csv",
                                                _batch_id="b1", _run_id="r1"))
    back = lake.read("bronze.feedback", ["feedback_id", "_source", "_source_file", "_batch_id"]).to_pylist()
    assert back == [{"feedback_id": f, "_source": "feedback", "_source_file": "feedback/a long name.csv",
                     "_batch_id": "b1"} for f in ("F1", "F2")]


def test_dictionary_encoding_off_only_where_the_dictionary_would_overflow(lake: Lake) -> None:
    import glob

    import pyarrow.parquet as pq

    n = 200_000
    # 200k distinct 16-byte ids (a 3.2 MB dictionary) and ratings 1-5
    fb = pa.table({"feedback_id": [f"F{i:015d}" for i in range(n)], "customer_id": list(range(n)),
                   "rating": [i % 5 + 1 for i in range(n)]})
    props = writer_properties(fb)
    assert "'feedback_id': dictionary_enabled: False" in str(props)
    assert "'customer_id': dictionary_enabled: False" in str(props)  # 200k distinct × 8 bytes
    assert "'rating'" not in str(props)
    lake.overwrite("bronze.feedback", fb)
    assert lake.count("bronze.feedback") == n
    meta = pq.ParquetFile(glob.glob(f"{lake.uri('bronze.feedback')}/*.parquet")[0]).metadata.row_group(0)
    chunks = {meta.column(i).path_in_schema: meta.column(i) for i in range(meta.num_columns)}
    assert not chunks["feedback_id"].has_dictionary_page
    assert chunks["rating"].has_dictionary_page
    assert chunks["feedback_id"].compression == "SNAPPY"
    assert lake.read("bronze.feedback").sort_by("customer_id").column("feedback_id").to_pylist()[:2] == [
        "F000000000000000", "F000000000000001"]
