"""The one-line timeline summary every reply ends with (api-contract.md, /run_sse).

`Timeline (3 tracks): 1. Video: 10 photos (0-30s) 2. BGM: Lo-fi (0-30s, 35%) 3. Title: "Summer" (0-3s)`
"""

from __future__ import annotations

from collections.abc import Set
from typing import Literal

from renderer.schema.draft import Draft, Segment, Track, TrackType


def _secs(ms: int) -> str:
    value = round(ms / 1000, 1)
    return f"{value:g}"


def _span(segs: list[Segment]) -> str:
    start = min(s.st for s in segs)
    end = max(s.end for s in segs)
    return f"{_secs(start)}-{_secs(end)}s"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _video(track: Track, clip_srcs: Set[str]) -> str:
    clips = sum(1 for s in track.sg if s.src in clip_srcs)
    photos = len(track.sg) - clips
    parts = [_count(photos, "photo", "photos")] if photos or not clips else []
    if clips:
        parts.append(_count(clips, "clip", "clips"))
    return f"Video: {', '.join(parts)} ({_span(track.sg)})" if track.sg else "Video: empty"


def _audio(track: Track) -> str:
    if not track.sg:
        return "BGM: empty"
    first = track.sg[0]
    name = first.m.name or (first.src or "audio")
    vol = round((first.m.vol if first.m.vol is not None else 1.0) * 100)
    return f"BGM: {name} ({_span(track.sg)}, {vol}%)"


def _text(track: Track) -> str:
    name = track.m.name if track.m.name in ("Captions", "End card") else None
    if not track.sg:
        return f"{name or 'Text'}: empty"
    if len(track.sg) == 1:
        seg = track.sg[0]
        label = name or ("Title" if seg.st == 0 else "Text")
        return f'{label}: "{seg.m.text}" ({_span(track.sg)})'
    return f"{name or 'Text'}: {len(track.sg)} captions ({_span(track.sg)})"


def _span_zh(segs: list[Segment]) -> str:
    return f"{_secs(min(s.st for s in segs))}-{_secs(max(s.end for s in segs))} 秒"


def _video_zh(track: Track, clip_srcs: Set[str]) -> str:
    if not track.sg:
        return "视频：空"
    clips = sum(1 for s in track.sg if s.src in clip_srcs)
    photos = len(track.sg) - clips
    parts = [f"{photos} 张照片"] if photos or not clips else []
    if clips:
        parts.append(f"{clips} 个视频片段")
    return f"视频：{'、'.join(parts)}（{_span_zh(track.sg)}）"


def _audio_zh(track: Track) -> str:
    if not track.sg:
        return "背景音乐：空"
    first = track.sg[0]
    name = first.m.name or (first.src or "音频")
    vol = round((first.m.vol if first.m.vol is not None else 1.0) * 100)
    return f"背景音乐：{name}（{_span_zh(track.sg)}，音量 {vol}%）"


def _text_zh(track: Track) -> str:
    names = {"Captions": "字幕", "End card": "片尾字幕"}
    name = names.get(track.m.name or "")
    if not track.sg:
        return f"{name or '文字'}：空"
    if len(track.sg) == 1:
        seg = track.sg[0]
        label = name or ("标题" if seg.st == 0 else "文字")
        return f"{label}：「{seg.m.text}」（{_span_zh(track.sg)}）"
    return f"{name or '文字'}：{len(track.sg)} 条（{_span_zh(track.sg)}）"


def timeline_summary(
    draft: Draft | None, clip_srcs: Set[str] = frozenset(), lang: Literal["en", "zh"] = "en"
) -> str:
    """One line, tracks in draft order; `clip_srcs` tells video clips from photos; in `lang`."""
    zh = lang == "zh"
    if draft is None or not draft.t:
        return "时间线（0 条轨道）：空" if zh else "Timeline (0 tracks): empty"
    items = []
    for i, track in enumerate(draft.t, start=1):
        if track.tt == TrackType.VIDEO:
            body = _video_zh(track, clip_srcs) if zh else _video(track, clip_srcs)
        elif track.tt == TrackType.AUDIO:
            body = _audio_zh(track) if zh else _audio(track)
        else:
            body = _text_zh(track) if zh else _text(track)
        items.append(f"{i}. {body}")
    if zh:
        return f"时间线（{len(draft.t)} 条轨道）：" + " ".join(items)
    return f"Timeline ({_count(len(draft.t), 'track', 'tracks')}): " + " ".join(items)
