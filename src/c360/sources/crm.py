"""The CRM database (SQLite embedded default, MySQL/MariaDB, PostgreSQL) through SQLAlchemy."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute
import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import URL, make_url

from c360.errors import C360Error


def _sql_type(t: pa.DataType, values: pa.ChunkedArray) -> sa.types.TypeEngine:
    """The SQL column type for an Arrow type (strings longer than 255 become TEXT)."""
    if pa.types.is_integer(t):
        return sa.BigInteger()
    if pa.types.is_floating(t):
        return sa.Float()
    if pa.types.is_boolean(t):
        return sa.Boolean()
    if pa.types.is_date(t):
        return sa.Date()
    if pa.types.is_timestamp(t):  # MySQL's DATETIME drops fractions unless asked for them
        return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    longest = pa.compute.max(pa.compute.utf8_length(values)).as_py() if len(values) else 0
    return sa.Text() if (longest or 0) > 255 else sa.String(255)


def _as_text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """A column as the text bronze validates, timestamps as 'YYYY-MM-DD HH:MM:SS[.ffffff]'
    (whole seconds without a fraction, like Python's isoformat and the SQLite path)."""
    t = col.type
    if pa.types.is_timestamp(t):
        col = col.cast(pa.timestamp("us", t.tz))
        text = col.cast(pa.string()) if t.tz is None else pa.compute.strftime(col, format="%Y-%m-%d %H:%M:%S")
        return pa.compute.replace_substring_regex(text, r"\.000000$", "")
    return col.cast(pa.string())


def _sqlite_column(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """A column in SQLAlchemy's SQLite storage format (DATETIME as text with microseconds,
    DATE as text, BOOLEAN as 0/1), so bulk-loaded rows read and compare like ORM-written ones."""
    t = col.type
    if pa.types.is_dictionary(t):
        col, t = col.cast(t.value_type), t.value_type
    if pa.types.is_timestamp(t) and t.tz is None:
        # a naive microsecond timestamp casts to 'YYYY-MM-DD HH:MM:SS.ffffff' (a cast, several
        # times faster than strftime), which is SQLAlchemy's SQLite DATETIME text
        return col.cast(pa.timestamp("us")).cast(pa.string())
    if pa.types.is_timestamp(t):  # at microsecond unit %S prints SS.ffffff
        return pa.compute.strftime(col.cast(pa.timestamp("us")), format="%Y-%m-%d %H:%M:%S")
    if pa.types.is_date(t):
        return col.cast(pa.string())
    if pa.types.is_boolean(t):
        return col.cast(pa.int8())
    return col


class CrmDatabase:
    """A SQL database holding the CRM tables."""

    def __init__(self, url: str, password: str | None = None) -> None:
        u: URL = make_url(url)
        if password:
            u = u.set(password=password)
        self.url = u
        if u.drivername.startswith("sqlite") and u.database:
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine = sa.create_engine(u, pool_pre_ping=True)

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages."""
        return self.url.render_as_string(hide_password=True)

    def _fail(self, e: Exception, action: str) -> C360Error:
        return C360Error(f"CRM database error while {action}: {type(e).__name__}: {str(e).splitlines()[0]}",
                         where=self.safe_url,
                         fix="check crm.url, that the server is running (scripts/services.sh up mariadb) "
                             "and the password in C360_CRM__PASSWORD")

    def ensure_database(self) -> None:
        """Create the database itself if the server has none by that name (MySQL/PostgreSQL)."""
        if self.url.drivername.startswith("sqlite") or not self.url.database:
            return
        u = self.url
        # URL.set() ignores None, so build the server-level URL (no database) explicitly.
        server_url = URL.create(u.drivername, u.username, u.password, u.host, u.port,
                                None if "mysql" in u.drivername else "postgres", u.query)
        server = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
        try:
            with server.connect() as c:
                if "mysql" in self.url.drivername:
                    c.execute(sa.text(f"CREATE DATABASE IF NOT EXISTS `{self.url.database}`"))
                else:
                    exists = c.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"),
                                       {"d": self.url.database}).first()
                    if not exists:
                        c.execute(sa.text(f'CREATE DATABASE "{self.url.database}"'))
        except sa.exc.SQLAlchemyError as e:
            raise self._fail(e, "creating the database") from e
        finally:
            server.dispose()

    def replace_table(self, name: str, data: pa.Table, primary_key: str, chunk_rows: int = 20_000,
                      index: bool = True) -> None:
        """Drop and re-create ``name`` with ``data``, column types from its Arrow schema.

        ``index=False`` leaves out the watermark index (``index_table`` adds it), for a bulk load
        that appends more rows first: building it once at the end beats growing it row by row.
        """
        meta = sa.MetaData()
        # autoincrement=False: the keys are the data's own (MySQL would renumber a key of 0)
        cols = [sa.Column(f.name, _sql_type(f.type, data.column(f.name)), primary_key=(f.name == primary_key),
                          autoincrement=False) for f in data.schema]
        table = sa.Table(name, meta, *cols)
        table.indexes.clear()  # built after the load: one sort instead of a b-tree insert per row
        try:
            self.ensure_database()
            with self.engine.begin() as c:
                table.drop(c, checkfirst=True)
                table.create(c)
                if not self.url.drivername.startswith("sqlite"):
                    for batch in data.to_batches(chunk_rows):
                        c.execute(table.insert(), batch.to_pylist())
            if self.url.drivername.startswith("sqlite"):
                self._sqlite_bulk_insert(name, data)
        except sa.exc.SQLAlchemyError as e:
            raise self._fail(e, f"writing table {name}") from e
        if index:
            self.index_table(name, primary_key)

    def index_table(self, name: str, primary_key: str) -> None:
        """Add the (updated_at, key) index incremental extracts filter and sort on, if missing."""
        try:
            table = sa.Table(name, sa.MetaData(), autoload_with=self.engine)
            if "updated_at" in table.c:
                with self.engine.begin() as c:
                    sa.Index(f"ix_{name}_updated", table.c.updated_at, table.c[primary_key]).create(c, checkfirst=True)
        except sa.exc.SQLAlchemyError as e:
            raise self._fail(e, f"indexing table {name}") from e

    def _sqlite_bulk_insert(self, name: str, data: pa.Table) -> None:
        """SQLite bulk load from Arrow through ADBC (columnar, in C: ~4x faster than DB-API
        executemany, docs/benchmarks.md), into the table SQLAlchemy created."""
        import adbc_driver_sqlite.dbapi as adbc_sqlite

        out = pa.table({c: _sqlite_column(data.column(c)) for c in data.column_names})
        with adbc_sqlite.connect(self.url.database) as conn:
            with conn.cursor() as cur:
                cur.adbc_ingest(name, out, mode="append")
            conn.commit()

    def read_table(self, name: str) -> pa.Table:
        """A whole table as Arrow (the generator's incremental days read the current state)."""
        try:
            table = sa.Table(name, sa.MetaData(), autoload_with=self.engine)  # typed: SQLite bools come back bool
            with self.engine.connect() as c:
                result = c.execute(sa.select(table))
                cols = list(result.keys())
                rows = result.fetchall()
        except sa.exc.SQLAlchemyError as e:
            raise self._fail(e, "reading") from e
        return pa.table({c: [r[i] for r in rows] for i, c in enumerate(cols)})

    def insert_rows(self, name: str, data: pa.Table, chunk_rows: int = 20_000) -> None:
        """Append rows to an existing table."""
        if self.url.drivername.startswith("sqlite"):
            self._sqlite_bulk_insert(name, data)
            return
        table = sa.Table(name, sa.MetaData(), autoload_with=self.engine)
        with self.engine.begin() as c:
            for batch in data.to_batches(chunk_rows):
                c.execute(table.insert(), batch.to_pylist())

    def update_rows(self, name: str, primary_key: str, rows: list[dict[str, Any]]) -> None:
        """Update the given columns of rows identified by ``primary_key`` (all rows share columns)."""
        if not rows:
            return
        table = sa.Table(name, sa.MetaData(), autoload_with=self.engine)
        cols = [k for k in rows[0] if k != primary_key]
        stmt = (table.update().where(table.c[primary_key] == sa.bindparam("_pk"))
                .values({k: sa.bindparam(k) for k in cols}))
        with self.engine.begin() as c:
            c.execute(stmt, [{"_pk": r[primary_key], **{k: r[k] for k in cols}} for r in rows])

    def count(self, name: str) -> int:
        with self.engine.connect() as c:
            return int(c.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one())

    def _reflect(self, name: str) -> sa.Table:
        try:
            return sa.Table(name, sa.MetaData(), autoload_with=self.engine)
        except sa.exc.NoSuchTableError:
            raise C360Error(f"CRM table {name!r} does not exist", where=self.safe_url,
                            fix="generate data first (c360 generate) or fix crm.url") from None
        except sa.exc.SQLAlchemyError as e:
            raise self._fail(e, "reading table schemas") from e  # one message for all tables: grouped per cause

    def column_types(self, name: str) -> dict[str, sa.types.TypeEngine]:
        """The table's columns and their SQL types as the database reports them now."""
        return {c.name: c.type for c in self._reflect(name).c}

    def read_keys(self, name: str, primary_key: str) -> pa.Array:
        """Every primary-key value of the table (for hard-delete detection), as text."""
        sql = f"SELECT {self._quote(primary_key)} FROM {self._quote(name)}"
        return self._arrow(sql, f"reading the keys of {name}").column(0).cast(pa.string()).combine_chunks()

    def _quote(self, ident: str) -> str:
        return self.engine.dialect.identifier_preparer.quote(ident)

    def _connectorx_url(self) -> str:
        scheme = "mysql" if "mysql" in self.url.drivername else "postgresql"
        return self.url.set(drivername=scheme).render_as_string(hide_password=False)

    def _arrow(self, sql: str, action: str) -> pa.Table:
        """One query's result as Arrow: ADBC for SQLite, connectorx (Rust, no Python object per
        value) for MySQL/PostgreSQL."""
        try:
            if self.url.drivername.startswith("sqlite"):
                import adbc_driver_sqlite.dbapi as adbc_sqlite

                with adbc_sqlite.connect(self.url.database) as conn, conn.cursor() as cur:
                    cur.execute(sql)
                    return cur.fetch_arrow_table()
            import connectorx as cx

            return cx.read_sql(self._connectorx_url(), sql, return_type="arrow")
        except C360Error:
            raise
        except Exception as e:  # ADBC, connectorx (RuntimeError) and Arrow errors alike
            raise self._fail(e, action) from e

    def read_batches(self, name: str, watermark_column: str, primary_key: str,
                     since: tuple[str, Any] | None, batch_rows: int) -> Iterator[tuple[pa.Table, tuple[str, Any]]]:
        """Rows changed after ``since`` = (watermark, key), in (watermark, key) order, in batches
        of ``batch_rows``: each as an Arrow table of text values (the CRM's own rendering:
        timestamps 'YYYY-MM-DD HH:MM:SS[.ffffff]', booleans 0/1 or true/false) with the batch's
        last (watermark, key).

        Keyset pagination with the primary key as tie-break: rows sharing one updated_at are
        neither skipped nor read twice across batches or runs. SQLite is read through ADBC,
        MySQL/PostgreSQL through connectorx: columnar all the way, memory flat per batch.
        """
        if self.url.drivername.startswith("sqlite"):
            yield from self._sqlite_batches(name, watermark_column, primary_key, since, batch_rows)
            return
        table = self._reflect(name)
        wm, pk = table.c[watermark_column], table.c[primary_key]
        cursor: tuple[Any, Any] | None = None
        if since is not None:
            # Bind the watermark in the column's own type (compared as text, a DATETIME with
            # and without fractional seconds would sort wrongly).
            value = since[0]
            if isinstance(wm.type, sa.DateTime) and isinstance(value, str):
                value = datetime.fromisoformat(value)
            elif isinstance(wm.type, sa.Date) and isinstance(value, str):
                value = date.fromisoformat(value)
            cursor = (value, since[1])
        while True:
            q = sa.select(table).order_by(wm, pk).limit(batch_rows)
            if cursor is not None:
                q = q.where(sa.or_(wm > cursor[0], sa.and_(wm == cursor[0], pk > cursor[1])))
            # connectorx takes no bound parameters: SQLAlchemy renders the literals, quoted and
            # escaped for the dialect (MySQL's backslashes included)
            sql = str(q.compile(self.engine, compile_kwargs={"literal_binds": True}))
            t = self._arrow(sql, f"reading {name}")
            if t.num_rows == 0:
                return
            cursor = (t.column(watermark_column)[-1].as_py(), t.column(primary_key)[-1].as_py())
            text = pa.table({c: _as_text(t.column(c)) for c in t.column_names})
            yield text, (text.column(watermark_column)[-1].as_py(), cursor[1])
            if t.num_rows < batch_rows:
                return

    def _sqlite_batches(self, name: str, wm: str, pk: str, since: tuple[str, Any] | None,
                        batch_rows: int) -> Iterator[tuple[pa.Table, tuple[str, Any]]]:
        import adbc_driver_sqlite.dbapi as adbc_sqlite

        table = self._reflect(name)
        timestamps = {c.name for c in table.c if isinstance(c.type, sa.DateTime)}

        def q(c: str) -> str:
            return '"' + c.replace('"', '""') + '"'

        # SQLAlchemy writes DATETIME with microseconds; render whole seconds as Python's isoformat does
        # Every value cast to TEXT in SQL, and the whole batch read as one Arrow batch: ADBC's
        # SQLite reader infers a column's type per batch and fails if it changes between batches.
        exprs = [f"CASE WHEN {q(c.name)} LIKE '%.000000' THEN substr({q(c.name)}, 1, 19) ELSE {q(c.name)} END "
                 if c.name in timestamps else f"CAST({q(c.name)} AS TEXT)" for c in table.c]
        base = f"SELECT {', '.join(exprs)}, {q(wm)} AS __wm, {q(pk)} AS __pk FROM {q(name)}"
        cursor: tuple[Any, Any] | None = None
        if since is not None:
            value = since[0]
            if wm in timestamps and isinstance(value, str):  # compare in the stored text format
                value = datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S.%f")
            cursor = (value, since[1])
        names = [c.name for c in table.c]
        try:
            with adbc_sqlite.connect(self.url.database) as conn:
                cur = conn.cursor()
                cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(int(batch_rows) + 1)})
                while True:
                    where = f" WHERE ({q(wm)} > ? OR ({q(wm)} = ? AND {q(pk)} > ?))" if cursor else ""
                    params = [cursor[0], cursor[0], cursor[1]] if cursor else None
                    cur.execute(f"{base}{where} ORDER BY {q(wm)}, {q(pk)} LIMIT {int(batch_rows)}", params)
                    t = cur.fetch_arrow_table()
                    if t.num_rows == 0:
                        return
                    cursor = (t.column("__wm")[-1].as_py(), t.column("__pk")[-1].as_py())
                    # a column NULL throughout a batch comes back untyped: text like the rest
                    text = pa.table({n: t.column(i).cast(pa.string()) for i, n in enumerate(names)})
                    yield text, (text.column(wm)[-1].as_py(), cursor[1])
                    if t.num_rows < batch_rows:
                        return
        except (adbc_sqlite.Error, OSError, pa.ArrowException) as e:  # (ADBC errors may surface via Arrow)
            raise self._fail(e, f"reading {name}") from e
