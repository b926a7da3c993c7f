"""The synthetic company generator: a seeded, deterministic retailer written into the real sources.

``build_world`` makes every record in memory (vectorised); the writers put them where a real
company keeps them: CRM tables (SQLite/MySQL), file drops (local/S3), an event stream (local
log/Kinesis/Kafka). The manifest counts every entity and every injected defect; the truth table
(``_truth/truth.parquet``) names the real person behind each record and is never ingested.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa

from c360.sources.crm import CrmDatabase
from c360.sources.generator.day import generate_day
from c360.sources.generator.world import Manifest, World, build_world
from c360.sources.generator.writers import (
    Step,
    put_stream,
    stream_records,
    write_crm,
    write_files,
    write_stream,
)
from c360.sources.objectstore import ObjectStore
from c360.sources.stream import EventStream

SCALES = {"XS": 2_000, "S": 10_000, "M": 1_000_000, "L": 5_000_000}
# Peak memory per customer of an in-memory chunk (measured: 15.0 GB for 1M at once, docs/benchmarks.md).
BYTES_PER_CUSTOMER = 15_500
CHUNK_CUSTOMERS = 250_000  # persons built at once: bounds memory to ~4 GB whatever the scale
MANIFEST_KEY = "_manifest.json"

__all__ = ["MANIFEST_KEY", "SCALES", "Manifest", "World", "build_world", "generate", "generate_day",
           "generate_from_settings",
           "manifest_json", "stream_records", "write_crm", "write_files", "write_stream", "write_world"]


def manifest_json(man: Manifest) -> str:
    return json.dumps(man.__dict__, indent=2, sort_keys=True)


def write_world(world: World, crm: CrmDatabase, store: ObjectStore, stream: EventStream, shards: int,
                step: Step = lambda s: None) -> None:
    """Write every source, then the manifest (last: its presence means the world is complete)."""
    write_crm(world, crm, step)
    write_files(world, store, step)
    write_stream(world, stream, shards, step)
    store.put(MANIFEST_KEY, manifest_json(world.manifest).encode())


def generate(n_customers: int, seed: int, crm: CrmDatabase, store: ObjectStore, stream: EventStream,
             shards: int = 2, start: str = "2024-01-01", days: int = 365, rates: Any = None,
             scale: str = "custom", step: Step = lambda s: None, chunk_customers: int = CHUNK_CUSTOMERS,
             workers: int = 2) -> Manifest:
    """Build the world and write it into the CRM, the object store and the stream.

    Worlds larger than ``chunk_customers`` are built and written chunk by chunk, so memory stays
    bounded by ``workers`` chunks (scale L fits). Up to ``workers`` chunks are built at once in
    threads, each writing its own part files; the CRM rows and stream records, whose order is
    part of the output, are written by this thread in chunk order, so the result is the same
    for any number of workers. The manifest is written last, for the whole world.
    """
    chunks = max(1, -(-n_customers // chunk_customers))
    workers = max(1, min(workers, chunks))
    threads = 1 if workers > 1 else None
    lock = threading.Lock()

    def say(s: str) -> None:
        with lock:
            step(s)

    def build(c: int) -> tuple[World, pa.Array, pa.Array]:
        lo = c * chunk_customers
        where = f" (chunk {c + 1} of {chunks})" if chunks > 1 else ""
        say(f"building the company in memory{where}")
        world = build_world(min(chunk_customers, n_customers - lo), seed, start, days, rates, scale, chunk=c,
                            person_offset=lo, total=n_customers)
        write_files(world, store, say, f"-part{c:03d}" if chunks > 1 else "", threads)
        keys, payloads = stream_records(world.events, world.poison_at, threads)
        return world, keys, payloads

    total = Manifest(seed=seed, scale=scale, start_date=start, days=days)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="c360-generate")
    try:
        pending = {c: pool.submit(build, c) for c in range(workers)}
        for c in range(chunks):
            world, keys, payloads = pending.pop(c).result()
            write_crm(world, crm, say, append=c > 0, last=c == chunks - 1)
            put_stream(stream, shards, keys, payloads, say)
            for bucket in ("counts", "defects"):
                for k, v in getattr(world.manifest, bucket).items():
                    total.add(bucket, k, v)
            total.files += world.manifest.files
            del world, keys, payloads  # free the chunk before building another
            if c + workers < chunks:
                pending[c + workers] = pool.submit(build, c + workers)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    store.put(MANIFEST_KEY, manifest_json(total).encode())
    return total


def _endpoints(settings: Any) -> tuple[CrmDatabase, ObjectStore, EventStream]:
    from c360.sources.objectstore import open_object_store
    from c360.sources.stream import open_stream

    pw = settings.crm.password.get_secret_value() if settings.crm.password else None
    return CrmDatabase(settings.crm_url, pw), open_object_store(settings), open_stream(settings)


def day_from_settings(settings: Any, day: str, step: Step = lambda s: None) -> dict[str, Any]:
    """Add one day to the company in the configured sources."""
    crm, store, stream = _endpoints(settings)
    return generate_day(day, crm, store, stream, settings.generator.mess, step)


def _check_memory(n_customers: int, scale: str) -> None:
    """Refuse a world that cannot fit in memory, before spending minutes on it (an OOM kill
    would lose the work and say nothing)."""
    import psutil

    from c360.errors import C360Error

    need = n_customers * BYTES_PER_CUSTOMER
    have = psutil.virtual_memory().available
    if need > 0.9 * have:
        raise C360Error(
            f"scale {scale} needs about {need / 2**30:.0f} GiB of memory; {have / 2**30:.0f} GiB is available",
            where="generator", fix="lower generator.chunk_customers or generator.workers (memory is bounded by "
            "workers x chunk)")


def generate_from_settings(settings: Any, scale: str | None = None, seed: int | None = None,
                           force: bool = False, step: Step = lambda s: None) -> Manifest:
    """Generate into the endpoints the settings name (embedded defaults under home if unset)."""
    from c360.errors import C360Error

    scale = scale or settings.generator.scale
    if scale not in SCALES:
        raise C360Error(f"unknown scale {scale!r}", fix=f"use one of {', '.join(SCALES)}")
    seed = settings.generator.seed if seed is None else seed
    g = settings.generator
    _check_memory(min(SCALES[scale], g_chunk(settings) * g.workers), scale)
    crm, store, stream = _endpoints(settings)
    if store.list(MANIFEST_KEY) and not force:
        raise C360Error("the sources already hold a generated company", where=store.url,
                        fix="use --force to replace it (the lake keeps what it ingested)")
    if force:  # a fresh stream: appending a second world would duplicate every event
        stream.delete()
    return generate(SCALES[scale], seed, crm, store, stream, shards=settings.stream.shards, start=g.start_date,
                    days=g.days, rates=g.mess, scale=scale, step=step, chunk_customers=g_chunk(settings),
                    workers=g.workers)


def g_chunk(settings: Any) -> int:
    return int(settings.generator.chunk_customers)
