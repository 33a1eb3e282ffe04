"""Upload intake after the bytes are on disk: sniff, probe, store content-addressed, record.

The HTTP side (streaming, limits, the answer) is routes/uploads.py; this module takes a temp file
under the storage root and either publishes it as media or refuses it with 4001/4002. It never
trusts the client's name or Content-Type: the type comes from the content.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from agent.state import MediaFile
from database.engine import transaction
from server import session_store
from server.errors import ApiError, ErrorCode
from server.storage import Storage
from server.tables import Media

if TYPE_CHECKING:  # decoding libraries load on the first upload, not at server start (cold start)
    from renderer.audio.beats import BeatGrid
    from renderer.media.probe import MediaError, MediaFacts

log = logging.getLogger("nemo.uploads")

MAX_FILENAME_CHARS = 255
ACCEPTED = "jpg/jpeg, png, gif, webp, heic/heif, mp4, mov, avi, webm, mkv, mp3, wav, m4a, aac"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class Intaken:
    """A published upload: where it lives and what it is."""

    filename: str
    key: str
    sha256: str
    size: int
    facts: MediaFacts
    proxy_key: str | None = None
    beats: BeatGrid | None = None  # songs only: what "cut to the beat" needs
    analysis: dict[str, Any] = field(default_factory=dict)  # its `state.video_analyses` entry


@dataclass
class FileFailure:
    filename: str
    code: ErrorCode
    message: str

    def as_json(self) -> dict[str, object]:
        return {"filename": self.filename, "code": int(self.code), "message": self.message}


def clean_filename(raw: str | None) -> str:
    """The client's name as text: no path parts, no NUL/control characters, at most 255 chars."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _CONTROL.sub("", name).strip().lstrip(".") or "upload"
    if len(name) > MAX_FILENAME_CHARS:
        _stem, dot, ext = name.rpartition(".")
        keep = ext if dot and 0 < len(ext) <= 10 else ""
        name = name[: MAX_FILENAME_CHARS - len(keep) - 1].rstrip() + ("." + keep if keep else "")
    return name


def hash_file(path: Path) -> tuple[str, int]:
    """The file's SHA-256 (hex) and size, read in 1 MiB blocks: what `intake` is given."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def media_error_code(error: MediaError) -> ErrorCode:
    return ErrorCode.FILE_TOO_LARGE if error.code == "too_large" else ErrorCode.UNSUPPORTED_FILE_TYPE


def intake(
    storage: Storage,
    tmp: Path,
    *,
    filename: str,
    sha256: str,
    size: int,
    max_pixels: int,
    analyse: bool = True,
) -> Intaken:
    """Judge a temp file by its content and publish it; ApiError (4001/4002) otherwise. The temp
    file is gone afterwards either way (moved or removed). `analyse`: also work out its
    `video_analyses` entry (uploads do; a render's fetched source has no session entry to fill)."""
    from renderer.media.probe import MediaError, probe, sniff
    from server.media_analysis import analyse as analyse_media

    try:
        with open(tmp, "rb") as fh:
            head = fh.read(4096)
        sniffed = sniff(head)
        if sniffed is None or size == 0:
            raise ApiError(
                ErrorCode.UNSUPPORTED_FILE_TYPE, f"{filename}: unsupported file type; accepted: {ACCEPTED}"
            )
        try:
            facts = probe(tmp, max_pixels)
            proxy_key = None
            if facts.format == "heif":
                # HEIF is only parsed by the probe; the proxy is its one full decode, and proves it.
                proxy_key = _make_proxy(storage, tmp, sha256, max_pixels)
        except MediaError as exc:
            raise ApiError(media_error_code(exc), f"{filename}: {exc.message}") from None
        beats = _beats(tmp, filename) if facts.file_type == "audio" else None
        analysis = {}
        if analyse:
            picture = storage.path_for(proxy_key) if proxy_key else None
            analysis = analyse_media(tmp, facts, max_pixels=max_pixels, picture=picture, beats=beats)
        key = storage.media_key(sha256, sniffed.ext)
        storage.publish(tmp, key)
        return Intaken(
            filename=filename,
            key=key,
            sha256=sha256,
            size=size,
            facts=facts,
            proxy_key=proxy_key,
            beats=beats,
            analysis=analysis,
        )
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


# The upload keeps only the tempo and the first beat, which two minutes settle as well as the
# whole song does (measured: a 10-minute song, 2.9 s analysed whole, 0.23 s for 120 s, same grid).
BEAT_WINDOW_SECONDS = 120.0


def _beats(path: Path, filename: str) -> BeatGrid | None:
    """The song's tempo, or None: a song we cannot read a pulse from still uploads fine."""
    from renderer.audio.beats import estimate_beats

    try:
        return estimate_beats(path, max_seconds=BEAT_WINDOW_SECONDS)
    except Exception:
        log.warning(
            "beat analysis of %s failed; the song uploads without a beat grid", filename, exc_info=True
        )
        return None


def _make_proxy(storage: Storage, source: Path, sha256: str, max_pixels: int) -> str | None:
    from server.photo_proxy import PROXY_LONG_SIDE, make_proxy

    with storage.tmp_file(".proxy") as tmp:
        ext = make_proxy(source, tmp, long_side=PROXY_LONG_SIDE, max_pixels=max_pixels)
        if ext is None:
            return None
        key = storage.proxy_key(sha256, PROXY_LONG_SIDE, ext)
        storage.publish(tmp, key)
        return key


def media_file(item: Intaken, *, media_id: str, base_url: str, secret: bytes) -> MediaFile:
    facts = item.facts
    return MediaFile.model_validate(
        {
            "media_id": media_id,
            "filename": item.filename,
            "file_type": facts.file_type,
            "cdn_url": Storage.public_url(item.key, base_url, secret),
            "duration": facts.duration,
            "width": facts.width,
            "height": facts.height,
            "fps": facts.fps,
            "hash": item.sha256,
            "size": item.size,
            "has_audio": facts.has_audio,
            "warnings": list(facts.warnings),
            # extra keys (MediaFile keeps them): what the renderer and agent also use
            "format": facts.format,
            "storage_key": item.key,
            **({"bpm": item.beats.bpm, "beat_offset_ms": item.beats.beat_offset_ms} if item.beats else {}),
        }
    )


def new_media_id() -> str:
    return "media_" + secrets.token_hex(12)


def record(engine: Engine, *, user_id: str, session_id: str, items: list[tuple[Intaken, MediaFile]]) -> int:
    """Media rows, then the files appended to the session's video_infos; the new state version."""
    with transaction(engine) as db:
        for item, info in items:
            extra = {"proxy_key": item.proxy_key} if item.proxy_key else {}
            db.add(
                Media(
                    id=info.media_id,
                    user_id=user_id,
                    session_id=session_id,
                    sha256=item.sha256,
                    filename=item.filename[:1024],
                    file_type=info.file_type,
                    storage_key=item.key,
                    size=item.size,
                    info_json=json.dumps({**info.model_dump(mode="json"), **extra}),
                )
            )
    analyses = {info.media_id: item.analysis for item, info in items if item.analysis}
    return session_store.add_media(engine, session_id, [info for _, info in items], analyses=analyses)


def make_proxies(storage: Storage, engine: Engine, items: list[Intaken], max_pixels: int) -> None:
    """Background step after an upload: a proxy per still photo, recorded on its Media rows."""
    from renderer.media.probe import MediaError

    for item in items:
        if item.facts.file_type != "image" or item.proxy_key or (item.facts.frame_count or 1) > 1:
            continue
        try:
            key = _make_proxy(storage, storage.path_for(item.key), item.sha256, max_pixels)
        except MediaError as exc:
            log.warning("no proxy for %s: %s", item.key, exc.message)
            continue
        except Exception:
            log.exception("proxy failed for %s", item.key)
            continue
        if key:
            set_proxy_key(engine, item.sha256, key)


def set_proxy_key(engine: Engine, sha256: str, key: str) -> None:
    with transaction(engine) as db:
        for row in db.exec(select(Media).where(Media.sha256 == sha256)).all():
            info = json.loads(row.info_json)
            if info.get("proxy_key") != key:
                info["proxy_key"] = key
                row.info_json = json.dumps(info)
                db.add(row)


def proxy_for(storage: Storage, sha256: str) -> Path | None:
    """The proxy of the media with this hash, when one has been made."""
    from server.photo_proxy import PROXY_LONG_SIDE

    for ext in ("jpg", "png"):
        key = storage.proxy_key(sha256, PROXY_LONG_SIDE, ext)
        if storage.exists(key):
            return storage.path_for(key)
    return None
