"""Bulk text from Arrow string arrays without a Python object per row."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def joined_bytes(lines: pa.StringArray | pa.LargeStringArray, start: int = 0,
                 stop: int | None = None) -> memoryview:
    """Rows ``start:stop`` of a string array concatenated, as a read-only view of the array's
    data buffer between its offsets (rows should end in a newline).

    No copy and O(1) Python work for millions of rows: on this VM copying fresh memory runs at
    ~300 MB/s (page faults), so a copy of a 5 GB scale-M purchase log costs seconds.
    """
    stop = len(lines) if stop is None else stop
    if stop <= start:
        return memoryview(b"")
    width = np.int64 if pa.types.is_large_string(lines.type) else np.int32
    offsets = np.frombuffer(lines.buffers()[1], dtype=width)[lines.offset:lines.offset + len(lines) + 1]
    return memoryview(lines.buffers()[2].slice(int(offsets[start]), int(offsets[stop] - offsets[start])))
