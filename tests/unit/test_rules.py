from __future__ import annotations

import pytest

from c360.engine.duckdb import DuckDBEngine
from c360.lake.rules import expand
from c360.lake.standardise import FUNCTIONS


def _eval(sql: str, *params: object) -> object:
    engine = DuckDBEngine()
    engine.ensure_functions(FUNCTIONS)
    return engine.con.sql(expand(sql), params=list(params)).arrow().read_all().column("out")[0].as_py()


@pytest.mark.parametrize(("rule", "value", "expected"), [
    ("proper_name", "  jOHN ", "John"),
    ("proper_name", "o'brien", "O'Brien"),
    ("proper_name", "DE VRIES", "De Vries"),
    ("proper_name", "ludwig VAN beethoven", "Ludwig van Beethoven"),
    ("proper_name", "mcdonald", "McDonald"),
    ("proper_name", "McKay", "McKay"),
    ("proper_name", "  Anne-marie  ", "Anne-marie"),
    ("proper_name", "ANNE-MARIE", "Anne-Marie"),
    ("proper_name", "Jose\u0301", "José"),
    ("proper_name", "   ", None),
    ("name_key", "Müller-Lüdenscheidt", "mullerludenscheidt"),
    ("name_key", "O'Brien ", "obrien"),
    ("clean_email", "  A.B@X.COM ", "a.b@x.com"),
    ("clean_email", "   ", None),
    ("email_key", "a.b+shop@x.com", "a.b@x.com"),
    ("email_key", "a.b at x.com", "a.b@x.com"),
    ("email_key", "a.b at x dot com", "a.b@x.com"),
    ("email_key", "a.b@x", None),
    ("country_iso2", "United Kingdom", "GB"),
    ("country_iso2", " deu ", "DE"),
    ("country_iso2", "uk", "GB"),
    ("country_iso2", "fr", "FR"),
    ("country_iso2", "Narnia", None),
    ("clean_postcode", " sw1a 1aa", "SW1A1AA"),
    ("clean_postcode", " - ", None),
    ("clean_street", "12  high st.", "12 High Street"),
    ("clean_street", "3 St James rd", "3 St James Road"),
    ("clean_gender", " Female", "F"),
    ("clean_gender", "m", "M"),
    ("clean_gender", "unknown", None),
    ("clean_currency", " eur", "EUR"),
    ("clean_currency", "euro", None),
    ("clean_label", " Web ", "web"),
    ("email_is_valid", "a.b@x.com", True),
    ("email_is_valid", "a.b at x.com", False),
    ("email_is_valid", None, False),
    ("clean_code", " gb ", "GB"),
])
def test_rule_on_duckdb(rule: str, value: object, expected: object) -> None:
    value = value.encode().decode("unicode_escape") if isinstance(value, str) and "\\u" in value else value
    assert _eval(f"SELECT {{{{ {rule}(v) }}}} AS out FROM (SELECT CAST(? AS VARCHAR) AS v)", value) == expected


@pytest.mark.parametrize(("phone", "region", "expected"), [
    ("+44 1234 567890", "GB", "+441234567890"),
    ("01234 567 890", "GB", "+441234567890"),   # national form, read in the person's country
    ("+44 (0) 20 7946 0958", "FR", "+442079460958"),  # a '+' number ignores the region
    ("(555) 123-4567", "US", "+15551234567"),
    ("12", "GB", None),                          # too short to be a number
    ("call me", "GB", None),
    (None, "GB", None),
    ("0612345678", None, None),                 # national form without a country: unknown
])
def test_e164(phone: object, region: object, expected: object) -> None:
    sql = "SELECT {{ e164(p, r) }} AS out FROM (SELECT CAST(? AS VARCHAR) AS p, CAST(? AS VARCHAR) AS r)"
    assert _eval(sql, phone, region) == expected


def test_unknown_rule_is_an_error() -> None:
    with pytest.raises(KeyError, match="unknown rule 'nope'"):
        expand("SELECT {{ nope(x) }}")


@pytest.mark.parametrize(("value", "expected"), [
    ("2024-03-05 14:07:09", "2024-03-05 14:07:09"),
    ("2024-03-05T14:07:09Z", "2024-03-05 14:07:09"),
    ("05/03/2024 14:07", "2024-03-05 14:07:00"),
    ("05/03/2024", "2024-03-05 00:00:00"),
    ("05.03.2024", "2024-03-05 00:00:00"),
    ("05-03-2024 14:07", "2024-03-05 14:07:00"),
    ("2024/03/05", "2024-03-05 00:00:00"),
    (" 2024-03-05 14:07:09 ", "2024-03-05 14:07:09"),
    ("March 5, 2024", None),
    ("31/02/2024", None),
    (None, None),
])
def test_parse_ts_reads_every_format_the_sources_write(value: object, expected: object) -> None:
    assert _eval("SELECT CAST({{ parse_ts(v) }} AS VARCHAR) AS out FROM (SELECT CAST(? AS VARCHAR) AS v)",
                 value) == expected
