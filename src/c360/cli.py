"""The ``c360`` command line (Typer + Rich)."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from c360 import __version__, catalog
from c360.config import STARTER_CONFIG, Settings, load_settings
from c360.errors import C360Error

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="c360: a Customer 360 lakehouse — sources → bronze → silver → gold.")
console = Console()
err_console = Console(stderr=True)


@dataclass
class _State:
    config: Path | None = None
    home: Path | None = None
    profile: str | None = None
    debug: bool = False


STATE = _State()


def settings() -> Settings:
    return load_settings(STATE.config, home=STATE.home, profile=STATE.profile)


@app.callback()
def _root(
    home: Annotated[Path | None, typer.Option(help="State directory (env C360_HOME; default ./c360_home).")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config (env C360_CONFIG).")] = None,
    profile: Annotated[str | None, typer.Option(help="dev or prod (env C360_PROFILE).")] = None,
    debug: Annotated[bool, typer.Option(help="Show full tracebacks.")] = False,
) -> None:
    STATE.home, STATE.config, STATE.profile = home, config, profile
    STATE.debug = debug or STATE.debug


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"c360 {__version__}")


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the config.")] = Path("c360.yaml"),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter config."""
    if path.exists() and not force:
        raise C360Error(f"{path} already exists", where=str(path), fix="use --force to overwrite it")
    path.write_text(STARTER_CONFIG)
    console.print(f"wrote {path} — edit it, or override any key with C360_<SECTION>__<KEY> env vars")


@app.command()
def generate(
    scale: Annotated[str | None, typer.Option(help="XS, S, M or L (default: generator.scale).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: generator.seed).")] = None,
    force: Annotated[bool, typer.Option(help="Replace a previously generated company.")] = False,
    day: Annotated[str | None, typer.Option(help="Add one day (YYYY-MM-DD) to the generated company.")] = None,
) -> None:
    """Generate a synthetic company into the configured sources (CRM, files, stream)."""
    from c360.sources.generator import day_from_settings, generate_from_settings

    s = settings()
    if day:
        with _spinner(f"generating day {day}") as step:
            entry = day_from_settings(s, day, step=step)
        _print_counts(f"day {day}", entry["counts"], entry["defects"])
        return
    with _spinner(f"generating scale {scale or s.generator.scale}") as step:
        man = generate_from_settings(s, scale, seed, force, step=step)
    _print_manifest(man)


def _print_manifest(man: Any) -> None:
    _print_counts(f"generated (scale {man.scale}, seed {man.seed})", man.counts, man.defects)


def _print_counts(title: str, counts: dict[str, int], defects: dict[str, int]) -> None:
    """What a generation wrote and which defects it injected, as one table."""
    t = Table(title=title)
    t.add_column("what")
    t.add_column("count", justify="right")
    for k, v in sorted(counts.items()):
        t.add_row(k, f"{v:,}")
    for k, v in sorted(defects.items()):
        t.add_row(f"[yellow]defect[/] {k}", f"{v:,}")
    console.print(t)


class _spinner:
    """A spinner whose line shows the current step: ``with _spinner("x") as step: step("y")``."""

    def __init__(self, text: str) -> None:
        self.p = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                          console=err_console, transient=True)
        self.text = text

    def __enter__(self) -> Any:
        self.p.start()
        task = self.p.add_task(self.text, total=None)
        return lambda step: self.p.update(task, description=f"{self.text}: {step}")

    def __exit__(self, *exc: object) -> None:
        self.p.stop()


def _run(s: Settings, layers: tuple[str, ...], command: str, **options: Any) -> Any:
    from c360.ops.pipeline import run_pipeline

    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                        console=err_console, transient=True)
    tasks: dict[str, Any] = {}

    def notify(stage: str, state: str) -> None:
        if state == "start":
            tasks[stage] = progress.add_task(stage, total=None)
        else:
            progress.update(tasks[stage], description=f"{stage} [{'green' if state == 'done' else 'red'}]{state}")
            progress.stop_task(tasks[stage])

    with progress:
        return run_pipeline(s, layers, command=command, progress=notify, **options)


@app.command()
def run(
    layer: Annotated[list[str] | None, typer.Option(help="Only these layers (bronze, silver, gold).")] = None,
    reprocess: Annotated[bool, typer.Option(help="Ingest every file again, even those already ingested "
                                                 "(a new batch each).")] = False,
    full_refresh: Annotated[bool, typer.Option(help="Re-read whole CRM tables, ignoring watermarks "
                                                    "(bronze upserts on the key).")] = False,
    select: Annotated[list[str] | None, typer.Option(help="Only these tables, e.g. bronze.payments "
                                                          "(repeatable; see `c360 tables`).")] = None,
) -> None:
    """Run the pipeline on whatever the configured sources hold."""
    s = settings()
    bad = [x for x in layer or [] if x not in ("bronze", "silver", "gold")]
    if bad:
        raise C360Error(f"unknown layer(s): {', '.join(bad)}", fix="use bronze, silver or gold")
    result = _run(s, tuple(layer or ("bronze", "silver", "gold")), "run", reprocess=reprocess,
                  full_refresh=full_refresh, select=select)
    _print_stages(result.run_id, [rec for rec, _, _ in result.stages], {r.stage: st for r, st, _ in result.stages})


def _print_stages(run_id: str, recs: list[Any], status: dict[str, str]) -> None:
    t = Table(title=f"run {run_id}")
    for col, j in (("stage", "left"), ("status", "left"), ("rows in", "right"), ("rows out", "right"),
                   ("quarantined", "right"), ("DQ", "right")):
        t.add_column(col, justify=j)  # type: ignore[arg-type]
    for r in recs:
        st = status.get(r.stage, "")
        colour = "green" if st == "SUCCESS" else "red"
        dq = "" if r.dq_score is None else f"{r.dq_score:.3f}"
        t.add_row(r.stage, f"[{colour}]{st}[/]", f"{r.rows_in:,}", f"{r.rows_out:,}", f"{r.rows_quarantined:,}", dq)
    console.print(t)


@app.command("ingest-stream")
def ingest_stream_cmd(
    follow: Annotated[bool, typer.Option("--follow/--available-now",
                                         help="Keep polling for new events (stop with Ctrl-C or SIGTERM), "
                                              "or drain what is there and stop.")] = False,
    trigger_interval: Annotated[float | None, typer.Option(help="Seconds between polls with --follow "
                                                                "(default: stream.trigger_interval_s).")] = None,
) -> None:
    """Ingest the event stream into bronze.events, exactly once (checkpoints commit with the rows)."""
    import signal
    import threading

    from c360.ops.pipeline import run_stream

    s = settings()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # finish the micro-batch in flight, then stop
        signal.signal(sig, lambda *_: stop.set())
    if follow:
        err_console.print(f"following {s.stream_url}; stop with Ctrl-C")
    result = run_stream(s, follow=follow, trigger_s=trigger_interval, stop=stop)
    _print_stages(result.run_id, [rec for rec, _, _ in result.stages], {r.stage: st for r, st, _ in result.stages})


@app.command()
def demo(
    scale: Annotated[str, typer.Option(help="XS (default, ~2k customers) or S (10k).")] = "XS",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
) -> None:
    """Generate a small company, run bronze → silver → gold, and print a summary report."""
    from c360.sources.generator import generate_from_settings
    from c360.sources.objectstore import open_object_store

    s = settings()
    t0 = time.perf_counter()
    if open_object_store(s).list("_manifest.json"):
        console.print(f"[dim]sources under {s.home} already hold a generated company; reusing it[/]")
    else:
        with _spinner(f"generating a company (scale {scale}, seed {seed})") as step:
            man = generate_from_settings(s, scale, seed, step=step)
        _print_manifest(man)
    result = _run(s, ("bronze", "silver", "gold"), "demo")
    _print_stages(result.run_id, [rec for rec, _, _ in result.stages], {r.stage: st for r, st, _ in result.stages})
    from c360.ops.report import print_summary

    print_summary(console, s)
    console.print(f"[bold green]demo finished in {time.perf_counter() - t0:.1f} s[/] — lake at {s.lake_root}")


@app.command()
def status(
    limit: Annotated[int, typer.Option(help="How many recent runs.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Recent runs and their stages, from the run audit."""
    from c360.lake.store import lake_from_settings
    from c360.ops.audit import recent_runs

    runs = recent_runs(lake_from_settings(settings()), limit)
    if as_json:
        sys.stdout.write(json.dumps(runs, default=str, indent=2) + "\n")
        return
    if not runs:
        console.print("no runs recorded yet — run `c360 demo` or `c360 run`")
        return
    for run in runs:
        colour = {"SUCCESS": "green", "FAILED": "red"}.get(run["status"], "yellow")
        console.print(f"[bold]{run['run_id']}[/] {run.get('command') or ''} [{colour}]{run['status']}[/]"
                      + (f" — {escape(run['error'])}" if run.get("error") else ""))
        t = Table(show_header=True, box=None, padding=(0, 2))
        for col in ("stage", "status", "in", "out", "quarantined", "DQ", "seconds", "reconciled", "error"):
            t.add_column(col)
        for st in run["stages"]:
            secs = ""
            if st["ended_at"] and st["started_at"]:
                secs = f"{(st['ended_at'] - st['started_at']).total_seconds():.2f}"
            dq = "" if st["dq_score"] is None else f"{st['dq_score']:.3f}"
            t.add_row(st["stage"], st["status"], str(st["rows_in"]), str(st["rows_out"]),
                      str(st["rows_quarantined"]), dq, secs, _reconciled(st), escape((st["error"] or "")[:80]))
        console.print(t)


def _reconciled(stage: dict[str, Any]) -> str:
    """'source = bronze + quarantine, N rows checksummed' from a bronze stage's audit details."""
    rec = json.loads(stage.get("details") or "{}").get("reconciliation")
    if not rec:
        return ""
    return (f"{rec['source']:,} = {rec['bronze']:,} + {rec['quarantine']:,}, "
            f"{rec.get('sample_rows_checked', 0):,} checksummed")


@app.command()
def dq(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The data-quality scorecard: per table its DQ score, dimensions, failing rules and threshold.
    Exits 1 when a table is below its threshold (quality.min_dq_score / quality.thresholds)."""
    from c360.lake.store import lake_from_settings
    from c360.quality.scorecard import scorecard

    s = settings()
    card = scorecard(lake_from_settings(s), s)
    if as_json:
        sys.stdout.write(json.dumps([c.as_dict() for c in card], default=str, indent=2) + "\n")
    else:
        t = Table(title="c360 data quality (dimensions: completeness, validity, uniqueness, consistency, "
                  "timeliness)")
        t.add_column("table", no_wrap=True)
        for col in ("status", "score", "min", "compl", "valid", "uniq", "consis", "timely"):
            t.add_column(col, justify="right")
        colour = {"PASS": "green", "FAILED": "red"}
        for c in card:
            t.add_row(c.table_id, f"[{colour.get(c.status, 'yellow')}]{c.status}[/]",
                      "-" if c.score is None else f"{c.score:.3f}", f"{c.threshold:g}",
                      *[f"{c.dimensions[d]:.3f}" if d in c.dimensions else "" for d in catalog.DIMENSIONS])
        Console(width=max(console.width, 110)).print(t)  # a scorecard is unreadable wrapped to 80 columns
        for c in card:
            if c.failing_rules:
                console.print(f"  {c.table_id}: " + escape(", ".join(f"{k} {v:,} rows"
                                                                      for k, v in c.failing_rules.items())))
            if c.error:
                console.print(f"  {c.table_id}: [red]{escape(c.error[:300])}[/]")
    if any(c.status == "FAILED" for c in card):
        raise typer.Exit(1)


@app.command()
def tables(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The table catalog: layer, keys, rows, Delta version, last update."""
    from c360.lake.store import lake_from_settings

    lake = lake_from_settings(settings())
    rows = []
    for spec in catalog.tables():
        if spec.built_by == "serve":
            continue  # served snapshots live in the serving database, not the lake
        info = lake.info(spec.id)
        updated = (datetime.fromtimestamp(info.last_update_ms / 1000, UTC).isoformat(timespec="seconds")
                   if info.last_update_ms else None)
        rows.append({"table": spec.id, "layer": spec.layer, "primary_key": list(spec.primary_key),
                     "rows": info.rows if info.exists else None, "version": info.version,
                     "last_update": updated, "pii_columns": len(spec.pii_columns()),
                     "expectations": len(spec.expectations), "uri": info.uri})
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    t = Table(title=f"c360 tables at {lake.root}")
    for col in ("table", "key", "rows", "version", "last update", "PII cols", "expectations"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["table"], ",".join(r["primary_key"]), "-" if r["rows"] is None else f"{r['rows']:,}",
                  "-" if r["version"] is None else str(r["version"]), r["last_update"] or "-",
                  str(r["pii_columns"]), str(r["expectations"]))
    console.print(t)


identity_app = typer.Typer(no_args_is_help=True, help="Identity resolution on any CSV or Parquet file.")
app.add_typer(identity_app, name="identity")


def _read_table(path: Path, where: str) -> Any:
    import pyarrow.parquet as pq

    if not path.exists():
        raise C360Error(f"no such file: {path}", where=where)
    if path.suffix.lower() in (".parquet", ".pq"):
        return pq.read_table(path)
    if path.suffix.lower() in (".csv", ".txt"):
        return _csv_as_text(path)
    raise C360Error(f"{path.name}: not a .csv or .parquet file", where=where)


def _csv_as_text(path: Path) -> Any:
    """A CSV with every column as text: ids and phone numbers keep their leading zeros."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    names = pcsv.read_csv(path, read_options=pcsv.ReadOptions(block_size=1 << 16)).column_names
    return pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(
        column_types={n: pa.string() for n in names}, strings_can_be_null=True))


def _write_table(table: Any, path: Path, where: str) -> None:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".parquet", ".pq"):
        pq.write_table(table, path)
    elif path.suffix.lower() == ".csv":
        pcsv.write_csv(table, path)
    else:
        raise C360Error(f"{path.name}: write .csv or .parquet", where=where)


@identity_app.command("resolve")
def identity_resolve(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="A CSV or Parquet file of records.")],
    id_column: Annotated[str, typer.Option("--id-column", help="The column that identifies a record.")],
    column: Annotated[list[str], typer.Option("--column", help="ROLE=SOURCE_COLUMN, repeatable. Roles: "
                                              "first_name, last_name, full_name, email, phone, dob, street_number, "
                                              "address, city, postcode, state, country.")],
    output: Annotated[Path, typer.Option("--output", help="Where to write id + cluster_id (.csv or .parquet).")],
    pairs: Annotated[Path | None, typer.Option("--pairs", help="Also write the scored pairs here.")] = None,
    threshold: Annotated[float, typer.Option(help="Match probability at or above which two records are one "
                                             "person.")] = 0.95,
    default_region: Annotated[str | None, typer.Option(help="Country (ISO 3166 alpha-2) for phone numbers "
                                                       "written without +country code.")] = None,
) -> None:
    """Cluster the records of INPUT into persons: deterministic rules, then Splink (trained without
    labels). Any subset of roles works."""
    from c360.identity import MatchSettings, resolve

    roles: dict[str, str] = {}
    for spec in column:
        role, sep, col = spec.partition("=")
        if not sep or not col:
            raise C360Error(f"--column {spec!r} is not ROLE=SOURCE_COLUMN", where="identity resolve")
        roles[role.strip()] = col.strip()
    data = _read_table(input_path, "identity resolve")
    if id_column in data.column_names and data.column(id_column).null_count:
        raise C360Error(f"{id_column} has {data.column(id_column).null_count} empty value(s)",
                        where="identity resolve", fix="every record needs an id")
    if id_column in data.column_names and len(set(data.column(id_column).to_pylist())) != data.num_rows:
        raise C360Error(f"{id_column} is not unique", where="identity resolve", fix="every record needs its own id")
    res = resolve(data, id_column, roles, MatchSettings(threshold=threshold), default_region=default_region)
    _write_table(res.clusters, output, "identity resolve")
    if pairs is not None:
        _write_table(res.pairs, pairs, "identity resolve")
    clusters = len(set(res.clusters.column("cluster_id").to_pylist()))
    err_console.print(f"{data.num_rows:,} records -> {clusters:,} persons; {res.pairs.num_rows:,} links; "
                      f"written to {output}")


@app.command()
def forget(
    person_id: Annotated[str, typer.Argument(metavar="PERSON_ID", help="A person_id (gold.customer_360).")],
    vacuum_now: Annotated[bool, typer.Option("--vacuum-now", help="Delete the superseded files at once (ends "
                                             "time travel on the tables touched) instead of after "
                                             "governance.erasure_retention_hours.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The audit details as JSON.")] = False,
) -> None:
    """Right to erasure: NULL every personal value of PERSON_ID in every layer (rows stay, with
    nobody's name on them), vacuum, and record the request in the run audit."""
    from c360.governance.erasure import forget as erase
    from c360.lake.store import lake_from_settings

    s = settings()
    if not yes and not typer.confirm(f"Erase every personal value of {person_id} from the lake?"):
        raise typer.Abort()
    details = erase(s, lake_from_settings(s), person_id, vacuum_now=vacuum_now)
    if as_json:
        sys.stdout.write(json.dumps(details, indent=2) + "\n")
        return
    t = Table(title=f"erased {person_id}")
    t.add_column("table")
    t.add_column("rows", justify="right")
    t.add_column("files vacuumed", justify="right")
    for table_id, n in details["tables"].items():
        t.add_row(table_id, f"{n:,}", str(details["vacuum"].get(table_id, 0)))
    console.print(t)
    when = "now" if vacuum_now else f"after {s.governance.erasure_retention_hours} h (run `c360 forget` again or " \
        "--vacuum-now)"
    console.print(f"superseded files holding the values are vacuumed {when}; the sources must erase too — "
                  f"source ids: {json.dumps(details['source_ids'])}")


serve_app = typer.Typer(no_args_is_help=True, help="The serving database BI tools and the API read.")
app.add_typer(serve_app, name="serve")


@serve_app.command("load")
def serve_load(
    table: Annotated[list[str] | None, typer.Option("--table", help="Only these gold tables (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Per-table counts as JSON.")] = False,
) -> None:
    """Copy gold into the serving database (serving.url: PostgreSQL, default a DuckDB file under
    home): bulk COPY into staging, merge on keys (only changed rows written), load_audit."""
    from c360.lake.store import lake_from_settings
    from c360.serve.load import load

    s = settings()
    with _spinner("loading") as step:
        run_id, loaded = load(s, lake_from_settings(s), table, progress=step)
    if as_json:
        sys.stdout.write(json.dumps({"run_id": run_id, "tables": [
            {"table": r.table, "rows": r.rows, "inserted": r.inserted, "updated": r.updated, "deleted": r.deleted,
             "seconds": round((r.finished_at - r.started_at).total_seconds(), 3)} for r in loaded]}, indent=2) + "\n")
        return
    t = Table(title=f"serve load {run_id} → {s.serving_url.split('@')[-1]}")
    for col in ("table", "rows", "inserted", "updated", "deleted", "s"):
        t.add_column(col, justify="left" if col == "table" else "right")
    for r in loaded:
        t.add_row(r.table, f"{r.rows:,}", f"{r.inserted:,}", f"{r.updated:,}", f"{r.deleted:,}",
                  f"{(r.finished_at - r.started_at).total_seconds():.1f}")
    console.print(t)


@serve_app.command("api")
def serve_api(
    host: Annotated[str | None, typer.Option(help="Listen address (default serving.api_host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default serving.api_port).")] = None,
) -> None:
    """Start the REST API and the dashboard over the serving database (run `c360 serve load`
    first). Each request acts as the role of its API key or bearer token."""
    import logging

    import uvicorn

    from c360.serve.api import create_app
    from c360.serve.auth import configured_keys

    s = settings()
    app_ = create_app(s)
    h, p = host or s.serving.api_host, port or s.serving.api_port
    console.print(f"c360 API on http://{h}:{p}/api/v1 (dashboard http://{h}:{p}/) over "
                  f"{s.serving_url.split('@')[-1]}")
    if s.profile != "prod" and not s.serving.api_keys:
        console.print(f"dev API keys: `c360 serve keys` ({len(configured_keys(s))} roles)")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(app_, host=h, port=p, log_level="warning", access_log=False)


@serve_app.command("openapi")
def serve_openapi() -> None:
    """Print the API's OpenAPI spec (JSON; docs/openapi.json is this output)."""
    from c360.serve.api import create_app
    from c360.serve.reader import Reader

    # the spec needs the routes only: a bare Reader (never queried) instead of a database
    spec = create_app(settings(), reader=Reader()).openapi()
    sys.stdout.write(json.dumps(spec, indent=2, sort_keys=True) + "\n")


@serve_app.command("keys")
def serve_keys() -> None:
    """The dev API key of each role (dev only; in prod keys come from C360_SERVING__API_KEYS)."""
    from c360.serve.auth import dev_keys

    s = settings()
    if s.profile == "prod":
        raise C360Error("dev keys exist only in profile dev", where="serve keys",
                        fix="set C360_SERVING__API_KEYS='role=key,…'")
    for role, key in dev_keys(s).items():
        sys.stdout.write(f"{role}\t{key}\n")


@serve_app.command("token")
def serve_token(
    role: Annotated[str, typer.Option(help="The c360 role the token acts as.")],
    ttl: Annotated[int, typer.Option(help="Seconds until it expires.", min=60, max=31_536_000)] = 3600,
    subject: Annotated[str, typer.Option(help="Who it is for (shown in the API's log).")] = "c360-cli",
) -> None:
    """Print a bearer token (JWT, HS256 with serving.token_secret) acting as ROLE."""
    from c360.serve.auth import mint_token

    sys.stdout.write(mint_token(settings(), role, ttl, subject) + "\n")


governance_app = typer.Typer(no_args_is_help=True, help="Roles, masking policies and access-controlled views.")
app.add_typer(governance_app, name="governance")


@governance_app.command("roles")
def governance_roles() -> None:
    """Each role's rule per PII classification, its row filter and the gold tables it can read."""
    from c360.governance.policy import role_views

    s = settings()
    t = Table(title="roles (governance.roles)")
    for col in ("role", "pii.direct", "pii.quasi", "sensitive", "row filter", "gold tables"):
        t.add_column(col)
    for name, r in sorted(s.governance.roles.items()):
        f = r.row_filter
        t.add_row(name, *(r.rules.get(c, "hidden") for c in ("pii.direct", "pii.quasi", "sensitive")),
                  f"{f.column} in {', '.join(f.values)}" if f else "-", str(len(role_views(s, name))))
    console.print(t)


@governance_app.command("export")
def governance_export(
    out: Annotated[Path | None, typer.Option(help="Directory of the SQL files (default <home>/governance).")] = None,
) -> None:
    """Write every role's views as SQL: DuckDB, Spark/Databricks, and Unity Catalog grants."""
    from c360.governance.export import export

    s = settings()
    for p in export(s, out or s.home / "governance"):
        console.print(f"wrote {p}")


pii_app = typer.Typer(no_args_is_help=True, help="Personal data the catalog does not tag yet.")
app.add_typer(pii_app, name="pii")


@pii_app.command("scan")
def pii_scan(
    layer: Annotated[list[str] | None, typer.Option("--layer", help="bronze, silver, gold, ops (repeatable; "
                                                    "default bronze and silver).")] = None,
    min_share: Annotated[float, typer.Option(help="Flag a column when this share of its sampled values "
                                             "match a detector.", min=0.01, max=1.0)] = 0.2,
    rows: Annotated[int, typer.Option(help="Values sampled per table.", min=10)] = 2000,
    show_all: Annotated[bool, typer.Option("--all", help="Also list columns already tagged.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Every finding as JSON.")] = False,
) -> None:
    """Sample lake columns for emails, phones, card numbers, IBANs and names; exits 1 when one
    the catalog tags public (or not at all) looks personal. Values are never printed."""
    from c360.governance.scanner import scan
    from c360.lake.store import lake_from_settings

    layers = tuple(layer or ("bronze", "silver"))
    bad = [x for x in layers if x not in ("bronze", "silver", "gold", "ops")]
    if bad:
        raise C360Error(f"--layer {bad[0]!r}: use bronze, silver, gold or ops", where="pii scan")
    with _spinner("scanning") as step:
        findings = scan(lake_from_settings(settings()), layers, min_share, rows, progress=step)
    untagged = [f for f in findings if not f.ok]
    if as_json:
        sys.stdout.write(json.dumps([f.as_dict() for f in findings], indent=2) + "\n")
    else:
        t = Table(title=f"PII scan of {', '.join(layers)}")
        for col in ("table", "column", "detector", "matched / sampled", "catalog tag"):
            t.add_column(col)
        for f in findings if show_all else untagged:
            t.add_row(f.table, f.column, f.detector, f"{f.matched:,} / {f.sampled:,} ({f.share:.0%})",
                      f.tagged if f.ok else f"[red]{f.tagged}[/]")
        console.print(t)
        console.print(f"{len(untagged)} untagged finding(s); {len(findings) - len(untagged)} on tagged columns"
                      + ("" if untagged else " — nothing to tag"))
    if untagged:
        raise typer.Exit(1)


clv_app = typer.Typer(no_args_is_help=True, help="Predictive customer lifetime value (BG/NBD + Gamma-Gamma).")
app.add_typer(clv_app, name="clv")


@clv_app.command("fit")
def clv_fit(
    transactions: Annotated[Path, typer.Argument(metavar="TRANSACTIONS", help="A CSV or Parquet file.")],
    customer_column: Annotated[str, typer.Option("--customer-column")],
    date_column: Annotated[str, typer.Option("--date-column")],
    amount_column: Annotated[str, typer.Option("--amount-column")],
    calibration_end: Annotated[str | None, typer.Option(help="Fit on purchases up to this date (YYYY-MM-DD); "
                                                        "default: the last date.")] = None,
    time_unit: Annotated[str, typer.Option(help="day or week.")] = "week",
    output: Annotated[Path | None, typer.Option(help="Per-customer predictions (.csv or .parquet).")] = None,
) -> None:
    """Fit BG/NBD and Gamma-Gamma by maximum likelihood; print the parameters as one JSON object."""
    from c360.analytics.clv import UNITS, fit_transactions

    if time_unit not in UNITS:
        raise C360Error(f"--time-unit {time_unit!r}: use day or week", where="clv fit")
    data = _read_table(transactions, "clv fit")
    missing = [c for c in (customer_column, date_column, amount_column) if c not in data.column_names]
    if missing:
        raise C360Error(f"column(s) not in {transactions.name}: {', '.join(missing)}", where="clv fit",
                        fix=f"it has: {', '.join(data.column_names)}")
    result, predictions = fit_transactions(data, customer_column, date_column, amount_column, calibration_end,
                                           time_unit)
    sys.stdout.write(json.dumps(result) + "\n")
    if output is not None:
        _write_table(predictions, output, "clv fit")


@app.command()
def ask(
    question: Annotated[str | None, typer.Argument(help="A question's name; none: list them.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    output: Annotated[Path | None, typer.Option(help="Write the answer to a .csv or .parquet file.")] = None,
) -> None:
    """The classic questions on the gold tables (top customers, best sellers, revenue trend, AOV by
    country): documented SQL files under c360/analytics/questions/."""
    from c360.analytics.questions import ask as run_question
    from c360.analytics.questions import questions
    from c360.lake.store import lake_from_settings

    if question is None:
        known = questions()
        if as_json:
            sys.stdout.write(json.dumps([{"name": q.name, "title": q.title, "description": q.description,
                                          "tables": q.tables()} for q in known.values()], indent=2) + "\n")
            return
        for q in known.values():
            console.print(f"[bold]{q.name}[/]: {escape(q.title)} [dim]{escape(q.description)}[/]")
        return
    answer = run_question(lake_from_settings(settings()), question)
    if output is not None:
        _write_table(answer, output, "ask")
    if as_json:
        sys.stdout.write(json.dumps(answer.to_pylist(), default=str, indent=2) + "\n")
        return
    _print_rows(question, answer)


def _print_rows(title: str, rows: Any, limit: int | None = None) -> None:
    """An Arrow table as a Rich table (the first ``limit`` rows, saying how many were left out)."""
    t = Table(title=title)
    for col in rows.column_names:
        t.add_column(col)
    shown = rows if limit is None else rows.slice(0, limit)
    for row in shown.to_pylist():
        t.add_row(*[escape("-" if v is None else f"{v:,.2f}" if isinstance(v, float) else str(v))
                    for v in row.values()])
    console.print(t)
    if shown.num_rows < rows.num_rows:
        err_console.print(f"{rows.num_rows - shown.num_rows:,} more row(s): use --output or --json for all")


@app.command()
def query(
    sql: Annotated[str, typer.Argument(metavar="SQL", help="One SELECT over gold table names (customer_360, "
                                       "gold.fact_sales, …).")],
    role: Annotated[str, typer.Option("--role", help="The role whose views the query reads "
                                      "(governance.roles).")],
    as_json: Annotated[bool, typer.Option("--json", help="Every row as JSON.")] = False,
    output: Annotated[Path | None, typer.Option(help="Write the result to a .csv or .parquet file.")] = None,
    limit: Annotated[int, typer.Option(help="Rows shown in the terminal table.")] = 50,
) -> None:
    """Run SQL as a role: it reads that role's masked, filtered views of the gold tables and can
    reach nothing else."""
    from c360.governance.query import query_as_role
    from c360.lake.store import lake_from_settings

    s = settings()
    result = query_as_role(s, lake_from_settings(s), role, sql)
    if output is not None:
        _write_table(result, output, "query")
    if as_json:
        sys.stdout.write(json.dumps(result.to_pylist(), default=str, indent=2) + "\n")
        return
    _print_rows(f"as {role}", result, limit)


def main() -> None:
    """Entry point: one clear line for user errors; tracebacks only with --debug."""
    STATE.debug = "--debug" in sys.argv or os.environ.get("C360_DEBUG") == "1"
    try:
        rv = app(standalone_mode=False)
    except C360Error as e:
        if STATE.debug:
            raise
        err_console.print(f"[bold red]error:[/] {escape(e.line())}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.TyperException as e:  # usage errors: Typer prints them with a hint
        show = getattr(e, "show", None)
        show() if show else err_console.print(f"error: {e.format_message()}")
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        sys.exit(130)
    except Exception as e:
        if STATE.debug:
            raise
        err_console.print(f"[bold red]error:[/] unexpected {type(e).__name__}: {escape(str(e))} (re-run with --debug "
                          "for the traceback)", highlight=False, soft_wrap=True)
        sys.exit(2)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()
