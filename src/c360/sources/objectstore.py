"""File drops: a local directory or an S3 bucket/prefix, behind one small interface."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from c360.errors import C360Error


@dataclass(frozen=True)
class ObjectInfo:
    key: str  # relative to the store's root
    size: int
    etag: str


class ObjectStore(ABC):
    url: str

    @abstractmethod
    def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Objects under ``prefix``, sorted by key."""

    @abstractmethod
    def get(self, key: str) -> bytes: ...

    def local_path(self, key: str) -> str | None:
        """A filesystem path to the object when the store is local (readers can then open it
        themselves), else None."""
        return None

    @abstractmethod
    def put(self, key: str, data: bytes | memoryview) -> None: ...

    def copy(self, src: str, dst: str) -> None:
        self.put(dst, self.get(src))


class LocalObjectStore(ObjectStore):
    def __init__(self, root: str) -> None:
        self.root = Path(root.removeprefix("file://"))
        self.url = str(self.root)

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        # S3 semantics: ``prefix`` is a string prefix of the key, not necessarily a folder.
        base = self.root / prefix if not prefix or prefix.endswith("/") else (self.root / prefix).parent
        if not base.is_dir():
            return []
        out = []
        for p in sorted(base.rglob("*")):
            key = p.relative_to(self.root).as_posix()
            if p.is_file() and not p.name.startswith(".") and key.startswith(prefix):
                st = p.stat()
                # size + mtime stand in for an ETag: a rewritten file is a new object.
                etag = hashlib.md5(f"{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()
                out.append(ObjectInfo(key, st.st_size, etag))
        return sorted(out, key=lambda o: o.key)  # S3 lists keys in byte order

    def get(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def local_path(self, key: str) -> str | None:
        return str(self.root / key)

    def copy(self, src: str, dst: str) -> None:
        """A hard link where the filesystem allows (instant, no second copy of a 400 MB log;
        objects are never modified in place, only replaced), else a byte copy."""
        target = self.root / dst
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.unlink(missing_ok=True)
        try:
            os.link(self.root / src, tmp)
        except OSError:
            shutil.copyfile(self.root / src, tmp)
        os.replace(tmp, target)

    def put(self, key: str, data: bytes | memoryview) -> None:
        p = self.root / key
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, p)  # readers never see a half-written file


class S3ObjectStore(ObjectStore):
    """S3 (or any S3 API such as SeaweedFS); retries with backoff, multipart for large objects."""

    def __init__(self, url: str, boto_kwargs: dict[str, Any]) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.url = url
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.client = boto3.client("s3", config=Config(retries={"max_attempts": 8, "mode": "standard"}),
                                   **boto_kwargs)
        self.transfer = TransferConfig(multipart_threshold=16 * 2**20, multipart_chunksize=16 * 2**20)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, e: Exception, action: str) -> C360Error:
        return C360Error(f"object store error while {action}: {e}", where=self.url,
                         fix="check object_store.url/endpoint_url/credentials and that the service runs "
                             "(scripts/services.sh up seaweedfs)")

    def ensure_bucket(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError as e:
                if e.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
                    raise
                self.client.create_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as e:
            raise self._fail(e, f"opening bucket {self.bucket}") from e

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        from botocore.exceptions import BotoCoreError, ClientError

        out = []
        full = self._key(prefix)
        strip = len(self.prefix) + 1 if self.prefix else 0
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
                for o in page.get("Contents", []):
                    out.append(ObjectInfo(o["Key"][strip:], o["Size"], o["ETag"].strip('"')))
        except (BotoCoreError, ClientError) as e:
            raise self._fail(e, f"listing {full}") from e
        return sorted(out, key=lambda o: o.key)

    def _call(self, action: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kwargs)
        except (BotoCoreError, ClientError) as e:
            raise self._fail(e, action) from e

    def get(self, key: str) -> bytes:
        buf = io.BytesIO()
        self._call(f"reading {key}", self.client.download_fileobj, self.bucket, self._key(key), buf,
                   Config=self.transfer)
        return buf.getvalue()

    def put(self, key: str, data: bytes | memoryview) -> None:
        self._call(f"writing {key}", self.client.upload_fileobj, io.BytesIO(data), self.bucket, self._key(key),
                   Config=self.transfer)

    def copy(self, src: str, dst: str) -> None:
        self._call(f"copying {src}", self.client.copy, {"Bucket": self.bucket, "Key": self._key(src)},
                   self.bucket, self._key(dst))


def open_object_store(settings: Any) -> ObjectStore:
    url = settings.object_store_url
    if url.startswith("s3://"):
        store = S3ObjectStore(url, settings.object_store.boto_kwargs())
        store.ensure_bucket()
        return store
    return LocalObjectStore(url)
