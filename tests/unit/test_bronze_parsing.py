from __future__ import annotations

import pytest

from c360 import catalog
from c360.lake.bronze.files import FILE_SOURCES, FileRejected, parse
from c360.lake.bronze.records import validate

SRC = {s.name: s for s in FILE_SOURCES}


def test_jsonl_bad_line_is_rejected_with_line_number() -> None:
    body = b'{"order_id": "O1", "line_no": 1}\n{"order_id": \n\n{"order_id": "O2", "line_no": 2}\n'
    recs, bad = parse(SRC["purchases"], "p.jsonl", body)
    assert [loc for loc, _ in recs] == ["p.jsonl:1", "p.jsonl:4"]
    assert len(bad) == 1 and bad[0].locator == "p.jsonl:2" and bad[0].rule == "json_parse"
    assert bad[0].raw == '{"order_id": '


def test_csv_wrong_header_rejects_the_file() -> None:
    with pytest.raises(FileRejected, match=r"missing.*rating") as e:
        parse(SRC["feedback"], "f.csv", b"feedback_id,customer_id,comment,submitted_at,stars\nF1,1,x,2024,5\n")
    assert e.value.rule == "csv_header"


def test_csv_extra_field_is_a_bad_row() -> None:
    body = b"feedback_id,customer_id,rating,comment,submitted_at\nF1,1,5,ok,2024-01-01\nF2,1,5,a,b,c\n"
    recs, bad = parse(SRC["feedback"], "f.csv", body)
    assert len(recs) == 1 and bad[0].rule == "csv_field_count" and bad[0].locator == "f.csv:3"


def test_truncated_xml_rejects_the_file() -> None:
    with pytest.raises(FileRejected) as e:
        parse(SRC["partner_profiles"], "x.xml", b"<profiles><profile><profile_id>1</profile_id>")
    assert e.value.rule == "xml_parse"


def test_xml_records() -> None:
    body = b"<profiles><profile><profile_id>A</profile_id><email>a@x.io</email></profile></profiles>"
    recs, bad = parse(SRC["partner_profiles"], "x.xml", body)
    assert recs == [("x.xml#1", {"profile_id": "A", "email": "a@x.io"})] and not bad


def test_validate_types_and_keys() -> None:
    spec = catalog.get("bronze.purchases")
    good, bad = validate([
        ("l1", {"order_id": "O1", "line_no": "1", "customer_id": 7, "amount": "12.5"}),
        ("l2", {"order_id": "O2", "line_no": 1, "customer_id": "seven"}),
        ("l3", {"line_no": 1}),
        ("l4", ["not", "an", "object"]),
        ("l5", {"order_id": "O5", "line_no": 1.5}),
    ], spec, "src")
    assert good["order_id"] == ["O1"] and good["line_no"] == [1] and good["amount"] == [12.5]
    rules = {b.locator: b.rule for b in bad}
    assert rules == {"l2": "type:customer_id", "l3": "primary_key_present", "l4": "record_is_object",
                     "l5": "type:line_no"}
