"""Event streams: an embedded append-only log (default), Kinesis, or Kafka, behind one interface.

A position is an opaque string per shard: a byte offset (local log), a sequence number (Kinesis)
or an offset (Kafka). Readers resume strictly *after* a position, so a checkpoint stored with the
rows it covers gives exactly-once ingestion.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from c360.errors import C360Error
from c360.sources.textbuf import joined_bytes


class EventStream(ABC):
    name: str

    @abstractmethod
    def create(self, shards: int) -> None:
        """Create the stream if missing."""

    @abstractmethod
    def delete(self) -> None:
        """Delete the stream and everything in it (the generator's --force)."""

    @abstractmethod
    def put(self, records: list[tuple[str, bytes]]) -> None:
        """Append (partition key, payload) records."""

    @abstractmethod
    def shards(self) -> list[str]: ...

    def shard_parents(self) -> dict[str, list[str]]:
        """Shard → the shards it was split or merged from (resharding), for those listed. A child
        is read only once its parents are drained, so a key's records stay in order. Streams
        that cannot reshard (the local log; Kafka only adds partitions) have none."""
        return {}

    def drained(self, shard: str, after: str | None) -> bool:
        """True when ``shard`` is closed (resharded) and holds nothing after ``after``."""
        return False

    def put_lines(self, keys: pa.Array, payloads: pa.Array, chunk: int = 5000) -> None:
        """Append records given as keys and newline-terminated payloads (bulk writers)."""
        for i in range(0, len(keys), chunk):
            ks, vs = keys.slice(i, chunk).to_pylist(), payloads.slice(i, chunk).to_pylist()
            self.put([(k, v[:-1].encode()) for k, v in zip(ks, vs, strict=True)])

    @abstractmethod
    def read(self, shard: str, after: str | None, limit: int) -> list[tuple[str, bytes]]:
        """Up to ``limit`` records after position ``after`` (None = from the start)."""

    def read_batch(self, shard: str, after: str | None, limit: int) -> tuple[pa.Array, pa.Array]:
        """``read`` as Arrow: (positions, payloads as text; bytes that are not UTF-8 replaced, so
        the record still fails validation visibly instead of being dropped)."""
        got = self.read(shard, after, limit)
        return (pa.array([p for p, _ in got], pa.string()),
                pa.array([d.decode("utf-8", "replace") for _, d in got], pa.string()))


def shard_of(keys: pa.Array | list[str], n: int) -> np.ndarray:
    """Shard index per partition key (DuckDB's 64-bit hash, vectorised; stable for a pinned DuckDB)."""
    arr = keys if isinstance(keys, pa.Array) else pa.array(keys, pa.string())
    if len(arr) == 0:
        return np.zeros(0, dtype=np.int64)
    con = duckdb.connect()
    try:
        con.register("k", pa.table({"k": arr}))
        out = con.sql(f"SELECT (hash(k) % {int(n)})::BIGINT AS s FROM k").arrow().read_all()
    finally:
        con.close()
    return out.column("s").to_numpy()


class LocalStreamLog(EventStream):
    """Shard files of newline-delimited payloads under one directory; position = byte offset."""

    def __init__(self, root: str, name: str = "events") -> None:
        self.dir = Path(root.removeprefix("file://")) / name
        self.name = name

    def create(self, shards: int) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        for i in range(shards):
            (self.dir / f"shard-{i:05d}.log").touch()

    def delete(self) -> None:
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)

    def shards(self) -> list[str]:
        return sorted(p.stem for p in self.dir.glob("shard-*.log")) if self.dir.exists() else []

    def put(self, records: list[tuple[str, bytes]]) -> None:
        shards = self.shards()
        if not shards:
            raise C360Error(f"stream {self.dir} has no shards", fix="create it first (c360 generate)")
        if any(b"\n" in p for _, p in records):
            raise ValueError("a local-log payload cannot contain a newline")
        idx = shard_of([k for k, _ in records], len(shards))
        for i, shard in enumerate(shards):
            chosen = [p + b"\n" for (_, p), s in zip(records, idx, strict=True) if s == i]
            if chosen:
                with open(self.dir / f"{shard}.log", "ab") as f:
                    f.write(b"".join(chosen))

    def put_lines(self, keys: pa.Array, payloads: pa.Array, chunk: int = 0) -> None:
        """Vectorised append: one take and one write per shard (no Python object per record)."""
        shards = self.shards()
        if not shards:
            raise C360Error(f"stream {self.dir} has no shards", fix="create it first (c360 generate)")
        idx = shard_of(keys, len(shards))
        for i, shard in enumerate(shards):
            rows = np.nonzero(idx == i)[0]
            if len(rows):
                with open(self.dir / f"{shard}.log", "ab") as f:
                    f.write(joined_bytes(payloads.take(pa.array(rows))))

    def read_batch(self, shard: str, after: str | None, limit: int,
                   chunk_bytes: int = 32 * 2**20) -> tuple[pa.Array, pa.Array]:
        """Vectorised read: the bytes of up to ``limit`` whole records, split in Arrow; positions
        (end offsets, as ``read`` gives them) from the newline offsets."""
        start = int(after or 0)
        with open(self.dir / f"{shard}.log", "rb") as f:
            f.seek(start)
            data = f.read(chunk_bytes)
            ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
            while len(ends) < limit:  # a bigger window until ``limit`` records fit
                more = f.read(chunk_bytes)
                if not more:
                    break
                data += more
                ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
        ends = ends[:limit]  # a last record still being written (no newline yet) is not read
        if not len(ends):
            return pa.array([], pa.string()), pa.array([], pa.string())
        body = pa.array([data[:int(ends[-1])]], pa.large_binary())
        lines = pc.list_flatten(pc.split_pattern(body, b"\n"))
        positions = pa.array(start + ends + 1, pa.int64()).cast(pa.string())
        try:
            text = lines.cast(pa.large_string()).cast(pa.string())
        except pa.ArrowInvalid:  # not UTF-8 somewhere: decode record by record, replacing
            text = pa.array([b.decode("utf-8", "replace") for b in lines.to_pylist()], pa.string())
        return positions, text

    def read(self, shard: str, after: str | None, limit: int) -> list[tuple[str, bytes]]:
        out: list[tuple[str, bytes]] = []
        with open(self.dir / f"{shard}.log", "rb") as f:
            f.seek(int(after or 0))
            while len(out) < limit:
                line = f.readline()
                if not line.endswith(b"\n"):  # nothing more, or a record still being written
                    break
                out.append((str(f.tell()), line[:-1]))
        return out


class _Guarded:
    """A boto3 client whose connection failures become one clear C360Error (API errors such as
    ResourceNotFoundException pass through for the caller to handle)."""

    def __init__(self, client: Any, where: str) -> None:
        self._client, self._where = client, where

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr) or name in ("get_waiter", "exceptions"):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            from botocore.exceptions import BotoCoreError

            try:
                return attr(*args, **kwargs)
            except BotoCoreError as e:
                raise C360Error(f"cannot reach Kinesis: {e}", where=self._where,
                                fix="check stream.endpoint_url/region/credentials or start kinesalite "
                                    "(scripts/services.sh up kinesalite)") from e

        return call


class KinesisStream(EventStream):
    """Amazon Kinesis Data Streams (or kinesalite)."""

    def __init__(self, name: str, boto_kwargs: dict[str, Any], max_attempts: int = 8) -> None:
        import boto3
        from botocore.config import Config

        self.name = name
        client = boto3.client("kinesis", config=Config(retries={"max_attempts": max_attempts, "mode": "standard"}),
                              **boto_kwargs)
        self.client = _Guarded(client, f"kinesis://{name}")
        self._closed: set[str] = set()  # shards closed by resharding, as of the last shard_parents()

    def create(self, shards: int) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.create_stream(StreamName=self.name, ShardCount=shards)
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceInUseException":
                raise
        self.client.get_waiter("stream_exists").wait(StreamName=self.name,
                                                     WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})

    def delete(self) -> None:
        """Delete the stream and wait until it is gone (the generator's --force)."""
        from botocore.exceptions import ClientError

        try:
            self.client.delete_stream(StreamName=self.name)
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            return
        self.client.get_waiter("stream_not_exists").wait(StreamName=self.name,
                                                         WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})

    def _list_shards(self) -> list[dict[str, Any]]:
        from botocore.exceptions import ClientError

        out, token = [], None
        while True:
            kw = {"NextToken": token} if token else {"StreamName": self.name}
            try:
                resp = self.client.list_shards(**kw)
            except ClientError as e:
                if e.response["Error"]["Code"] == "ResourceNotFoundException":
                    return []
                raise
            out += resp["Shards"]
            token = resp.get("NextToken")
            if not token:
                return sorted(out, key=lambda s: s["ShardId"])

    def shards(self) -> list[str]:
        # sorted ids: a child (split or merge) always has a higher id than its parents
        return [s["ShardId"] for s in self._list_shards()]

    def shard_parents(self) -> dict[str, list[str]]:
        listed = self._list_shards()
        self._closed = {s["ShardId"] for s in listed if s["SequenceNumberRange"].get("EndingSequenceNumber")}
        return {s["ShardId"]: [p for p in (s.get("ParentShardId"), s.get("AdjacentParentShardId")) if p]
                for s in listed if s.get("ParentShardId")}

    def _iterator(self, shard: str, after: str | None) -> str:
        """A shard iterator just after position ``after`` (None = the shard's oldest record)."""
        kw: dict[str, Any] = {"StreamName": self.name, "ShardId": shard}
        if after:
            kw.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=after)
        else:
            kw["ShardIteratorType"] = "TRIM_HORIZON"
        return self.client.get_shard_iterator(**kw)["ShardIterator"]

    def drained(self, shard: str, after: str | None) -> bool:
        if shard not in self._closed:
            return False  # open: more records may come
        it = self._iterator(shard, after)
        while it:  # a closed shard's reader ends (no next iterator) after its last record
            resp = self.client.get_records(ShardIterator=it, Limit=1)
            if resp["Records"]:
                return False
            it = resp.get("NextShardIterator")
        return True

    def put(self, records: list[tuple[str, bytes]]) -> None:
        for i in range(0, len(records), 500):  # the API's per-call maximum
            pending = [{"PartitionKey": k, "Data": d} for k, d in records[i:i + 500]]
            delay = 0.05
            for _ in range(10):
                resp = self.client.put_records(StreamName=self.name, Records=pending)
                if not resp.get("FailedRecordCount"):
                    break
                # Partial failure: resend only the failed records, in order, with backoff.
                pending = [r for r, res in zip(pending, resp["Records"], strict=True) if "ErrorCode" in res]
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
            else:
                raise C360Error(f"Kinesis put_records kept failing for {len(pending)} records",
                                where=f"kinesis://{self.name}", fix="check the stream's throughput")

    def read(self, shard: str, after: str | None, limit: int) -> list[tuple[str, bytes]]:
        it = self._iterator(shard, after)
        out: list[tuple[str, bytes]] = []
        while it and len(out) < limit:
            resp = self.client.get_records(ShardIterator=it, Limit=min(10_000, limit - len(out)))
            out += [(r["SequenceNumber"], r["Data"]) for r in resp["Records"]]
            it = resp.get("NextShardIterator")
            if not resp["Records"] and resp.get("MillisBehindLatest", 0) == 0:
                break
        return out


class KafkaStream(EventStream):
    """A Kafka topic (or any Kafka API such as Tansu); shards are partitions, positions offsets.

    Reads use ``assign`` with explicit offsets (no consumer-group rebalancing): the checkpoint in
    the lake, not a committed group offset, is the source of truth.
    """

    def __init__(self, topic: str, bootstrap_servers: str, poll_timeout_s: float = 1.0) -> None:
        try:
            import confluent_kafka  # noqa: F401
        except ImportError as e:
            raise C360Error("kafka:// streams need confluent-kafka", fix="pip install 'c360[kafka]'") from e
        self.name = topic
        self.conf = {"bootstrap.servers": bootstrap_servers}
        self.poll_timeout_s = poll_timeout_s

    def _admin(self) -> Any:
        from confluent_kafka.admin import AdminClient

        return AdminClient(self.conf)

    def create(self, shards: int) -> None:
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import NewTopic

        admin = self._admin()  # keep it alive until the futures resolve
        futures = admin.create_topics([NewTopic(self.name, num_partitions=shards, replication_factor=1)])
        try:
            futures[self.name].result(30)
        except KafkaException as e:
            if "TOPIC_ALREADY_EXISTS" not in str(e):
                raise C360Error(f"cannot create Kafka topic: {e}", where=f"kafka://{self.name}",
                                fix="check stream.bootstrap_servers (scripts/services.sh up tansu)") from e

    def delete(self) -> None:
        from confluent_kafka import KafkaException

        admin = self._admin()
        try:
            admin.delete_topics([self.name])[self.name].result(30)
        except KafkaException as e:
            if "UNKNOWN_TOPIC" not in str(e):
                raise

    def shards(self) -> list[str]:
        md = self._admin().list_topics(timeout=10)
        topic = md.topics.get(self.name)
        if topic is None or topic.error is not None:
            return []
        return [str(p) for p in sorted(topic.partitions)]

    def put(self, records: list[tuple[str, bytes]]) -> None:
        from confluent_kafka import Producer

        producer = Producer({**self.conf, "enable.idempotence": True, "linger.ms": 20})
        failed: list[str] = []

        def report(err: Any, msg: Any) -> None:  # delivery report: every record is confirmed or named
            if err is not None:
                failed.append(f"{msg.key()!r}: {err}")

        for key, payload in records:
            while True:
                try:
                    producer.produce(self.name, key=key.encode(), value=payload, on_delivery=report)
                    break
                except BufferError:  # local queue full: let deliveries drain, then retry
                    producer.poll(0.5)
            producer.poll(0)
        if producer.flush(60) or failed:
            raise C360Error(f"Kafka did not confirm {len(failed) or 'some'} record(s): {failed[:3]}",
                            where=f"kafka://{self.name}", fix="check the broker and re-run")

    def read(self, shard: str, after: str | None, limit: int) -> list[tuple[str, bytes]]:
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer({**self.conf, "group.id": f"c360-{self.name}", "enable.auto.commit": False,
                             "session.timeout.ms": 6000, "max.poll.interval.ms": 6000,
                             "auto.offset.reset": "earliest"})
        try:
            consumer.assign([TopicPartition(self.name, int(shard), int(after) + 1 if after else 0)])
            out: list[tuple[str, bytes]] = []
            while len(out) < limit:
                msgs = consumer.consume(min(1000, limit - len(out)), timeout=self.poll_timeout_s)
                if not msgs:  # caught up (the broker's high watermark is not trusted: Tansu's is wrong)
                    break
                for m in msgs:
                    if m.error() is None:
                        out.append((str(m.offset()), m.value() or b""))
            return out
        finally:
            consumer.close()


def open_stream(settings: Any) -> EventStream:
    url = settings.stream_url
    if url.startswith("kinesis://"):
        return KinesisStream(url.removeprefix("kinesis://"), settings.stream.boto_kwargs())
    if url.startswith("kafka://"):
        return KafkaStream(url.removeprefix("kafka://"), settings.stream.bootstrap_servers)
    return LocalStreamLog(url)
