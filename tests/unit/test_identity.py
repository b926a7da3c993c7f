"""Identity resolution parts on hand-made data: features, stable ids, pairwise scores."""

from __future__ import annotations

import pyarrow as pa
import pytest

from c360.errors import C360Error
from c360.identity.cluster import assign_ids, components
from c360.identity.evaluate import pairwise_scores
from c360.identity.match import LINKS, deterministic_links
from c360.identity.prepare import features, name_forms

pytestmark = pytest.mark.unit


def _clusters(groups: list[list[str]]) -> pa.Table:
    keys = [k for g in groups for k in g]
    comps = [i for i, g in enumerate(groups) for _ in g]
    return pa.table({"record_key": keys, "comp": pa.array(comps, pa.int64())})


def _ids(a) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return dict(zip(a.persons.column("record_key").to_pylist(), a.persons.column("person_id").to_pylist(),
                    strict=True))


def test_features_standardise_every_role() -> None:
    t = pa.table({"id": [7], "name": ["  Bob  O'Brien "], "mail": ["BOB+Shop@Example.COM"], "tel": ["020 7946 0958"],
                  "born": ["01/02/1980"], "nr": ["12"], "st": ["high st."], "pc": ["sw1a 1aa"], "ctry": ["UK"]})
    f = features(t, "id", {"full_name": "name", "email": "mail", "phone": "tel", "dob": "born",
                           "street_number": "nr", "address": "st", "postcode": "pc", "country": "ctry"}).to_pylist()[0]
    assert f["record_key"] == "input:7"
    assert (f["first_name_key"], f["last_name_key"]) == ("bob", "obrien")
    assert "robert" in f["first_forms"]
    assert f["email_key"] == "bob@example.com" and f["phone"] == "+442079460958"
    assert f["dob"] == "1980-02-01" and f["address_key"] == "12highstreet" and f["postcode"] == "SW1A1AA"
    assert f["country"] == "GB"


def test_features_reject_unknown_roles_and_columns() -> None:
    t = pa.table({"id": [1], "n": ["x"]})
    with pytest.raises(C360Error, match="unknown role"):
        features(t, "id", {"nick": "n"})
    with pytest.raises(C360Error, match="not in the input: nope"):
        features(t, "id", {"first_name": "nope"})


def test_nickname_forms() -> None:
    assert "robert" in name_forms("bob") and "elizabeth" in name_forms("liz")
    assert name_forms("zebedee") == ("zebedee",)


def test_deterministic_links_are_stars_not_all_pairs() -> None:
    f = pa.table({"record_key": ["a", "b", "c", "d"], "email_key": ["x@y.z"] * 3 + [None],
                  "phone": [None, None, "+1", "+1"]})
    links = deterministic_links(f)
    pairs = sorted(zip(links.column("record_key_l").to_pylist(), links.column("record_key_r").to_pylist(),
                       links.column("rule").to_pylist(), strict=True))
    assert pairs == [("a", "b", "same_email"), ("a", "c", "same_email"), ("c", "d", "same_phone")]
    assert links.schema.equals(LINKS)


def test_components_follow_links() -> None:
    keys = pa.array(["a", "b", "c", "d", "e"])
    links = pa.table({"record_key_l": ["a", "c", "x"], "record_key_r": ["b", "d", "e"]})  # x is unknown
    comp = components(keys, links).to_pylist()
    assert comp[0] == comp[1] and comp[2] == comp[3] and len({comp[0], comp[2], comp[4]}) == 3


def test_new_record_joins_its_person_without_renumbering_anyone() -> None:
    first = assign_ids(_clusters([["crm:1", "profile:9"], ["crm:2"]]), None)
    assert first.new_persons == 2 and first.changes.num_rows == 0
    ids = _ids(first)
    second = assign_ids(_clusters([["crm:1", "profile:9", "order:e"], ["crm:2"], ["crm:3"]]), first.persons)
    again = _ids(second)
    assert again["order:e"] == again["crm:1"] == ids["crm:1"] and again["crm:2"] == ids["crm:2"]
    assert second.new_persons == 1 and second.changes.num_rows == 0


def test_same_input_same_ids() -> None:
    groups = [["crm:1", "profile:9"], ["crm:2"]]
    assert _ids(assign_ids(_clusters(groups), None)) == _ids(assign_ids(_clusters(groups), None))


def test_merge_keeps_the_larger_person_and_records_it() -> None:
    first = assign_ids(_clusters([["crm:1", "crm:2"], ["profile:9"]]), None)
    ids = _ids(first)
    merged = assign_ids(_clusters([["crm:1", "crm:2", "profile:9"]]), first.persons)
    assert set(_ids(merged).values()) == {ids["crm:1"]}
    assert merged.changes.to_pylist() == [{"change": "merge", "person_id": ids["crm:1"],
                                           "other_person_id": ids["profile:9"], "records": 1}]


def test_split_keeps_the_id_where_most_records_stay_and_records_it() -> None:
    first = assign_ids(_clusters([["crm:1", "crm:2", "profile:9"]]), None)
    old = _ids(first)["crm:1"]
    split = assign_ids(_clusters([["crm:1", "crm:2"], ["profile:9"]]), first.persons)
    ids = _ids(split)
    assert ids["crm:1"] == ids["crm:2"] == old and ids["profile:9"] != old
    assert split.changes.to_pylist() == [{"change": "split", "person_id": old,
                                          "other_person_id": ids["profile:9"], "records": 1}]


def test_pairwise_scores_by_hand() -> None:
    # truth: {a,b,c} {d}; predicted: {a,b} {c,d}
    truth = pa.table({"record": list("abcd"), "person": ["1", "1", "1", "2"]})
    pred = pa.table({"record": list("abcd"), "cluster": ["x", "x", "y", "y"]})
    s = pairwise_scores(pred, truth)
    assert (s.predicted_pairs, s.true_pairs, s.correct_pairs) == (2, 3, 1)
    assert s.precision == 0.5 and s.recall == pytest.approx(1 / 3) and s.f1 == pytest.approx(0.4)
