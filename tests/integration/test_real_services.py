"""The thin path against the real services: CRM in MariaDB, file drops and the lake on SeaweedFS
(S3 API), events on kinesalite (Kinesis API). Gold must equal the embedded-defaults run of the
same generated company."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from c360 import catalog
from c360.config import Settings, load_settings
from c360.errors import C360Error
from c360.lake.store import lake_from_settings
from c360.ops.audit import recent_runs
from c360.ops.pipeline import run_pipeline
from c360.sources.generator import World
from c360.sources.stream import KinesisStream
from tests.conftest import S3_KEY, S3_SECRET
from tests.integration.conftest import write_world

pytestmark = pytest.mark.services


def drop_bucket(endpoint: str, bucket: str) -> None:
    """Delete a test bucket and its objects: SeaweedFS gives each bucket its own volumes, and a
    local server runs out of writable volumes if test buckets pile up."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=S3_KEY, aws_secret_access_key=S3_SECRET,
                      region_name="us-east-1")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        for i in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[i:i + 1000]})
    s3.delete_bucket(Bucket=bucket)


@pytest.fixture
def real(tmp_path: Path, services: dict[str, int], world: World,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    tag = uuid.uuid4().hex[:8]
    s3 = f"http://127.0.0.1:{services['seaweedfs']}"
    env = {
        "C360_CRM__URL": f"mysql+pymysql://root@127.0.0.1:{services['mariadb']}/c360_it_{tag}",
        "C360_OBJECT_STORE__URL": f"s3://c360-it-{tag}/files",
        "C360_OBJECT_STORE__ENDPOINT_URL": s3,
        "C360_OBJECT_STORE__ACCESS_KEY_ID": S3_KEY, "C360_OBJECT_STORE__SECRET_ACCESS_KEY": S3_SECRET,
        "C360_LAKE__ROOT": f"s3://c360-it-{tag}/lake",
        "C360_LAKE__ENDPOINT_URL": s3,
        "C360_LAKE__ACCESS_KEY_ID": S3_KEY, "C360_LAKE__SECRET_ACCESS_KEY": S3_SECRET,
        "C360_STREAM__URL": f"kinesis://c360-it-{tag}",
        "C360_STREAM__ENDPOINT_URL": f"http://127.0.0.1:{services['kinesalite']}",
        # kinesalite accepts any credentials; boto3 still needs some
        "C360_STREAM__ACCESS_KEY_ID": "local", "C360_STREAM__SECRET_ACCESS_KEY": "local",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(tmp_path)
    s = load_settings(home=tmp_path / "home")
    write_world(s, world)
    yield s
    KinesisStream(f"c360-it-{tag}", s.stream.boto_kwargs()).delete()
    drop_bucket(s3, f"c360-it-{tag}")
    with sa.create_engine(f"mysql+pymysql://root@127.0.0.1:{services['mariadb']}/").connect() as c:
        c.execute(sa.text(f"DROP DATABASE IF EXISTS c360_it_{tag}"))


def test_thin_path_on_real_services_equals_embedded(real: Settings, world: World, tmp_path: Path) -> None:
    run_pipeline(real)
    lake = lake_from_settings(real)
    assert lake.root.startswith("s3://")
    gold = lake.read("gold.customer_360").sort_by("person_id")

    local = load_settings(home=tmp_path / "embedded", crm={"url": ""}, object_store={"url": ""},
                          stream={"url": ""}, lake={"root": ""})
    write_world(local, world)
    run_pipeline(local)
    assert gold.equals(lake_from_settings(local).read("gold.customer_360").sort_by("person_id"))

    # exactly once: a second run over the same sources changes nothing
    before = {t: lake.count(t) for t in ("bronze.crm_customers", "bronze.purchases", "bronze.events",
                                         "ops.quarantine")}
    run_pipeline(real)
    assert {t: lake.count(t) for t in before} == before
    assert recent_runs(lake, 1)[0]["status"] == "SUCCESS"


def test_unreachable_crm_is_one_clear_line(real: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_CRM__URL", "mysql+pymysql://root@127.0.0.1:1/nowhere")
    s = load_settings(home=real.home)
    with pytest.raises(C360Error) as e:
        run_pipeline(s, ["bronze"])
    msg = e.value.line()
    assert "CRM database error" in msg and "127.0.0.1:1" in msg and "services.sh up mariadb" in msg
    stages = recent_runs(lake_from_settings(s), 1)[0]["stages"]
    failed = {st["stage"] for st in stages if st["status"] == "FAILED"}
    assert failed == {t for t in catalog.CATALOG if t.startswith("bronze.crm_")}
    assert msg.count("CRM database error") == 1  # the same cause is reported once, naming every stage


def test_wrong_s3_credentials_are_rejected(real: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_OBJECT_STORE__SECRET_ACCESS_KEY", "wrong")
    s = load_settings(home=real.home)
    with pytest.raises(C360Error, match="object store"):
        run_pipeline(s, ["bronze"])


def test_kafka_stream_on_tansu_exactly_once(tmp_path: Path, services: dict[str, int], world: World,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from c360.sources.stream import KafkaStream

    topic = f"c360-it-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("C360_STREAM__URL", f"kafka://{topic}")
    monkeypatch.setenv("C360_STREAM__BOOTSTRAP_SERVERS", f"127.0.0.1:{services['tansu']}")
    monkeypatch.setenv("C360_STREAM__BATCH_RECORDS", "300")  # several micro-batches
    monkeypatch.chdir(tmp_path)
    s = load_settings(home=tmp_path / "home")
    write_world(s, world)
    try:
        run_pipeline(s, ["bronze"])
        lake = lake_from_settings(s)
        man = world.manifest
        assert lake.count("bronze.events") == man.counts["events"] + man.defects["events_duplicate"]
        poison = [r for r in lake.read("ops.quarantine").to_pylist() if r["table_id"] == "bronze.events"]
        assert len(poison) == man.defects["events_poison"] and all(r["rule"] == "json_parse" for r in poison)
        assert all(r["locator"].startswith(f"{topic}/") for r in poison)
        run_pipeline(s, ["bronze"])  # nothing new: nothing twice
        assert lake.count("bronze.events") == man.counts["events"] + man.defects["events_duplicate"]
    finally:
        KafkaStream(topic, f"127.0.0.1:{services['tansu']}").delete()


def test_kinesis_resharding_reads_children_after_parents(tmp_path: Path, services: dict[str, int],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A shard split mid-stream: the parent's records, then the children's, each exactly once,
    and no child record lands before the last of its parent (a key's records stay in order)."""
    import json
    import time

    from c360.ops.pipeline import run_stream

    name = f"c360-it-reshard-{uuid.uuid4().hex[:8]}"
    env = {"C360_STREAM__URL": f"kinesis://{name}",
           "C360_STREAM__ENDPOINT_URL": f"http://127.0.0.1:{services['kinesalite']}",
           "C360_STREAM__ACCESS_KEY_ID": "local", "C360_STREAM__SECRET_ACCESS_KEY": "local",
           "C360_STREAM__BATCH_RECORDS": "4"}  # the parent takes several micro-batches
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(tmp_path)
    s = load_settings(home=tmp_path / "home")
    stream = KinesisStream(name, s.stream.boto_kwargs())
    stream.create(1)

    def events(start: int, n: int) -> list[tuple[str, bytes]]:
        return [(f"k{i % 5}", json.dumps({"event_id": f"E{i:03d}", "event_type": "page_view",
                                          "event_ts": "2025-01-01 10:00:00"}).encode())
                for i in range(start, start + n)]

    try:
        stream.put(events(0, 6))
        run_stream(s)  # the parent's first records land before the split
        stream.put(events(6, 10))  # not ingested yet when the shard splits
        parent = stream.shards()[0]
        stream.client.split_shard(StreamName=name, ShardToSplit=parent, NewStartingHashKey=str(2 ** 127))
        for _ in range(100):
            if stream.client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
                    "StreamStatus"] == "ACTIVE":
                break
            time.sleep(0.1)
        stream.put(events(16, 10))  # into the children
        assert len(stream.shards()) == 3
        run_stream(s)
        lake = lake_from_settings(s)
        rows = lake.read("bronze.events", ["event_id", "_shard", "_ingested_at"]).to_pylist()
        assert sorted(r["event_id"] for r in rows) == [f"E{i:03d}" for i in range(26)]  # each once
        from_parent = [r["_ingested_at"] for r in rows if r["_shard"] == parent]
        from_children = [r["_ingested_at"] for r in rows if r["_shard"] != parent]
        assert len(from_parent) == 16 and len(from_children) == 10
        assert max(from_parent) <= min(from_children)
        run_stream(s)  # nothing new: nothing twice
        assert lake.count("bronze.events") == 26
    finally:
        stream.delete()


def test_writers_land_everything_in_the_real_services(real: Settings, world: World) -> None:
    """What the generator wrote to MariaDB, SeaweedFS and kinesalite is what its manifest says."""
    from c360.sources.crm import CrmDatabase
    from c360.sources.objectstore import open_object_store
    from c360.sources.stream import open_stream

    man = world.manifest
    crm = CrmDatabase(real.crm_url)
    assert crm.url.drivername == "mysql+pymysql"
    assert crm.count("customers") == man.counts["crm_customers"]
    for table in ("products", "stores", "salespeople", "returns", "support_tickets", "support_emails"):
        assert crm.count(table) == man.counts[table], table
    store = open_object_store(real)
    keys = {o.key for o in store.list("")}
    assert set(man.files) <= keys and "_manifest.json" in keys and "_truth/truth.parquet" in keys
    stream = open_stream(real)
    assert len(stream.shards()) == real.stream.shards
    total = sum(len(stream.read(s, None, 1_000_000)) for s in stream.shards())
    assert total == man.counts["stream_records"]


def _versions(lake: object, table_id: str) -> int:
    dt = lake.table(table_id)  # type: ignore[attr-defined]
    return -1 if dt is None else int(dt.version())


@pytest.mark.parametrize("table_id, commits", [
    ("bronze.crm_customers", 2),  # CRM: mid keyset extract
    ("bronze.payments", 2),       # files: between file micro-batches
    ("bronze.events", 2),         # stream: between checkpointed micro-batches
])
def test_sigkill_mid_ingest_resumes_exactly(real: Settings, world: World, table_id: str, commits: int) -> None:
    """`kill -9` the bronze run once ``table_id`` has committed part of its input; the next run
    finishes it: every source record lands exactly once in bronze or quarantine."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "C360_CRM__BATCH_ROWS": "150", "C360_STREAM__BATCH_RECORDS": "300",
           "C360_OBJECT_STORE__BATCH_FILES": "40"}
    lake = lake_from_settings(real)
    proc = subprocess.Popen([sys.executable, "-m", "c360", "--home", str(real.home), "run", "--layer", "bronze"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while _versions(lake, table_id) < commits - 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed mid-ingest"
    killed_at = _versions(lake, table_id)
    assert killed_at >= commits - 1

    resumed = run_pipeline(real, ["bronze"])
    man = world.manifest
    q = lake.read("ops.quarantine").to_pylist()

    def quarantined(t: str) -> int:
        return sum(1 for r in q if r["table_id"] == t)

    assert lake.count("bronze.crm_customers") == man.counts["crm_customers"]
    assert lake.count("bronze.payments") == man.counts["payments"] and quarantined("bronze.payments") == 0
    assert lake.count("bronze.purchases") + quarantined("bronze.purchases") == (
        man.counts["order_lines"] + man.defects["purchases_malformed_json_line"])
    assert lake.count("bronze.events") == man.counts["events"] + man.defects["events_duplicate"]
    assert quarantined("bronze.events") == man.defects["events_poison"]
    # no record twice: keys are unique where the source's are
    for t, key in (("bronze.crm_customers", "customer_id"), ("bronze.payments", "payment_id")):
        n = lake.sql(f"SELECT count(*) - count(DISTINCT {key}) AS d FROM {t.replace('.', '_')}", t)["d"][0]
        assert n.as_py() == 0, t
    runs = recent_runs(lake, 2)
    # newest first: the resumed run succeeded; the killed one was closed as ABANDONED by it
    assert (runs[0]["run_id"], runs[0]["status"]) == (resumed.run_id, "SUCCESS")
    assert runs[1]["status"] == "ABANDONED" and "killed or crashed" in runs[1]["error"]
