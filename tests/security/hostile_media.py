"""Hostile media made at run time by test code: files that lie, smuggle playlists or break parsers.

Each maker writes one file into a directory and returns its Path (as tests/media_factory.py does).
`OpenSentinel` is a named pipe that records whether anything opened it: hostile files point at
one, so "no file outside the upload was opened" is observed, not assumed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from PIL import Image

from tests import media_factory as mf

# ---------------------------------------------------------------- a file that tells when it is opened


class OpenSentinel:
    """A FIFO; a thread keeps trying to open its writing end without blocking, which only succeeds
    while some reader has it open. `opened` is True once anything opened it for reading."""

    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path)
        self.opened = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: no reader; anything else is a test bug
                    raise
                time.sleep(0.002)
                continue
            self.opened = True
            with contextlib.suppress(OSError):
                os.write(fd, b"#EXTM3U\n")
            os.close(fd)

    def __enter__(self) -> OpenSentinel:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# ---------------------------------------------------------------- playlists in disguise


def _chunk(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")


def _riff_list(kind: bytes, data: bytes) -> bytes:
    return _chunk(b"LIST", kind + data)


def avi_with_hls_playlist(directory: Path, target: str, name: str = "subtitled.avi") -> Path:
    """An AVI whose one stream is a GAB2 subtitle stream carrying an HLS playlist naming `target`
    (the shape of FFmpeg's 2017 local-file-read exploit)."""
    playlist = f"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\n{target}\n#EXT-X-ENDLIST\n".encode()
    title = "x".encode("utf-16-le") + b"\0\0"
    gab2 = b"GAB2\0" + struct.pack("<H", 2) + struct.pack("<I", len(title)) + title
    gab2 += struct.pack("<H", 4) + struct.pack("<I", len(playlist)) + playlist
    avih = struct.pack("<10I4I", 100000, 0, 0, 0x10, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0)
    strh = b"txts" + struct.pack("<IIHHIIIIIIII4h", 0, 0, 0, 0, 0, 1, 1, 0, 1, len(gab2), 0, 0, 0, 0, 0, 0)
    strl = _riff_list(b"strl", _chunk(b"strh", strh) + _chunk(b"strf", b""))
    hdrl = _riff_list(b"hdrl", _chunk(b"avih", avih) + strl)
    movi = _riff_list(b"movi", _chunk(b"00tx", gab2))
    idx1 = _chunk(b"idx1", b"00tx" + struct.pack("<III", 0x10, 4, len(gab2)))
    body = b"AVI " + hdrl + movi + idx1
    path = directory / name
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def hls_naming(directory: Path, target: str, name: str = "playlist.mp4") -> Path:
    path = directory / name
    path.write_text(f"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\n{target}\n#EXT-X-ENDLIST\n")
    return path


def ffconcat_naming(directory: Path, target: str, name: str = "concat.mp4") -> Path:
    path = directory / name
    path.write_text(f"ffconcat version 1.0\nfile '{target}'\n")
    return path


# ---------------------------------------------------------------- sizes and lengths that lie


def heic_absurd_size(directory: Path, name: str = "absurd.heic", side: int = 100_000) -> Path:
    """A real small HEIC whose `ispe` boxes declare side x side pixels."""
    data = bytearray(mf.heic_photo(directory, "small_source.heic", size=(64, 48)).read_bytes())
    at = data.find(b"ispe")
    assert at > 0, "pillow-heif wrote no ispe box"
    while at > 0:
        struct.pack_into(">II", data, at + 8, side, side)
        at = data.find(b"ispe", at + 1)
    path = directory / name
    path.write_bytes(bytes(data))
    return path


def _boxes(data: bytearray, kind: bytes) -> Iterator[int]:
    at = data.find(kind)
    while at >= 4:
        yield at - 4
        at = data.find(kind, at + 1)


def _pad_to(data: bytearray, size: int) -> bytes:
    # mdat padding after the moov: the file really is this large, its tables still lie
    return bytes(data) + struct.pack(">I4s", size - len(data), b"free") + b"\0" * (size - len(data) - 8)


def mp4_claiming_8_hours_at_1000_fps(directory: Path, name: str = "lies.mp4") -> Path:
    """1 MB: a 1 s clip whose sample tables claim 28.8 million frames at 1000 fps (8 hours)."""
    data = bytearray(mf.mp4_clip(directory, "lie_source.mp4", audio=False).read_bytes())
    frames = 8 * 3600 * 1000
    for off in _boxes(data, b"mdhd"):
        if data[off + 8] == 0:
            struct.pack_into(">II", data, off + 20, 1000, frames)
    for off in _boxes(data, b"stts"):
        struct.pack_into(">III", data, off + 12, 1, frames, 1)
    for off in _boxes(data, b"stsz"):
        struct.pack_into(">II", data, off + 12, 30, frames)
    for off in _boxes(data, b"stsc"):
        struct.pack_into(">IIII", data, off + 12, 1, 1, frames, 1)
    path = directory / name
    path.write_bytes(_pad_to(data, 1024 * 1024))
    return path


def mp4_frames_8_hours_long(directory: Path, name: str = "long.mp4") -> Path:
    """A 10-frame clip whose frames each last 48 minutes: 8 hours of 'video' in a few KB."""
    data = bytearray(mf.mp4_clip(directory, "long_source.mp4", audio=False).read_bytes())
    for off in _boxes(data, b"mdhd"):
        if data[off + 8] == 0:
            struct.pack_into(">II", data, off + 20, 1000, 8 * 3600 * 1000)
    for off in _boxes(data, b"stts"):
        count = struct.unpack_from(">I", data, off + 16)[0]
        struct.pack_into(">III", data, off + 12, 1, count, 8 * 3600 * 1000 // max(1, count))
    for off in _boxes(data, b"mvhd"):
        if data[off + 8] == 0:
            struct.pack_into(">II", data, off + 20, 1000, 8 * 3600 * 1000)
    for off in _boxes(data, b"elst"):
        if data[off + 8] == 0:
            struct.pack_into(">I", data, off + 16, 8 * 3600 * 1000)  # the edit spans it all
    path = directory / name
    path.write_bytes(bytes(data))
    return path


def _vint(n: int) -> bytes:
    """An EBML size: a length marker bit, then the value."""
    for length in range(1, 9):
        if n < (1 << (7 * length)) - 1:
            return ((1 << (7 * length)) | n).to_bytes(length, "big")
    raise ValueError(n)


def _el(ident: int, data: bytes) -> bytes:
    return ident.to_bytes((ident.bit_length() + 7) // 8, "big") + _vint(len(data)) + data


def _uint(ident: int, value: int) -> bytes:
    return _el(ident, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def mkv_with_streams(directory: Path, streams: int = 5000, name: str = "streams.mkv") -> Path:
    """A Matroska file declaring `streams` PCM audio tracks (one short block on the first)."""
    text = lambda ident, value: _el(ident, value.encode())  # noqa: E731
    ebml = _el(
        0x1A45DFA3,
        _uint(0x4286, 1) + _uint(0x42F7, 1) + _uint(0x42F2, 4) + _uint(0x42F3, 8)
        + text(0x4282, "matroska") + _uint(0x4287, 4) + _uint(0x4285, 2),
    )  # fmt: skip
    info = _el(0x1549A966, _uint(0x2AD7B1, 1_000_000) + _el(0x4489, struct.pack(">d", 1000.0)))
    audio = _el(0xE1, _el(0xB5, struct.pack(">d", 8000.0)) + _uint(0x9F, 1) + _uint(0x6264, 16))
    tracks = _el(
        0x1654AE6B,
        b"".join(
            _el(
                0xAE, _uint(0xD7, i) + _uint(0x73C5, i) + _uint(0x83, 2) + text(0x86, "A_PCM/INT/LIT") + audio
            )
            for i in range(1, streams + 1)
        ),
    )
    cluster = _el(0x1F43B675, _uint(0xE7, 0) + _el(0xA3, b"\x81\0\0\x80" + b"\0" * 320))
    path = directory / name
    path.write_bytes(ebml + _el(0x18538067, info + tracks + cluster))
    return path


# ---------------------------------------------------------------- metadata that must not leak


def jpeg_with_gps(directory: Path, name: str = "gps.jpg") -> Path:
    """A photo with GPS coordinates, a camera make/model and a description in its EXIF."""
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x0110] = "Model-GPS-7"  # Model
    exif[0x010E] = "home address secret"  # ImageDescription
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (48.0, 51.0, 29.0)
    gps[3] = "E"
    gps[4] = (2.0, 17.0, 40.0)
    path = directory / name
    mf.upright_reference(320, 240).save(path, "JPEG", quality=90, exif=exif.tobytes())
    return path


# ---------------------------------------------------------------- the mutation fuzzer

INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One seeded mutant: a few byte flips, interesting integers, splices, cuts or repeats, mostly
    in the first 4 KB where headers live; the magic bytes usually survive so the parsers run."""
    out = bytearray(data)
    keep = 12 if rng.random() < 0.85 else 0
    for _ in range(rng.randint(1, 8)):
        if len(out) <= keep + 4:
            break
        hi = len(out) if rng.random() < 0.3 else min(len(out), 4096)
        at = rng.randrange(keep, max(keep + 1, hi - 4))
        op = rng.randrange(6)
        if op == 0:
            out[at] ^= 1 << rng.randrange(8)
        elif op == 1:
            out[at] = rng.randrange(256)
        elif op == 2:
            value = rng.choice(INTERESTING)
            width = rng.choice((1, 2, 4))
            out[at : at + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(
                width, rng.choice(("big", "little"))
            )
        elif op == 3:
            length = rng.randint(1, 64)
            out[at : at + length] = bytes(rng.randrange(256) for _ in range(length))
        elif op == 4:
            del out[rng.randrange(max(keep + 1, len(out) // 4), len(out)) :]  # truncate
        else:
            length = rng.randint(1, 256)
            out[at:at] = out[at : at + length]  # repeat a run
    return bytes(out)


def fuzz_seeds(directory: Path) -> dict[str, Path]:
    """One small sample of every accepted format, by our format name."""
    seeds = {
        "jpeg": mf.jpeg_exif_rotated(directory),
        "png": mf.png_rgba(directory, size=(64, 48)),
        "gif": mf.gif_animated(directory, frames=3),
        "webp": mf.webp_photo(directory, size=(64, 48)),
        "heif": mf.heic_photo(directory, size=(64, 48)),
        "mp4": mf.mp4_clip(directory, seconds=0.5),
        "mov": mf.mov_clip(directory, seconds=0.5),
        "webm": mf.webm_clip(directory, seconds=0.5),
        "mkv": mf.mkv_clip(directory, seconds=0.5),
        "avi": mf.avi_clip(directory, seconds=0.5),
        "mp3": mf.mp3_tone(directory, seconds=0.5),
        "wav": mf.wav_tone(directory, seconds=0.5),
        "m4a": mf.m4a_tone(directory, seconds=0.5),
        "aac": mf.aac_tone(directory, seconds=0.5),
    }
    return seeds
