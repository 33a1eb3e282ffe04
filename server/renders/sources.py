"""Where a render's worker finds each `src` of the draft: this user's uploads (a photo's normalised
proxy when made), built-in tracks, or a foreign URL fetched through the guarded downloader first.
Anything else is a 400 that names the segment."""

from __future__ import annotations

import json
from urllib.parse import unquote, urlsplit

from sqlmodel import Session, select

from database.engine import read_session
from renderer.music.catalogue import CATALOGUE
from renderer.schema.draft import Draft, TrackType
from server.context import AppContext
from server.errors import ApiError, ErrorCode
from server.fetch_url import FetchError, fetcher_for
from server.storage import Storage
from server.tables import Media, User
from server.uploads import clean_filename, hash_file, intake


def bad_draft(where: str, why: str) -> ApiError:
    return ApiError(ErrorCode.BAD_REQUEST, f"invalid draft: {where}: {why}")


class SourceResolver:
    """Resolves a draft's sources for one app (its storage, settings and fetch policy)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def _own_hosts(self, base_url: str) -> set[str]:
        hosts = {urlsplit(base_url).netloc.lower()}
        if self.ctx.settings.public_url:
            hosts.add(urlsplit(self.ctx.settings.public_url).netloc.lower())
        return hosts

    def resolve(self, user: User, session_id: str, draft: Draft, base_url: str) -> dict[str, str]:
        """Every `src` -> where the worker finds it (a storage key, or `builtin:<name>`); 400 naming
        the segment for anything that is not media this server holds for this user."""
        resolved: dict[str, str] = {}
        own_hosts = self._own_hosts(base_url)
        with read_session(self.ctx.engine) as db:
            for ti, track in enumerate(draft.t):
                if track.tt not in (TrackType.VIDEO, TrackType.AUDIO):
                    continue
                for si, seg in enumerate(track.sg):
                    src = seg.src or ""
                    if src in resolved:
                        continue
                    where = f"draft.t.{ti}.sg.{si}.src"
                    resolved[src] = self._resolve_one(db, user, session_id, src, where, own_hosts)
        return resolved

    def render_key(self, media: Media) -> str:
        """The file the renderer reads: a photo's normalised proxy once made (EXIF-oriented, sRGB,
        already small: a 12 MP HEIC is not decoded again per render), else the upload itself."""
        if media.file_type == "image":
            proxy = json.loads(media.info_json).get("proxy_key")
            if isinstance(proxy, str) and self.ctx.storage.exists(proxy):
                return proxy
        return media.storage_key

    def _resolve_one(
        self, db: Session, user: User, session_id: str, src: str, where: str, own_hosts: set[str]
    ) -> str:
        if src.startswith("builtin:"):
            name = src.removeprefix("builtin:")
            if name not in CATALOGUE:
                known = ", ".join(sorted(CATALOGUE))
                raise bad_draft(where, f"unknown built-in track {name!r}; known: {known}")
            return src
        media = db.get(Media, src) if len(src) <= 64 else None
        if media is not None and media.user_id == user.id:
            return self.render_key(media)
        parts = urlsplit(src)
        ours = parts.scheme == "" or (parts.scheme in ("http", "https") and parts.netloc.lower() in own_hosts)
        if ours and "/media/" in parts.path:
            key = Storage.key_from_url_path(unquote(parts.path.split("/media/", 1)[1]))
            found = db.exec(select(Media).where(Media.storage_key == key, Media.user_id == user.id)).first()
            if found is not None:
                return self.render_key(found)
            raise bad_draft(where, f"{src!r} is not one of your uploads")
        if parts.scheme in ("http", "https") and parts.netloc:
            return self._fetch_foreign(user, session_id, src, where)
        raise bad_draft(where, "src must be an uploaded file's cdn_url or media_id, or builtin:<name>")

    def _fetch_foreign(self, user: User, session_id: str, src: str, where: str) -> str:
        """A foreign URL goes through the guarded downloader and the upload checks into storage
        (4003 when the fetch policy refuses it); the job then names the stored copy."""
        storage = self.ctx.storage
        tmp = storage.new_tmp_path()
        try:
            result = fetcher_for(self.ctx).fetch_to_file_sync(src, tmp)
            digest, size = hash_file(tmp)
            item = intake(
                storage, tmp, filename=clean_filename(result.filename), sha256=digest, size=size,
                max_pixels=self.ctx.settings.max_image_pixels, analyse=False,
            )  # fmt: skip
        except FetchError as exc:
            code = ErrorCode.FILE_TOO_LARGE if exc.code == "too_large" else ErrorCode.URL_REFUSED
            raise ApiError(code, f"{where}: {exc.message}") from None
        except ApiError as exc:
            raise ApiError(exc.code, f"{where}: {exc.message}") from None
        finally:
            tmp.unlink(missing_ok=True)
        return item.key
