"""Report exports: gold.daily_report and gold.monthly_report as partitioned Parquet and CSV files
for people and tools that read files, not Delta (``<analytics.export_dir>/<table>/<format>/``,
Hive-style partitions: daily by ``month=yyyy-mm``, monthly by ``year=yyyy``).

A partition is replaced whole on every run (``delete_matching``): re-runs give the same files,
and a month whose figures changed (late data) is rewritten."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from c360.lake.build import build_table
from c360.ops.audit import StageRecord

# table id -> (the date column, the partition column it derives, strftime format of the partition)
EXPORTS = {"gold.daily_report": ("date", "month", "%Y-%m"), "gold.monthly_report": ("month", "year", "%Y")}
FORMATS = ("parquet", "csv")


def export_dir(settings: Any) -> Path:
    """Where reports are exported (``analytics.export_dir``, default ``<home>/exports``)."""
    return Path(settings.analytics.export_dir) if settings.analytics.export_dir else Path(settings.home) / "exports"


def export_report(table: pa.Table, table_id: str, root: Path) -> dict[str, Any]:
    """Write ``table`` as partitioned Parquet and CSV under ``root/<name>/``; returns what was written."""
    date_col, part, fmt = EXPORTS[table_id]
    table = table.append_column(part, pc.strftime(table.column(date_col), format=fmt))
    name = table_id.split(".", 1)[1]
    for file_format in FORMATS:
        ds.write_dataset(table, root / name / file_format, format=file_format,
                         partitioning=ds.partitioning(pa.schema([(part, pa.string())]), flavor="hive"),
                         existing_data_behavior="delete_matching",
                         basename_template=f"{name}-{{i}}.{file_format}")
    return {"dir": str(root / name), "formats": list(FORMATS),
            "partitions": pc.count_distinct(table.column(part)).as_py(), "rows": table.num_rows}


def build_and_export(ctx: Any, table_id: str, rec: StageRecord) -> None:
    """Build a report table, then export what was written."""
    build_table(ctx, table_id, rec)
    rec.details["export"] = export_report(ctx.lake.read(table_id), table_id, export_dir(ctx.settings))
