"""The PII scanner (``c360 pii scan``): samples the text columns of lake tables and flags the ones
that hold likely personal data the catalog does not tag, so a new source column (bronze keeps
columns a source adds) can't slip into the lake untagged.

Per column, a sample of values (a few files of each table, spread over it) is tested by each
detector; a column is flagged when at least ``min_share`` of its non-empty sampled values match
one (and at least ``MIN_MATCHES`` do). Detectors, all validated rather than pattern-only where a
check exists:

- ``email``: an address with a dotted domain (email-style token anywhere in the value);
- ``phone``: a number ``phonenumbers`` finds in the text and judges valid (ISO dates and times are
  not numbers);
- ``card_number``: 13-19 digits (spaces or dashes allowed) passing the Luhn check;
- ``iban``: a country code, two check digits and 11-30 letters/digits passing ISO 7064 mod 97;
- ``person_name``: one to three capitalised words, one of them a first or last name in Faker's
  lists for nine locales (not the generator's, which would make this circular);
- ``column_name``: the column's own name says it is personal (email, phone, name, birth, address,
  iban, card, ssn, passport, ip), whatever its values.

The report names tables, columns, detectors and counts, never a value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

import phonenumbers
import pyarrow as pa
from stdnum import iban, luhn

from c360 import catalog
from c360.lake.store import Lake

SAMPLE_ROWS = 2000
MIN_MATCHES = 5
_FILES_SAMPLED = 8

_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_ISO_TIME = re.compile(r"^\s*\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?\s*$")
_WORD = re.compile(r"^[A-Z][a-z]+(?:['-][A-Za-z][a-z]+)*$")
_NAME_HINT = re.compile(r"(^|_)(e?mail|phone|mobile|tel|first_?name|last_?name|full_?name|surname|birth|dob|"
                        r"address|street|iban|card|ssn|passport|ip_?addr(ess)?)($|_)", re.IGNORECASE)
# ...unless the name says it is about such a value rather than one: an id, a flag, a count, a lineage
_NOT_A_VALUE = re.compile(r"_(id|ids|from|valid|count|type|method)$", re.IGNORECASE)
_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_PT", "pl_PL")


@cache
def _names() -> tuple[frozenset[str], frozenset[str]]:
    """First names and last names of Faker's person providers, lower-cased."""
    import importlib

    first: set[str] = set()
    last: set[str] = set()
    for loc in _LOCALES:
        p = importlib.import_module(f"faker.providers.person.{loc}").Provider
        for attr in ("first_names", "first_names_male", "first_names_female"):
            first.update(n.lower() for n in getattr(p, attr, ()) or ())
        last.update(n.lower() for n in getattr(p, "last_names", ()) or ())
    return frozenset(first), frozenset(last)


def is_email(v: str) -> bool:
    return _EMAIL.search(v) is not None


def is_phone(v: str) -> bool:
    if _ISO_TIME.match(v) or sum(c.isdigit() for c in v) < 7:
        return False
    region = None if v.lstrip().startswith("+") else "US"
    return any(True for _ in phonenumbers.PhoneNumberMatcher(v, region, leniency=phonenumbers.Leniency.VALID))


def is_card_number(v: str) -> bool:
    return any(luhn.is_valid(re.sub(r"[ -]", "", m.group())) for m in _CARD.finditer(v))


def is_iban(v: str) -> bool:
    return any(iban.is_valid(m.group()) for m in _IBAN.finditer(v))


def is_person_name(v: str) -> bool:
    """One capitalised word that is a first or last name, or two or three that start with a first
    name and end with a name ("Smart Headphones" starts with a surname, so it is not one)."""
    words = v.split()
    if not 1 <= len(words) <= 3 or not all(_WORD.match(w) for w in words):
        return False
    first, last = _names()
    low = [w.lower() for w in words]
    if len(low) == 1:
        return low[0] in first or low[0] in last
    return low[0] in first and (low[-1] in last or low[-1] in first)


DETECTORS: dict[str, Callable[[str], bool]] = {
    "email": is_email, "phone": is_phone, "card_number": is_card_number, "iban": is_iban,
    "person_name": is_person_name,
}


@dataclass(frozen=True)
class Finding:
    """A column that looks personal: what found it, on how much of the sample, and its tag."""

    table: str
    column: str
    detector: str
    matched: int
    sampled: int
    share: float
    tagged: str  # the catalog's classification, or "untagged" for a column the catalog lacks

    @property
    def ok(self) -> bool:
        """Tagged as personal already (anything but public / untagged)."""
        return self.tagged not in ("public", "untagged")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def sample(lake: Lake, table_id: str, rows: int = SAMPLE_ROWS) -> pa.Table | None:
    """Up to ``rows`` rows of a table's text columns, taken from files spread over the table."""
    if not lake.exists(table_id):
        return None
    ds = lake.dataset(table_id)
    text = [f.name for f in ds.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
            or pa.types.is_string_view(f.type)]
    if not text:
        return None
    frags = list(ds.get_fragments())
    if not frags:
        return None
    step = max(1, len(frags) // _FILES_SAMPLED)
    picked = frags[::step][:_FILES_SAMPLED]
    per = max(1, rows // len(picked))
    parts = [f.head(per, columns=text) for f in picked]
    return pa.concat_tables([p.cast(pa.schema([pa.field(n, pa.string()) for n in text])) for p in parts])


def scan_table(lake: Lake, table_id: str, min_share: float = 0.2, rows: int = SAMPLE_ROWS) -> list[Finding]:
    """The findings of one table (module doc)."""
    spec = catalog.get(table_id)
    data = sample(lake, table_id, rows)
    if data is None:
        return []
    tags = {c.name: c.pii for c in spec.columns}
    out = []
    for name in data.column_names:
        values = [v for v in data.column(name).to_pylist() if v and v.strip()]
        tag = tags.get(name, "untagged")
        if _NAME_HINT.search(name) and not _NOT_A_VALUE.search(name):
            out.append(Finding(table_id, name, "column_name", len(values), len(values), 1.0, tag))
        if not values:
            continue
        for detector, test in DETECTORS.items():
            hits = sum(1 for v in values if test(v))
            share = hits / len(values)
            if hits >= MIN_MATCHES and share >= min_share:
                out.append(Finding(table_id, name, detector, hits, len(values), round(share, 3), tag))
    return out


def scan(lake: Lake, layers: Iterable[str] = ("bronze", "silver"), min_share: float = 0.2,
         rows: int = SAMPLE_ROWS, progress: Callable[[str], None] | None = None) -> list[Finding]:
    """Findings over every table of ``layers`` that exists in the lake."""
    out: list[Finding] = []
    for layer in layers:
        for spec in catalog.tables(layer):  # type: ignore[arg-type]
            if progress:
                progress(spec.id)
            out.extend(scan_table(lake, spec.id, min_share, rows))
    return out
