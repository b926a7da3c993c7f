"""Benchmark the REST API's customer lookup at a fixed request rate and record its latency.

    .venv/bin/python bench/api_load.py --home /work/mhome/M [--serving-url URL] [--rate 200]
        [--seconds 30] [--warmup 5] [--connections 16] [--role support] [--record]

Starts ``c360 serve api`` in its own process over the home's serving database (``serving.url``,
or ``--serving-url``), then sends ``GET /api/v1/customers/{person_id}`` for random persons of
gold.customer_360, open loop: request *i* is due at ``t0 + i / rate`` whatever the earlier ones
did, and its latency is measured from that due time (so a stalled server is not hidden by a
waiting client — no coordinated omission). Keep-alive HTTP/1.1 connections, a small asyncio
client (a fraction of a core at 200 req/s). Prints and, with ``--record``, appends to
docs/benchmarks.md: rate achieved, p50/p90/p99/p99.9/max, errors, the server's CPU and RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"
sys.path.insert(0, str(REPO / "bench"))
from run import machine  # noqa: E402

MARK = "<!-- api-latency -->"
HEADER = ("| date | machine | scale | serving | role | req/s | s | lookups | errors | p50 ms | p90 ms | p99 ms | "
          "p99.9 ms | max ms | server CPU % | server RSS MB |\n"
          "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, key: str) -> int:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def _run(port: int, key: str, ids: list[str], rate: float, seconds: float, conns: int,
               ) -> tuple[list[float], int, int, float]:
    """(latencies in ms of the measured requests, errors, sent, wall seconds)."""
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(conns):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []
    errors = 0
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    n = int(rate * seconds)

    async def one(i: int, due: float) -> None:
        nonlocal errors
        r, w = await pool.get()
        try:
            status = await _request(r, w, f"/api/v1/customers/{ids[i % len(ids)]}", key)
        except (ConnectionError, asyncio.IncompleteReadError):
            errors += 1
            pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
            return
        pool.put_nowait((r, w))
        latencies.append((loop.time() - due) * 1000)
        if status != 200:
            errors += 1

    tasks = []
    for i in range(n):
        due = t0 + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    wall = loop.time() - t0
    while not pool.empty():
        _, w = pool.get_nowait()
        w.close()
    return latencies, errors, n, wall


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] if s else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--serving-url", default="")
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--role", default="support")
    ap.add_argument("--port", type=int, default=8377)
    ap.add_argument("--scale", default="M", help="Scale label for the record.")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()

    env = {**os.environ, "C360_HOME": args.home}
    if args.serving_url:
        env["C360_SERVING__URL"] = args.serving_url
    os.environ.update(env)
    from c360.config import load_settings
    from c360.lake.store import lake_from_settings
    from c360.serve.auth import dev_keys

    s = load_settings()
    key = dev_keys(s)[args.role]
    ids = lake_from_settings(s).read("gold.customer_360", ["person_id"]).column("person_id").to_pylist()
    random.seed(1)
    ids = random.sample(ids, min(len(ids), 50_000))
    server = subprocess.Popen([sys.executable, "-m", "c360", "serve", "api", "--port", str(args.port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                asyncio.run(_health(args.port))
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    why = server.stderr.read() if server.stderr else ""
                    raise SystemExit(f"the API did not start: {why}") from None
                time.sleep(0.2)
        proc = psutil.Process(server.pid)
        asyncio.run(_run(args.port, key, ids[::-1], args.rate, args.warmup, args.connections))
        cpu0 = proc.cpu_times()
        lat, errors, sent, wall = asyncio.run(_run(args.port, key, ids, args.rate, args.seconds, args.connections))
        cpu1 = proc.cpu_times()
        rss = proc.memory_info().rss / 2**20
    finally:
        server.terminate()
        server.wait(10)
    cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / wall * 100
    backend = "PostgreSQL" if (args.serving_url or s.serving_url).startswith("postgresql") else "DuckDB file"
    figures = {"p50": pct(lat, 50), "p90": pct(lat, 90), "p99": pct(lat, 99), "p99.9": pct(lat, 99.9),
               "max": max(lat) if lat else float("nan")}
    line = (f"{sent} lookups at {args.rate:.0f}/s for {args.seconds:.0f} s ({len(lat) / wall:.1f}/s done), "
            f"{errors} errors; ms: " + ", ".join(f"{k} {v:.1f}" for k, v in figures.items())
            + f"; server CPU {cpu:.0f} % of a core, RSS {rss:.0f} MB; {backend}, role {args.role}, "
              f"{args.connections} connections")
    print(line)
    if args.record:
        row = (f"| {date.today()} | {machine()} | {args.scale} | {backend} | {args.role} | {args.rate:.0f} | "
               f"{args.seconds:.0f} | {sent} | {errors} | " + " | ".join(f"{v:.1f}" for v in figures.values())
               + f" | {cpu:.0f} | {rss:.0f} |\n")
        text = DOC.read_text()
        if MARK not in text:
            text += (f"\n## API latency\n\nWritten by `bench/api_load.py` (see its docstring): customer lookups "
                     f"at a fixed rate, latency from each request's due time.\n\n{HEADER}{MARK}\n")
        DOC.write_text(text.replace(MARK, row + MARK))
        print(f"recorded in {DOC}")


async def _health(port: int) -> None:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    await w.drain()
    head = await r.readuntil(b"\r\n\r\n")
    w.close()
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise OSError("not ready")


if __name__ == "__main__":
    main()
