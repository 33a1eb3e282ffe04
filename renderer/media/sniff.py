"""What a file claims to be, from its first bytes; and a fast JPEG structure check.

Magic bytes only, never the extension or Content-Type. `None` from `sniff` means "not a format we
accept". Pure Python, no decoding: the probe (renderer/media/probe.py) confirms with a real open.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO, Literal

from pydantic import BaseModel, ConfigDict

Kind = Literal["image", "video", "audio"]

# FFmpeg demuxers we open, by our format name. The mov demuxer covers mp4/mov/m4a.
DEMUXERS: dict[str, str] = {
    "mp4": "mov",
    "mov": "mov",
    "m4a": "mov",
    "matroska": "matroska",
    "webm": "matroska",
    "avi": "avi",
    "mp3": "mp3",
    "wav": "wav",
    "aac": "aac",
}

_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
_QT_ATOMS = {b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot"}


class MediaError(Exception):
    """A file we will not take. `code`: unsupported | too_large | corrupt; `message` is user-safe."""

    def __init__(self, code: Literal["unsupported", "too_large", "corrupt"], message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Sniffed(BaseModel):
    """What the magic bytes say. `format` is our name (jpeg, png, gif, webp, heif, mp4, mov, m4a,
    webm, matroska, avi, mp3, wav, aac); `ext` the extension we store it under."""

    model_config = ConfigDict(frozen=True)

    kind: Kind
    format: str
    ext: str

    @property
    def demuxer(self) -> str | None:
        return DEMUXERS.get(self.format)


def _ftyp(head: bytes) -> Sniffed | None:
    brand = head[8:12]
    if brand in _HEIF_BRANDS:
        return Sniffed(kind="image", format="heif", ext="heic")
    if brand in (b"avif", b"avis"):
        return None  # not in the accepted list
    if brand == b"qt  ":
        return Sniffed(kind="video", format="mov", ext="mov")
    if brand in (b"M4A ", b"M4B "):
        return Sniffed(kind="audio", format="m4a", ext="m4a")
    return Sniffed(kind="video", format="mp4", ext="mp4")


def _mpeg_audio(head: bytes) -> Sniffed | None:
    if len(head) < 2 or head[0] != 0xFF:
        return None
    b1 = head[1]
    if b1 & 0xF6 == 0xF0:  # 12 sync bits, layer 00: AAC ADTS
        return Sniffed(kind="audio", format="aac", ext="aac")
    layer = (b1 >> 1) & 0x3
    version = (b1 >> 3) & 0x3
    if b1 & 0xE0 == 0xE0 and layer != 0 and version != 1:  # 11 sync bits, a real layer: MPEG audio
        return Sniffed(kind="audio", format="mp3", ext="mp3")
    return None


def sniff(head: bytes) -> Sniffed | None:
    """The media type from magic bytes (give it the first 64+ bytes); None: not a format we take."""
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed(kind="image", format="jpeg", ext="jpg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed(kind="image", format="png", ext="png")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Sniffed(kind="image", format="gif", ext="gif")
    if head[:4] == b"RIFF":
        sub = head[8:12]
        if sub == b"WEBP":
            return Sniffed(kind="image", format="webp", ext="webp")
        if sub == b"AVI ":
            return Sniffed(kind="video", format="avi", ext="avi")
        if sub == b"WAVE":
            return Sniffed(kind="audio", format="wav", ext="wav")
        return None
    if head[4:8] == b"ftyp":
        return _ftyp(head)
    if head[4:8] in _QT_ATOMS:
        return Sniffed(kind="video", format="mov", ext="mov")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        if b"webm" in head[:64]:
            return Sniffed(kind="video", format="webm", ext="webm")
        return Sniffed(kind="video", format="matroska", ext="mkv")
    if head.startswith(b"ID3") and len(head) >= 10:
        # ID3v2 size is synch-safe; look at what follows when the head reaches that far.
        size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
        after = head[10 + size :]
        if head[5] & 0x10:
            after = after[10:]  # footer present
        found = _mpeg_audio(after) if len(after) >= 2 else None
        return found or Sniffed(kind="audio", format="mp3", ext="mp3")
    if head.startswith(b"ADIF"):
        return Sniffed(kind="audio", format="aac", ext="aac")
    return _mpeg_audio(head)


_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
JPEG_HEADER_LIMIT = 16 * 1024 * 1024  # EXIF, ICC and XMP segments before the frame header
_JPEG_JUNK_LIMIT = 4096


def check_jpeg_header(path: Path) -> None:
    """Walk the JPEG segments up to the frame header, segment by segment.

    Pillow finds the frame header by reading byte by byte past anything it does not understand,
    so a "JPEG" of 200 MB of junk costs half a minute of CPU before failing; this walk refuses it
    after a few reads."""
    with open(path, "rb") as fh:
        if fh.read(2) != b"\xff\xd8":
            raise MediaError("unsupported", "not a JPEG")
        junk = 0
        while fh.tell() < JPEG_HEADER_LIMIT:
            head = fh.read(2)
            if len(head) < 2:
                break
            if head[0] != 0xFF:
                junk += 1
                if junk > _JPEG_JUNK_LIMIT:
                    break
                fh.seek(-1, 1)
                continue
            marker = head[1]
            if marker == 0xFF:
                fh.seek(-1, 1)  # fill byte
            elif marker in _SOF_MARKERS:
                return
            elif marker == 0xD9:
                break
            elif marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
                continue
            else:
                size = fh.read(2)
                if len(size) < 2 or int.from_bytes(size, "big") < 2:
                    break
                fh.seek(int.from_bytes(size, "big") - 2, 1)
    raise MediaError("corrupt", "the JPEG has no readable frame header")


_MP4_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}
_MP4_MAX_DEPTH = 8


def check_mp4_tables(path: Path) -> None:
    """Refuse an MP4/MOV whose sample tables describe more data than the file holds.

    FFmpeg's mov demuxer builds an index entry per sample the `stsz` box declares; a constant
    sample size lets a 1 MB file declare 28.8 million samples (8 hours at 1000 fps), which costs
    seconds and gigabytes before any decode fails. Walked box by box with seeks: no decoding."""
    size = Path(path).stat().st_size
    with open(path, "rb") as fh:
        _walk_mp4(fh, 0, size, size, 0)


def _walk_mp4(fh: BinaryIO, start: int, end: int, file_size: int, depth: int) -> None:
    pos = start
    while pos + 8 <= end:
        fh.seek(pos)
        header = fh.read(8)
        if len(header) < 8:
            return
        box_size, kind = struct.unpack(">I4s", header)
        head_len = 8
        if box_size == 1:
            wide = fh.read(8)
            if len(wide) < 8:
                return
            box_size, head_len = struct.unpack(">Q", wide)[0], 16
        elif box_size == 0:
            box_size = end - pos
        if box_size < head_len:
            return  # a broken structure: FFmpeg refuses it on its own
        box_end = min(pos + box_size, end)
        if kind in _MP4_CONTAINERS and depth < _MP4_MAX_DEPTH:
            _walk_mp4(fh, pos + head_len, box_end, file_size, depth + 1)
        elif kind == b"stsz":
            fh.seek(pos + head_len + 4)  # after version and flags
            fields = fh.read(8)
            if len(fields) == 8:
                sample_size, count = struct.unpack(">II", fields)
                if sample_size * count > file_size:
                    raise MediaError(
                        "corrupt", "the media's sample table describes more data than the file holds"
                    )
        pos += box_size
