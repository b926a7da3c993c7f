"""The policies inside PostgreSQL: a login user in ``c360_<role>`` reads through its views exactly
what `c360 query --role` (proved in test_governance) returns, row filters included, and cannot
reach the base tables, another role's views, the salt or the hash function."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from c360 import catalog
from c360.config import Settings, load_settings
from c360.governance.query import query_as_role
from c360.lake.store import lake_from_settings
from c360.serve.load import SERVED, load, snapshot
from tests.conftest import SERVICE_PORTS
from tests.integration.conftest import built_company, roles_with_local_analyst

pytestmark = pytest.mark.services
PORT = SERVICE_PORTS["postgres"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    yield from built_company(tmp_path_factory, "serve_policies")


@pytest.fixture(scope="module")
def served(built: Settings) -> Iterator[tuple[Settings, str, dict[str, str]]]:
    """The company loaded into a fresh database with the default roles plus a country-scoped one;
    a login user per role."""
    try:
        admin = psycopg.connect(f"postgresql://postgres@127.0.0.1:{PORT}/postgres", autocommit=True)
    except psycopg.OperationalError as e:
        pytest.fail(f"PostgreSQL is down ({e}) — start it with `bash scripts/services.sh up postgres`")
    lake = lake_from_settings(built)
    tag = uuid.uuid4().hex[:8]
    db = f"c360_pol_{tag}"
    admin.execute(f"CREATE DATABASE {db}")
    roles = roles_with_local_analyst(built)
    s = load_settings(home=built.home, serving={"url": f"postgresql+psycopg://postgres@127.0.0.1:{PORT}/{db}"},
                      governance={"roles": roles})
    users = {r: f"t_{r}_{tag}" for r in roles}
    try:
        load(s, lake)
        for r, u in users.items():
            admin.execute(f'CREATE ROLE "{u}" LOGIN IN ROLE "c360_{r}"')
        yield s, db, users
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        for u in users.values():
            admin.execute(f'DROP ROLE IF EXISTS "{u}"')
        admin.close()


def _as(user: str, db: str, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    with psycopg.connect(f"postgresql://{user}@127.0.0.1:{PORT}/{db}") as c:
        cur = c.execute(sql)
        return [d.name for d in cur.description or []], [tuple(r) for r in cur.fetchall()]


@pytest.mark.parametrize("role", ["admin", "analyst", "marketing", "support", "analyst_local"])
def test_each_role_reads_in_postgres_what_its_policy_allows(served: tuple[Settings, str, dict[str, str]],
                                                            role: str) -> None:
    s, db, users = served
    lake = lake_from_settings(s)
    for table_id, name in SERVED.items():
        spec = catalog.get(table_id)
        keys = ", ".join(spec.primary_key)
        if spec.built_by == "serve":
            # an ops snapshot (no personal columns): every role reads it whole, as loaded
            want = snapshot(s, lake, table_id)
            want = want.sort_by([(k, "ascending") for k in spec.primary_key])
        else:
            want = query_as_role(s, lake, role, f"SELECT * FROM {spec.name} ORDER BY {keys}")
        cols, rows = _as(users[role], db, f'SELECT * FROM "c360_{role}"."{name}" ORDER BY {keys}')
        assert cols == want.column_names, (role, name)
        assert len(rows) == want.num_rows, (role, name)
        pii = [c for c in spec.pii_columns() if c in cols]
        for c in pii + list(spec.primary_key):
            i = cols.index(c)
            assert [r[i] for r in rows] == want.column(c).to_pylist(), (role, name, c)


@pytest.mark.parametrize("sql", [
    "SELECT count(*) FROM c360.customer360_golden",
    "SELECT count(*) FROM c360_admin.customer360_golden",
    "SELECT salt FROM c360_private.salt",
    "SELECT c360.c360_hash('someone@example.com')",
])
def test_base_tables_other_roles_and_the_salt_are_out_of_reach(served: tuple[Settings, str, dict[str, str]],
                                                               sql: str) -> None:
    _, db, users = served
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _as(users["analyst"], db, sql)


def test_row_level_security_filters_every_person_level_view(served: tuple[Settings, str, dict[str, str]]) -> None:
    s, db, users = served
    country = s.governance.roles["analyst_local"].row_filter.values[0]  # type: ignore[union-attr]
    _, rows = _as(users["analyst_local"], db, 'SELECT DISTINCT country FROM "c360_analyst_local".customer360_golden')
    assert rows == [(country,)]
    _, local = _as(users["analyst_local"], db, 'SELECT count(*) FROM "c360_analyst_local".recommendations')
    _, every = _as(users["admin"], db, 'SELECT count(*) FROM "c360_admin".recommendations')
    assert 0 < local[0][0] < every[0][0]
