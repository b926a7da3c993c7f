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
    # stored as AES-GCM tokens (governance/crypto.py); text columns only
    encrypted: bool = False

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
    # read by many models of the run: kept in memory once written (Lake.remember), DuckDB only
    hot: bool = False

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

    def encrypted_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.encrypted)


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
        _cols("feedback_id:string", "customer_id:int64", "rating:int64", "comment:string:sensitive",
              "submitted_at:string") + BRONZE_META,
        primary_key=("feedback_id",), description="Customer feedback from CSV file drops.",
    ),
    TableSpec(
        "surveys", "bronze",
        _cols("survey_id:string", "customer_id:int64", "survey_type:string", "channel:string", "nps:int64",
              "csat:int64", "responded_at:string", "comment:string:sensitive") + BRONZE_META,
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
              "social_network:string", "text:string:sensitive", "_shard:string", "_position:string") + BRONZE_META,
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
        _cols("feedback_id:string", "customer_id:int64", "rating:int64", "comment:string:sensitive",
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
              "social_network:string", "text:string:sensitive", "is_late:bool"),
        primary_key=("event_id",), inputs=("bronze.events",), hot=True,
        expectations=(
            Expectation("event_ts_parsed", "event_ts IS NOT NULL", "drop", "completeness"),
            # event time behind the newest event its cookie had already delivered by more than the
            # allowed lateness (1 hour): kept, counted as late
            Expectation("on_time", "NOT is_late", "warn", "timeliness"),
        ),
        description="Clickstream and social events, deduplicated on event_id.",
    ),
    TableSpec(
        "products", "silver",
        _cols("product_id", "name", "category", "price:float64", "supplier", "is_deleted:bool"),
        primary_key=("product_id",), inputs=("bronze.crm_products",),
        expectations=(
            Expectation("category_present", "category IS NOT NULL", "warn", "completeness"),
            Expectation("price_positive", "price > 0", "warn"),
        ),
        description="The product catalog; a product deleted at the source stays (is_deleted): orders name it.",
    ),
    TableSpec(
        "stores", "silver",
        _cols("store_id", "name", "city", "country", "opened_date:date", "is_deleted:bool"),
        primary_key=("store_id",), inputs=("bronze.crm_stores",),
        expectations=(Expectation("country_iso2", "country IS NOT NULL", "warn"),),
        description="Stores, ISO country codes.",
    ),
    TableSpec(
        "salespeople", "silver",
        _cols("salesperson_id", "store_id", "first_name:string:pii.direct", "last_name:string:pii.direct",
              "email:string:pii.direct", "hired_date:date", "is_deleted:bool"),
        primary_key=("salesperson_id",), inputs=("bronze.crm_salespeople",),
        expectations=(Expectation("has_store", "store_id IS NOT NULL", "warn", "completeness"),),
        description="The sales team and the store each works in.",
    ),
    TableSpec(
        "returns", "silver",
        _cols("return_id", "order_id", "line_no:int64", "customer_id:int64", "returned_at:timestamp", "reason",
              "amount:float64"),
        primary_key=("return_id",), inputs=("bronze.crm_returns",),
        expectations=(
            Expectation("returned_at_parsed", "returned_at IS NOT NULL", "drop", "completeness"),
            Expectation("amount_positive", "amount > 0", "drop"),
        ),
        description="Returned order lines (hard-deleted returns removed).",
    ),
    TableSpec(
        "surveys", "silver",
        _cols("survey_id", "customer_id:int64", "survey_type", "channel", "nps:int64", "csat:int64",
              "responded_at:timestamp", "comment:string:sensitive"),
        primary_key=("survey_id",), inputs=("bronze.surveys",),
        expectations=(
            Expectation("nps_0_to_10", "nps BETWEEN 0 AND 10", "drop"),
            Expectation("csat_1_to_5", "csat BETWEEN 1 AND 5", "drop"),
            Expectation("responded_at_parsed", "responded_at IS NOT NULL", "drop", "completeness"),
        ),
        description="NPS (0-10) and CSAT (1-5) survey responses, deduplicated, timestamps parsed.",
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
    # ------------------------------------------------------------------ gold: star schema
    TableSpec(
        "fact_sales", "gold",
        _cols("order_id", "line_no:int64",
              Column("person_id", description="The buyer (identity resolution); null when no record of the order "
                     "names a known person (an orphan order without a contact email)."),
              "customer_id:int64", "product_id", "store_id", "salesperson_id",
              Column("date_key", "int32", description="yyyymmdd, joins gold.dim_date."),
              "order_ts:timestamp", "order_date:date", "channel", "quantity:int64", "unit_price:float64",
              "amount:float64", "currency", "returned_amount:float64", "is_returned:bool",
              Column("product_known", "bool", description="The product is in the catalog (gold.dim_product).")),
        primary_key=("order_id", "line_no"), hot=True,
        inputs=("silver.orders", "silver.identity_map", "silver.returns", "silver.products"),
        expectations=(
            Expectation("amount_positive", "amount > 0", "fail"),
            Expectation("person_known", "person_id IS NOT NULL", "warn", "completeness"),
            Expectation("product_known", "product_known", "warn", "consistency"),
            Expectation("return_within_amount", "returned_amount <= amount + 0.005", "warn", "consistency"),
        ),
        description="Order lines (the grain of sales) with the buyer's person id and the keys of every "
                    "dimension: customer, product, store, salesperson, date.",
    ),
    TableSpec(
        "fact_orders", "gold",
        _cols("order_id",
              Column("person_id", description="The buyer (null for an orphan order, as in gold.fact_sales)."),
              "customer_id:int64", "order_ts:timestamp", "order_date:date",
              Column("date_key", "int32", description="yyyymmdd, joins gold.dim_date."),
              "channel", "store_id", "salesperson_id",
              Column("lines", "int64", description="Order lines."), "units:int64",
              Column("amount", "float64", description="Sum of the lines' amounts (summed in cents)."),
              "returned_amount:float64", "returned_lines:int64"),
        primary_key=("order_id",), hot=True, inputs=("gold.fact_sales",),
        expectations=(
            Expectation("amount_positive", "amount > 0", "fail"),
            Expectation("person_known", "person_id IS NOT NULL", "warn", "completeness"),
            Expectation("returns_within_amount", "returned_amount <= amount + 0.005", "warn", "consistency"),
        ),
        description="Orders (the order header): one row per order with its buyer, day and channel and its "
                    "lines, units, amount and returns summed from gold.fact_sales.",
    ),
    TableSpec(
        "dim_product", "gold",
        _cols("product_id", "name", "category", "price:float64", "supplier", "is_deleted:bool"),
        primary_key=("product_id",), inputs=("silver.products",),
        expectations=(Expectation("category_present", "category IS NOT NULL", "warn", "completeness"),),
        description="Product dimension.",
    ),
    TableSpec(
        "dim_store", "gold",
        _cols("store_id", "name", "city", "country", "opened_date:date", "salespeople:int64"),
        primary_key=("store_id",), inputs=("silver.stores", "silver.salespeople"),
        expectations=(Expectation("country_iso2", "country IS NOT NULL", "warn"),
                      Expectation("has_team", "salespeople > 0", "warn", "completeness")),
        description="Store dimension, with the size of its sales team.",
    ),
    TableSpec(
        "dim_salesperson", "gold",
        _cols("salesperson_id", "store_id", "first_name:string:pii.direct", "last_name:string:pii.direct",
              "email:string:pii.direct", "hired_date:date"),
        primary_key=("salesperson_id",), inputs=("silver.salespeople",),
        expectations=(Expectation("has_store", "store_id IS NOT NULL", "warn", "completeness"),),
        description="Salesperson dimension.",
    ),
    TableSpec(
        "dim_date", "gold",
        _cols("date_key:int32", "date:date", "year:int32", "quarter:int32", "month:int32", "day:int32",
              Column("day_of_week", "int32", description="ISO: 1 = Monday … 7 = Sunday."), "is_weekend:bool",
              Column("year_month", description="yyyy-mm.")),
        primary_key=("date_key",), inputs=("silver.orders",),
        expectations=(Expectation("key_is_date", "date_key = year * 10000 + month * 100 + day", "fail",
                                  "consistency"),
                      Expectation("iso_weekday", "day_of_week BETWEEN 1 AND 7", "fail")),
        description="Every calendar day from the first to the last order.",
    ),
    TableSpec(
        "dim_customer", "gold",
        _cols("person_id", "first_name:string:pii.direct", "last_name:string:pii.direct", "email:string:pii.direct",
              "email_valid:bool", "phone:string:pii.direct", "street:string:pii.direct", "city:string:pii.quasi",
              "postcode:string:pii.quasi", "country:string", "date_of_birth:date:pii.direct",
              "gender:string:pii.quasi", "signup_date:date", "loyalty_tier", "marketing_consent:bool",
              "preferred_channel", "preferred_categories",
              Column("crm_customer_ids", description="Every CRM customer id of the person (comma-separated)."),
              Column("profile_ids", description="Every partner profile id of the person (comma-separated)."),
              Column("order_contacts", "int64", description="Guest-order contact emails linked to the person."),
              Column("cookies", "int64", description="Web cookies linked to the person (logins)."),
              Column("name_from", description="The record the name survived from (source:id)."),
              Column("email_from", description="The record the email survived from."),
              Column("phone_from", description="The record the phone survived from."),
              Column("address_from", description="The record the address survived from.")),
        primary_key=("person_id",),
        inputs=("silver.identity_map", "silver.customers", "silver.partner_profiles", "silver.orders"),
        expectations=(
            Expectation("has_contact", "email IS NOT NULL OR phone IS NOT NULL", "warn", "completeness"),
            Expectation("has_name", "last_name IS NOT NULL OR crm_customer_ids IS NULL", "warn", "completeness"),
            Expectation("email_valid", "email IS NULL OR email_valid", "warn"),
        ),
        description="The golden record: one row per person, each attribute chosen by survivorship "
                    "(valid and complete first, then source trust CRM > partner profile > order contact, "
                    "then the most recent), with every source id behind the person.",
    ),
    # ------------------------------------------------------------------ gold: customer analytics
    TableSpec(
        "customer_purchases", "gold",
        _cols("person_id", "order_count:int64",
              Column("total_spend", "float64", description="Spend on every order, returns included."),
              "returned_amount:float64",
              Column("net_spend", "float64", description="total_spend less returned_amount."),
              "avg_order_value:float64", "first_order_at:timestamp", "last_order_at:timestamp",
              "first_order_date:date", "last_order_date:date", "returned_lines:int64",
              Column("favourite_category", description="The category the buyer spent most on (ties: the first "
                     "name)."),
              Column("favourite_channel", description="The channel of most of the buyer's orders (ties: the "
                     "first name).")),
        primary_key=("person_id",), inputs=("gold.fact_orders", "gold.fact_sales", "gold.dim_product"),
        expectations=(
            Expectation("has_orders", "order_count >= 1", "fail", "consistency"),
            Expectation("net_within_total", "net_spend <= total_spend + 0.005", "fail", "consistency"),
            Expectation("first_before_last", "first_order_at <= last_order_at", "fail", "consistency"),
        ),
        description="What every buyer bought: orders, spend (gross, returned, net), AOV, first and last order, "
                    "favourite category and channel. customer_360, RFM and CLV read it.",
    ),
    TableSpec(
        "customer_rfm", "gold",
        _cols("person_id", Column("first_order_date", "date", description="The buyer's first order day."),
              "last_order_date:date", "recency_days:int64", "frequency:int64", "monetary:float64",
              "r_score:int32", "f_score:int32", "m_score:int32",
              Column("rfm_cell", description="r, f and m scores as three digits, e.g. 545."),
              Column("segment", description="Champions, Loyal, Potential Loyalist, New Customers, Promising, "
                     "Need Attention, About To Sleep, At Risk, Cannot Lose Them, Hibernating, Lost.")),
        primary_key=("person_id",), inputs=("gold.customer_purchases", "gold.fact_orders"),
        expectations=(
            Expectation("scores_1_to_5", "r_score BETWEEN 1 AND 5 AND f_score BETWEEN 1 AND 5 AND "
                        "m_score BETWEEN 1 AND 5", "fail"),
            Expectation("segment_named", "segment IS NOT NULL", "fail", "completeness"),
        ),
        description="RFM quintile scores (ties share a score) of every buyer, and the named segment of "
                    "their recency and frequency scores.",
    ),
    TableSpec(
        "customer_engagement", "gold",
        _cols("person_id", "sessions:int64", "page_views:int64", "product_views:int64", "cart_adds:int64",
              Column("carted_sessions", "int64", description="Sessions with a cart add."),
              Column("abandoned_sessions", "int64", description="Sessions with a cart add but no checkout."),
              Column("cart_abandonment_rate", "float64", description="abandoned_sessions / carted_sessions "
                     "(null without a cart add)."),
              Column("social_interactions", "int64", description="Likes, shares and comments.")),
        primary_key=("person_id",), inputs=("silver.web_events", "silver.identity_map"),
        expectations=(
            Expectation("sessions_nest", "abandoned_sessions <= carted_sessions AND carted_sessions <= sessions",
                        "fail", "consistency"),
            Expectation("rate_0_to_1", "cart_abandonment_rate IS NULL OR cart_abandonment_rate BETWEEN 0 AND 1",
                        "fail"),
        ),
        description="Web behaviour of every person seen on the site (logged in, or by a cookie identity "
                    "resolution tied to them): sessions, views, cart adds and abandonment, social "
                    "interactions.",
    ),
    TableSpec(
        "customer_clv", "gold",
        _cols("person_id", "orders:int64",
              Column("x", "float64", description="Repeat purchase days (distinct days after the first)."),
              Column("t_x", "float64", description="First to last purchase, in the fit's time unit."),
              Column("T", "float64", description="First purchase to the calibration end, in the time unit."),
              Column("avg_repeat_value", "float64", description="Mean spend of the repeat purchase days."),
              Column("historical_clv", "float64", description="Spend to date net of returns."),
              "p_alive:float64",
              Column("expected_purchases", "float64", description="Expected purchases over analytics.clv_months."),
              Column("expected_value", "float64", description="Expected spend per purchase (Gamma-Gamma)."),
              Column("predicted_clv", "float64", description="Discounted spend expected over "
                     "analytics.clv_months (BG/NBD × Gamma-Gamma).")),
        primary_key=("person_id",), inputs=("gold.fact_orders", "gold.customer_purchases"), built_by="analytics",
        expectations=(
            # NOT isnan: DuckDB orders NaN above every number, so "NaN >= 0" alone would pass
            Expectation("p_alive_0_to_1", "p_alive BETWEEN 0 AND 1 AND NOT isnan(p_alive)", "fail"),
            Expectation("predicted_clv_not_negative", "predicted_clv >= 0 AND NOT isnan(predicted_clv)", "fail"),
            Expectation("expected_purchases_not_negative",
                        "expected_purchases >= 0 AND NOT isnan(expected_purchases)", "fail"),
        ),
        description="Customer lifetime value: historical (net spend) and predictive (BG/NBD + Gamma-Gamma, "
                    "fitted by maximum likelihood on every buyer).",
    ),
    TableSpec(
        "churn_risk", "gold",
        _cols("person_id", "recency_days:int64", "frequency:int64", "monetary:float64", "tenure_days:int64",
              "sessions_90d:int64", "returns:int64", "avg_rating:float64",
              Column("churn_probability", "float64", description="P(no purchase in the next "
                     "analytics.churn_horizon_days days)."),
              Column("churn_risk", description="high (≥ 0.7), medium (≥ 0.4), low, or unknown when the history "
                     "was too short to fit the model (the audit says why)."),
              Column("main_driver", description="The feature pushing the probability up the most.")),
        primary_key=("person_id",),
        inputs=("gold.fact_orders", "gold.fact_sales", "silver.web_events", "silver.identity_map", "silver.feedback",
                "silver.returns"),
        built_by="analytics",
        expectations=(
            Expectation("probability_0_to_1", "churn_probability IS NULL OR churn_probability BETWEEN 0 AND 1",
                        "fail"),
            Expectation("scored", "churn_probability IS NOT NULL", "warn", "completeness"),
        ),
        description="Churn risk of every buyer: a logistic regression on behavioural features, trained and "
                    "tested on earlier time windows (the audit holds its AUC and calibration).",
    ),
    TableSpec(
        "recommendations", "gold",
        _cols("person_id", "rank:int32", "product_id", "score:float64",
              Column("because_of", description="The owned product that contributes most to the score.")),
        primary_key=("person_id", "rank"), inputs=("gold.fact_sales", "gold.dim_customer", "gold.dim_product"),
        built_by="analytics",
        expectations=(Expectation("score_positive", "score > 0", "fail"),),
        description="Next-best products per buyer (analytics.recommendations of them): item-item "
                    "co-occurrence in orders, scored from the buyer's recent products, never one they own.",
    ),
    TableSpec(
        "sentiment", "gold",
        _cols(Column("source", description="feedback, survey or social (a comment event)."), "source_id",
              "person_id", "occurred_at:timestamp",
              Column("text", "string", "sensitive", encrypted=True,
                     description="The comment; encrypted at rest (AES-GCM), clear for roles that decrypt."),
              "rating:int64",
              Column("compound", "float64", description="VADER compound score, -1 … 1."),
              Column("sentiment", description="positive (≥ 0.05), negative (≤ -0.05) or neutral.")),
        primary_key=("source", "source_id"),
        inputs=("silver.feedback", "silver.surveys", "silver.web_events", "silver.identity_map"),
        expectations=(
            Expectation("compound_in_range", "compound BETWEEN -1 AND 1", "fail"),
            Expectation("person_known", "person_id IS NOT NULL", "warn", "completeness"),
        ),
        description="Sentiment of every feedback comment, survey comment and social comment (VADER).",
    ),
    TableSpec(
        "customer_360", "gold",
        _cols("person_id", "first_name:string:pii.direct", "last_name:string:pii.direct", "email:string:pii.direct",
              "phone:string:pii.direct", "street:string:pii.direct", "city:string:pii.quasi",
              "postcode:string:pii.quasi", "country", "date_of_birth:date:pii.direct", "age:int32",
              "gender:string:pii.quasi", "signup_date:date", "loyalty_tier", "marketing_consent:bool",
              "preferred_channel", "preferred_categories", "crm_customer_ids", "profile_ids",
              "total_spend:float64", "net_spend:float64", "order_count:int64", "avg_order_value:float64",
              "first_order_at:timestamp", "last_order_at:timestamp", "recency_days:int64", "tenure_days:int64",
              "favourite_category", "favourite_channel", "returned_lines:int64", "returned_amount:float64",
              "sessions:int64", "page_views:int64", "product_views:int64", "cart_adds:int64",
              Column("cart_abandonment_rate", "float64", description="Sessions with a cart add but no checkout, "
                     "over sessions with a cart add."),
              Column("social_interactions", "int64", description="Likes, shares and comments."),
              "feedback_count:int64", "avg_rating:float64", "avg_sentiment:float64", "last_nps:int64",
              Column("nps_class", description="promoter (9-10), passive (7-8) or detractor (0-6), of the last survey."),
              "predicted_clv:float64", "p_alive:float64", "segment", "churn_probability:float64", "churn_risk",
              Column("next_best_products", description="The top recommendations, comma-separated.")),
        primary_key=("person_id",),
        inputs=("gold.dim_customer", "gold.fact_orders", "gold.customer_purchases",
                "gold.customer_engagement", "silver.identity_map", "silver.feedback", "silver.surveys",
                "gold.sentiment", "gold.customer_clv", "gold.customer_rfm", "gold.churn_risk",
                "gold.recommendations"),
        expectations=(
            Expectation("spend_not_negative", "total_spend >= 0", "fail"),
            Expectation("aov_consistent", "order_count = 0 OR abs(avg_order_value * order_count - "
                        "total_spend) < 0.01 * order_count", "fail", "consistency"),
            Expectation("net_within_total", "net_spend <= total_spend + 0.005", "fail", "consistency"),
            Expectation("has_contact", "email IS NOT NULL OR phone IS NOT NULL", "warn", "completeness"),
        ),
        description="The golden customer profile: one row per person with their best-known contact details, "
                    "purchases, engagement, feedback, CLV, segment, churn risk and next-best products.",
    ),
    # ------------------------------------------------------------------ gold: CX, marts, reports
    TableSpec(
        "cx_summary", "gold",
        _cols(Column("survey_type", description="A survey type, or 'all'."),
              Column("channel", description="A survey channel, or 'all'."),
              "responses:int64", "unique_customers:int64", "avg_csat:float64",
              Column("nps", "float64", description="% promoters (9-10) − % detractors (0-6)."),
              "promoters:int64", "passives:int64", "detractors:int64",
              Column("satisfaction", description="high (avg CSAT ≥ 4), medium (≥ 3) or low.")),
        primary_key=("survey_type", "channel"), inputs=("silver.surveys",),
        expectations=(Expectation("nps_in_range", "nps BETWEEN -100 AND 100", "fail"),),
        description="Satisfaction and NPS per survey type and channel, with totals ('all').",
    ),
    TableSpec(
        "cx_daily", "gold",
        _cols("date:date", "survey_type", "channel", "responses:int64", "unique_customers:int64",
              "avg_csat:float64", "nps:float64", "satisfaction",
              Column("rolling_7d_responses", "int64", description="Responses in the 7 days ending on date."),
              "rolling_7d_avg_csat:float64", "rolling_7d_nps:float64"),
        primary_key=("date", "survey_type", "channel"), inputs=("silver.surveys",),
        expectations=(Expectation("nps_in_range", "nps BETWEEN -100 AND 100 AND rolling_7d_nps BETWEEN -100 "
                                  "AND 100", "fail"),),
        description="Daily satisfaction and NPS per survey type and channel, with 7-day rolling trends "
                    "(calendar days: a day without responses still ages out of the window).",
    ),
    TableSpec(
        "sales_team_monthly", "gold",
        _cols("month:date", "store_id", "salesperson_id", "orders:int64", "sales:float64",
              Column("store_rank", "int32", description="1 = the store's top seller of the month."),
              "is_top_seller:bool",
              Column("incentive", "float64", description="1 % of the month's sales for the top seller, else 0.")),
        primary_key=("month", "salesperson_id"), inputs=("gold.fact_orders",),
        # within half a cent of 1 %: the model rounds the exact cents, which a float check can't repeat
        expectations=(Expectation("incentive_is_1pct_of_top", "(is_top_seller AND abs(incentive - sales * 0.01) "
                                  "<= 0.00501) OR (NOT is_top_seller AND incentive = 0)", "fail", "consistency"),),
        description="Monthly in-store sales per salesperson; each store's top seller earns 1 % of their sales.",
    ),
    TableSpec(
        "product_sales", "gold",
        _cols("product_id", "name", "category",
              Column("lines", "int64", description="Order lines with the product."), "units:int64",
              Column("customers", "int64", description="Distinct buyers (known persons) of the product."),
              "revenue:float64", "returned:float64", "net_revenue:float64",
              Column("category_rank", "int32", description="1 = the category's best seller by revenue.")),
        primary_key=("product_id",), inputs=("gold.fact_sales", "gold.dim_product"),
        expectations=(Expectation("net_within_revenue", "net_revenue <= revenue + 0.005", "fail", "consistency"),),
        description="Order lines, units, buyers and revenue of every catalog product (top products, per "
                    "category).",
    ),
    TableSpec(
        "coupon_offers", "gold",
        _cols("person_id", "segment", "churn_risk", "offer", "discount_pct:int32", "product_id",
              Column("reason", description="Why this customer gets this offer."),
              Column("can_contact", "bool", description="The customer consented to marketing.")),
        primary_key=("person_id",), inputs=("gold.customer_rfm", "gold.churn_risk", "gold.dim_customer",
                                            "gold.recommendations"),
        expectations=(Expectation("discount_0_to_30", "discount_pct BETWEEN 0 AND 30", "fail"),),
        description="One segment-based offer per buyer, with the reason and whether they may be contacted.",
    ),
    TableSpec(
        "daily_report", "gold",
        _cols("date:date", "orders:int64", "customers:int64", "new_customers:int64", "units:int64",
              "revenue:float64", "returns:float64", "net_revenue:float64", "avg_order_value:float64",
              "sessions:int64", "responses:int64", "avg_csat:float64", "nps:float64"),
        primary_key=("date",), inputs=("gold.fact_orders", "gold.customer_rfm", "silver.web_events",
                                        "silver.surveys"),
        expectations=(Expectation("net_within_revenue", "net_revenue <= revenue + 0.005", "fail", "consistency"),),
        description="The day's sales, customers, traffic and CX; exported as Parquet and CSV by month.",
    ),
    TableSpec(
        "monthly_report", "gold",
        _cols("month:date", "orders:int64", "customers:int64", "new_customers:int64", "units:int64",
              "revenue:float64", "returns:float64", "net_revenue:float64", "avg_order_value:float64",
              Column("revenue_growth_pct", "float64", description="Against the previous month."),
              "sessions:int64", "responses:int64", "avg_csat:float64", "nps:float64"),
        primary_key=("month",), inputs=("gold.fact_orders", "gold.daily_report", "silver.web_events",
                                         "silver.surveys"),
        expectations=(Expectation("net_within_revenue", "net_revenue <= revenue + 0.005", "fail", "consistency"),),
        description="The month's sales, customers, traffic and CX; exported as Parquet and CSV by year.",
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
    # served snapshots: computed from ops.run_audit by `c360 serve load` (not lake tables)
    TableSpec(
        "dq_scorecard", "ops",
        _cols("table_id", "layer", Column("status", description="PASS, FAILED or NOT RUN."), "score:float64",
              "threshold:float64",
              Column("dimensions", description="JSON: score per DQ dimension."),
              Column("failing_rules", description="JSON: rule -> rows that broke it."),
              "run_id", "checked_at:timestamp", "error"),
        primary_key=("table_id",), built_by="serve",
        description="The data-quality scorecard (c360 quality) as served: one row per lake table.",
    ),
    TableSpec(
        "run_history", "ops",
        _cols("run_id", "command", Column("status", description="RUNNING, SUCCESS or FAILED."),
              "started_at:timestamp", "ended_at:timestamp", "stages:int64", "failed_stages:int64",
              "rows_out:int64", "rows_quarantined:int64", "error"),
        primary_key=("run_id",), built_by="serve",
        description="The recent pipeline runs (c360 runs) as served, newest first.",
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
