"""The API's read side: SQL run *as a role* over the serving database, one module-level class per
database (a small base and two backends, as in the engine seam).

- PostgreSQL: a connection pool; each request is one transaction that first does
  ``SET LOCAL ROLE c360_<role>`` and then reads the role's views in schema ``c360_<role>``
  (serve/policies.py), so masking, hashing and row-level security are PostgreSQL's, exactly as a
  BI tool connecting as that role gets them. The API's login user must be a member of the
  ``c360_<role>`` groups (a superuser is).
- DuckDB file (the embedded default): opened read-only; each worker thread's connection gets
  temporary views per role from the same policies (governance/policy.py) over the served tables,
  the salt as a temporary macro (nothing is stored in the file), and external access locked.

Only fixed SQL written by the API runs here, with every value bound as a parameter (``?``).
One privileged read exists: ``resolve`` maps an email or phone a caller typed to person ids on
the base table, for roles that see that column clear or masked (support confirming a caller);
what comes back is still read through the role's views, so a person the role may not see is
not found.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from c360 import catalog
from c360.catalog import TableSpec
from c360.config import Settings
from c360.engine.base import ident, literal
from c360.errors import C360Error
from c360.governance.policy import role, select_list
from c360.serve.load import SCHEMA, SERVED
from c360.serve.policies import served_policy

PERSON_SERVED = "customer360_golden"
_BY_NAME = {name: table_id for table_id, name in SERVED.items()}


class RoleCannotRead(Exception):
    """The role has no view of that table (it may not see it, or it is not loaded)."""


def _resolve_sql(column: str) -> str:
    """``Reader.resolve``'s query (``?`` placeholder): the base person table, never a role's view."""
    return f"SELECT person_id FROM {SCHEMA}.{PERSON_SERVED} WHERE {ident(column)} = ? ORDER BY person_id LIMIT 50"


def _plain(v: Any) -> Any:
    # PostgreSQL's sums and averages of integers are numeric: JSON wants numbers
    return float(v) if isinstance(v, Decimal) else v


class Reader:
    """A serving database read as roles (module doc)."""

    kind: str = ""

    def relation(self, role_name: str, served: str) -> str:
        """The SQL name of ``role_name``'s view of served table ``served``; RoleCannotRead if none."""
        raise NotImplementedError

    def query(self, role_name: str, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of ``sql`` (``?`` placeholders) run as ``role_name``."""
        raise NotImplementedError

    def resolve(self, column: str, value: str) -> list[str]:
        """Person ids whose served profile has ``column`` (email or phone) = ``value`` (module doc)."""
        raise NotImplementedError

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        raise NotImplementedError

    def close(self) -> None: ...


class PostgresReader(Reader):
    kind = "postgresql"

    def __init__(self, settings: Settings) -> None:
        from psycopg_pool import ConnectionPool

        conninfo = settings.serving_url.replace("postgresql+psycopg://", "postgresql://", 1)
        password = settings.serving.password.get_secret_value() if settings.serving.password else None
        kwargs: dict[str, Any] = {"options": "-c statement_timeout=10000 -c TimeZone=UTC"}
        if password:
            kwargs["password"] = password
        self.pool = ConnectionPool(conninfo, min_size=min(2, settings.serving.api_pool_size),
                                   max_size=settings.serving.api_pool_size, kwargs=kwargs, open=False,
                                   name="c360-api", timeout=10)
        try:
            self.pool.open(wait=True, timeout=10)
        except Exception as e:  # psycopg_pool raises PoolTimeout with the cause inside
            self.pool.close()
            raise C360Error(f"cannot connect to the serving database: {str(e).splitlines()[0]}",
                            where="serving.url", fix="check serving.url and C360_SERVING__PASSWORD") from None
        self.roles = sorted(settings.governance.roles)
        self._views: set[tuple[str, str]] = set()
        self._members: set[str] = set()
        self._checked = 0.0
        self._lock = threading.Lock()
        self._refresh()

    def _refresh(self) -> None:
        with self.pool.connection() as con:
            views = con.execute("SELECT table_schema, table_name FROM information_schema.views "
                                "WHERE table_schema LIKE 'c360\\_%'").fetchall()
            members = {r for r in self.roles if con.execute(
                "SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = %s",
                (f"c360_{r}",)).fetchone() in ((True,),)}
        self._views = {(s, t) for s, t in views}
        self._members = members
        self._checked = time.monotonic()

    def relation(self, role_name: str, served: str) -> str:
        schema = f"c360_{role_name}"
        if (schema, served) not in self._views and time.monotonic() - self._checked > 5:
            with self._lock:  # a load may have added it since: look again, at most every 5 s
                self._refresh()
        if (schema, served) not in self._views:
            raise RoleCannotRead(served)
        return f"{ident(schema)}.{ident(served)}"

    def query(self, role_name: str, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        from psycopg.rows import dict_row

        if role_name not in self._members:
            raise C360Error(f"the API's database user is not a member of c360_{role_name}", where="serving.url",
                            fix=f"GRANT c360_{role_name} TO <the API's user>, or run c360 serve load first")
        with self.pool.connection() as con:
            # SET LOCAL: the role ends with this transaction, before the connection is reused
            con.execute(f"SET LOCAL ROLE {ident(f'c360_{role_name}')}")
            cur = con.cursor(row_factory=dict_row)
            rows = cur.execute(sql.replace("?", "%s"), list(params)).fetchall()
        return [{k: _plain(v) for k, v in r.items()} for r in rows]

    def resolve(self, column: str, value: str) -> list[str]:
        with self.pool.connection() as con:
            rows = con.execute(_resolve_sql(column).replace("?", "%s"), (value,)).fetchall()
        return [r[0] for r in rows]

    def ping(self) -> None:
        with self.pool.connection() as con:
            con.execute("SELECT 1").fetchall()

    def close(self) -> None:
        self.pool.close()


class DuckDBReader(Reader):
    kind = "duckdb"

    def __init__(self, settings: Settings) -> None:
        import duckdb

        from c360.governance.keys import hash_salt
        from c360.governance.masking import SALT_FUNCTION

        path = Path(settings.serving_url)
        if not path.exists():
            raise C360Error(f"no serving database at {path}", where="serving.url", fix="run `c360 serve load` first")
        try:
            self._db = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as e:
            raise C360Error(f"cannot open the serving database {path}: {str(e).splitlines()[0]}",
                            where="serving.url") from None
        present = {r[0] for r in self._db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [SCHEMA]).fetchall()}
        setup = [f"CREATE TEMP MACRO {SALT_FUNCTION}() AS {literal(hash_salt(settings))}"]
        self._views: set[tuple[str, str]] = set()
        loaded = {t: n for t, n in SERVED.items() if n in present}
        for name in sorted(settings.governance.roles):
            r = role(settings, name)
            for table_id, served in loaded.items():
                policy = served_policy(r, catalog.get(table_id), loaded)
                if policy is None or any(c.column.encrypted for c in policy[0]):
                    continue  # nothing to see, or it would need the lake's keys: not served here
                cols, where = policy
                sql = f"SELECT {select_list(cols)} FROM {SCHEMA}.{ident(served)} AS t"
                setup.append(f"CREATE TEMP VIEW {self._view(name, served)} AS {sql}"
                             + (f" WHERE {where}" if where else ""))
                self._views.add((name, served))
        self._setup = setup
        self._db.execute("SET TimeZone = 'UTC'")
        self._db.execute("SET enable_external_access = false")
        self._db.execute("SET lock_configuration = true")
        self._local = threading.local()

    @staticmethod
    def _view(role_name: str, served: str) -> str:
        return ident(f"{role_name}__{served}")

    def _con(self) -> Any:
        con = getattr(self._local, "con", None)
        if con is None:
            con = self._db.cursor()  # a connection of this thread, to the same database
            for stmt in self._setup:
                con.execute(stmt).fetchall()
            self._local.con = con
        return con

    def relation(self, role_name: str, served: str) -> str:
        if (role_name, served) not in self._views:
            raise RoleCannotRead(served)
        return self._view(role_name, served)

    def query(self, role_name: str, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        # DuckDB 2.0 wants each result read to its end: through Arrow (its datetimes need no pytz)
        return self._con().sql(sql, params=list(params)).to_arrow_table().to_pylist()

    def resolve(self, column: str, value: str) -> list[str]:
        rows = self._con().execute(_resolve_sql(column), [value]).fetchall()
        return [r[0] for r in rows]

    def ping(self) -> None:
        self._con().execute("SELECT 1").fetchall()

    def close(self) -> None:
        self._db.close()


def open_reader(settings: Settings) -> Reader:
    """The reader of the configured serving database."""
    if settings.serving_url.startswith("postgresql+psycopg://"):
        return PostgresReader(settings)
    return DuckDBReader(settings)


def table_of(served: str) -> TableSpec:
    """The catalog spec behind served table ``served``."""
    return catalog.get(_BY_NAME[served])
