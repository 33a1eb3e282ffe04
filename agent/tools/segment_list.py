"""The video track's segment list as segment tools edit it: read it, lay a new order out, find uploads.

Transitions belong to positions, not to segments: after a move the cut between the 2nd and 3rd
segment is still the same kind, so reordering never leaves a stray hard cut.
"""

from __future__ import annotations

from collections import Counter

from agent import edits
from agent.state import MediaFile, SessionState
from agent.tools.base import ToolError
from agent.tools.state_view import commit, natural_ms, refit, require_draft, require_video, visual_media
from renderer.schema.draft import Segment, Transition


def segments(state: SessionState) -> list[Segment]:
    video = edits.video_track(require_draft(state))
    assert video is not None
    return list(video.sg)


def _common_tr(segs: list[Segment]) -> Transition | None:
    kinds = Counter((s.m.tr.type, s.m.tr.d) for s in segs[1:] if s.m.tr)
    if not kinds:
        return None
    (kind, d), _ = kinds.most_common(1)[0]
    return Transition(type=kind, d=d)


def keep_positions(old: list[Segment], new: list[Segment]) -> list[Segment]:
    """Each position keeps the transition it had; new positions take the usual one."""
    usual = _common_tr(old)
    out = []
    for i, seg in enumerate(new):
        tr = (old[i].m.tr if i < len(old) else usual) if i else None
        out.append(seg.model_copy(update={"m": seg.m.model_copy(update={"tr": tr})}))
    return out


def apply_segments(
    state: SessionState, segs: list[Segment], *, positions_from: list[Segment] | None = None
) -> SessionState:
    if not segs:
        raise ToolError("the video needs at least one photo or clip", "视频至少需要一张照片或一个片段")
    if positions_from is not None:
        segs = keep_positions(positions_from, segs)
    draft, video = require_video(state)
    laid = edits.relayout(segs)
    draft = edits.replace_track(draft, video.model_copy(update={"sg": laid}))
    return commit(state, edits.fit_to_length(refit(draft, state), natural_ms(state)))


def usual_photo_ms(segs: list[Segment], clips: set[str]) -> int:
    """The time most photos show for: what a photo joining the timeline gets."""
    common = Counter(s.d for s in segs if s.src not in clips).most_common(1)
    return common[0][0] if common else edits.DEFAULT_PHOTO_MS


def unused_media(state: SessionState) -> list[MediaFile]:
    """Uploaded photos and clips not on the timeline: "the new photo"."""
    used = {s.src for s in segments(state)} if state.draft else set()
    return [f for f in visual_media(state) if f.cdn_url not in used]


def find_upload(state: SessionState, media: str) -> MediaFile:
    """The uploaded photo or clip `media` names (media_id or file name), or 'new': the one upload
    not on the timeline. A ToolError says what there is when that is none or several."""
    uploads = visual_media(state)
    if media.strip().lower() == "new":
        fresh = unused_media(state)
        if len(fresh) == 1:
            return fresh[0]
        if not fresh:
            raise ToolError(
                "every upload is already on the timeline: upload the new photo or clip first",
                "所有素材都已经在时间线上了：请先上传新的照片或视频",
            )
        names = ", ".join(f.filename for f in fresh)
        raise ToolError(
            f"which one? {len(fresh)} uploads are not on the timeline: {names}",
            f"是哪一个？有 {len(fresh)} 个素材不在时间线上：{names}",
        )
    by_key = {k.lower(): f for f in uploads for k in (f.media_id, f.filename)}
    found = by_key.get(media.strip().lower())
    if found is None:
        names = ", ".join(f.filename for f in uploads) or "none"
        raise ToolError(
            f"there is no uploaded photo or clip named {media!r}; uploaded: {names}",
            f"没有名为「{media}」的照片或视频；已上传：{names}",
        )
    return found
