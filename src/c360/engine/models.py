"""SQL models: ``.sql`` files beside the stage that runs them, one per table, named like it."""

from __future__ import annotations

from importlib import resources

import pyarrow as pa

from c360 import catalog
from c360.analytics.sentiment import FUNCTIONS as ANALYTICS_FUNCTIONS
from c360.catalog import TableSpec
from c360.engine.base import MODEL_DIALECT, Engine, LakeTableRef, ident, literal
from c360.governance.crypto import DECRYPT_FUNCTION
from c360.lake.rules import expand
from c360.lake.standardise import FUNCTIONS
from c360.lake.store import Lake


def model_sql(spec: TableSpec) -> str:
    """The SQL of a table's model (``c360/lake/<layer>/<name>.sql``), rules expanded."""
    return expand(resources.files(f"c360.lake.{spec.layer}").joinpath(f"{spec.name}.sql").read_text())


def register_table(engine: Engine, lake: Lake, table_id: str, decrypt: bool = True) -> None:
    """Make a lake table queryable under its SQL name (``layer_name``); one not written yet is an
    empty table of its declared schema (an empty source is still a valid input). Columns encrypted
    at rest are decrypted for the models (``decrypt``); the governor reads them as stored."""
    spec = catalog.get(table_id)
    hot = lake.hot(table_id) if engine.dialect == MODEL_DIALECT else None
    if hot is not None:
        engine.register(spec.sql_name, hot)  # kept as computed, before its columns were sealed
    elif lake.exists(table_id) and decrypt and spec.encrypted_columns():
        # the stored table, and a view decrypting its sealed columns: only when a query reads them
        # (customer_360 reads gold.sentiment's scores, never its text: ~3 s of AES at M saved)
        sealed = f"{spec.sql_name}__sealed"
        engine.register(sealed, LakeTableRef(lake.uri(table_id), lake.storage_options))
        engine.ensure_functions([lake.keyring.function()])
        cols = [f"{DECRYPT_FUNCTION}({ident(c)}, {literal(f'{table_id}.{c}')}) AS {ident(c)}"
                if c in spec.encrypted_columns() else ident(c) for c in lake.dataset(table_id).schema.names]
        engine.register_query(spec.sql_name, f"SELECT {', '.join(cols)} FROM {sealed}")
    elif lake.exists(table_id):
        engine.register(spec.sql_name, LakeTableRef(lake.uri(table_id), lake.storage_options))
    else:
        engine.register(spec.sql_name, spec.schema().empty_table())


def register_inputs(engine: Engine, lake: Lake, spec: TableSpec) -> None:
    """Make every input of ``spec`` queryable under its SQL name."""
    for table_id in spec.inputs:
        register_table(engine, lake, table_id)


def run_model(engine: Engine, lake: Lake, spec: TableSpec, extra: dict[str, pa.Table] | None = None) -> pa.Table:
    """Run a table's model and return its rows in the catalog schema (not yet written).
    ``extra``: more tables the model reads, by SQL name (e.g. a watermark)."""
    register_inputs(engine, lake, spec)
    for name, table in (extra or {}).items():
        engine.register(name, table)
    engine.ensure_functions((*FUNCTIONS, *ANALYTICS_FUNCTIONS))
    return catalog.conform(engine.sql(model_sql(spec)), spec)
