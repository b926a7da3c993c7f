"""Engines run SQL models: DuckDB on one machine (default), Spark Connect to scale out."""

from __future__ import annotations

from c360.engine.base import Engine, LakeTableRef

__all__ = ["Engine", "LakeTableRef", "create_engine"]


def create_engine(settings: object, threads: int | None = None) -> Engine:
    """The engine the config names (imports Spark only when asked for). ``threads``: DuckDB's
    threads when ``engine.threads`` is not set (default: all cores)."""
    cfg = settings.engine  # type: ignore[attr-defined]
    if cfg.name == "spark":
        from c360.engine.spark import SparkEngine

        return SparkEngine.connect(cfg.spark_remote)
    from c360.engine.duckdb import DuckDBEngine

    return DuckDBEngine(threads=cfg.threads or threads, memory_limit=cfg.memory_limit)
