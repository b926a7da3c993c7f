"""Standardisation rules as SQL expressions: each rule lives once and every model uses it.

Models call them as ``{{ rule(column) }}`` or ``{{ rule(column, other) }}``; ``expand`` substitutes
the expression before the model runs (so they transpile to Spark like any other SQL). Written in
the subset DuckDB and Spark share; rules that need a library call the ``c360_*`` functions of
``standardise.py``, which every engine registers.
"""

from __future__ import annotations

import re
from collections.abc import Callable


# timestamps as sources write them: ISO 'YYYY-MM-DD HH:MM:SS', ISO-8601 'YYYY-MM-DDTHH:MM:SSZ',
# or day-first 'DD/MM/YYYY[ HH:MM]', 'DD.MM.YYYY', 'DD-MM-YYYY'; 'YYYY/MM/DD'; anything else is
# NULL. Built from substr/replace only, because DuckDB's try_strptime has no Spark twin that
# sqlglot can transpile. Day-first, not month-first: the sources are European-style exports
# (an ambiguous 03/04 is read as 3 April).
def _parse_ts(c: str) -> str:
    t = f"replace(replace(trim({c}), '.', '/'), '-', '/')"  # one separator for the day-first forms
    # Most values are ISO already: the plain cast first, the rewrites only for the rows it fails on
    # (a CASE evaluates its ELSE only for those; 0.4 s instead of 3.0 s on 18M order timestamps).
    return (
        f"CASE WHEN TRY_CAST({c} AS TIMESTAMP) IS NOT NULL THEN TRY_CAST({c} AS TIMESTAMP) ELSE "
        f"coalesce(TRY_CAST(replace(replace(replace(trim({c}), 'T', ' '), 'Z', ''), '/', '-') AS TIMESTAMP), "
        f"CASE WHEN {t} LIKE '__/__/____%' THEN TRY_CAST(substr({t}, 7, 4) || '-' || "
        f"substr({t}, 4, 2) || '-' || substr({t}, 1, 2) || ' ' || "
        f"coalesce(nullif(substr({t}, 12, 5), ''), '00:00') || ':00' AS TIMESTAMP) END) END")


def _email_key(c: str) -> str:
    mailbox = (f"regexp_replace(regexp_replace(regexp_replace(lower(trim({c})), '\\s+at\\s+', '@'), "
               f"'\\s+dot\\s+', '.', 'g'), '\\+[^@]*@', '@')")
    return f"CASE WHEN {RULES['email_is_valid'](mailbox)} THEN {mailbox} END"


def _latest_rows(table: str, keys: str, order: str) -> str:
    """The rows of ``table`` with one row per key (``a+b``): the first by ``order`` (``x DESC+y``).

    Written as two phases because the plain ``QUALIFY row_number() OVER (PARTITION BY key …) = 1``
    sorts every column of every row: on 18M order lines that took 22 s against 9.6 s for finding
    the (few) duplicated keys first and ranking only their rows. The rows carry an extra
    ``__rank`` column (both branches of the UNION need the same columns on Spark too)."""
    k = [c.strip() for c in keys.split("+")]
    o = ", ".join(c.strip() for c in order.split("+"))  # order columns are not keys: unambiguous
    on = " AND ".join(f"__d.{c} = __r.{c}" for c in k)
    dup_keys = f"SELECT {', '.join(k)} FROM {table} GROUP BY {', '.join(k)} HAVING count(*) > 1"
    return (
        f"SELECT __r.*, 1 AS __rank FROM {table} AS __r LEFT JOIN (SELECT *, true AS __dup FROM ({dup_keys}) "
        f"AS __k) AS __d ON {on} WHERE __d.__dup IS NULL "
        f"UNION ALL SELECT * FROM (SELECT __r.*, row_number() OVER (PARTITION BY "
        f"{', '.join('__r.' + c for c in k)} ORDER BY {o}) AS __rank FROM {table} AS __r JOIN ({dup_keys}) "
        f"AS __d ON {on}) AS __w WHERE __rank = 1")


def _person_fields() -> str:
    """A person's contact columns standardised, as a projection list (source columns first_name,
    last_name, email, phone, date_of_birth, street, city, postcode, country; has_phone says a phone
    was given, so phone_valid can tell 'none' from 'not a number')."""
    return (f"{RULES['proper_name']('first_name')} AS first_name, {RULES['proper_name']('last_name')} AS last_name, "
            f"{RULES['clean_email']('email')} AS email, "
            f"{RULES['e164']('phone', RULES['country_iso2']('country'))} AS phone, "
            "nullif(trim(phone), '') IS NOT NULL AS has_phone, "
            f"{RULES['parse_date']('date_of_birth')} AS date_of_birth, {RULES['clean_street']('street')} AS street, "
            f"{RULES['clean_place']('city')} AS city, {RULES['clean_postcode']('postcode')} AS postcode, "
            f"{RULES['country_iso2']('country')} AS country")


def _person_checks() -> str:
    """What silver says about a standardised person (after person_fields): email valid, its key,
    phone valid (NULL when no phone was given)."""
    return (f"{RULES['email_is_valid']('email')} AS email_valid, {RULES['email_key']('email')} AS email_key, "
            "CASE WHEN has_phone THEN phone IS NOT NULL END AS phone_valid")


# Rules that expand to a list of columns rather than one expression (not parenthesised).
def _persons_by(source: str) -> str:
    """identity_map as a join table from a source's own key to the person: ``crm`` → (customer_id
    BIGINT, person_id), ``web`` → (cookie_id, person_id). Joining on the source's key, not on a
    'crm:' || id string built per row, keeps an 18M-row join integer (3x faster at M)."""
    key = {"crm": "CAST(record_id AS BIGINT) AS customer_id", "web": "record_id AS cookie_id"}[source]
    return f"(SELECT {key}, person_id FROM silver_identity_map WHERE source = '{source}')"


FRAGMENTS = {"person_fields": _person_fields, "person_checks": _person_checks, "persons_by": _persons_by}

RULES: dict[str, Callable[..., str]] = {
    # "  jOHN " -> "John", "o'brien" -> "O'Brien", Unicode composed, whitespace collapsed
    "proper_name": lambda c: f"c360_person_name({c})",
    # a name as a matching key: ASCII-folded, lower case, letters only
    "name_key": lambda c: f"c360_name_key({c})",
    # " A.B@X.COM " -> "a.b@x.com"; empty -> NULL
    "clean_email": lambda c: f"nullif(lower(trim({c})), '')",
    # a syntactically valid address (after clean_email); NULL counts as not valid
    "email_is_valid": lambda c: (
        f"coalesce(regexp_matches({c}, '^[a-z0-9._%+-]+@[a-z0-9-]+(\\.[a-z0-9-]+)*\\.[a-z]{{2,}}$'), false)"),
    # the mailbox an address delivers to, for matching: spelled-out separators read back
    # ('a at x dot com' -> 'a@x.com'), sub-address tags dropped ('a+shop@x' -> 'a@x'); NULL unless
    # that is a valid address. The email column itself keeps what was entered (and its validity).
    "email_key": lambda c: _email_key(c),
    # any written form -> E.164 ('020 7946 0958' in GB -> '+442079460958'); NULL if it can't be a number
    "e164": lambda c, region: f"c360_e164({c}, {region})",
    # ISO 3166-1 alpha-2 from a code, alpha-3 or a name ('United Kingdom', 'DEU' -> 'GB', 'DE')
    "country_iso2": lambda c: f"c360_country({c})",
    # postcodes compare without case, spaces or dashes: 'sw1a 1aa' -> 'SW1A1AA'
    "clean_postcode": lambda c: f"nullif(upper(regexp_replace({c}, '[^0-9A-Za-z]', '', 'g')), '')",
    # '12  high st.' -> '12 High Street': whitespace collapsed, a trailing abbreviation spelled out
    # (only trailing: 'St James Street' keeps its Saint)
    "clean_street": lambda c: (
        "nullif(regexp_replace(regexp_replace(regexp_replace(regexp_replace("
        f"c360_person_name({c}), '(?i) St\\.?$', ' Street'), '(?i) Rd\\.?$', ' Road'), '(?i) Ave?\\.?$', ' Avenue'), "
        "'(?i) Ln\\.?$', ' Lane'), '')"),
    # a (cleaned) street as a matching key: lower case, letters and digits only ('12 High Street' ->
    # '12highstreet')
    "address_key": lambda c: f"nullif(lower(regexp_replace({c}, '[^0-9A-Za-z]', '', 'g')), '')",
    # a place name: whitespace collapsed, proper case
    "clean_place": lambda c: f"c360_person_name({c})",
    # codes upper case, trimmed; empty -> NULL
    "clean_code": lambda c: f"nullif(upper(trim({c})), '')",
    # categorical labels lower case, trimmed; empty -> NULL
    "clean_label": lambda c: f"nullif(lower(trim({c})), '')",
    # gender as M / F / X from the spellings systems use; anything else NULL
    "clean_gender": lambda c: (
        f"CASE WHEN lower(trim({c})) IN ('m', 'male', 'man') THEN 'M' "
        f"WHEN lower(trim({c})) IN ('f', 'female', 'woman') THEN 'F' "
        f"WHEN lower(trim({c})) IN ('x', 'other', 'diverse', 'non-binary', 'nonbinary') THEN 'X' END"),
    # ISO 4217 currency code, or NULL when it isn't three letters
    "clean_currency": lambda c: f"CASE WHEN regexp_matches(upper(trim({c})), '^[A-Z]{{3}}$') THEN upper(trim({c})) END",
    # money to the cent, half away from zero (amounts are summed in cents downstream)
    "clean_amount": lambda c: f"round(CAST({c} AS DOUBLE), 2)",
    "parse_ts": _parse_ts,
    # one row per key, the first by an order: {{ latest_rows(bronze_x, id+line, _ingested_at DESC+_source_file) }}
    "latest_rows": _latest_rows,
    # a date in any of parse_ts's forms ('1980-02-01', '01/02/1980', '1980/02/01')
    "parse_date": lambda c: f"CAST({_parse_ts(c)} AS DATE)",
}

_CALL = re.compile(r"\{\{\s*(\w+)\((.*?)\)\s*\}\}")


def expand(sql: str) -> str:
    """Replace every ``{{ rule(args) }}`` in ``sql``; an unknown rule is an error."""

    def sub(m: re.Match[str]) -> str:
        name, args = m.group(1), [a.strip() for a in m.group(2).split(",") if a.strip()]
        if name in FRAGMENTS:
            return FRAGMENTS[name](*args)
        if name not in RULES:
            raise KeyError(f"unknown rule {name!r} in a model; known: {', '.join([*RULES, *FRAGMENTS])}")
        return f"({RULES[name](*args)})"

    return _CALL.sub(sub, sql)
