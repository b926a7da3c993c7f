"""Spark engine over Spark Connect: Databricks, a Spark cluster, or Sail (``pysail``) locally.

Models are transpiled from DuckDB SQL with sqlglot; Delta tables are read by Spark itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd  # the spark extra installs it; UDF type hints resolve against module globals
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
        elif data.num_rows == 0:  # Spark Connect cannot infer a schema from no rows: give it one
            from pyspark.sql.pandas.types import from_arrow_schema

            df = self.spark.createDataFrame([], schema=from_arrow_schema(data.schema))
        else:
            df = self.spark.createDataFrame(data)
        df.createOrReplaceTempView(name)

    def register_function(self, name: str, fn: Callable[..., pa.Array], arity: int, returns: str) -> None:
        from pyspark.sql.functions import pandas_udf

        spark_type = {"string": "string", "bool": "boolean", "int64": "bigint", "float64": "double"}

        def call(*cols: pd.Series) -> pd.Series:
            arrays = [pa.array(c.astype(object).where(c.notna(), None), pa.string()) for c in cols]
            return fn(*arrays).to_pandas()

        # pandas_udf infers its kind from the signature's type hints, and takes no *args
        def one(a: pd.Series) -> pd.Series:
            return call(a)

        def two(a: pd.Series, b: pd.Series) -> pd.Series:
            return call(a, b)

        batch = {1: one, 2: two}[arity]
        self.spark.udf.register(name, pandas_udf(batch, spark_type[returns]))  # type: ignore[call-overload]

    def register_query(self, name: str, sql: str) -> None:
        self.spark.sql(f"CREATE OR REPLACE TEMP VIEW `{name}` AS {self.translate(sql)}")

    def _execute(self, sql: str) -> pa.Table:
        return self.spark.sql(sql).toArrow()

    def close(self) -> None:
        self.spark.stop()
