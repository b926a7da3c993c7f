from __future__ import annotations

import pytest

from c360.engine.duckdb import DuckDBEngine
from c360.lake.rules import expand


@pytest.mark.parametrize(("rule", "value", "expected"), [
    ("proper_name", "  jOHN ", "John"),
    ("clean_email", "  A.B@X.COM ", "a.b@x.com"),
    ("clean_email", "   ", None),
    ("clean_phone", "+44 1234-567 (home)", "+441234567"),
    ("email_is_valid", "a.b@x.com", True),
    ("email_is_valid", "a.b at x.com", False),
    ("email_is_valid", None, False),
    ("clean_code", " gb ", "GB"),
])
def test_rule_on_duckdb(rule: str, value: object, expected: object) -> None:
    sql = expand(f"SELECT {{{{ {rule}(v) }}}} AS out FROM (SELECT CAST(? AS VARCHAR) AS v)")
    got = DuckDBEngine().con.sql(sql, params=[value]).arrow().read_all().column("out")[0].as_py()
    assert got == expected


def test_unknown_rule_is_an_error() -> None:
    with pytest.raises(KeyError, match="unknown rule 'nope'"):
        expand("SELECT {{ nope(x) }}")


@pytest.mark.parametrize(("value", "expected"), [
    ("2024-03-05 14:07:09", "2024-03-05 14:07:09"),
    ("2024-03-05T14:07:09Z", "2024-03-05 14:07:09"),
    ("05/03/2024 14:07", "2024-03-05 14:07:00"),
    ("05/03/2024", "2024-03-05 00:00:00"),
    (" 2024-03-05 14:07:09 ", "2024-03-05 14:07:09"),
    ("March 5, 2024", None),
    ("31/02/2024", None),
    (None, None),
])
def test_parse_ts_reads_every_format_the_sources_write(value: object, expected: object) -> None:
    sql = expand("SELECT CAST({{ parse_ts(v) }} AS VARCHAR) AS out FROM (SELECT CAST(? AS VARCHAR) AS v)")
    got = DuckDBEngine().con.sql(sql, params=[value]).arrow().read_all().column("out")[0].as_py()
    assert got == expected
