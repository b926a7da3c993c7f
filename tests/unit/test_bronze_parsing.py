from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from c360 import catalog
from c360.lake.bronze.columnar import validate_table
from c360.lake.bronze.files import FILE_SOURCES, FileRejected, parse

SRC = {s.name: s for s in FILE_SOURCES}


def test_jsonl_bad_line_is_rejected_with_line_number() -> None:
    body = b'{"order_id": "O1", "line_no": 1}\n{"order_id": \n\n{"order_id": "O2", "line_no": 2}\n'
    good, bad = parse(SRC["purchases"], "p.jsonl", body)
    assert good["__locator"].to_pylist() == ["p.jsonl:1", "p.jsonl:4"]
    assert good["order_id"].to_pylist() == ["O1", "O2"] and good["line_no"].to_pylist() == [1, 2]
    assert len(bad) == 1 and bad[0].locator == "p.jsonl:2" and bad[0].rule == "json_parse"
    assert bad[0].raw == '{"order_id": '


def test_csv_wrong_header_rejects_the_file() -> None:
    with pytest.raises(FileRejected, match=r"missing.*rating") as e:
        parse(SRC["feedback"], "f.csv", b"feedback_id,customer_id,comment,submitted_at,stars\nF1,1,x,2024,5\n")
    assert e.value.rule == "csv_header"


def test_csv_extra_field_is_a_bad_row() -> None:
    body = b"feedback_id,customer_id,rating,comment,submitted_at\nF1,1,5,ok,2024-01-01\nF2,1,5,a,b,c\n"
    good, bad = parse(SRC["feedback"], "f.csv", body)
    assert good.num_rows == 1 and bad[0].rule == "csv_field_count" and bad[0].locator == "f.csv:3"


def test_truncated_xml_rejects_the_file() -> None:
    with pytest.raises(FileRejected) as e:
        parse(SRC["partner_profiles"], "x.xml", b"<profiles><profile><profile_id>1</profile_id>")
    assert e.value.rule == "xml_parse"


def test_xml_records() -> None:
    body = b"<profiles><profile><profile_id>A</profile_id><email>a@x.io</email></profile></profiles>"
    good, bad = parse(SRC["partner_profiles"], "x.xml", body)
    row = good.to_pylist()[0]
    assert row["__locator"] == "x.xml#1" and row["profile_id"] == "A" and row["email"] == "a@x.io"
    assert row["phone"] is None and not bad


def test_validate_types_and_keys() -> None:
    import json

    spec = catalog.get("bronze.purchases")
    records = [
        ("l1", {"order_id": "O1", "line_no": "1", "customer_id": 7, "amount": "12.5"}),
        ("l2", {"order_id": "O2", "line_no": 1, "customer_id": "seven"}),
        ("l3", {"line_no": 1}),
        ("l4", ["not", "an", "object"]),
        ("l5", {"order_id": "O5", "line_no": 1.5}),
    ]
    raw = pa.table({"__locator": [loc for loc, _ in records], "__raw": [json.dumps(r) for _, r in records]})
    good, bad = validate_table(raw, spec, "src", "lines")
    assert good["order_id"].to_pylist() == ["O1"] and good["line_no"].to_pylist() == [1]
    assert good["amount"].to_pylist() == [12.5]
    rules = {b.locator: b.rule for b in bad}
    assert rules == {"l2": "type:customer_id", "l3": "primary_key_present", "l4": "record_is_object",
                     "l5": "type:line_no"}


# One battery of values, judged by every validation path: DuckDB over JSON lines (stream,
# broken files), over a file it reads itself, over text fields (CSV/XML/CRM).
CASES = [  # (line_no value as JSON, accepted value or None if rejected)
    ("1", 1), ('"7"', 7), ('" 8 "', 8), ("2.0", 2), ("1e3", 1000), ("1.5", None), ('"1.5"', None),
    ("true", None), ('"x"', None), ('{"a": 1}', None), ("12345678901234567", 12345678901234567),
    ('"1e3"', 1000), ('"nan"', None), ('""', "missing"), ("null", "missing"),
]


def _lines() -> bytes:
    return "".join(f'{{"order_id": "O{i}", "line_no": {v}, "amount": "2.5"}}\n'
                   for i, (v, _) in enumerate(CASES)).encode()


def _expected() -> tuple[list[str], list[str]]:
    good = [f"O{i}" for i, (_, ok) in enumerate(CASES) if ok is not None and ok != "missing"]
    bad = [f"O{i}" for i, (_, ok) in enumerate(CASES) if ok is None or ok == "missing"]
    return good, bad


def test_every_validation_path_judges_values_alike(tmp_path: Path) -> None:
    import json

    from c360.lake.bronze.columnar import json_lines, validate_json_file

    spec = catalog.get("bronze.purchases")
    want_good, want_bad = _expected()
    want_values = [ok for _, ok in CASES if ok is not None and ok != "missing"]
    body = _lines()
    # DuckDB over lines: a rejected record keeps its raw line
    numbers, lines = json_lines(body)
    g2, b2 = validate_table(pa.table({"__locator": pa.array([str(n) for n in numbers.to_pylist()]),
                                      "__raw": lines}), spec, "s", "lines")
    assert [r.raw for r in b2] == [line for line in body.decode().splitlines()
                                   if json.loads(line)["order_id"] in want_bad]
    # DuckDB over the file
    f = tmp_path / "p.jsonl"
    f.write_bytes(body)
    g3, b3 = validate_json_file(str(f), spec, "s")
    # text fields (as CSV gives them): JSON strings unquoted, numbers as written
    texts = [json.loads(line) for line in body.decode().splitlines()]
    raw = pa.table({"__locator": pa.array([str(i) for i in range(len(texts))]),
                    "order_id": [t["order_id"] for t in texts],
                    "line_no": [t["line_no"] if isinstance(t["line_no"], str | None) else json.dumps(t["line_no"])
                                for t in texts],
                    "amount": [t["amount"] for t in texts]})
    g4, b4 = validate_table(raw, spec, "s", "text")
    # a JSON array of the same records (a .json file)
    g5, b5 = parse(SRC["purchases"], "p.json", b"[" + b",".join(body.strip().split(b"\n")) + b"]")
    for good, bad in ((g2, b2), (g3, b3), (g4, b4), (g5, b5)):
        assert good["order_id"].to_pylist() == want_good and good["line_no"].to_pylist() == want_values
        assert good["amount"].to_pylist() == [2.5] * len(want_good)
        # a value that does not fit is a type error; no value at all is a missing key (line_no is one)
        assert [r.rule for r in bad] == [r.rule for r in b2] == [
            "type:line_no" if ok is None else "primary_key_present" for _, ok in CASES if ok in (None, "missing")]
        assert all("expected an integer" in r.reason for r in bad if r.rule == "type:line_no")


def test_file_fast_path_and_line_path_agree_and_name_lines(tmp_path: Path) -> None:
    """A clean file goes through DuckDB's reader; one broken line sends the file line by line.
    Either way the same good rows land and a bad value is named by its line."""
    body = b'{"order_id": "O1", "line_no": 1}\n\n{"order_id": "O2", "line_no": "x"}\n{"order_id": "O3", "line_no": 3}\n'
    f = tmp_path / "p.jsonl"
    f.write_bytes(body)
    fast_good, fast_bad = parse(SRC["purchases"], "p.jsonl", body, str(f))
    broken = body + b'{"order_id": \n'
    f.write_bytes(broken)
    slow_good, slow_bad = parse(SRC["purchases"], "p.jsonl", broken, str(f))
    assert fast_good.drop_columns(["__locator"]).equals(slow_good.drop_columns(["__locator"]))
    assert [(b.locator, b.rule) for b in fast_bad] == [("p.jsonl:3", "type:line_no")]
    assert fast_bad[0].raw == '{"order_id": "O2", "line_no": "x"}'
    assert [(b.locator, b.rule) for b in slow_bad] == [("p.jsonl:3", "type:line_no"), ("p.jsonl:5", "json_parse")]


def test_format_is_detected_per_file() -> None:
    from c360.lake.bronze.files import detect_format

    assert detect_format("purchases/a.jsonl", b'{"a": 1}', "jsonl") == "jsonl"
    assert detect_format("purchases/a.json", b'  [{"a": 1}]', "jsonl") == "json"
    assert detect_format("purchases/a.json", b'{"a": 1}', "jsonl") == "json"
    assert detect_format("purchases/a", b"PAR1....", "jsonl") == "parquet"
    assert detect_format("purchases/a.parquet", b"PAR1....", "jsonl") == "parquet"
    assert detect_format("feedback/a.csv", b"a,b\n", "csv") == "csv"
    assert detect_format("drop/a.txt", b"<profiles/>", "csv") == "xml"
    assert detect_format("drop/a.dat", b"x,y", "csv") == "csv"


def test_json_documents() -> None:
    # one record; an array with a non-object element; a .json file of several documents (JSON lines)
    good, bad = parse(SRC["purchases"], "o.json", b'{"order_id": "O1", "line_no": 1}')
    assert good["order_id"].to_pylist() == ["O1"] and not bad
    good, bad = parse(SRC["purchases"], "a.json", b'[{"order_id": "O1", "line_no": 1}, 5, {"order_id": "O2"}]')
    assert good["order_id"].to_pylist() == ["O1"]
    assert [(r.locator, r.rule) for r in bad] == [("a.json#2", "record_is_object"), ("a.json#3", "primary_key_present")]
    two = b'{"order_id": "O1", "line_no": 1}\n{"order_id": "O2", "line_no": 2}\n'
    good, bad = parse(SRC["purchases"], "l.json", two)
    assert good["order_id"].to_pylist() == ["O1", "O2"]
    with pytest.raises(FileRejected) as e:
        parse(SRC["purchases"], "t.json", b'[{"order_id": "O1", "line_no": 1}, {"order_id"')
    assert e.value.rule == "json_parse"


def _parquet(t: pa.Table) -> bytes:
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(t, sink)
    return sink.getvalue().to_pybytes()


def test_parquet_files() -> None:
    spec = catalog.get("bronze.payments")
    names = [c.name for c in spec.columns if not c.name.startswith("_")]
    t = pa.table({n: pa.array(["x", "y", "z"]) for n in names})
    t = t.set_column(names.index("amount"), "amount", pa.array([12.5, None, 3.0]))
    t = t.set_column(names.index("payment_id"), "payment_id", pa.array(["P1", "P2", None]))
    good, bad = parse(SRC["payments"], "transactions/p.parquet", _parquet(t))
    assert good["payment_id"].to_pylist() == ["P1", "P2"] and good["amount"].to_pylist() == [12.5, None]
    assert [(r.locator, r.rule) for r in bad] == [("transactions/p.parquet#3", "primary_key_present")]
    # integers from a float column only when integral (never rounded)
    f = pa.table({"feedback_id": ["F1", "F2"], "customer_id": pa.array([7.0, 7.5]), "rating": pa.array([5, 4]),
                  "comment": ["a", "b"], "submitted_at": ["2024-01-01", "2024-01-02"]})
    good, bad = parse(SRC["feedback"], "feedback/f.parquet", _parquet(f))
    assert good["customer_id"].to_pylist() == [7] and [r.rule for r in bad] == ["type:customer_id"]
    with pytest.raises(FileRejected) as e:  # wrong columns: the whole file
        parse(SRC["feedback"], "feedback/g.parquet", _parquet(f.drop_columns(["rating"])))
    assert e.value.rule == "parquet_schema" and "rating" in e.value.reason
    with pytest.raises(FileRejected) as e:  # truncated
        parse(SRC["feedback"], "feedback/h.parquet", _parquet(f)[:-20])
    assert e.value.rule == "parquet_read"


def test_a_short_duckdb_read_is_caught_and_read_line_by_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB's read_json once returned a file short of records with no error; every read is
    checked against the file's line count, and a short one goes through the exact line path."""
    import duckdb

    import c360.lake.bronze.columnar as col

    body = b'{"order_id": "O1", "line_no": 1}\n{"order_id": "O2", "line_no": 2}\n{"order_id": "O3", "line_no": 3}'
    f = tmp_path / "p.jsonl"
    f.write_bytes(body)
    assert col.count_lines(str(f)) == 3
    real = col._read_json
    monkeypatch.setattr(col, "_read_json", lambda paths, spec, filename="": (
        f"(SELECT * FROM {real(paths, spec, filename)} LIMIT 2)"))  # a reader that drops a record
    spec = catalog.get("bronze.purchases")
    with pytest.raises(col.IncompleteRead):
        col.validate_json_file(str(f), spec, "s")
    assert col.validate_json_files([str(f)], spec, duckdb.connect()) == {}  # left to the exact path
    good, bad = parse(SRC["purchases"], "p.jsonl", body, str(f))
    assert good["order_id"].to_pylist() == ["O1", "O2", "O3"] and not bad
