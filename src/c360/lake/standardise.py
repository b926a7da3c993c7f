"""Cleaning rules that need a library rather than SQL: phone numbers to E.164 (``phonenumbers``),
person names (Unicode, case, particles), countries to ISO 3166-1 alpha-2 (``pycountry``).

Each is a vectorised Arrow function registered on every engine under a ``c360_`` name, so SQL
models call it like a built-in and both engines share the model (``rules.py`` wraps them). They
work on the distinct values of a batch: names and countries repeat a lot, phones barely, and the
Python cost is per distinct value.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
import pycountry


@dataclass(frozen=True)
class Function:
    """A scalar SQL function backed by Python: ``fn`` maps Arrow string arrays to an Arrow array."""

    name: str
    fn: Callable[..., pa.Array]
    arity: int
    returns: str = "string"  # a catalog type name


def _distinct_map(values: list[pa.Array], one: Callable[..., str | None]) -> pa.Array:
    """Apply ``one`` per distinct tuple of inputs; nulls in the first input stay null."""
    values = [v.combine_chunks() if isinstance(v, pa.ChunkedArray) else v for v in values]
    if len(values) == 1:
        enc = pc.dictionary_encode(values[0].cast(pa.string()))
        out = pa.array([one(v) for v in enc.dictionary.to_pylist()], pa.string())
        return out.take(enc.indices)
    cols = [v.cast(pa.string()).to_pylist() for v in values]
    cache: dict[tuple[str | None, ...], str | None] = {}
    res = []
    for key in zip(*cols, strict=True):
        if key[0] is None:
            res.append(None)
            continue
        if key not in cache:
            cache[key] = one(*key)
        res.append(cache[key])
    return pa.array(res, pa.string())


# ------------------------------------------------------------------ phones
def e164_one(phone: str | None, region: str | None) -> str | None:
    """A phone number as E.164 (``+441234567890``), read in ``region``'s national format when it has
    no ``+``; None when it cannot be a number there (too short, too long, letters)."""
    if phone is None or not phone.strip():
        return None
    try:
        parsed = phonenumbers.parse(phone, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def e164(phone: pa.Array, region: pa.Array) -> pa.Array:
    return _distinct_map([phone, region], e164_one)


# ------------------------------------------------------------------ names
_PARTICLE = {"de", "da", "del", "della", "der", "den", "van", "von", "le", "la", "du", "di", "dos", "y"}
_SPACES = re.compile(r"\s+")


def _cap(word: str, first: bool) -> str:
    if not first and word in _PARTICLE:
        return word  # "Ludwig van Beethoven", but "Van Dyke" when it leads
    parts = re.split(r"([-'’])", word)  # O'Brien, Smith-Jones
    out = "".join(p[:1].upper() + p[1:] if p not in "-'’" else p for p in parts)
    if out.startswith("Mc") and len(out) > 2:
        out = "Mc" + out[2].upper() + out[3:]
    return out


@lru_cache(maxsize=100_000)
def person_name_one(name: str | None) -> str | None:
    """'  jOHN ' -> 'John', "o'brien" -> "O'Brien", 'DE VRIES' -> 'De Vries'. Unicode is NFC-composed;
    a name already in mixed case is kept as written (it may be deliberate: 'DeVries', 'McKay')."""
    if name is None:
        return None
    s = _SPACES.sub(" ", unicodedata.normalize("NFKC", name)).strip()
    if not s:
        return None
    if s != s.upper() and s != s.lower() and not (s[:1].islower()):
        return s
    words = s.lower().split(" ")
    return " ".join(_cap(w, i == 0) for i, w in enumerate(words))


def person_name(name: pa.Array) -> pa.Array:
    return _distinct_map([name], person_name_one)


@lru_cache(maxsize=100_000)
def name_key_one(name: str | None) -> str | None:
    """A matching key: accents folded to ASCII, lower case, letters only ('Müller-Lüdenscheidt' ->
    'mullerludenscheidt'). Names that differ only in spelling conventions get the same key."""
    if name is None:
        return None
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    key = re.sub(r"[^a-z]", "", folded.lower())
    return key or None


def name_key(name: pa.Array) -> pa.Array:
    return _distinct_map([name], name_key_one)


# ------------------------------------------------------------------ countries
_COUNTRY_ALIASES = {"UK": "GB", "ENGLAND": "GB", "SCOTLAND": "GB", "WALES": "GB", "GREAT BRITAIN": "GB",
                    "USA": "US", "U.S.A.": "US", "U.S.": "US", "AMERICA": "US", "HOLLAND": "NL",
                    "DEUTSCHLAND": "DE", "ESPANA": "ES", "ESPAÑA": "ES", "ITALIA": "IT"}


@lru_cache(maxsize=10_000)
def country_one(value: str | None) -> str | None:
    """ISO 3166-1 alpha-2 from a code (alpha-2 or alpha-3), an English or common local name; None
    when unknown (the expectation on the column counts it)."""
    if value is None:
        return None
    s = _SPACES.sub(" ", value).strip().upper()
    if not s:
        return None
    if s in _COUNTRY_ALIASES:
        return _COUNTRY_ALIASES[s]
    try:
        return str(pycountry.countries.lookup(s).alpha_2)
    except LookupError:
        return None


def country(value: pa.Array) -> pa.Array:
    return _distinct_map([value], country_one)


FUNCTIONS: tuple[Function, ...] = (
    Function("c360_e164", e164, 2),
    Function("c360_person_name", person_name, 1),
    Function("c360_name_key", name_key, 1),
    Function("c360_country", country, 1),
)
