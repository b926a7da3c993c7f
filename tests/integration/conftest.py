from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from c360.config import Settings, load_settings
from c360.sources.crm import CrmDatabase
from c360.sources.generator import World, build_world
from c360.sources.generator import write_world as _write_world
from c360.sources.objectstore import open_object_store
from c360.sources.stream import open_stream

N_CUSTOMERS = 300
SEED = 7


def write_world(settings: Settings, world: World) -> None:
    """Write a generated world into whatever sources the settings point at."""
    pw = settings.crm.password.get_secret_value() if settings.crm.password else None
    _write_world(world, CrmDatabase(settings.crm_url, pw), open_object_store(settings), open_stream(settings),
                 settings.stream.shards)


def built_company(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Settings]:
    """One small company with its whole pipeline built once (DuckDB, embedded defaults), for a
    module's fixture: ``yield from built_company(tmp_path_factory, "name")``."""
    from c360.ops.pipeline import run_pipeline

    home = tmp_path_factory.mktemp(name)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(home)
        s = load_settings(home=home / "home")
        write_world(s, build_world(N_CUSTOMERS, SEED))
        run_pipeline(s)
        yield s


def roles_with_local_analyst(settings: Settings) -> dict[str, object]:
    """The configured roles plus ``analyst_local``: an analyst scoped to the company's most common
    country (a row filter through the person table), for tests of row-level policies."""
    from c360.lake.store import lake_from_settings

    lake = lake_from_settings(settings)
    country = lake.sql("SELECT country FROM gold_dim_customer WHERE country IS NOT NULL GROUP BY 1 "
                       "ORDER BY count(*) DESC, 1 LIMIT 1", "gold.dim_customer").column("country")[0].as_py()
    return {**{r: c.model_dump() for r, c in settings.governance.roles.items()},
            "analyst_local": {"rules": {"pii.direct": "hashed", "pii.quasi": "masked"},
                              "row_filter": {"column": "country", "values": [country]}}}


@pytest.fixture
def world() -> World:
    return build_world(N_CUSTOMERS, SEED)


@pytest.fixture
def embedded(tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings on embedded defaults with a small generated company written into them."""
    monkeypatch.chdir(tmp_path)
    s = load_settings(home=tmp_path / "home")
    write_world(s, world)
    yield s


@pytest.fixture(scope="session")
def spark_engine() -> Iterator[object]:
    """A Spark engine on a local Sail server (a Spark Connect server), shared by the session."""
    from pysail.spark import SparkConnectServer
    from pyspark.sql import SparkSession

    from c360.engine.spark import SparkEngine

    server = SparkConnectServer("127.0.0.1", 0)
    server.start(background=True)
    host, port = server.listening_address
    engine = SparkEngine(SparkSession.builder.remote(f"sc://{host}:{port}").getOrCreate())
    yield engine
    engine.close()
    server.stop()
