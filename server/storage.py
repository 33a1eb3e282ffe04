"""Storage: content-addressed media and render outputs under the data dir, atomic writes, safe paths.

Layout under `<data_dir>/`:
    media/<sha[:2]>/<sha>.<ext>          uploads, named by their content
    proxies/<sha[:2]>/<sha>_<n>.<ext>    normalised photo proxies, named by their source's content
    renders/<name>                       render outputs
    tmp/<owner>-<uuid><suffix>           in-flight uploads; same filesystem, so publishing is a rename
    owners/<owner>.lock                  held (flock) by the live process that owns those temp files

A storage key is the path relative to the root with forward slashes (`media/ab/ab12...jpg`); keys
are what URLs and rows carry, never absolute paths.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_EXT = re.compile(r"^[a-z0-9]{1,8}$")
_KEY_PART = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
_URL_MAC = re.compile(r"^[0-9a-f]{32}$")


def media_mac(secret: bytes, key: str) -> str:
    """The part of a media URL only this server can make: HMAC(server secret, key), 128 bits.

    A key is the content's SHA-256, which anyone holding the file can compute; without this MAC
    in the URL, holding a file would be enough to test whether it was uploaded here and to fetch
    the stored original (GPS tags and all)."""
    return hmac.new(secret, b"media-url:" + key.encode(), hashlib.sha256).hexdigest()[:32]


class StorageError(ValueError):
    """A key that does not name a place inside the storage root."""


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be fsynced
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class Storage:
    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir).resolve()
        self.media_dir = self.root / "media"
        self.proxies_dir = self.root / "proxies"
        self.renders_dir = self.root / "renders"
        self.tmp_dir = self.root / "tmp"
        self.owners_dir = self.root / "owners"
        for directory in (self.media_dir, self.proxies_dir, self.renders_dir, self.tmp_dir, self.owners_dir):
            directory.mkdir(parents=True, exist_ok=True)
        # Temp files carry their owner's name, and the owner holds an flock on its lock file for
        # as long as this Storage lives: when the process dies (kill -9 included), the kernel lets
        # go of the lock, and a sweep (in any process sharing the data dir) knows those temp files
        # belong to nobody. No start-up guess, no clock: a live upload's file is never touched.
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._owner_lock = open(self.owners_dir / f"{self.owner}.lock", "a+b")  # noqa: SIM115 - held for life
        fcntl.flock(self._owner_lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    # ------------------------------------------------------------ keys and paths

    def path_for(self, key: str) -> Path:
        """The file a key names; StorageError for anything that would leave the root."""
        if not key or "\x00" in key or "\\" in key or key.startswith("/"):
            raise StorageError("bad storage key")
        parts = key.split("/")
        if any(part in ("", ".", "..") or not _KEY_PART.match(part) for part in parts):
            raise StorageError("bad storage key")
        path = (self.root / Path(*parts)).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise StorageError("bad storage key")
        return path

    def key_for(self, path: Path) -> str:
        rel = Path(path).resolve().relative_to(self.root)
        return rel.as_posix()

    @staticmethod
    def media_key(sha256: str, ext: str) -> str:
        if not _SHA256.match(sha256) or not _EXT.match(ext):
            raise StorageError("bad media name")
        return f"media/{sha256[:2]}/{sha256}.{ext}"

    @staticmethod
    def proxy_key(sha256: str, long_side: int = 3840, ext: str = "jpg") -> str:
        """Where the normalised proxy of the media with this hash lives (whether or not made yet)."""
        if not _SHA256.match(sha256) or not _EXT.match(ext):
            raise StorageError("bad media name")
        return f"proxies/{sha256[:2]}/{sha256}_{int(long_side)}.{ext}"

    def render_key(self, name: str) -> str:
        if not _KEY_PART.match(name) or name in (".", ".."):
            raise StorageError("bad render name")
        return f"renders/{name}"

    def exists(self, key: str) -> bool:
        try:
            return self.path_for(key).is_file()
        except StorageError:
            return False

    @staticmethod
    def public_url(key: str, base_url: str, secret: bytes) -> str:
        """Absolute URL this server serves the key at: `/media/<mac>/<sha[:2]>/<sha>.<ext>` for
        uploads, `/media/<mac>/proxies/...` for proxies, where `<mac>` is media_mac (GET
        /media/{path} checks it; see parse_url_path)."""
        path = key.removeprefix("media/") if key.startswith("media/") else key
        return f"{base_url.rstrip('/')}/media/{media_mac(secret, key)}/{quote(path, safe='/')}"

    @staticmethod
    def parse_url_path(path: str) -> tuple[str, str | None]:
        """The storage key behind `/media/<path>` and the MAC the path carries (None: a link of
        the older, unkeyed shape, which drafts may still name but which is no longer served)."""
        first, _, rest = path.partition("/")
        mac = None
        if _URL_MAC.match(first) and rest:
            mac, path = first, rest
        key = path if path.startswith(("proxies/", "renders/")) else f"media/{path}"
        return key, mac

    @staticmethod
    def key_from_url_path(path: str) -> str:
        """The storage key behind `/media/<path>` (the inverse of public_url)."""
        return Storage.parse_url_path(path)[0]

    # ------------------------------------------------------------ temp files and publishing

    def new_tmp_path(self, suffix: str = "") -> Path:
        """A fresh server-made name in the tmp dir, carrying this owner's name; the caller creates
        (and removes) the file."""
        return self.tmp_dir / f"{self.owner}-{uuid.uuid4().hex}{suffix}"

    @contextlib.contextmanager
    def tmp_file(self, suffix: str = "") -> Iterator[Path]:
        """A temp path that is gone after the block unless it was moved away."""
        path = self.new_tmp_path(suffix)
        try:
            yield path
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def publish(self, tmp_path: Path, key: str) -> Path:
        """Move a finished temp file to `key` atomically (fsync, then rename).

        Content-addressed keys: when the key exists already, the bytes are the same, so the temp
        file is dropped and the existing one kept."""
        final = self.path_for(key)
        if final.exists():
            with contextlib.suppress(FileNotFoundError):
                tmp_path.unlink()
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, final)
        _fsync_dir(final.parent)
        return final

    def write_bytes(self, key: str, data: bytes) -> Path:
        """Atomic write of a small file: temp under the root, fsync, rename."""
        final = self.path_for(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.tmp_dir, prefix=f"{self.owner}-w_")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        _fsync_dir(final.parent)
        return final

    def tmp_files(self) -> list[Path]:
        """What the tmp dir holds now (uploads in flight, or leftovers)."""
        return sorted(self.tmp_dir.iterdir())

    def sweep_tmp(self, max_age_s: float, now: float | None = None) -> int:
        """Remove temp files nobody can finish: those of owners whose process is gone (at once),
        and any older than `max_age_s` by their last write (a live process's leak; a stalled
        upload is cut by the body timeout long before). Returns how many went."""
        dead = self._dead_owners()
        cutoff = (time.time() if now is None else now) - max_age_s
        removed = 0
        for entry in self.tmp_dir.iterdir():
            owner = "-".join(entry.name.split("-")[:2])  # `<pid>-<hex>`; older names match no owner
            try:
                stale = owner in dead or entry.lstat().st_mtime < cutoff
            except FileNotFoundError:
                continue  # finished meanwhile
            if not stale:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
            removed += 1
        for owner in dead:
            with contextlib.suppress(FileNotFoundError):
                (self.owners_dir / f"{owner}.lock").unlink()
        return removed

    def _dead_owners(self) -> set[str]:
        """Owners whose lock nobody holds: their process is gone."""
        dead: set[str] = set()
        for lock in self.owners_dir.glob("*.lock"):
            if lock.stem == self.owner:
                continue
            try:
                with open(lock, "rb") as fh:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # alive
            except FileNotFoundError:
                continue
            dead.add(lock.stem)
        return dead

    def clear_tmp(self) -> int:
        """Remove the leftovers of every process that is gone (kept for callers of the old name)."""
        return self.sweep_tmp(max_age_s=float("inf"))
