"""Engines run SQL models: DuckDB on one machine (default), Spark Connect to scale out."""

from __future__ import annotations

from c360.engine.base import Engine, LakeTableRef

__all__ = ["Engine", "LakeTableRef", "create_engine"]


def create_engine(settings: object) -> Engine:
    """The engine the config names (imports Spark only when asked for)."""
    cfg = settings.engine  # type: ignore[attr-defined]
    if cfg.name == "spark":
        from c360.engine.spark import SparkEngine

        return SparkEngine.connect(cfg.spark_remote)
    from c360.engine.duckdb import DuckDBEngine

    return DuckDBEngine(threads=cfg.threads, memory_limit=cfg.memory_limit)
