"""Streaming multipart/form-data intake: file parts go to temp files under the storage root.

Starlette's `request.form()` has no size cap and spools parts itself, so uploads are parsed here
with python-multipart's push parser: each chunk of the body is written to the current part's temp
file as it arrives, counted and hashed; nothing holds a whole file in memory. The caller feeds
chunks (`feed`) and owns cleanup (`discard`) on every failure path.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from server.errors import ApiError, ErrorCode

FILE_FIELDS = ("files", "file")
HEAD_BYTES = 4096
_FIELD_LIMIT = 64 * 1024  # a plain (non-file) field is kept as text up to this, then refused
_FIELDS_KEPT_LIMIT = 64 * 1024  # all plain fields kept together: many small ones cannot pile up


@dataclass
class ReceivedFile:
    field_name: str
    filename: str  # the client's name, raw (cleaned by the caller)
    path: Path
    size: int = 0
    head: bytes = b""
    sha256: str = ""
    # Over the per-file limit: its temp file is gone, the rest of its bytes are counted and dropped,
    # and the caller refuses this file alone (4002 naming it); the other files go on.
    too_large: bool = False
    _hash: Any = field(default_factory=hashlib.sha256, repr=False)
    _fh: IO[bytes] | None = field(default=None, repr=False)


# One `; name=value` parameter of Content-Disposition: a quoted string (with backslash escapes) or
# a token. python-multipart's parse_options_header drops RFC 5987 `filename*` parameters, so a file
# named only that way was not seen as a file at all ("no files").
_PARAM = re.compile(rb';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def _params(value: bytes) -> dict[str, str]:
    params: dict[str, str] = {}
    for raw_name, raw_value in _PARAM.findall(value):
        text = raw_value.strip()
        if text.startswith(b'"') and text.endswith(b'"') and len(text) >= 2:
            text = re.sub(rb"\\(.)", rb"\1", text[1:-1])
        params.setdefault(raw_name.decode("latin-1").lower(), text.decode("utf-8", "replace"))
    return params


def _ext_value(value: str) -> str:
    """RFC 5987 `charset'language'percent-encoded`; an unknown charset is read as UTF-8."""
    charset, _, rest = value.partition("'")
    _, _, encoded = rest.partition("'")
    if not rest:
        return unquote(value, errors="replace")
    try:
        return unquote(encoded, encoding=charset or "utf-8", errors="replace")
    except LookupError:
        return unquote(encoded, errors="replace")


def _disposition(value: bytes) -> tuple[str, str | None]:
    """(field name, filename or None). `filename*` wins over `filename` (RFC 6266 4.3)."""
    params = _params(value)
    name = params.get("name", "")
    if "filename*" in params:
        return name, _ext_value(params["filename*"])
    if "filename" in params:
        return name, params["filename"]
    return name, None


class MultipartReceiver:
    def __init__(
        self,
        content_type: str,
        tmp_path_factory: Any,
        *,
        file_limit: int,
        max_files: int,
    ) -> None:
        _, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if not boundary or len(boundary) > 200:
            raise ApiError(ErrorCode.BAD_REQUEST, "multipart body without a boundary")
        self._new_path = tmp_path_factory
        self.file_limit = file_limit
        self.max_files = max_files
        self.files: list[ReceivedFile] = []
        # Plain fields by name (the gateway's upload names its session in one), last value wins.
        self.fields: dict[str, str] = {}
        self._plain_name: str | None = None
        self._plain = bytearray()
        self._fields_kept_bytes = 0
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._current: ReceivedFile | None = None
        self._field_bytes = 0
        self._finished = False
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
            # Room for absurd filenames (they are data: cleaned and kept as text), still bounded.
            max_header_count=16,
            max_header_size=32 * 1024,
        )

    # ------------------------------------------------------------ parser callbacks

    def _part_begin(self) -> None:
        self._headers = {}
        self._current = None
        self._field_bytes = 0
        self._plain_name = None
        self._plain = bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def _headers_finished(self) -> None:
        name, filename = _disposition(self._headers.get(b"content-disposition", b""))
        if filename is None:
            self._plain_name = name  # a plain field: kept as text (bounded by _FIELD_LIMIT)
            return
        if name not in FILE_FIELDS:
            return  # a file under a name we do not read: drained, not kept
        if len(self.files) >= self.max_files:
            raise ApiError(ErrorCode.BAD_REQUEST, f"at most {self.max_files} files per upload")
        received = ReceivedFile(field_name=name, filename=filename, path=self._new_path())
        self.files.append(received)
        received._fh = open(received.path, "xb")  # noqa: SIM115 - closed in _part_end / discard
        self._current = received

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        current = self._current
        if current is None:
            self._field_bytes += end - start
            if self._field_bytes > _FIELD_LIMIT:
                raise ApiError(ErrorCode.BAD_REQUEST, "a form field is too long")
            if self._plain_name is not None:
                self._plain += data[start:end]
                self._fields_kept_bytes += end - start
                if self._fields_kept_bytes > _FIELDS_KEPT_LIMIT:
                    raise ApiError(ErrorCode.BAD_REQUEST, "too many form fields")
            return
        chunk = data[start:end]
        current.size += len(chunk)
        if current.too_large:
            return
        if current.size > self.file_limit:
            current.too_large = True
            self._drop(current)
            return
        if len(current.head) < HEAD_BYTES:
            current.head += chunk[: HEAD_BYTES - len(current.head)]
        current._hash.update(chunk)
        assert current._fh is not None
        current._fh.write(chunk)

    def _part_end(self) -> None:
        if self._plain_name is not None:
            self.fields[self._plain_name] = self._plain.decode("utf-8", "replace")
            self._plain_name = None
        current = self._current
        if current is not None and current._fh is not None and not current.too_large:
            current._fh.close()
            current._fh = None
            current.sha256 = current._hash.hexdigest()
        self._current = None

    def _end(self) -> None:
        self._finished = True

    # ------------------------------------------------------------ driving

    def feed(self, chunk: bytes) -> None:
        """Parse one chunk of the body (blocking file writes: call it off the event loop)."""
        try:
            self._parser.write(chunk)
        except ApiError:
            raise
        except FormParserError as exc:  # the body's fault; an OSError (a full disk) is the server's
            raise ApiError(ErrorCode.BAD_REQUEST, "malformed multipart body") from exc

    def finish(self) -> list[ReceivedFile]:
        self._parser.finalize()
        if not self._finished or any(f._fh is not None for f in self.files):
            raise ApiError(ErrorCode.BAD_REQUEST, "the multipart body ended early")
        return self.files

    @staticmethod
    def _drop(received: ReceivedFile) -> None:
        if received._fh is not None:
            fh, received._fh = received._fh, None
            # Closing flushes what the write buffer still holds; on a full disk that fails again,
            # and the file must go all the same (the descriptor is closed even when flush fails).
            with contextlib.suppress(OSError):
                fh.close()
        with contextlib.suppress(FileNotFoundError):
            received.path.unlink()

    def discard(self) -> None:
        """Close and remove every temp file this request made."""
        for received in self.files:
            self._drop(received)
