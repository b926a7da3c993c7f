"""The table catalog: the one place that declares, per table, its layer, keys, schema, PII tags
and expectations. Every stage, ``c360 tables``, governance and quality read it from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

Layer = Literal["bronze", "silver", "gold", "ops"]
Pii = Literal["public", "pii.direct", "pii.quasi", "sensitive"]
Action = Literal["warn", "drop", "fail"]
Dimension = Literal["completeness", "validity", "uniqueness", "consistency", "timeliness"]
DIMENSIONS: tuple[Dimension, ...] = ("completeness", "validity", "uniqueness", "consistency", "timeliness")

_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int64": pa.int64(),
    "int32": pa.int32(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}


@dataclass(frozen=True)
class Column:
    """One column: name, logical type (a key of ``_TYPES``), PII classification."""

    name: str
    type: str = "string"
    pii: Pii = "public"
    nullable: bool = True
    description: str = ""

    @property
    def arrow_type(self) -> pa.DataType:
        return _TYPES[self.type]


@dataclass(frozen=True)
class Expectation:
    """A row rule in SQL (true = good), with Databricks semantics for a broken rule:
    ``warn`` keeps and counts, ``drop`` quarantines with the rule's name, ``fail`` stops the stage.
    ``dimension`` is the DQ dimension it measures (the scorecard averages rules per dimension).
    """

    name: str
    rule: str
    action: Action = "warn"
    dimension: Dimension = "validity"


@dataclass(frozen=True)
class TableSpec:
    """A lake table. ``id`` is ``layer.name``; its SQL name is ``layer_name``."""

    name: str
    layer: Layer
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    expectations: tuple[Expectation, ...] = ()
    description: str = ""
    inputs: tuple[str, ...] = ()  # table ids a model reads (silver/gold)
    partition_by: tuple[str, ...] = ()
    # SCD Type 2: the key whose versions the table keeps (valid_from, valid_to, is_current); the
    # model returns only new versions and silver/history.py merges them in.
    history_key: tuple[str, ...] = ()
    # "model": a <layer>/<name>.sql model run by lake/build.py; otherwise the package that writes it
    built_by: str = "model"

    @property
    def id(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def sql_name(self) -> str:
        return f"{self.layer}_{self.name}"

    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns])

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.id} has no column {name!r}")

    def pii_columns(self) -> dict[str, str]:
        return {c.name: c.pii for c in self.columns if c.pii != "public"}


def _cols(*specs: str | Column) -> tuple[Column, ...]:
    """Columns from ``"name:type"`` / ``"name:type:pii"`` shorthands or Column objects."""
    out = []
    for s in specs:
        if isinstance(s, Column):
            out.append(s)
            continue
        parts = s.split(":")
        out.append(Column(parts[0], parts[1] if len(parts) > 1 else "string",
                          parts[2] if len(parts) > 2 else "public"))  # type: ignore[arg-type]
    return tuple(out)


# Lineage columns every bronze table carries.
BRONZE_META = _cols("_source", "_source_file", "_ingested_at:timestamp", "_batch_id", "_run_id")
# CRM tables also say when a row was found hard-deleted at the source (null while it exists).
CRM_META = (*BRONZE_META, Column("_deleted_at", "timestamp", description="When the key comparison "
                                 "found the row gone from the source (hard delete); null while it exists."))

# A standardised CRM customer (silver): names cased, email checked, phone E.164, ISO country.
_CUSTOMER_COLS = (
    "customer_id:int64", "first_name:string:pii.direct", "last_name:string:pii.direct", "email:string:pii.direct",
    "email_valid:bool", "email_key:string:pii.direct", "phone:string:pii.direct", "phone_valid:bool",
    "date_of_birth:date:pii.direct", "gender:string:pii.quasi", "street:string:pii.direct", "city:string:pii.quasi",
    "postcode:string:pii.quasi", "country:string", "signup_date:date", "loyalty_tier:string",
    "marketing_consent:bool", "preferred_channel:string", "preferred_categories:string", "updated_at:timestamp",
)
_CUSTOMER_CHECKS = (
    Expectation("email_valid", "email_valid", "warn"),
    Expectation("phone_e164", "phone_valid IS NOT FALSE", "warn"),
    Expectation("country_iso2", "country IS NOT NULL", "warn"),
    Expectation("dob_plausible", "date_of_birth IS NULL OR date_of_birth BETWEEN DATE '1900-01-01' AND "
                "current_date", "warn"),
    Expectation("has_contact", "email IS NOT NULL OR phone IS NOT NULL", "warn", "completeness"),
    Expectation("born_before_signup", "date_of_birth IS NULL OR signup_date IS NULL OR "
                "date_of_birth < signup_date", "warn", "consistency"),
)

_TABLES: list[TableSpec] = [
    # ------------------------------------------------------------------ bronze: as landed
    TableSpec(
        "crm_customers", "bronze",
        _cols("customer_id:int64", "first_name:string:pii.direct", "last_name:string:pii.direct",
              "email:string:pii.direct", "phone:string:pii.direct", "date_of_birth:string:pii.direct",
              "gender:string:pii.quasi", "street:string:pii.direct", "city:string:pii.quasi",
              "postcode:string:pii.quasi", "country:string", "signup_date:string", "loyalty_tier:string",
              "marketing_consent:bool", "preferred_channel:string", "preferred_categories:string",
              "updated_at:string", "is_deleted:bool") + CRM_META,
        primary_key=("customer_id",), description="CRM customers, incremental by updated_at.",
    ),
    TableSpec(
        "crm_products", "bronze",
        _cols("product_id:string", "name:string", "category:string", "price:float64", "supplier:string",
              "updated_at:string") + CRM_META,
        primary_key=("product_id",), description="Product catalog from the CRM.",
    ),
    TableSpec(
        "crm_stores", "bronze",
        _cols("store_id:string", "name:string", "city:string", "country:string", "opened_date:string",
              "updated_at:string") + CRM_META,
        primary_key=("store_id",), description="Stores from the CRM.",
    ),
    TableSpec(
        "crm_salespeople", "bronze",
        _cols("salesperson_id:string", "store_id:string", "first_name:string:pii.direct",
              "last_name:string:pii.direct", "email:string:pii.direct", "hired_date:string",
              "updated_at:string") + CRM_META,
        primary_key=("salesperson_id",), description="The sales team, per store.",
    ),
    TableSpec(
        "crm_returns", "bronze",
        _cols("return_id:string", "order_id:string", "line_no:int64", "customer_id:int64", "returned_at:string",
              "reason:string", "amount:float64", "updated_at:string") + CRM_META,
        primary_key=("return_id",), description="Returned order lines.",
    ),
    TableSpec(
        "crm_support_tickets", "bronze",
        _cols("ticket_id:string", "customer_id:int64", "opened_at:string", "channel:string", "subject:string",
              "status:string", "priority:string", "updated_at:string") + CRM_META,
        primary_key=("ticket_id",), description="Support tickets.",
    ),
    TableSpec(
        "crm_support_emails", "bronze",
        _cols("email_id:string", "ticket_id:string", "customer_id:int64", "direction:string", "sent_at:string",
              "body:string:sensitive", "updated_at:string") + CRM_META,
        primary_key=("email_id",), description="Support emails on tickets (free text may hold personal data).",
    ),
    TableSpec(
        "purchases", "bronze",
        _cols("order_id:string", "line_no:int64", "customer_id:int64", "email:string:pii.direct",
              "order_ts:string", "channel:string", "store_id:string", "salesperson_id:string",
              "product_id:string", "quantity:int64", "unit_price:float64", "amount:float64",
              "currency:string") + BRONZE_META,
        primary_key=("order_id", "line_no"), description="Order lines from JSON-lines file drops.",
    ),
    TableSpec(
        "payments", "bronze",
        _cols("payment_id:string", "order_id:string", "method:string", "status:string", "amount:float64",
              "currency:string", "paid_at:string") + BRONZE_META,
        primary_key=("payment_id",),
        description="Payment transaction logs (JSON lines partitioned year=/month=/day=).",
    ),
    TableSpec(
        "feedback", "bronze",
        _cols("feedback_id:string", "customer_id:int64", "rating:int64", "comment:string",
              "submitted_at:string") + BRONZE_META,
        primary_key=("feedback_id",), description="Customer feedback from CSV file drops.",
    ),
    TableSpec(
        "surveys", "bronze",
        _cols("survey_id:string", "customer_id:int64", "survey_type:string", "channel:string", "nps:int64",
              "csat:int64", "responded_at:string", "comment:string") + BRONZE_META,
        primary_key=("survey_id",), description="NPS/CSAT survey responses from CSV file drops.",
    ),
    TableSpec(
        "partner_profiles", "bronze",
        _cols("profile_id:string", "first_name:string:pii.direct", "last_name:string:pii.direct",
              "email:string:pii.direct", "phone:string:pii.direct", "date_of_birth:string:pii.direct",
              "street:string:pii.direct", "city:string:pii.quasi", "postcode:string:pii.quasi",
              "country:string") + BRONZE_META,
        primary_key=("profile_id",), description="Partner customer profiles from XML file drops.",
    ),
    TableSpec(
        "events", "bronze",
        _cols("event_id:string", "event_type:string", "event_ts:string", "cookie_id:string",
              "session_id:string", "customer_id:int64", "page:string", "product_id:string",
              "social_network:string", "text:string", "_shard:string", "_position:string") + BRONZE_META,
        primary_key=("event_id",), description="Clickstream and social events from the stream.",
    ),
    # ------------------------------------------------------------------ silver: clean, deduplicated
    TableSpec(
        "customers_history", "silver",
        _cols(*_CUSTOMER_COLS, "is_deleted:bool", "valid_from:timestamp", "valid_to:timestamp", "is_current:bool",
              Column("row_hash", description="md5 of the tracked attributes: a new version only when it changes."),
              Column("_source_seen_at", "timestamp", description="The bronze change this version came from; "
                     "the history's watermark is its maximum.")),
        primary_key=("customer_id", "valid_from"), history_key=("customer_id",), inputs=("bronze.crm_customers",),
        expectations=(
            Expectation("customer_id_present", "customer_id IS NOT NULL", "fail", "completeness"),
            Expectation("version_time_parsed", "valid_from IS NOT NULL", "drop", "completeness"),
            *_CUSTOMER_CHECKS,
        ),
        description="Every version of every CRM customer (SCD Type 2: valid_from, valid_to, is_current), "
                    "built incrementally with Delta MERGE; deletes are versions with is_deleted.",
    ),
    TableSpec(
        "customers", "silver",
        _cols(*_CUSTOMER_COLS, Column("version_from", "timestamp", description="Since when this version holds.")),
        primary_key=("customer_id",), inputs=("silver.customers_history",),
        expectations=(
            Expectation("customer_id_present", "customer_id IS NOT NULL", "fail", "completeness"),
            *_CUSTOMER_CHECKS,
        ),
        description="Current CRM customers (the current version of each, deletes removed), standardised.",
    ),
    TableSpec(
        "orders", "silver",
        _cols("order_id:string", "line_no:int64", "customer_id:int64", "email:string:pii.direct",
              "email_key:string:pii.direct", "order_ts:timestamp", "order_date:date", "product_id:string",
              "quantity:int64", "unit_price:float64", "amount:float64", "currency:string", "channel:string",
              "store_id:string", "salesperson_id:string", "customer_known:bool"),
        primary_key=("order_id", "line_no"), inputs=("bronze.purchases", "bronze.crm_customers"),
        expectations=(
            Expectation("amount_positive", "amount > 0", "drop"),
            Expectation("order_ts_parsed", "order_ts IS NOT NULL", "drop"),
            Expectation("currency_iso4217", "currency IS NOT NULL", "drop"),
            # guest orders carry only a contact email until identity resolution links them
            Expectation("customer_id_present", "customer_id IS NOT NULL", "warn", "completeness"),
            Expectation("customer_known", "customer_id IS NULL OR customer_known", "warn", "consistency"),
            Expectation("amount_is_quantity_x_price", "abs(amount - quantity * unit_price) < 0.01 OR amount <= 0",
                        "warn", "consistency"),
        ),
        description="Order lines, deduplicated on (order_id, line_no), timestamps parsed.",
    ),
    TableSpec(
        "feedback", "silver",
        _cols("feedback_id:string", "customer_id:int64", "rating:int64", "comment:string",
              "submitted_at:timestamp"),
        primary_key=("feedback_id",), inputs=("bronze.feedback",),
        expectations=(Expectation("rating_1_to_5", "rating BETWEEN 1 AND 5", "drop"),),
        description="Feedback, deduplicated, ratings in range.",
    ),
    TableSpec(
        "partner_profiles", "silver",
        _cols("profile_id:string", "first_name:string:pii.direct", "last_name:string:pii.direct",
              "email:string:pii.direct", "email_valid:bool", "email_key:string:pii.direct", "phone:string:pii.direct",
              "phone_valid:bool", "date_of_birth:date:pii.direct", "street:string:pii.direct",
              "city:string:pii.quasi", "postcode:string:pii.quasi", "country:string"),
        primary_key=("profile_id",), inputs=("bronze.partner_profiles",),
        expectations=(
            Expectation("has_contact", "email IS NOT NULL OR phone IS NOT NULL", "warn", "completeness"),
            Expectation("email_valid", "email IS NULL OR email_valid", "warn"),
            Expectation("phone_e164", "phone_valid IS NOT FALSE", "warn"),
            Expectation("dob_parsed", "date_of_birth IS NOT NULL", "warn", "completeness"),
        ),
        description="Partner profiles, standardised (identity resolution links them to customers).",
    ),
    TableSpec(
        "web_events", "silver",
        _cols("event_id:string", "event_type:string", "event_ts:timestamp", "cookie_id:string",
              "session_id:string", "customer_id:int64", "page:string", "product_id:string",
              "social_network:string", "text:string", "is_late:bool"),
        primary_key=("event_id",), inputs=("bronze.events",),
        expectations=(
            Expectation("event_ts_parsed", "event_ts IS NOT NULL", "drop", "completeness"),
            # event time behind the newest event its cookie had already delivered by more than the
            # allowed lateness (1 hour): kept, counted as late
            Expectation("on_time", "NOT is_late", "warn", "timeliness"),
        ),
        description="Clickstream and social events, deduplicated on event_id.",
    ),
    TableSpec(
        "identity_map", "silver",
        _cols(Column("record_key", description="source:record_id, unique across sources."),
              Column("source", description="crm, profile, order (a guest order's contact email, hashed) or web "
                     "(a cookie)."),
              Column("record_id", description="The id in its source (an order contact: md5 of its email key)."),
              Column("person_id", description="The person the record belongs to; stable across runs."),
              Column("person_records", "int64", description="How many records the person has."),
              "run_id"),
        primary_key=("record_key",), built_by="identity",
        inputs=("silver.customers", "silver.partner_profiles", "silver.orders", "silver.web_events"),
        expectations=(Expectation("person_assigned", "person_id IS NOT NULL", "fail", "completeness"),),
        description="Which person every CRM customer, partner profile, guest-order contact and logged-in "
                    "cookie belongs to (identity resolution: deterministic rules, Splink, login stitching).",
    ),
    TableSpec(
        "identity_links", "silver",
        _cols("record_key_l", "record_key_r",
              Column("rule", description="same_email, same_phone, probabilistic (Splink) or login."),
              "match_probability:float64",
              Column("match_weight", "float64", description="Splink's total match weight (log2 odds)."),
              Column("evidence", description="JSON: per comparison its match weight (probabilistic), the "
                     "shared field (deterministic) or the login counts (login)."),
              "run_id"),
        primary_key=("record_key_l", "record_key_r"), built_by="identity",
        description="Every link that put two records in one person, with its probability and evidence.",
    ),
    TableSpec(
        "identity_changes", "silver",
        _cols(Column("change", description="merge: other_person_id was folded into person_id; split: records "
                     "of person_id moved to other_person_id."),
              "person_id", "other_person_id", "records:int64", "run_id", "changed_at:timestamp"),
        primary_key=("run_id", "change", "person_id", "other_person_id"), built_by="identity",
        description="Merges and splits of persons, per run (append-only).",
    ),
    # ------------------------------------------------------------------ gold
    TableSpec(
        "customer_360", "gold",
        _cols("customer_id:int64", "first_name:string:pii.direct", "last_name:string:pii.direct",
              "email:string:pii.direct", "phone:string:pii.direct", "country:string",
              "loyalty_tier:string", "total_spend:float64", "order_count:int64",
              "avg_order_value:float64", "first_order_at:timestamp", "last_order_at:timestamp",
              "feedback_count:int64", "avg_rating:float64", "web_events:int64", "sessions:int64"),
        primary_key=("customer_id",),
        inputs=("silver.customers", "silver.orders", "silver.feedback", "silver.web_events"),
        expectations=(
            Expectation("spend_not_negative", "total_spend >= 0", "fail"),
            Expectation("aov_consistent", "order_count = 0 OR abs(avg_order_value * order_count - "
                        "total_spend) < 0.01 * order_count", "fail", "consistency"),
        ),
        description="One row per customer: purchases, AOV, last purchase, feedback and web activity.",
    ),
    # ------------------------------------------------------------------ ops: audit, quarantine, ledger
    TableSpec(
        "run_audit", "ops",
        _cols("run_id", "stage", "table_id", "started_at:timestamp", "ended_at:timestamp", "status",
              "rows_in:int64", "rows_out:int64", "rows_quarantined:int64", "dq_score:float64",
              "details", "error"),
        primary_key=("run_id", "stage", "status"),
        description="One row per run and stage event: RUNNING, SUCCESS or FAILED.",
    ),
    TableSpec(
        "quarantine", "ops",
        _cols("quarantine_id", "run_id", "batch_id", "stage", "source", "table_id", "locator", "rule",
              "reason", "raw:string:pii.direct", "quarantined_at:timestamp"),
        primary_key=("quarantine_id",),
        description="Every rejected record or file, with the rule it broke and its raw text.",
    ),
    TableSpec(
        "file_ledger", "ops",
        _cols("path", "size:int64", "etag", "source", "table_id", "status", "rows:int64",
              "bad_rows:int64", "batch_id", "run_id", "reason", "ingested_at:timestamp", "format",
              "dq_score:float64", "destination"),
        primary_key=("path", "etag"),
        description="Files seen by ingestion (Auto-Loader-style): path + ETag, detected format, outcome "
                    "(SUCCESS/FAILED), rows and bad rows, DQ score (good / all records), where the file was "
                    "copied (validated/… or error/…).",
    ),
]

CATALOG: dict[str, TableSpec] = {t.id: t for t in _TABLES}


def get(table_id: str) -> TableSpec:
    """The spec for ``layer.name``."""
    try:
        return CATALOG[table_id]
    except KeyError:
        raise KeyError(f"unknown table {table_id!r}; known: {', '.join(CATALOG)}") from None


def tables(layer: Layer | None = None) -> Iterable[TableSpec]:
    """All specs, optionally of one layer, in declaration order (bronze → silver → gold → ops)."""
    return [t for t in _TABLES if layer is None or t.layer == layer]


def conform(data: pa.Table, spec: TableSpec, keep_extra: bool = False) -> pa.Table:
    """Select and cast ``data`` to the declared schema (missing columns become nulls).
    ``keep_extra`` keeps columns the catalog does not declare, after the declared ones (a
    source's new columns, added to bronze by schema evolution)."""
    schema = spec.schema()
    cols = []
    for i, f in enumerate(schema):
        if f.name not in data.column_names:
            cols.append(pa.nulls(data.num_rows, f.type))
        elif f.type == pa.string() and data.schema.field(f.name).type == pa.string_view():
            # kept as views (delta-rs writes them as Delta strings): casting would copy every
            # value, and bronze's constant lineage columns are views of one string
            cols.append(data.column(f.name))
            schema = schema.set(i, f.with_type(pa.string_view()))
        else:
            cols.append(data.column(f.name).cast(f.type))
    if keep_extra:
        for f in data.schema:
            if f.name not in schema.names:
                schema = schema.append(f)
                cols.append(data.column(f.name))
    return pa.Table.from_arrays(cols, schema=schema)
