"""Spark engine over Spark Connect: Databricks, a Spark cluster, or Sail (``pysail``) locally.

Models are transpiled from DuckDB SQL with sqlglot; Delta tables are read by Spark itself.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from c360.engine.base import Engine, LakeTableRef
from c360.errors import C360Error


class SparkEngine(Engine):
    dialect = "spark"

    def __init__(self, session: Any) -> None:
        self.spark = session
        # Timestamps compare across engines only in one zone.
        self.spark.conf.set("spark.sql.session.timeZone", "UTC")

    @classmethod
    def connect(cls, remote: str) -> SparkEngine:
        if not remote:
            raise C360Error("engine.name is spark but engine.spark_remote is empty", where="config",
                            fix="set engine.spark_remote to sc://HOST:PORT")
        try:
            from pyspark.sql import SparkSession
        except ImportError as e:
            raise C360Error("the Spark engine needs pyspark-client", fix="pip install 'c360[spark]'") from e
        return cls(SparkSession.builder.remote(remote).getOrCreate())

    def register(self, name: str, data: pa.Table | LakeTableRef) -> None:
        if isinstance(data, LakeTableRef):
            reader = self.spark.read.format("delta")
            for k, v in (data.storage_options or {}).items():
                reader = reader.option(k, v)
            df = reader.load(data.uri)
        else:
            df = self.spark.createDataFrame(data)
        df.createOrReplaceTempView(name)

    def _execute(self, sql: str) -> pa.Table:
        return self.spark.sql(sql).toArrow()

    def close(self) -> None:
        self.spark.stop()
