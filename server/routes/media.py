"""GET /media/{path}: the stored uploads and proxies behind every `cdn_url` (Range, inline), and
finished renders behind their `outputUrl` (`media/renders/<job>-<key>/<id>.mp4`).

A `cdn_url` carries the MAC of its key under the server's secret (storage.media_mac): keys are
content hashes, which anyone holding a file can compute, so the MAC is what makes the link
unguessable like the CDN URLs clients already hold, and lets media be served without a token
(clients and the renderer fetch `cdn_url` with plain GETs). Only keys under the media and proxy
folders are served, and only with their MAC; anything else, or anything escaping the root, is a
404, the same 404 as for a file that does not exist.
"""

from __future__ import annotations

import hmac
import re
from urllib.parse import unquote

from fastapi import APIRouter
from fastapi.responses import FileResponse

from server.deps import CtxDep
from server.errors import ApiError, ErrorCode
from server.responses import errors
from server.storage import Storage, StorageError, media_mac

router = APIRouter(tags=["media"])

SERVED_ROOTS = ("media/", "proxies/")
_RENDER_OUTPUT = re.compile(r"renders/(?P<job>\d{1,18})-(?P<mac>[0-9a-f]{32})/(?P<render_id>[^/]+)\.mp4")
CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "heic": "image/heic",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
    "avi": "video/x-msvideo",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
}


@router.get(
    "/media/{path:path}",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, **errors(ErrorCode.RENDER_NOT_FOUND)},
    summary="A stored upload (the `cdn_url` of a file); supports Range",
)
def get_media(path: str, ctx: CtxDep) -> FileResponse:
    not_found = ApiError(ErrorCode.RENDER_NOT_FOUND, "media not found")
    shared = _RENDER_OUTPUT.fullmatch(path)
    if shared is not None:  # a render's outputUrl: the link is its own key (renders/links.py output_url)
        file, filename = ctx.renders.shared_output(
            int(shared["job"]), shared["mac"], unquote(shared["render_id"])
        )
        return FileResponse(
            file,
            media_type="video/mp4",
            filename=filename,
            content_disposition_type="inline",
            headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )
    key, mac = Storage.parse_url_path(path)
    if not key.startswith(SERVED_ROOTS) or mac is None:
        raise not_found
    if not hmac.compare_digest(mac, media_mac(ctx.secret, key)):
        raise not_found
    try:
        file = ctx.storage.path_for(key)
    except StorageError:
        raise not_found from None
    if not file.is_file():
        raise not_found
    ext = file.suffix.lstrip(".").lower()
    return FileResponse(
        file,
        media_type=CONTENT_TYPES.get(ext, "application/octet-stream"),
        filename=file.name,
        content_disposition_type="inline",
        headers={"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"},
    )


# HEAD: the same headers as GET without the bytes (a render's outputUrl is checked this way).
router.add_api_route(
    "/media/{path:path}", get_media, methods=["HEAD"], include_in_schema=False, name="head_media"
)
