"""One small interface over the data lake: a local directory or an S3 bucket.

Keys are POSIX-style relative paths (``landing/fraud/dt=2026-01-01/part-0.csv``). Every
write is atomic: local files go through a temp file + rename, S3 objects are written by a
single PUT (S3 never shows a half-written object). Callers write manifests last, so a reader
that sees a manifest sees the complete data it describes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from mlops_core.errors import StorageUnavailableError, UnsafeInputError

TMP_PREFIX = ".tmp-"


class Storage(Protocol):
    """What the pipelines need from a lake."""

    url: str

    def uri(self, key: str) -> str: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str) -> list[str]: ...
    def read_bytes(self, key: str) -> bytes: ...
    def write_bytes(self, key: str, data: bytes) -> None: ...
    def create_exclusive(self, key: str, data: bytes) -> bool: ...
    def upload_file(self, local_path: Path, key: str) -> None: ...
    def delete(self, key: str) -> None: ...
    def link_target(self, key: str) -> str | None: ...
    def local_copy(self, key: str) -> contextlib.AbstractContextManager[Path]: ...


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{uuid.uuid4().hex}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class LocalStorage:
    """A lake in a local directory.

    Keys map to paths lexically (no ``..``, never absolute), so deleting a key removes that
    entry itself: a symlink is unlinked, its target is never touched. Reading through a link
    is allowed only when the link resolves inside the lake; anything else is an
    UnsafeInputError, as is a file the pipeline may not read.
    """

    def __init__(self, root: str | Path) -> None:
        if isinstance(root, str) and "://" in root:
            # Path("file:///x") is the relative folder "file:/x" in the working directory.
            raise ValueError(
                f"LocalStorage takes a directory, not a URL ({root!r}); "
                "use storage_from_url for file:// and s3:// URLs"
            )
        self.root = Path(root).resolve()
        self.url = str(self.root)

    def path(self, key: str) -> Path:
        parts = Path(key).parts
        if Path(key).is_absolute() or ".." in parts:
            raise UnsafeInputError(f"key {key!r} escapes the lake root {self.root}")
        return self.root.joinpath(*parts)

    def _readable(self, key: str) -> Path:
        """The path of ``key`` after checking that it (and any link) stays inside the lake."""
        path = self.path(key)
        resolved = path.resolve()
        if path.is_symlink() and not resolved.exists():
            raise UnsafeInputError(
                f"{path} is a dangling link (to {os.readlink(path)}); it was not read",
                check="link_target_exists",
                files=[key],
            )
        if resolved != self.root and self.root not in resolved.parents:
            raise UnsafeInputError(
                f"{path} is a link to {os.readlink(path) if path.is_symlink() else resolved}, "
                f"outside the lake {self.root}; it was not read",
                check="link_inside_lake",
                files=[key],
            )
        return path

    def link_target(self, key: str) -> str | None:
        path = self.path(key)
        return os.readlink(path) if path.is_symlink() else None

    def uri(self, key: str) -> str:
        return str(self.path(key))

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def list(self, prefix: str) -> list[str]:
        base = self.path(prefix)
        if not base.exists():
            return []
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if (p.is_file() or p.is_symlink()) and not p.name.startswith(TMP_PREFIX)
        )

    def read_bytes(self, key: str) -> bytes:
        path = self._readable(key)
        try:
            return path.read_bytes()
        except PermissionError as exc:
            raise UnsafeInputError(
                f"{path} cannot be read by the pipeline's user (permission denied); it was not "
                "read. Fix its permissions (or re-deliver it), then clear the task.",
                check="file_readable",
                files=[key],
            ) from exc

    def write_bytes(self, key: str, data: bytes) -> None:
        path = self.path(key)
        if path.is_symlink():  # replace the link itself, never write through it
            path.unlink()
        atomic_write_bytes(path, data)

    def create_exclusive(self, key: str, data: bytes) -> bool:
        """Write ``key`` only if it does not exist; False when another writer got there first.

        The content goes to a temp file first and is hard-linked into place: the link either
        creates the complete file or fails, so nobody ever sees a partial entry.
        """
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f"{TMP_PREFIX}{dest.name}.{uuid.uuid4().hex}")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.link(tmp, dest)
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)
        return True

    def upload_file(self, local_path: Path, key: str) -> None:
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f"{TMP_PREFIX}{dest.name}.{uuid.uuid4().hex}")
        try:
            shutil.copyfile(local_path, tmp)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    def delete(self, key: str) -> None:
        """Remove the entry ``key``; a link is removed itself, its target is left alone."""
        self.path(key).unlink(missing_ok=True)

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        yield self._readable(key)


class S3Storage:
    """A lake under ``s3://bucket/prefix`` (AWS, MinIO or moto), with bounded retries."""

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self.endpoint_url = endpoint_url
        # Bounded retries with exponential backoff (botocore "standard" mode), then a clear error.
        self.max_attempts = int(os.environ.get("MLOPS_S3_MAX_ATTEMPTS", "5"))
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            config=Config(
                retries={"max_attempts": self.max_attempts, "mode": "standard"},
                connect_timeout=float(os.environ.get("MLOPS_S3_CONNECT_TIMEOUT", "5")),
                read_timeout=float(os.environ.get("MLOPS_S3_READ_TIMEOUT", "60")),
            ),
        )

    @contextlib.contextmanager
    def _guard(self, operation: str, key: str) -> Iterator[None]:
        """Turn transport failures that outlived the retries into StorageUnavailableError."""
        from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

        try:
            yield
        except (ConnectionError, HTTPClientError) as exc:
            raise self._unavailable(operation, key, exc) from exc
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status >= 500:
                raise self._unavailable(operation, key, exc) from exc
            raise

    def _unavailable(self, operation: str, key: str, exc: Exception) -> StorageUnavailableError:
        return StorageUnavailableError(
            f"S3 endpoint {self.endpoint_url or 'AWS'} failed to {operation} {self.uri(key)} after "
            f"{self.max_attempts} attempts with backoff: {type(exc).__name__}: {str(exc)[:200]}. "
            "Check the endpoint and credentials; the task retries on its own schedule."
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            with self._guard("check", key):
                self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def list(self, prefix: str) -> list[str]:
        full = self._key(prefix)
        strip = len(self.prefix) + 1 if self.prefix else 0
        keys: list[str] = []
        with self._guard("list", prefix):
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=full
            ):
                keys.extend(obj["Key"][strip:] for obj in page.get("Contents", []))
        return sorted(keys)

    def read_bytes(self, key: str) -> bytes:
        with self._guard("read", key):
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

    def write_bytes(self, key: str, data: bytes) -> None:
        with self._guard("write", key):
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def create_exclusive(self, key: str, data: bytes) -> bool:
        """Conditional PUT (If-None-Match: *): False when the key already exists."""
        from botocore.exceptions import ClientError

        try:
            with self._guard("create", key):
                self.client.put_object(
                    Bucket=self.bucket, Key=self._key(key), Body=data, IfNoneMatch="*"
                )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}:
                return False
            raise
        return True

    def upload_file(self, local_path: Path, key: str) -> None:
        with self._guard("upload", key):
            self.client.upload_file(str(local_path), self.bucket, self._key(key))

    def delete(self, key: str) -> None:
        with self._guard("delete", key):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def link_target(self, key: str) -> str | None:
        return None  # S3 has no links

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="mlops-s3-") as tmp:
            path = Path(tmp) / Path(key).name
            with self._guard("download", key):
                self.client.download_file(self.bucket, self._key(key), str(path))
            yield path


def storage_from_url(url: str, endpoint_url: str | None = None) -> Storage:
    """Build the lake for ``url``: ``s3://bucket/prefix`` or a local directory."""
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        return S3Storage(parsed.netloc, parsed.path, endpoint_url=endpoint_url)
    if parsed.scheme in {"", "file"}:
        return LocalStorage(parsed.path if parsed.scheme == "file" else url)
    raise ValueError(f"unsupported storage URL {url!r}: use a directory or s3://bucket/prefix")


def copy_key(src: Storage, src_key: str, dst: Storage, dst_key: str) -> None:
    with src.local_copy(src_key) as path:
        dst.upload_file(path, dst_key)
