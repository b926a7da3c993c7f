"""The classic questions, as documented SQL files that run on the gold tables
(``analytics/questions/<name>.sql``; the first comment line is the question, the rest of the
header says how it is answered). ``c360 ask`` lists and runs them; BI tools can run the same SQL
against the served tables."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import pyarrow as pa
import sqlglot

from c360 import catalog
from c360.engine.duckdb import DuckDBEngine
from c360.engine.models import register_table
from c360.errors import C360Error
from c360.lake.store import Lake

_BY_SQL_NAME = {t.sql_name: t.id for t in catalog.tables()}


@dataclass(frozen=True)
class Question:
    name: str
    title: str
    description: str
    sql: str

    def tables(self) -> list[str]:
        """The lake tables (ids) the SQL reads."""
        tree = sqlglot.parse_one(self.sql, read="duckdb")
        return sorted({_BY_SQL_NAME[t.name] for t in tree.find_all(sqlglot.exp.Table) if t.name in _BY_SQL_NAME})


def questions() -> dict[str, Question]:
    """Every question, by name (the file name without .sql)."""
    out = {}
    for f in sorted(resources.files("c360.analytics.questions").iterdir(), key=lambda p: p.name):
        if not f.name.endswith(".sql"):
            continue
        sql = f.read_text()
        header = [line.removeprefix("--").strip() for line in sql.splitlines() if line.startswith("--")]
        out[f.name[:-4]] = Question(f.name[:-4], header[0], " ".join(header[1:]), sql)
    return out


def ask(lake: Lake, name: str) -> pa.Table:
    """Run one question on the lake's gold tables."""
    known = questions()
    if name not in known:
        raise C360Error(f"unknown question {name!r}", where="ask", fix=f"known: {', '.join(known)}")
    q = known[name]
    missing = [t for t in q.tables() if not lake.exists(t)]
    if missing:
        raise C360Error(f"{name} reads {', '.join(missing)}, not built yet", where="ask", fix="run `c360 run` first")
    engine = DuckDBEngine()
    try:
        for table_id in q.tables():
            register_table(engine, lake, table_id)
        return engine.sql(q.sql)
    finally:
        engine.close()
