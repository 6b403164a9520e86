"""The lake interface behaves the same on a local directory and on S3 (moto server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_core.errors import UnsafeInputError
from mlops_core.storage import (
    LocalStorage,
    S3Storage,
    atomic_write_bytes,
    copy_key,
    storage_from_url,
)


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "lake")
    endpoint = request.getfixturevalue("moto_s3_endpoint")
    return S3Storage(request.getfixturevalue("s3_bucket"), "lake", endpoint_url=endpoint)


def test_round_trip_list_exists_delete(storage, tmp_path: Path) -> None:
    storage.write_bytes("a/dt=1/x.csv", b"one")
    storage.write_bytes("a/dt=1/sub/y.parquet", b"two")
    storage.write_bytes("b/z", b"three")
    assert storage.read_bytes("a/dt=1/x.csv") == b"one"
    assert storage.list("a/") == ["a/dt=1/sub/y.parquet", "a/dt=1/x.csv"]
    assert storage.exists("b/z") and not storage.exists("b/missing")
    storage.write_bytes("b/z", b"replaced")
    assert storage.read_bytes("b/z") == b"replaced"
    storage.delete("b/z")
    assert not storage.exists("b/z")
    assert storage.list("nothing/") == []


def test_upload_and_local_copy(storage, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"\x00\x01payload")
    storage.upload_file(src, "up/file.bin")
    with storage.local_copy("up/file.bin") as path:
        assert path.read_bytes() == b"\x00\x01payload"
    copy_key(storage, "up/file.bin", storage, "up/copy.bin")
    assert storage.read_bytes("up/copy.bin") == b"\x00\x01payload"


def test_uri_names_the_backend(storage) -> None:
    uri = storage.uri("k/v")
    assert uri.startswith("s3://") if isinstance(storage, S3Storage) else uri.endswith("/lake/k/v")


def test_local_storage_hides_temp_files_and_rejects_escapes(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "lake")
    store.write_bytes("p/real", b"x")
    (tmp_path / "lake" / "p" / ".tmp-real.abc").write_bytes(b"partial")
    assert store.list("p/") == ["p/real"]
    with pytest.raises(UnsafeInputError, match="escapes"):
        store.path("../outside")


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "d" / "f.json"
    atomic_write_bytes(target, b"old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in target.parent.iterdir()] == ["f.json"]


def test_storage_from_url(tmp_path: Path) -> None:
    s3 = storage_from_url("s3://bucket/some/prefix", "http://127.0.0.1:1")
    assert isinstance(s3, S3Storage) and s3.bucket == "bucket" and s3.prefix == "some/prefix"
    assert isinstance(storage_from_url(str(tmp_path)), LocalStorage)
    assert isinstance(storage_from_url(f"file://{tmp_path}"), LocalStorage)
    with pytest.raises(ValueError, match="unsupported storage URL"):
        storage_from_url("ftp://host/x")


def test_local_storage_refuses_a_url_instead_of_writing_into_the_working_directory(
    tmp_path,
) -> None:
    import pytest

    from mlops_core.storage import LocalStorage, storage_from_url

    with pytest.raises(ValueError, match="not a URL"):
        LocalStorage((tmp_path / "lake").as_uri())
    assert storage_from_url((tmp_path / "lake").as_uri()).root == (tmp_path / "lake").resolve()
