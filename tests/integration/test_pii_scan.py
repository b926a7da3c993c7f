"""The PII scanner on planted personal data: a source that grew untagged columns (bronze keeps
them) holding emails, phones, card numbers, IBANs and names, and a public column filled with
emails, are all flagged; look-alikes (ids, dates, amounts, product names) are not; the report
never prints a value."""

from __future__ import annotations

import json
import random

import phonenumbers
import pyarrow as pa
from typer.testing import CliRunner

from c360 import catalog
from c360.cli import app
from c360.config import Settings
from c360.governance.scanner import scan
from c360.lake.store import lake_from_settings

N = 400


def _luhn_complete(digits: str) -> str:
    """``digits`` plus the Luhn check digit (written here, not taken from the scanner's library)."""
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return digits + str((10 - total % 10) % 10)


def _iban(country: str, bban: str) -> str:
    """An IBAN with correct ISO 7064 mod-97 check digits."""
    as_number = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(as_number) % 97:02d}{bban}"


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _planted(rng: random.Random) -> dict[str, list[str]]:
    firsts, lasts = ["Anna", "Jonas", "Marie", "Lukas", "Sophie", "Paul"], ["Schmidt", "Dubois", "Rossi", "Novak"]
    phones = [phonenumbers.format_number(phonenumbers.example_number(r), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
              for r in ("DE", "FR", "GB", "NL", "ES", "IT", "US")]
    return {
        "contact": [f"reach me at {rng.choice(firsts).lower()}.{i}@mail.example.org" for i in range(N)],
        "caller": [rng.choice(phones) for _ in range(N)],
        "notes": [f"paid with {_luhn_complete(_digits(rng, 15))}" for _ in range(N)],
        "bank": [_iban("DE", _digits(rng, 18)) for _ in range(N)],
        "buyer": [f"{rng.choice(firsts)} {rng.choice(lasts)}" for _ in range(N)],
        # look-alikes that are not personal
        "ref": [f"O{rng.randrange(10**12):012d}" for _ in range(N)],
        "when": [f"2024-0{rng.randrange(1, 10)}-1{rng.randrange(10)} 10:00:00" for _ in range(N)],
        "total": [f"{rng.uniform(1, 9999):.2f}" for _ in range(N)],
        "item": [rng.choice(["Smart Headphones", "Classic Speaker", "Nordic Tablet"]) for _ in range(N)],
    }


def test_planted_pii_is_flagged_and_look_alikes_are_not(embedded: Settings) -> None:
    lake = lake_from_settings(embedded)
    spec = catalog.get("bronze.crm_products")
    rng = random.Random(3)
    base = spec.schema().empty_table()
    cols = {f.name: pa.array([None] * N, f.type) for f in base.schema}
    cols["product_id"] = pa.array([f"PR{i:05d}" for i in range(N)])
    planted = _planted(rng)
    # a public column the source started filling with emails
    cols["supplier"] = pa.array([f"orders+{i}@supplier.example.com" for i in range(N)])
    # as bronze keeps a source's new columns (schema evolution): untagged by the catalog
    lake.overwrite(spec.id, pa.table({**cols, **{k: pa.array(v) for k, v in planted.items()}}), keep_extra=True)

    found = {(f.column, f.detector): f for f in scan(lake, ["bronze"]) if f.table == spec.id}
    for column, detector in [("contact", "email"), ("caller", "phone"), ("notes", "card_number"),
                             ("bank", "iban"), ("buyer", "person_name"), ("supplier", "email")]:
        f = found.get((column, detector))
        assert f is not None, f"{column} not flagged as {detector}: {sorted(found)}"
        assert not f.ok and f.share > 0.9
        assert f.tagged == ("public" if column == "supplier" else "untagged")
    for column in ("ref", "when", "total", "item", "product_id"):
        assert not [k for k in found if k[0] == column], f"{column} flagged: {[k for k in found if k[0] == column]}"

    # the CLI exits 1 and names columns and detectors, never a value
    runner = CliRunner()
    r = runner.invoke(app, ["--home", str(embedded.home), "pii", "scan", "--layer", "bronze", "--json"])
    assert r.exit_code == 1
    report = json.loads(r.stdout)
    assert {(x["column"], x["detector"]) for x in report if x["table"] == spec.id and not x["ok"]} >= \
        {("contact", "email"), ("bank", "iban")}
    for values in planted.values():
        assert not any(v in r.stdout for v in values[:50])
