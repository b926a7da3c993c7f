"""Which records are the same person: deterministic rules first, then Splink.

1. Deterministic: records sharing an email key or an E.164 phone are linked (probability 1).
   A group of n records sharing one becomes n-1 edges to its first record, not n² pairs.
2. Probabilistic (Fellegi-Sunter, Splink on DuckDB): candidate pairs from blocking rules, scored
   on names (with nicknames and swapped first/last), email, phone, date of birth, address and
   postcode. Trained without labels: the share of matches from the deterministic rules, u from
   random pairs, m by expectation maximisation on two blockings; comparisons start from priors.
Only the columns a record set has are compared, so any subset of roles works.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

LINKS = pa.schema([
    ("record_key_l", pa.string()), ("record_key_r", pa.string()), ("rule", pa.string()),
    ("match_probability", pa.float64()), ("match_weight", pa.float64()), ("evidence", pa.string()),
])


@dataclass(frozen=True)
class MatchSettings:
    """How strict the matcher is."""

    threshold: float = 0.95  # pairs at or above this probability are the same person
    u_max_pairs: float = 2e6  # random pairs sampled to estimate u
    em_max_pairs: float = 5e6  # at most this many blocked pairs per EM training run
    seed: int = 42


def deterministic_links(feat: pa.Table) -> pa.Table:
    """Star edges within each group of records sharing an email key, then a phone."""
    con = duckdb.connect()
    try:
        con.register("f", feat)
        parts = []
        for col, rule in (("email_key", "same_email"), ("phone", "same_phone")):
            parts.append(f"""
                SELECT first_value(record_key) OVER w AS record_key_l, record_key AS record_key_r,
                       '{rule}' AS rule, 1.0 AS match_probability, CAST(NULL AS DOUBLE) AS match_weight,
                       '{{"{col}": "exact"}}' AS evidence
                FROM f WHERE {col} IS NOT NULL
                WINDOW w AS (PARTITION BY {col} ORDER BY record_key)
                QUALIFY record_key <> first_value(record_key) OVER w""")
        out = con.sql(" UNION ALL ".join(parts)).arrow().read_all()
    finally:
        con.close()
    return out.cast(LINKS)


def _present(feat: pa.Table, col: str) -> bool:
    return feat.num_rows > 0 and feat.column(col).null_count < feat.num_rows


def _shared(feat: pa.Table, col: str) -> bool:
    """Some non-null value of ``col`` appears in more than one record."""
    values = feat.column(col).drop_null()
    return len(values) > pc.count_distinct(values).as_py()


def _settings(feat: pa.Table) -> tuple[Any, list[Any]]:
    """Splink settings for the columns ``feat`` has; also the EM training blockings."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    comparisons: list[Any] = []
    blocking: list[Any] = []
    has = {c: _present(feat, c) for c in feat.column_names}
    if has["first_name_key"] or has["last_name_key"]:
        comparisons.append(cl.CustomComparison(output_column_name="name", comparison_levels=[
            cll.And(cll.NullLevel("first_name_key"), cll.NullLevel("last_name_key")),
            cll.And(cll.ExactMatchLevel("first_name_key"), cll.ExactMatchLevel("last_name_key"))
            .configure(label_for_charts="exact"),
            cll.ColumnsReversedLevel("first_name_key", "last_name_key").configure(label_for_charts="swapped"),
            cll.CustomLevel("list_has_any(first_forms_l, first_forms_r) AND last_name_key_l = last_name_key_r",
                            label_for_charts="nickname, same last name"),
            cll.And(cll.JaroWinklerLevel("first_name_key", 0.92), cll.JaroWinklerLevel("last_name_key", 0.92))
            .configure(label_for_charts="both similar (JW 0.92)"),
            cll.And(cll.JaroWinklerLevel("first_name_key", 0.85), cll.JaroWinklerLevel("last_name_key", 0.85))
            .configure(label_for_charts="both similar (JW 0.85)"),
            cll.ExactMatchLevel("last_name_key").configure(label_for_charts="same last name"),
            cll.ExactMatchLevel("first_name_key").configure(label_for_charts="same first name"),
            cll.ElseLevel(),
        ]))
    if has["email_key"]:
        comparisons.append(cl.EmailComparison("email_key"))
    if has["phone"]:
        comparisons.append(cl.CustomComparison(output_column_name="phone", comparison_levels=[
            cll.NullLevel("phone"), cll.ExactMatchLevel("phone"),
            cll.DamerauLevenshteinLevel("phone", 1).configure(label_for_charts="one digit off"),
            cll.ElseLevel()]))
    if has["dob"]:
        comparisons.append(cl.DateOfBirthComparison("dob", input_is_string=True))
    # Where someone lives is one comparison, not four: a person who moved disagrees on street,
    # postcode and city at once, and independent comparisons would count that move three times.
    place = [c for c in ("address_key", "postcode", "city_key", "state_key") if has[c]]
    if place:
        levels: list[Any] = [cll.And(*[cll.NullLevel(c) for c in place])]
        if "address_key" in place and "postcode" in place:
            levels += [cll.And(cll.ExactMatchLevel("address_key"), cll.ExactMatchLevel("postcode"))
                       .configure(label_for_charts="same address"),
                       cll.And(cll.JaroWinklerLevel("address_key", 0.9), cll.ExactMatchLevel("postcode"))
                       .configure(label_for_charts="similar street, same postcode")]
        elif "address_key" in place:
            levels += [cll.ExactMatchLevel("address_key"), cll.JaroWinklerLevel("address_key", 0.9)]
        levels += [cll.ExactMatchLevel(c) for c in ("postcode", "city_key", "state_key") if c in place]
        levels.append(cll.ElseLevel())
        comparisons.append(cl.CustomComparison(output_column_name="place", comparison_levels=levels))
    # Candidate pairs: each rule tolerates a different defect (typo, nickname, swap, moved, no dob).
    rules = []
    if has["email_key"]:
        rules.append(block_on("email_key"))
    if has["phone"]:
        rules.append(block_on("phone"))
    if has["dob"]:
        rules += [block_on("dob", "last_name_key"), block_on("dob", "first_name_key"),
                  "l.dob = r.dob AND l.first_name_key = r.last_name_key"]
    if has["postcode"]:
        rules += [block_on("postcode", "last_name_key"), block_on("postcode", "first_name_key")]
    if not has["dob"] and not has["postcode"]:
        rules.append(block_on("last_name_key", "first_name_key"))
    # EM training blockings: pairs that are mostly matches (a dob-only blocking gave ~42M pairs at
    # M, almost all non-matches, and EM collapsed an m to 0). Each blocking trains every comparison
    # it does not use, so two complementary ones train them all; the first two present are used.
    for cols in (("email_key",), ("dob", "last_name_key"), ("phone",), ("postcode", "first_name_key"),
                 ("first_name_key", "last_name_key")):
        if all(has[c] for c in cols) and len(blocking) < 2:
            blocking.append((cols, block_on(*cols)))
    settings = SettingsCreator(
        link_type="dedupe_only", unique_id_column_name="record_key", comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules, retain_matching_columns=False,
        retain_intermediate_calculation_columns=True,  # keeps the per-comparison mw_ columns: the evidence
    )
    return settings, blocking


def probabilistic_links(feat: pa.Table, ms: MatchSettings = MatchSettings()) -> tuple[pa.Table, dict[str, Any]]:
    """Splink-scored pairs at or above ``ms.threshold``, and the trained model (as a dict)."""
    from splink import DuckDBAPI, Linker

    if feat.num_rows < 2:
        return LINKS.empty_table(), {}
    logging.getLogger("splink").setLevel(logging.ERROR)  # what training could not do goes to the notes
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    try:
        db = DuckDBAPI(con)
        settings, em_blocking = _settings(feat)
        linker = Linker(db.register(feat, table_name="c360_identity_records"), settings, log_level=logging.ERROR)
        notes = _train(linker, feat, em_blocking, ms)
        pred = linker.inference.predict(threshold_match_probability=ms.threshold if ms.threshold > 0 else None)
        model = linker.misc.save_model_to_json()
        model["c360_training_notes"] = notes
        rel = pred.as_duckdbpyrelation()
        # evidence: each comparison's match weight (log2 Bayes factor; + for agreement, - against)
        parts = [c for c in rel.columns if c.startswith("mw_") and not c.startswith("mw_tf_adj_")]
        cols = ", ".join(["record_key_l", "record_key_r", "match_probability", "match_weight", *parts])
        t = con.sql(f"SELECT {cols} FROM rel").arrow().read_all()
    finally:
        con.close()
    names = [p.removeprefix("mw_") for p in parts]
    evidence = [json.dumps({n: round(w, 2) for n, w in zip(names, row, strict=True) if w is not None})
                for row in zip(*[t.column(p).to_pylist() for p in parts], strict=True)] if parts else \
        [None] * t.num_rows
    out = pa.table({
        "record_key_l": t.column("record_key_l").cast(pa.string()),
        "record_key_r": t.column("record_key_r").cast(pa.string()),
        "rule": pa.array(["probabilistic"] * t.num_rows, pa.string()),
        "match_probability": t.column("match_probability").cast(pa.float64()),
        "match_weight": t.column("match_weight").cast(pa.float64()),
        "evidence": pa.array(evidence, pa.string()),
    })
    return out.cast(LINKS), model


def _train(linker: Any, feat: pa.Table, em_blocking: list[Any], ms: MatchSettings) -> list[str]:
    """Unsupervised training. A step the data cannot support (a handful of records, a blocking
    with no pairs, all pairs matching) keeps the priors for what it would have estimated; the
    returned notes say which."""
    from splink.internals.exceptions import EMTrainingException

    notes: list[str] = []
    steps: list[tuple[str, Any]] = []
    # only rules that find pairs: an estimate of zero matches would make every pair impossible
    det = [f"l.{c} = r.{c}" for c in ("email_key", "phone") if _present(feat, c) and _shared(feat, c)]
    if det:
        steps.append(("match share from deterministic rules",
                      lambda: linker.training.estimate_probability_two_random_records_match(det, recall=0.9)))
    steps.append(("u from random pairs",
                  lambda: linker.training.estimate_u_using_random_sampling(max_pairs=ms.u_max_pairs, seed=ms.seed)))
    for cols, rule in em_blocking:
        steps.append((f"m by EM on pairs with the same {' + '.join(cols)}",
                      lambda r=rule: linker.training.estimate_parameters_using_expectation_maximisation(
                          r, max_pairs=ms.em_max_pairs)))
    settings = linker._settings_obj  # the only handle on the prior; a failed EM step can leave it changed
    for what, step in steps:
        prior = settings._probability_two_random_records_match
        try:
            step()
        except (ValueError, ArithmeticError, EMTrainingException) as e:
            settings._probability_two_random_records_match = prior
            notes.append(f"{what}: not estimated ({str(e).splitlines()[0]}); priors kept")
    return notes


def links(feat: pa.Table, ms: MatchSettings = MatchSettings(), probabilistic: pa.Table | None = None,
          ) -> tuple[pa.Table, dict[str, Any]]:
    """Deterministic and probabilistic links of ``feat`` (probabilistic over ``probabilistic``
    records when given: e.g. records with nothing but an email only link deterministically)."""
    det = deterministic_links(feat)
    prob, model = probabilistic_links(feat if probabilistic is None else probabilistic, ms)
    both = pa.concat_tables([det, prob])
    con = duckdb.connect()
    try:
        con.register("b", both)
        # one link per pair, smaller key first: the deterministic one when both found it (it states the rule)
        dedup = con.sql("""
            SELECT least(record_key_l, record_key_r) AS record_key_l, greatest(record_key_l, record_key_r)
                   AS record_key_r, rule, match_probability, match_weight, evidence
            FROM b
            QUALIFY row_number() OVER (PARTITION BY least(record_key_l, record_key_r),
                greatest(record_key_l, record_key_r) ORDER BY rule = 'probabilistic', rule) = 1""").arrow().read_all()
    finally:
        con.close()
    return dedup.cast(LINKS), model
