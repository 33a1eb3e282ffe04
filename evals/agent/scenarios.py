"""The sessions FORMAT.md's cases start from, built exactly as it specifies.

The media are facts only (no pixels: planning never opens a file). The `made` drafts are built
with the real tools (so they are drafts the agent itself could have made) and then set to the
table's values: 3 s per photo, fit cover, motion zoom_in, a 0.5 s crossfade into every segment
after the first, the clip's first 4 s with its own sound, and the song at 100% from 0:00 with no
fade in and a 2 s fade out. The undo history of that setup is dropped: the rough cut is where the
session starts.
"""

from __future__ import annotations

from typing import Literal

from agent.state import MediaFile, SessionState
from agent.tools.base import ToolContext
from agent.tools.registry import registry
from renderer.schema.draft import TrackType

ScenarioName = Literal["fresh", "made", "made_plus_new", "titled", "made_zh", "fresh_zh"]
SCENARIOS: tuple[str, ...] = ("fresh", "made", "made_plus_new", "titled", "made_zh", "fresh_zh")

PORTRAIT = (3024, 4032)
LANDSCAPE = (4032, 3024)

# (stem, ext, kind, size) in upload order; the Chinese scenario renames the stems only.
_EN = [
    ("cat_on_sofa", "jpg", "image", PORTRAIT),
    ("lake_sunset", "jpg", "image", LANDSCAPE),
    ("beach_day", "jpg", "image", LANDSCAPE),
    ("birthday_cake", "jpg", "image", PORTRAIT),
    ("mountain_hike", "jpg", "image", LANDSCAPE),
    ("dog_park", "jpg", "image", PORTRAIT),
    ("fireworks", "mp4", "video", (1920, 1080)),
    ("summer_vibes", "mp3", "audio", None),
]
ZH_STEMS = {
    "cat_on_sofa": "猫咪",
    "lake_sunset": "西湖日落",
    "beach_day": "海边",
    "birthday_cake": "生日蛋糕",
    "mountain_hike": "爬山",
    "dog_park": "小狗",
    "fireworks": "烟花",
    "summer_vibes": "夏日",
}
NEW_UPLOADS = [("pizza_night", "jpg", "image", LANDSCAPE), ("city_skyline", "jpg", "image", PORTRAIT)]
CLIP_S = 8.0
SONG_S = 150.0
SONG_BPM = 120


def _file(n: int, stem: str, ext: str, kind: str, size: tuple[int, int] | None) -> MediaFile:
    fields: dict[str, object] = {}
    if kind == "video":
        fields = {"duration": CLIP_S, "fps": 30.0, "has_audio": True}
    elif kind == "audio":
        fields = {"duration": SONG_S, "has_audio": True, "bpm": SONG_BPM}
    return MediaFile(
        media_id=f"med{n:02d}",
        filename=f"{stem}.{ext}",
        file_type=kind,
        cdn_url=f"http://127.0.0.1:8000/media/med{n:02d}.{ext}",
        width=size[0] if size else None,
        height=size[1] if size else None,
        hash=f"{n:064x}",
        size=1_000_000 + n,
        **fields,
    )


def uploads(zh: bool = False, plus_new: bool = False) -> list[MediaFile]:
    rows = [(ZH_STEMS[s] if zh else s, e, k, z) for s, e, k, z in _EN]
    files = [_file(n, *row) for n, row in enumerate(rows)]
    if plus_new:
        files += [_file(len(files) + n, *row) for n, row in enumerate(NEW_UPLOADS)]
    return files


def _analyses(files: list[MediaFile]) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for f in files:
        if f.file_type == "audio":
            out[f.media_id] = {"bpm": SONG_BPM}
        elif f.orientation:
            out[f.media_id] = {"orientation": f.orientation}
    return out


def _rough_cut(files: list[MediaFile]) -> SessionState:
    """`made`: the rough cut of the six photos and the clip, with the song (see the module docstring)."""
    tools = registry()
    ctx = ToolContext(now=lambda: 1_780_000_000.0)
    on_timeline = list(files[:7])
    state = SessionState(video_infos=files, video_analyses=_analyses(files))
    state = (
        tools["make_slideshow"]
        .run(
            state,
            {
                "media_ids": [f.media_id for f in on_timeline],
                "seconds_per_photo": 3,
                "transition": "crossfade",
                "transition_seconds": 0.5,
                "motion": "zoom_in",
                "fit": "cover",
                "aspect": "9:16",
            },
            ctx,
        )
        .state
    )
    clip = files[6]
    state = tools["trim_segment"].run(state, {"target": {"name": clip.filename}, "seconds": 4}, ctx).state
    song = files[7]
    state = (
        tools["set_music"]
        .run(
            state,
            {"source": song.media_id, "volume": 1.0, "fade_in_ms": 0, "fade_out_ms": 2000, "loop": True},
            ctx,
        )
        .state
    )
    draft = state.draft
    assert draft is not None and draft.d == 19_000, draft
    video = draft.tracks(TrackType.VIDEO)[0]
    fits = {s.m.fit for s in video.sg}
    assert fits == {"cover"}, fits
    return state.model_copy(update={"history": None})


def _titled(state: SessionState) -> SessionState:
    tools = registry()
    ctx = ToolContext(now=lambda: 1_780_000_000.0)
    new = (
        tools["add_title"]
        .run(
            state,
            {"text": "Summer 2026", "start_seconds": 0, "duration_seconds": 3, "position": "center"},
            ctx,
        )
        .state
    )
    return new.model_copy(update={"history": None})


def build(name: str) -> SessionState:
    if name == "fresh":
        files = uploads()
        return SessionState(video_infos=files, video_analyses=_analyses(files))
    if name == "fresh_zh":
        files = uploads(zh=True)
        return SessionState(video_infos=files, video_analyses=_analyses(files))
    if name == "made":
        return _rough_cut(uploads())
    if name == "made_zh":
        return _rough_cut(uploads(zh=True))
    if name == "titled":
        return _titled(_rough_cut(uploads()))
    if name == "made_plus_new":
        made = _rough_cut(uploads())
        files = uploads(plus_new=True)
        return made.model_copy(update={"video_infos": files, "video_analyses": _analyses(files)})
    raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
