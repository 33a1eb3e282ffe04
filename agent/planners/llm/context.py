"""What the model is told about the session: the uploads with what analysis found, and the draft
segment by segment (transition, motion, fit, captions, a clip's volume), the music with its
volume, fades, offset and delay, the title, the end card and the video fades. Every time and
length is in seconds, as in the tool schemas (agent.planners.llm.schemas): the model never sees
milliseconds. With this the model answers questions from the prompt, without a tool call.
"""

from __future__ import annotations

from agent import edits
from agent.state import MediaFile, SessionState
from agent.tools.state_view import clip_srcs
from renderer.music.catalogue import CATALOGUE, track_for_src
from renderer.schema.draft import Draft, Segment, Track, TrackType

MAX_SEGMENTS = 60  # video segments listed one by one; the rest are counted
MAX_CAPTIONS = 40
MAX_COLOURS = 3
TEXT_LIMIT = 80  # a caption longer than this is cut in the listing


def seconds(ms: int | float) -> str:
    """Milliseconds as the model reads them: seconds, at most two decimals, no trailing zeros."""
    return f"{round(ms / 1000, 2):g}"


def _clock(ms: int) -> str:
    whole = round(ms / 1000)
    return f"{whole // 60}:{whole % 60:02d}"


def _facts(f: MediaFile, state: SessionState) -> list[str]:
    """What the upload and its analysis say, beyond name and type (the keys media analysis and
    uploads write; anything missing is left out)."""
    extra = {**(f.model_extra or {}), **state.video_analyses.get(f.media_id, {})}
    facts: list[str] = []
    if f.width and f.height and f.file_type != "audio":
        facts.append(f"{f.orientation} {f.width}x{f.height}")
    if f.duration:
        facts.append(f"{f.duration:g} s")
    if f.file_type == "video" and f.has_audio is not None:
        facts.append("has sound" if f.has_audio else "silent")
    colours = extra.get("dominant_colors")
    if isinstance(colours, list) and colours:
        facts.append("colours " + " ".join(str(c) for c in colours[:MAX_COLOURS]))
    if extra.get("bpm"):
        facts.append(f"{float(extra['bpm']):g} bpm")
    return facts


def upload_lines(state: SessionState) -> list[str]:
    on_timeline = state.draft.sources() if state.draft else set()
    lines = []
    for f in state.video_infos:
        facts = _facts(f, state)
        where = ""
        if f.file_type != "audio" and state.draft is not None:
            where = " | on timeline" if f.cdn_url in on_timeline else " | NOT on timeline"
        lines.append(f"- {f.media_id} | {f.filename} | {f.file_type} | {', '.join(facts) or '-'}{where}")
    return lines or ["(nothing uploaded yet)"]


def _text_tracks(draft: Draft) -> dict[str, Track]:
    by_id = {t.id: t for t in draft.tracks(TrackType.TEXT)}
    return {
        kind: by_id[track_id]
        for kind, track_id in (
            ("title", edits.TITLE_TRACK_ID),
            ("caption", edits.CAPTION_TRACK_ID),
            ("end_card", edits.END_CARD_TRACK_ID),
        )
        if track_id in by_id
    }


def _short(text: str | None) -> str:
    words = (text or "").replace("\n", " ")
    return words if len(words) <= TEXT_LIMIT else words[: TEXT_LIMIT - 1] + "…"


def _segment_line(i: int, seg: Segment, names: dict[str, str], clips: set[str], captions: list[str]) -> str:
    kind = "clip" if seg.src in clips else "photo"
    name = names.get(seg.src or "", seg.m.name or seg.id)
    parts = [f"{i}. {name} ({kind}) {seconds(seg.st)}-{seconds(seg.end)} s"]
    if i > 1 or seg.m.tr is not None:
        tr = seg.m.tr
        parts.append(f"in: {tr.type} {seconds(tr.d)} s" if tr is not None and tr.d > 0 else "in: cut")
    if kind == "photo":
        parts.append(f"motion {seg.m.motion or 'auto'}")
    parts.append(f"fit {seg.m.fit or 'auto'}")
    if kind == "clip":
        if seg.ss:
            parts.append(f"from {seconds(seg.ss)} s of the clip")
        parts.append(f"sound {round((1.0 if seg.m.vol is None else seg.m.vol) * 100)}%")
    parts += [f'caption "{c}"' for c in captions]
    return " | ".join(parts)


def _captions_by_segment(video: Track, captions: Track | None) -> tuple[dict[str, list[str]], list[str]]:
    """Captions anchored to a segment (by its id), and the others as timed lines."""
    anchored: dict[str, list[str]] = {}
    loose: list[str] = []
    ids = {s.id for s in video.sg}
    for seg in (captions.sg if captions else [])[:MAX_CAPTIONS]:
        anchor = (seg.m.model_extra or {}).get("anchor")
        if isinstance(anchor, str) and anchor in ids:
            anchored.setdefault(anchor, []).append(_short(seg.m.text))
        else:
            loose.append(f'caption "{_short(seg.m.text)}" {seconds(seg.st)}-{seconds(seg.end)} s')
    return anchored, loose


def _music_line(track: Track, names: dict[str, str]) -> str:
    seg = track.sg[0]
    builtin = track_for_src(seg.src or "")
    name = f"built-in {builtin.name}" if builtin else f'"{names.get(seg.src or "", seg.m.name or "song")}"'
    vol = 1.0 if seg.m.vol is None else seg.m.vol
    parts = [
        f"Music: {name}, volume {vol:g}",
        f"fade in {seconds(seg.m.fade_in or 0)} s, out {seconds(seg.m.fade_out or 0)} s",
        f"starts {_clock(seg.ss)} into the song" if seg.ss else "from the song's start",
        f"comes in at {seconds(seg.st)} s" if seg.st else "from the video's start",
        "loops" if seg.m.loop else "no loop",
        f"plays {seconds(seg.st)}-{seconds(seg.end)} s",
    ]
    return ", ".join(parts) + "."


def draft_lines(state: SessionState) -> list[str]:
    """The draft as the model reads it: whole-video facts, then every segment, then music and text."""
    draft = state.draft
    if draft is None:
        return ["No timeline yet (make_slideshow makes one)."]
    names = {f.cdn_url: f.filename for f in state.video_infos}
    clips = clip_srcs(state)
    fades = [f"fade in from black {seconds(draft.m.fade_in)} s" if draft.m.fade_in else "",
             f"fade out to black {seconds(draft.m.fade_out)} s" if draft.m.fade_out else ""]  # fmt: skip
    lines = [
        f"Video: {seconds(draft.d)} s, canvas {draft.m.width}x{draft.m.height}"
        + "".join(f", {f}" for f in fades if f)
        + "."
    ]
    video = edits.video_track(draft)
    texts = _text_tracks(draft)
    if video is not None and video.sg:
        anchored, loose = _captions_by_segment(video, texts.get("caption"))
        lines.append("Segments (in: the transition into it):")
        lines += [
            _segment_line(i, seg, names, clips, anchored.get(seg.id, []))
            for i, seg in enumerate(video.sg[:MAX_SEGMENTS], start=1)
        ]
        if len(video.sg) > MAX_SEGMENTS:
            lines.append(f"... and {len(video.sg) - MAX_SEGMENTS} more segments")
        lines += loose
    music = draft.tracks(TrackType.AUDIO)
    lines.append(_music_line(music[0], names) if music and music[0].sg else "Music: none.")
    title = texts.get("title")
    if title is not None and title.sg:
        seg = title.sg[0]
        lines.append(
            f'Title: "{_short(seg.m.text)}" {seconds(seg.st)}-{seconds(seg.end)} s, {seg.m.pos or "center"}.'
        )
    end = texts.get("end_card")
    if end is not None and end.sg:
        seg = end.sg[0]
        lines.append(f'End card: "{_short(seg.m.text)}" last {seconds(seg.d)} s.')
    return lines


def builtin_music_line() -> str:
    songs = ", ".join(f"{t.name} ({t.mood}, {t.bpm:g} bpm)" for t in CATALOGUE.values())
    return f"Built-in music (source builtin:<name>): {songs}. New music plays at volume 0.35."
