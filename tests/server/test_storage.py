"""server/storage.py: content addressing, safe keys, atomic publishing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from server.storage import Storage, StorageError, media_mac


@pytest.fixture
def storage(tmp_path: Path) -> Storage:
    return Storage(tmp_path / "data")


def test_layout_lives_under_the_data_dir(storage: Storage, tmp_path: Path) -> None:
    for directory in (storage.media_dir, storage.proxies_dir, storage.renders_dir, storage.tmp_dir):
        assert directory.is_dir()
        assert directory.resolve().is_relative_to((tmp_path / "data").resolve())
    # Same filesystem as the media dir, so publishing is a rename.
    assert storage.tmp_dir.stat().st_dev == storage.media_dir.stat().st_dev


def test_media_is_content_addressed_and_deduplicated(storage: Storage) -> None:
    data = b"same bytes"
    sha = hashlib.sha256(data).hexdigest()
    key = storage.media_key(sha, "jpg")
    assert key == f"media/{sha[:2]}/{sha}.jpg"
    for _ in range(2):
        tmp = storage.new_tmp_path()
        tmp.write_bytes(data)
        final = storage.publish(tmp, key)
        assert not tmp.exists()
    assert final.read_bytes() == data
    assert list(storage.tmp_dir.iterdir()) == []
    assert storage.exists(key)


@pytest.mark.parametrize(
    "key",
    [
        "../etc/passwd",
        "media/../../etc/passwd",
        "/etc/passwd",
        "media//x",
        "media/./x",
        "media\\..\\x",
        "media/x\x00.jpg",
        "",
        "..",
        "media/%2e%2e/x",
        "media/" + "a" * 300,
    ],
)
def test_keys_that_escape_or_are_odd_are_refused(storage: Storage, key: str) -> None:
    with pytest.raises(StorageError):
        storage.path_for(key)
    assert not storage.exists(key)


def test_symlink_out_of_the_root_is_refused(storage: Storage, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    (storage.media_dir / "ab").mkdir()
    (storage.media_dir / "ab" / "link.jpg").symlink_to(outside)
    with pytest.raises(StorageError):
        storage.path_for("media/ab/link.jpg")


def test_bad_hashes_and_extensions_never_make_keys(storage: Storage) -> None:
    with pytest.raises(StorageError):
        storage.media_key("../" + "a" * 61, "jpg")
    with pytest.raises(StorageError):
        storage.media_key("a" * 64, "jpg/../x")
    with pytest.raises(StorageError):
        storage.render_key("../x.mp4")


def test_write_bytes_is_atomic_and_leaves_no_temp(storage: Storage) -> None:
    key = storage.render_key("render_1.mp4")
    storage.write_bytes(key, b"first")
    storage.write_bytes(key, b"second")
    assert storage.path_for(key).read_bytes() == b"second"
    assert list(storage.tmp_dir.iterdir()) == []


def test_tmp_file_is_removed_unless_published(storage: Storage) -> None:
    with storage.tmp_file() as tmp:
        tmp.write_bytes(b"x")
    assert not tmp.exists()
    with pytest.raises(RuntimeError), storage.tmp_file() as tmp:
        tmp.write_bytes(b"x")
        raise RuntimeError("upload died")
    assert list(storage.tmp_dir.iterdir()) == []


def test_public_url_round_trips_to_the_key(storage: Storage) -> None:
    sha = "ab" * 32
    key = storage.media_key(sha, "mp4")
    url = Storage.public_url(key, "https://cdn.example.com/prefix/", b"k")
    assert url == f"https://cdn.example.com/prefix/media/{media_mac(b'k', key)}/ab/{sha}.mp4"
    assert Storage.parse_url_path(url.split("/media/", 1)[1]) == (key, media_mac(b"k", key))
    proxy = Storage.proxy_key(sha)
    proxy_url = Storage.public_url(proxy, "http://h", b"k")
    assert Storage.key_from_url_path(proxy_url.split("/media/", 1)[1]) == proxy
    # The older, unkeyed shape still names its key (drafts may hold such links), without a MAC.
    assert Storage.parse_url_path(f"ab/{sha}.mp4") == (key, None)
