"""Matching features from records whose columns play known roles (first_name, email, phone…).

The same standardisation rules as silver (``lake/rules.py`` + ``lake/standardise.py``) turn each
role into a comparable key, so a record from a CSV file and a silver row are prepared alike:
names ASCII-folded and lower-cased, first names with their nickname forms ('bob' ~ 'robert'),
emails without sub-address tags, phones as E.164, dates from any supported format.
"""

from __future__ import annotations

from functools import lru_cache

import nicknames
import pyarrow as pa
import pyarrow.compute as pc

from c360.engine.duckdb import DuckDBEngine
from c360.errors import C360Error
from c360.lake.rules import expand
from c360.lake.standardise import FUNCTIONS

ROLES = ("first_name", "last_name", "full_name", "email", "phone", "dob", "street_number", "address", "city",
         "postcode", "state", "country")

# The feature table every matcher reads: one row per record.
FEATURES = pa.schema([
    ("record_key", pa.string()), ("source", pa.string()), ("first_name_key", pa.string()),
    ("last_name_key", pa.string()), ("first_forms", pa.list_(pa.string())), ("email_key", pa.string()),
    ("phone", pa.string()), ("dob", pa.string()), ("address_key", pa.string()), ("city_key", pa.string()),
    ("postcode", pa.string()), ("state_key", pa.string()), ("country", pa.string()),
])


@lru_cache(maxsize=1)
def _nicknamer() -> nicknames.NickNamer:
    return nicknames.NickNamer()


@lru_cache(maxsize=50_000)
def name_forms(key: str) -> tuple[str, ...]:
    """A first name's key with the formal names it may be short for ('bob' -> bob, robert, …)."""
    return tuple(sorted({key, *_nicknamer().canonicals_of(key)}))


def with_first_forms(t: pa.Table) -> pa.Table:
    """``t`` with ``first_forms``: the nickname forms of each ``first_name_key`` (per distinct name)."""
    enc = pc.dictionary_encode(t.column("first_name_key").combine_chunks())
    forms = pa.array([list(name_forms(k)) if k else None for k in enc.dictionary.to_pylist()],
                     pa.list_(pa.string()))
    return t.append_column("first_forms", forms.take(enc.indices))


def _text(role: str, roles: dict[str, str]) -> str:
    """The SQL text of a role's source column, or NULL when the role is not mapped."""
    col = roles.get(role)
    return f'CAST("{col}" AS VARCHAR)' if col else "CAST(NULL AS VARCHAR)"


def features(data: pa.Table, id_column: str, roles: dict[str, str], source: str = "input",
             default_region: str | None = None) -> pa.Table:
    """The FEATURES of ``data``: ``roles`` maps a role to a column of ``data``; any subset of
    ROLES works. ``record_key`` is ``source:id``. ``full_name`` is split when first/last are not
    given (first word, last word); ``street_number`` and ``address`` form one address."""
    unknown = sorted(set(roles) - set(ROLES))
    missing = sorted({id_column, *roles.values()} - set(data.column_names))
    if unknown:
        raise C360Error(f"unknown role(s): {', '.join(unknown)}", where="identity",
                        fix=f"use roles from: {', '.join(ROLES)}")
    if missing:
        raise C360Error(f"column(s) not in the input: {', '.join(missing)}", where="identity",
                        fix=f"the input has: {', '.join(data.column_names)}")
    inp = pa.table({"__id": data.column(id_column).cast(pa.string()),
                    "__source": pa.array([source] * data.num_rows, pa.string()),
                    **{f"__{r}": data.column(c) for r, c in roles.items()}})
    r = {role: f"__{role}" for role in roles}
    first, last = _text("first_name", r), _text("last_name", r)
    if "full_name" in roles:  # 'Ann  Marie Smith' -> first 'Ann', last 'Smith' (when not given apart)
        full = f"trim(regexp_replace({_text('full_name', r)}, '\\s+', ' ', 'g'))"
        first = f"coalesce({first}, split_part({full}, ' ', 1))"
        last = f"coalesce({last}, CASE WHEN strpos({full}, ' ') > 0 THEN regexp_extract({full}, '([^ ]+)$', 1) END)"
    country = "{{ country_iso2(country_raw) }}"
    region = f"coalesce(country_iso2, '{default_region}')" if default_region else "country_iso2"
    address = f"concat_ws(' ', {_text('street_number', r)}, {_text('address', r)})" \
        if "street_number" in roles else _text("address", r)
    sql = f"""
        WITH raw AS (
            SELECT __id, __source, {first} AS first_raw, {last} AS last_raw, {_text('email', r)} AS email_raw,
                   {_text('phone', r)} AS phone_raw, {_text('dob', r)} AS dob_raw, {address} AS address_raw,
                   {_text('city', r)} AS city_raw, {_text('postcode', r)} AS postcode_raw,
                   {_text('state', r)} AS state_raw, {_text('country', r)} AS country_raw
            FROM inp
        ),
        std AS (
            SELECT *, {country} AS country_iso2, {{{{ clean_email(email_raw) }}}} AS email_clean,
                   {{{{ clean_street(address_raw) }}}} AS street_clean FROM raw
        ),
        located AS (SELECT *, {region} AS region FROM std)
        SELECT
            __source || ':' || __id AS record_key, __source AS source,
            {{{{ name_key(first_raw) }}}} AS first_name_key,
            {{{{ name_key(last_raw) }}}} AS last_name_key,
            {{{{ email_key(email_clean) }}}} AS email_key,
            {{{{ e164(phone_raw, region) }}}} AS phone,
            CAST({{{{ parse_date(dob_raw) }}}} AS VARCHAR) AS dob,
            {{{{ address_key(street_clean) }}}} AS address_key,
            {{{{ name_key(city_raw) }}}} AS city_key,
            {{{{ clean_postcode(postcode_raw) }}}} AS postcode,
            {{{{ name_key(state_raw) }}}} AS state_key,
            country_iso2 AS country
        FROM located
    """
    engine = DuckDBEngine()
    try:
        engine.ensure_functions(FUNCTIONS)
        engine.register("inp", inp)
        out = engine.sql(expand(sql))
    finally:
        engine.close()
    return with_first_forms(out).select(FEATURES.names).cast(FEATURES)
