"""Typed configuration: a YAML file, then ``C360_…`` environment variables, then secret files.

Every endpoint is one setting with an embedded default under ``home``; secrets (passwords, keys)
come only from the environment or secret files, never from YAML, and never appear in logs
(they are ``SecretStr``).
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from c360.errors import C360Error

DEFAULT_CONFIG_FILE = "c360.yaml"
SECRET_FIELDS = ("password", "access_key_id", "secret_access_key", "sasl_password", "hash_salt", "encryption_keys",
                 "api_keys", "token_secret")
_URL_WITH_PASSWORD = re.compile(r"^[a-z0-9+]+://[^/@:]+:[^/@]+@", re.IGNORECASE)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


def _check_url(value: str, schemes: tuple[str, ...], expected: str, local_ok: bool = True) -> str:
    """``value`` if empty, a local path (when allowed) or one of ``schemes``; else a ValueError."""
    if not value or (local_ok and "://" not in value) or value.startswith(schemes):
        return value
    raise ValueError(f"must be {expected}")


class S3Credentials(_Section):
    """Where and how to reach an S3 API (AWS, SeaweedFS, MinIO…). Ignored for local paths."""

    endpoint_url: str | None = Field(None, description="S3 endpoint, e.g. http://127.0.0.1:8333; None = AWS.")
    region: str = Field("us-east-1", description="S3 region.")
    access_key_id: SecretStr | None = Field(None, description="From env/secret file only.")
    secret_access_key: SecretStr | None = Field(None, description="From env/secret file only.")

    def boto_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for a boto3 client (None values fall back to boto's own chain)."""
        kw: dict[str, Any] = {"region_name": self.region}
        if self.endpoint_url:
            kw["endpoint_url"] = self.endpoint_url
        if self.access_key_id and self.secret_access_key:
            kw["aws_access_key_id"] = self.access_key_id.get_secret_value()
            kw["aws_secret_access_key"] = self.secret_access_key.get_secret_value()
        return kw

    def delta_storage_options(self) -> dict[str, str]:
        """Storage options for delta-rs (object_store crate keys)."""
        opts = {"AWS_REGION": self.region}
        if self.endpoint_url:
            opts["AWS_ENDPOINT_URL"] = self.endpoint_url
            if self.endpoint_url.startswith("http://"):
                opts["AWS_ALLOW_HTTP"] = "true"
        if self.access_key_id and self.secret_access_key:
            opts["AWS_ACCESS_KEY_ID"] = self.access_key_id.get_secret_value()
            opts["AWS_SECRET_ACCESS_KEY"] = self.secret_access_key.get_secret_value()
        return opts


class CrmConfig(_Section):
    """The CRM database the customers come from."""

    url: str = Field(
        "", description="SQLAlchemy URL: sqlite:///PATH or mysql+pymysql://USER@HOST:PORT/DB. "
        "Empty = embedded SQLite at <home>/sources/crm.db."
    )
    password: SecretStr | None = Field(None, description="Database password; env C360_CRM__PASSWORD only.")
    batch_rows: int = Field(200_000, gt=0, description="Rows per extract batch (keeps memory flat; one bronze "
                            "commit each).")
    delete_check_hours: float = Field(
        24.0, ge=0, description="Hard deletes: compare every source key with bronze when the last comparison is "
        "older than this many hours (0 = every run; a full refresh always compares).")
    max_delete_fraction: float = Field(
        0.5, gt=0, le=1, description="A key comparison that finds more than this share of a table's rows gone "
        "stops the table instead of marking them deleted (an emptied or wrong source, not real deletes).")

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        return _check_url(v, ("sqlite:///", "mysql+pymysql://", "postgresql+psycopg://"),
                          "sqlite:///PATH, mysql+pymysql://… or postgresql+psycopg://…", local_ok=False)


class ObjectStoreConfig(S3Credentials):
    """Where file drops land: XML profiles, JSON purchases, CSV feedback."""

    url: str = Field("", description="A local directory or s3://bucket/prefix. Empty = <home>/sources/files.")
    batch_files: int = Field(256, gt=0, description="Max files per micro-batch (each micro-batch is one "
                             "bronze commit).")
    batch_rows: int = Field(500_000, gt=0, description="A micro-batch commits once it holds this many rows.")

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        return _check_url(v, ("s3://", "file://"), "a local directory or s3://BUCKET/PREFIX")


class StreamConfig(S3Credentials):
    """The event stream: clickstream and social events."""

    url: str = Field(
        "", description="A local log directory, kinesis://STREAM or kafka://TOPIC. "
        "Empty = <home>/sources/stream (an embedded append-only log)."
    )
    bootstrap_servers: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers (kafka:// only).")
    shards: int = Field(2, ge=1, description="Shards/partitions to create when the generator makes the stream.")
    trigger_interval_s: float = Field(5.0, gt=0, description="Seconds between polls when following the "
                                      "stream (c360 ingest-stream --follow).")
    batch_records: int = Field(100_000, gt=0, description="Max records read per shard per micro-batch "
                               "(each micro-batch is one bronze commit).")

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        return _check_url(v, ("kinesis://", "kafka://", "file://"), "a local directory, kinesis://STREAM or kafka://TOPIC")


class LakeConfig(S3Credentials):
    """The Delta lake: tables live at <root>/<layer>/<table>/."""

    root: str = Field("", description="A local directory or s3://bucket/prefix. Empty = <home>/lake.")

    @field_validator("root")
    @classmethod
    def _scheme(cls, v: str) -> str:
        return _check_url(v, ("s3://", "file://"), "a local directory or s3://BUCKET/PREFIX")


class ServingConfig(_Section):
    """The serving database BI tools and the API read from."""

    url: str = Field(
        "", description="A DuckDB file path or postgresql+psycopg://USER@HOST:PORT/DB. "
        "Empty = <home>/serving.duckdb."
    )
    password: SecretStr | None = Field(None, description="env C360_SERVING__PASSWORD only.")
    load_workers: int = Field(2, ge=1, le=16, description="Tables loaded at once into PostgreSQL (a connection "
                              "each: Arrow writes one table's CSV while the server parses another's). A DuckDB "
                              "file takes one writer.")

    api_host: str = Field("127.0.0.1", description="Address `c360 serve api` listens on.")
    api_port: int = Field(8360, ge=1, le=65535, description="Port of `c360 serve api`.")
    api_keys: SecretStr | None = Field(None, description="API keys and the role each acts as: "
                                       "'role=key,role=key' (several keys per role allowed; keys of 24+ "
                                       "characters); env C360_SERVING__API_KEYS or a secret file only. Empty in "
                                       "dev: one key per role is kept in <home>/secrets/api_keys (0600).")
    token_secret: SecretStr | None = Field(None, description="HMAC secret of bearer tokens (JWT HS256, "
                                           "`c360 serve token --role R`); env C360_SERVING__TOKEN_SECRET or a "
                                           "secret file only. Empty: tokens are not accepted (dev: a secret is "
                                           "kept in <home>/secrets/token_secret).")
    api_pool_size: int = Field(8, ge=1, le=64, description="PostgreSQL connections the API keeps open.")
    api_page_size: int = Field(50, ge=1, le=1000, description="Rows per page when a request does not say.")
    api_max_page_size: int = Field(500, ge=1, le=10000, description="The most rows one page may ask for.")

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        return _check_url(v, ("postgresql+psycopg://",), "a DuckDB file path or postgresql+psycopg://…")


class EngineConfig(_Section):
    """Which engine runs the SQL models."""

    name: Literal["duckdb", "spark"] = Field("duckdb", description="duckdb (default) or spark (Spark Connect).")
    spark_remote: str = Field("", description="Spark Connect URL (sc://host:port) when name=spark.")
    threads: int | None = Field(None, ge=1, description="DuckDB threads per engine; None = all cores, shared "
                                "among the tables a layer builds at once (cores // pipeline.silver_workers each).")
    memory_limit: str | None = Field(None, description="DuckDB memory limit, e.g. '8GB'.")


class MessRates(_Section):
    """How much of each real-world defect the generator injects (each counted in the manifest)."""

    crm_duplicate_person: float = Field(0.02, ge=0, le=1, description="Persons with a second, varied CRM record.")
    profile_coverage: float = Field(0.3, ge=0, le=1, description="Persons who also appear in partner profiles.")
    profile_variation: float = Field(0.5, ge=0, le=1, description="Partner profiles that differ from the CRM "
                                     "(typo, nickname, swapped names, case, email/phone format, moved).")
    profile_duplicate: float = Field(0.01, ge=0, le=1, description="Partner profiles delivered twice (new id).")
    missing_value: float = Field(0.02, ge=0, le=1, description="Nullable contact fields left empty.")
    mixed_date_format: float = Field(0.3, ge=0, le=1, description="File dates written in a non-ISO format.")
    invalid_email: float = Field(0.01, ge=0, le=1, description="Emails that are not valid addresses.")
    bad_price: float = Field(0.005, ge=0, le=1, description="Order lines with a zero or negative amount.")
    unknown_product: float = Field(0.003, ge=0, le=1, description="Order lines naming a product not in the catalog.")
    orphan_order: float = Field(0.002, ge=0, le=1, description="Orders for a customer id the CRM does not have.")
    guest_order: float = Field(0.05, ge=0, le=1, description="Orders without a customer id (contact email only).")
    duplicate_event: float = Field(0.01, ge=0, le=1, description="Stream events delivered twice.")
    late_event: float = Field(0.01, ge=0, le=1, description="Events delivered after newer ones (late arrivals).")
    poison_record: float = Field(0.0005, ge=0, le=1, description="Stream records that are not valid JSON.")
    malformed_files: bool = Field(True, description="Add one truncated XML, one JSON-lines file with a broken "
                                  "line and one CSV with a wrong header.")


class GeneratorConfig(_Section):
    """The synthetic company the demo generates."""

    scale: Literal["XS", "S", "M", "L"] = Field("XS", description="XS 2k, S 10k, M 1M, L 5M customers.")
    seed: int = Field(42, description="Same seed, same data.")
    start_date: str = Field("2024-01-01", description="First day of history (ISO date).")
    days: int = Field(365, ge=1, description="Days of history to generate.")
    mess: MessRates = Field(default_factory=MessRates)
    chunk_customers: int = Field(250_000, ge=1_000, description="Persons built in memory at once; bigger "
                                 "worlds are written chunk by chunk (~4 GB of memory per 250k).")
    workers: int = Field(2, ge=1, le=64, description="Chunks built at once (threads: numpy, Arrow and DuckDB "
                         "release the GIL); memory grows with it.")


class PipelineConfig(_Section):
    """How a run is executed."""

    bronze_workers: int = Field(2, ge=1, le=16, description="Bronze sources ingested at once (threads). A "
                                "single source keeps about one core busy (parse, then write), so two "
                                "fill a 2-core machine.")
    silver_workers: int = Field(2, ge=1, le=16, description="Silver/gold tables built at once (threads, each on "
                                "its own DuckDB connection) once the tables they read are built.")


class IdentityConfig(_Section):
    """Identity resolution: which records are the same person."""

    match_threshold: float = Field(0.95, gt=0, lt=1, description="Pairs Splink scores at or above this match "
                                   "probability are the same person (deterministic rules link regardless).")
    u_max_pairs: float = Field(2e6, ge=1e3, description="Random record pairs sampled to estimate how often "
                               "non-matches agree by chance (Splink u).")
    seed: int = Field(42, description="Seed of that sampling: same data, same model.")


class AnalyticsConfig(_Section):
    """Gold analytics: CLV, churn, recommendations, report exports."""

    clv_months: int = Field(12, ge=1, le=120, description="CLV horizon in months.")
    clv_annual_discount: float = Field(0.10, ge=0, lt=1, description="Annual discount rate of future spend in CLV.")
    clv_time_unit: Literal["day", "week"] = Field("week", description="Time unit of the BG/NBD fit.")
    churn_horizon_days: int = Field(90, ge=7, description="A customer has churned when they buy nothing for this "
                                    "many days; the churn model predicts that for the next such window.")
    recommendations: int = Field(10, ge=1, le=100, description="Next-best products kept per customer.")
    export_dir: str = Field("", description="Where daily/monthly reports are exported as partitioned Parquet and "
                            "CSV: a local directory. Empty = <home>/exports.")


class QualityConfig(_Section):
    """Data-quality thresholds."""

    min_dq_score: float = Field(0.9, ge=0, le=1, description="A table scoring below this is marked failed "
                                "(its stage fails and nothing is written).")
    thresholds: dict[str, float] = Field(default_factory=dict, description="Per-table minimum DQ score "
                                         "(table id -> score, e.g. silver.orders: 0.95); overrides min_dq_score.")

    min_rows: int = Field(100, ge=0, description="A DQ score over fewer rows than this (e.g. a small incremental "
                          "batch) is recorded but does not fail the table: one bad row in three says little.")

    def threshold(self, table_id: str) -> float:
        """The minimum DQ score of ``table_id``."""
        return self.thresholds.get(table_id, self.min_dq_score)


Rule = Literal["clear", "masked", "hashed", "hidden"]


class RowFilter(_Section):
    """Rows a role may see: those whose ``column`` is one of ``values``. A table without the column
    but with a ``person_id`` is filtered through the person's row in gold.dim_customer; a table
    with person-level rows and neither is not shown to the role at all (fail closed)."""

    column: str = Field(description="The column compared, e.g. country.")
    values: list[str] = Field(min_length=1, description="The values allowed, e.g. [DE, AT].")


class RoleConfig(_Section):
    """One role: what it sees of each PII classification, and which rows."""

    rules: dict[str, Rule] = Field(default_factory=dict, description="Classification (pii.direct, pii.quasi, "
                                   "sensitive) -> clear, masked, hashed (salted SHA-256, joinable) or hidden "
                                   "(the column is left out). A classification not named here is hidden; "
                                   "public columns are always clear.")
    row_filter: RowFilter | None = Field(None, description="Only these rows (e.g. a country-scoped analyst).")
    decrypt: bool = Field(False, description="Reads columns encrypted at rest in clear (through its rules); "
                          "without it, encrypted columns are left out of the role's views.")
    description: str = Field("", description="What the role is for.")

    @field_validator("rules")
    @classmethod
    def _known_classes(cls, v: dict[str, Rule]) -> dict[str, Rule]:
        unknown = sorted(set(v) - {"public", "pii.direct", "pii.quasi", "sensitive"})
        if unknown:
            raise ValueError(f"unknown classification(s) {', '.join(unknown)}: use pii.direct, pii.quasi, "
                             "sensitive")
        if v.get("public", "clear") != "clear":
            raise ValueError("public columns are always clear")
        return v


def _default_roles() -> dict[str, RoleConfig]:
    return {
        "admin": RoleConfig(rules={"pii.direct": "clear", "pii.quasi": "clear", "sensitive": "clear"},
                            decrypt=True, description="Data owners: everything in clear, encrypted columns "
                                                      "decrypted."),
        "analyst": RoleConfig(rules={"pii.direct": "hashed", "pii.quasi": "masked", "sensitive": "hidden"},
                              description="Analysis: identities as stable hashes (joinable), quasi-identifiers "
                                          "generalised, free text hidden."),
        "marketing": RoleConfig(rules={"pii.direct": "masked", "pii.quasi": "clear", "sensitive": "hidden"},
                                description="Campaigns: segments and offers with masked contact details."),
        "support": RoleConfig(rules={"pii.direct": "masked", "pii.quasi": "masked", "sensitive": "clear"},
                              description="Customer support: masked contact details to confirm a caller, "
                                          "feedback text in clear."),
    }


class GovernanceConfig(_Section):
    """Who sees what: roles, their masking rules and row filters (the catalog tags the columns)."""

    roles: dict[str, RoleConfig] = Field(default_factory=_default_roles, description="Role name -> its rules.")
    hash_salt: SecretStr | None = Field(None, description="Salt of hashed columns; env C360_GOVERNANCE__HASH_SALT "
                                        "or a secret file only. Empty in dev: a random salt is kept in "
                                        "<home>/secrets/hash_salt (mode 0600); prod requires it.")
    encryption_keys: SecretStr | None = Field(None, description="Keys of columns encrypted at rest: "
                                              "'id=base64key,id2=base64key' (32-byte AES keys); env "
                                              "C360_GOVERNANCE__ENCRYPTION_KEYS or a secret file only. Empty in dev: "
                                              "one key is kept in <home>/secrets/lake_keys (0600); prod requires it.")
    encryption_key_id: str = Field("", description="The key id new writes use (rotation: add a key, make it "
                                   "active, rebuild, then drop the old one). Empty = the last key listed.")
    erasure_retention_hours: int = Field(168, ge=0, description="c360 forget: superseded files holding erased "
                                         "values are vacuumed once older than this (Delta's default 7 days keeps "
                                         "time travel and concurrent readers safe); --vacuum-now removes them at once.")
    spark_salt_sql: str = Field("secret('c360', 'hash_salt')", description="The SQL expression giving the salt "
                                "in exported Spark views (Databricks secret scope by default).")
    spark_schema: str = Field("gold", description="Schema of the gold tables in exported Spark SQL; each "
                              "role's views go to <spark_schema>_<role>.")

    @field_validator("roles")
    @classmethod
    def _names(cls, v: dict[str, RoleConfig]) -> dict[str, RoleConfig]:
        bad = [n for n in v if not re.fullmatch(r"[a-z][a-z0-9_]{0,30}", n)]
        if bad:
            raise ValueError(f"role names must be lower-case identifiers: {', '.join(bad)}")
        return v


_yaml_data: ContextVar[dict[str, Any] | None] = ContextVar("c360_yaml_data", default=None)


class _YamlSource(PydanticBaseSettingsSource):
    """Values from the (already validated) YAML file; lower priority than the environment."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return (_yaml_data.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_yaml_data.get() or {})


class _SecretFilesSource(PydanticBaseSettingsSource):
    """Secrets from files named like their env var (``C360_CRM__PASSWORD``) in ``C360_SECRETS_DIR``."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        d = os.environ.get("C360_SECRETS_DIR")
        if not d or not Path(d).is_dir():
            return {}
        out: dict[str, Any] = {}
        for f in Path(d).iterdir():
            name = f.name.upper()
            if not name.startswith("C360_") or "__" not in name:
                continue
            section, _, key = name[5:].lower().partition("__")
            if key in SECRET_FIELDS:
                out.setdefault(section, {})[key] = f.read_text().strip()
        return out


class Settings(BaseSettings):
    """All of c360's configuration. Precedence: env > secret files > YAML > defaults."""

    model_config = SettingsConfigDict(
        env_prefix="C360_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    home: Path = Field(Path("c360_home"), description="Everything c360 writes by default lives here.")
    profile: Literal["dev", "prod"] = Field("dev", description="dev allows embedded defaults; prod requires "
                                            "every endpoint to be set explicitly.")
    crm: CrmConfig = Field(default_factory=CrmConfig)
    object_store: ObjectStoreConfig = Field(default_factory=ObjectStoreConfig)
    stream: StreamConfig = Field(default_factory=StreamConfig)
    lake: LakeConfig = Field(default_factory=LakeConfig)
    serving: ServingConfig = Field(default_factory=ServingConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    generator: GeneratorConfig = Field(default_factory=GeneratorConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    analytics: AnalyticsConfig = Field(default_factory=AnalyticsConfig)
    governance: GovernanceConfig = Field(default_factory=GovernanceConfig)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _SecretFilesSource(settings_cls), _YamlSource(settings_cls))

    # Resolved endpoints: the embedded default when a setting is empty.
    @property
    def crm_url(self) -> str:
        return self.crm.url or f"sqlite:///{(self.home / 'sources' / 'crm.db').resolve()}"

    @property
    def object_store_url(self) -> str:
        return self.object_store.url or str((self.home / "sources" / "files").resolve())

    @property
    def stream_url(self) -> str:
        return self.stream.url or str((self.home / "sources" / "stream").resolve())

    @property
    def lake_root(self) -> str:
        return self.lake.root or str((self.home / "lake").resolve())

    @property
    def serving_url(self) -> str:
        return self.serving.url or str((self.home / "serving.duckdb").resolve())

    def check_profile(self) -> None:
        """prod: every endpoint must be explicit (no silent embedded defaults in production)."""
        if self.profile != "prod":
            return
        missing = [
            key for key, val in (
                ("crm.url", self.crm.url), ("object_store.url", self.object_store.url),
                ("stream.url", self.stream.url), ("lake.root", self.lake.root),
                ("serving.url", self.serving.url),
            ) if not val
        ]
        if missing:
            raise C360Error(
                f"config error: profile 'prod' needs explicit endpoints, missing {', '.join(missing)}",
                where="config", fix="set them in the YAML file or as C360_<SECTION>__<KEY> env vars",
            )


def _find_secrets_in_yaml(data: Any, path: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(data, dict):
        for k, v in data.items():
            p = f"{path}.{k}" if path else str(k)
            if str(k).lower() in SECRET_FIELDS or str(k).lower() in ("secret", "token", "api_key"):
                found.append(p)
            elif isinstance(v, str) and _URL_WITH_PASSWORD.match(v):
                found.append(f"{p} (password inside the URL)")
            else:
                found.extend(_find_secrets_in_yaml(v, p))
    return found


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise C360Error(f"config error: {path} is not valid YAML: {e}", where=str(path),
                        fix="fix the YAML syntax") from None
    if not isinstance(data, dict):
        raise C360Error(f"config error: {path} must hold a mapping of settings", where=str(path))
    return data


def _format_validation(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        env = "C360_" + "__".join(str(p).upper() for p in e["loc"])
        if e["type"] == "extra_forbidden":
            lines.append(f"unknown key '{key}'")
        else:
            lines.append(f"'{key}': {e['msg']} (got {e.get('input')!r}; set in {source} or env {env})")
    return "; ".join(lines)


def load_settings(
    config_file: str | Path | None = None, *, home: str | Path | None = None,
    profile: str | None = None, **overrides: Any,
) -> Settings:
    """Load settings from YAML (``config_file``, ``C360_CONFIG`` or ``./c360.yaml``) plus env.

    The YAML may hold a ``profiles:`` mapping whose entry for the active profile
    (``--profile``, ``C360_PROFILE`` or the YAML's ``profile``) overlays the rest.
    """
    path = Path(config_file or os.environ.get("C360_CONFIG") or DEFAULT_CONFIG_FILE)
    data: dict[str, Any] = {}
    if path.exists():
        data = _read_yaml(path)
    elif config_file is not None:
        raise C360Error(f"config error: config file {path} not found", where=str(path),
                        fix="run `c360 init` to write a starter config, or drop --config")
    profiles = data.pop("profiles", {}) or {}
    active = profile or os.environ.get("C360_PROFILE") or data.get("profile") or "dev"
    if active in profiles:
        data = _deep_merge(data, profiles[active])
    secrets = _find_secrets_in_yaml(data)
    if secrets:
        raise C360Error(
            f"config error: secrets are not allowed in YAML: {', '.join(secrets)}", where=str(path),
            fix="remove them and set env vars (e.g. C360_CRM__PASSWORD) or files in C360_SECRETS_DIR",
        )
    data["profile"] = active
    if home is not None:
        overrides["home"] = Path(home)
    token = _yaml_data.set(data)
    try:
        settings = Settings(**overrides)
    except ValidationError as e:
        raise C360Error(f"config error: {_format_validation(e, str(path))}", where=str(path),
                        fix="see `c360 init` for the commented reference") from None
    finally:
        _yaml_data.reset(token)
    settings.check_profile()
    return settings


STARTER_CONFIG = """\
# c360 configuration. Every key can be overridden by an env var C360_<SECTION>__<KEY>
# (e.g. C360_LAKE__ROOT=s3://my-bucket/lake). Secrets (passwords, access keys) are refused
# here: set them as env vars or as files named like the env var in $C360_SECRETS_DIR.

# Everything c360 writes by default lives under home (env C360_HOME or --home).
home: c360_home
# dev: empty endpoints use embedded defaults under home. prod: every endpoint must be set.
profile: dev

crm:
  # sqlite:///path/crm.db (default: <home>/sources/crm.db) or mysql+pymysql://root@127.0.0.1:3306/crm
  url: ""
  batch_rows: 200000
  delete_check_hours: 24      # hard deletes: compare all keys with bronze this often (0 = every run)
  max_delete_fraction: 0.5    # more rows gone than this share stops the table (emptied or wrong source?)

object_store:
  # a local directory (default: <home>/sources/files) or s3://bucket/prefix
  url: ""
  endpoint_url: null        # e.g. http://127.0.0.1:8333 for SeaweedFS; null for AWS
  region: us-east-1

stream:
  # a local log dir (default: <home>/sources/stream), kinesis://STREAM or kafka://TOPIC
  url: ""
  endpoint_url: null        # Kinesis endpoint, e.g. http://127.0.0.1:4567 for kinesalite
  bootstrap_servers: 127.0.0.1:9092
  shards: 2

lake:
  # a local directory (default: <home>/lake) or s3://bucket/prefix; tables at <root>/<layer>/<table>
  root: ""
  endpoint_url: null

serving:
  # a DuckDB file (default: <home>/serving.duckdb) or postgresql+psycopg://user@host:5432/db
  url: ""
  api_host: 127.0.0.1       # c360 serve api
  api_port: 8360
  # API keys: env C360_SERVING__API_KEYS='analyst=KEY,support=KEY' (dev keeps one per role in <home>/secrets)

engine:
  name: duckdb              # duckdb or spark
  spark_remote: ""          # sc://host:15002 when name is spark

generator:
  scale: XS                 # XS (2k customers), S (10k), M (1M), L (5M)
  seed: 42
  start_date: "2024-01-01"
  days: 365

quality:
  min_dq_score: 0.9

pipeline:
  bronze_workers: 2         # bronze sources ingested at once

analytics:
  clv_months: 12            # CLV horizon
  clv_annual_discount: 0.10
  churn_horizon_days: 90    # churned = no order for this many days
  recommendations: 10       # next-best products per customer

governance:
  # who sees what of the gold tables; the catalog tags each column public, pii.direct, pii.quasi
  # or sensitive. Rules: clear, masked (j***@example.com), hashed (salted SHA-256) or hidden.
  # Salt: env C360_GOVERNANCE__HASH_SALT (prod); dev keeps a random one in <home>/secrets.
  roles:
    admin:     {rules: {pii.direct: clear, pii.quasi: clear, sensitive: clear}}
    analyst:   {rules: {pii.direct: hashed, pii.quasi: masked, sensitive: hidden}}
    marketing: {rules: {pii.direct: masked, pii.quasi: clear, sensitive: hidden}}
    support:   {rules: {pii.direct: masked, pii.quasi: masked, sensitive: clear}}
    # analyst_de: {rules: {pii.direct: hashed}, row_filter: {column: country, values: [DE]}}

# Overlays per profile, applied on top of the keys above.
profiles:
  prod:
    engine:
      name: spark
"""
