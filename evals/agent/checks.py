"""FORMAT.md's checks and the rules it applies to every case, over two DraftViews and the reply.

Each function returns a list of failures (empty: it held). Scope failures are also *destructive*
(an edit outside the requested target set) and are counted apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from evals.agent.view import DraftView, SegView

DURATION_TOL_S = 0.15
TRANSITION_TOL_S = 0.05
VIDEO_TOL_S = 0.5
MUSIC_TOL = 0.05  # volumes, and seconds of fades and offsets, when a plain number is given
SEG_KEYS = ("duration_s", "motion", "fit", "transition", "transition_s", "caption")
# The generic "I don't understand" answer: the rule planner's words for it (agent/planners/rules).
FALLBACK_MARKERS = ("I'm not sure what to change", "我不确定要改什么")
# An honest refusal says it cannot (any of these), in either language.
REFUSAL_MARKERS = (
    "can't",
    "cannot",
    "can not",
    "not able",
    "unable",
    "isn't possible",
    "is not possible",
    "not supported",
    "don't support",
    "doesn't support",
    "only",
    "不能",
    "无法",
    "不支持",
    "没法",
    "做不到",
    "不可以",
    "只能",
    "暂不",
)
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_FILE_TOKEN = re.compile(
    r"[\w\u3400-\u9fff().\-]+\.(?:jpe?g|png|heic|webp|gif|mp4|mov|mp3|m4a|wav|aac)", re.I
)
_QUOTED = re.compile(r"[\"“「『'‘][^\"”」』'’]*[\"”」』'’]")
# Words a Chinese reply may keep in Latin letters (units, formats, names of things).
_LATIN_OK = {"mp4", "bpm", "fps", "gif", "mov", "lofi", "lo", "fi", "vlog", "tiktok", "ok", "id", "hd", "ms"}


@dataclass
class Outcome:
    failures: list[str] = field(default_factory=list)
    destructive: list[str] = field(default_factory=list)
    fallback: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures and not self.destructive


# ---- values ----


def _num_ok(actual: float | None, want: Any, before: float | None, tol: float) -> bool:
    if actual is None:
        return False
    if isinstance(want, dict):
        if "gt" in want and not actual > float(want["gt"]):
            return False
        if "lt" in want and not actual < float(want["lt"]):
            return False
        if "between" in want:
            lo, hi = (float(v) for v in want["between"])
            if not lo - 1e-9 <= actual <= hi + 1e-9:
                return False
        changed = before is None or abs(actual - before) > 1e-6
        return "changed" not in want or changed == bool(want["changed"])
    return abs(actual - float(want)) <= tol + 1e-9


def _text_ok(actual: str | None, want: Any, before: str | None = None) -> bool:
    if isinstance(want, dict):
        if actual is None:
            return False
        if "contains" in want and str(want["contains"]).lower() not in actual.lower():
            return False
        return "changed" not in want or (actual != before) == bool(want["changed"])
    return actual is not None and actual.strip() == str(want).strip()


def _enum_ok(actual: str | None, want: Any, before: str | None = None) -> bool:
    if isinstance(want, dict):
        if "not" in want and actual == want["not"]:
            return False
        if "any_of" in want and actual not in want["any_of"]:
            return False
        if "changed" in want and (actual != before) != bool(want["changed"]):
            return False
        return actual is not None
    return bool(actual == want)


def _bool_ok(actual: bool | None, want: Any) -> bool:
    return actual is not None and bool(actual) == bool(want)


# ---- segment references ----


def resolve_ref(ref: Any, v: DraftView) -> list[int]:
    """Indexes of the segments `ref` names on the video track of `v` (empty when none)."""
    segs = v.segments
    if isinstance(ref, list):
        return sorted({i for r in ref for i in resolve_ref(r, v)})
    ref = str(ref)
    if ref == "all":
        return list(range(len(segs)))
    if ref == "photos":
        return [i for i, s in enumerate(segs) if s.kind == "photo"]
    if ref == "first":
        return [0] if segs else []
    if ref == "last":
        return [len(segs) - 1] if segs else []
    return [i for i, s in enumerate(segs) if s.stem == ref]


def _seg_value(seg: SegView, key: str) -> Any:
    return getattr(seg, key) if key != "caption" else seg.captions


def check_seg(check: dict[str, Any], before: DraftView, after: DraftView) -> list[str]:
    ref = check["seg"]
    found = resolve_ref(ref, after)
    if not found:
        return [f"seg {ref!r}: not on the video track"]
    by_id = {s.id: s for s in before.segments}
    out = []
    for i in found:
        seg = after.segments[i]
        old = by_id.get(seg.id)
        for key in SEG_KEYS:
            if key not in check:
                continue
            want, got = check[key], _seg_value(seg, key)
            was = _seg_value(old, key) if old else None
            if key == "duration_s":
                ok = _num_ok(got, want, was, DURATION_TOL_S)
            elif key == "transition_s":
                ok = _num_ok(got, want, was, TRANSITION_TOL_S)
            elif key == "caption":
                ok = (
                    any(_text_ok(c, want) for c in got)
                    if not isinstance(want, dict) or "changed" not in want
                    else (tuple(got) != tuple(was or ())) == bool(want["changed"])
                )
            else:
                ok = _enum_ok(got, want, was)
            if not ok:
                out.append(f"seg {seg.stem} {key}: want {want!r}, got {got!r}")
    return out


# ---- whole-draft checks ----


def check_whole(check: dict[str, Any], before: DraftView, after: DraftView) -> list[str]:
    if "order" in check:
        want = list(check["order"])
        return [] if after.stems() == want else [f"order: want {want}, got {after.stems()}"]
    if "present" in check:
        missing = [s for s in check["present"] if s not in after.stems()]
        return [f"present: {missing} not on the video track"] if missing else []
    if "absent" in check:
        there = [s for s in check["absent"] if s in after.stems()]
        return [f"absent: {there} still on the video track"] if there else []
    if "count" in check:
        n = len(after.segments)
        ok = _num_ok(float(n), check["count"], float(len(before.segments)), 0)
        return [] if ok else [f"count: want {check['count']!r}, got {n}"]
    if "order_changed" in check:
        changed = after.stems() != before.stems() and sorted(after.stems()) == sorted(before.stems())
        return [] if changed == bool(check["order_changed"]) else [f"order_changed: got {after.stems()}"]
    if "video" in check:
        return _check_video(check["video"], before, after)
    if "music" in check:
        return _check_music(check["music"], before, after)
    if "title" in check:
        return _check_title(check["title"], before, after)
    if "unchanged" in check:
        same = before.json == after.json
        return [] if same == bool(check["unchanged"]) else ["unchanged: the draft changed"]
    return []


def _check_video(want: dict[str, Any], before: DraftView, after: DraftView) -> list[str]:
    out = []
    if not after.exists:
        return ["video: there is no draft"]
    if "duration_s" in want and not _num_ok(
        after.duration_s, want["duration_s"], before.duration_s, VIDEO_TOL_S
    ):
        out.append(f"video duration_s: want {want['duration_s']!r}, got {after.duration_s}")
    if "aspect" in want and not _enum_ok(after.aspect, want["aspect"], before.aspect):
        out.append(f"video aspect: want {want['aspect']!r}, got {after.aspect}")
    for key in ("fade_in_from_black", "fade_out_to_black"):
        if key in want and not _bool_ok(getattr(after, key), want[key]):
            out.append(f"video {key}: want {want[key]!r}, got {getattr(after, key)}")
    return out


def _check_music(want: dict[str, Any], before: DraftView, after: DraftView) -> list[str]:
    m, b = after.music, before.music
    out = []
    if "present" in want and m.present != bool(want["present"]):
        return [f"music present: want {want['present']}, got {m.present}"]
    if not m.present and any(k != "present" for k in want):
        return ["music: there is none"]
    if "src" in want and not _enum_ok(m.src, want["src"], b.src):
        out.append(f"music src: want {want['src']!r}, got {m.src!r}")
    if "builtin_mood" in want and not _enum_ok(m.builtin_mood, want["builtin_mood"], b.builtin_mood):
        out.append(f"music builtin_mood: want {want['builtin_mood']!r}, got {m.builtin_mood!r}")
    for key in ("vol", "fade_in_s", "fade_out_s", "start_s"):
        if key in want and not _num_ok(getattr(m, key), want[key], getattr(b, key), MUSIC_TOL):
            out.append(f"music {key}: want {want[key]!r}, got {getattr(m, key)!r}")
    return out


def _check_title(want: dict[str, Any], before: DraftView, after: DraftView) -> list[str]:
    if "present" in want and (after.title is not None) != bool(want["present"]):
        return [f"title present: want {want['present']}, got {after.title!r}"]
    if "text" in want and not _text_ok(after.title, want["text"], before.title):
        return [f"title text: want {want['text']!r}, got {after.title!r}"]
    return []


# ---- the rules every case obeys ----


def scope(checks: list[dict[str, Any]], before: DraftView, after: DraftView) -> list[str]:
    """Edits outside what the checks name (FORMAT.md, "Scope"); every one is a destructive wrong edit."""
    if not before.exists:
        return []  # the first video: every choice in it is new, none overwrites the user's
    if not after.exists:
        return ["the timeline is gone"]
    named: set[str] = set()
    seg_keys: dict[str, set[str]] = {}
    whole = {k for c in checks for k in c if k != "seg"}
    for c in checks:
        if "seg" in c:
            ids = {after.segments[i].id for i in resolve_ref(c["seg"], after)}
            ids |= {before.segments[i].id for i in resolve_ref(c["seg"], before)}
            named |= ids
            for sid in ids:
                seg_keys.setdefault(sid, set()).update(k for k in c if k != "seg")
    video: dict[str, Any] = next((c["video"] for c in checks if "video" in c), {})
    length_free = "duration_s" in video or "count" in whole
    membership_free = bool(whole & {"present", "absent", "count", "order"})
    order_free = bool(whole & {"order", "order_changed"})
    out: list[str] = []
    old = {s.id: (i, s) for i, s in enumerate(before.segments)}
    new = {s.id: (i, s) for i, s in enumerate(after.segments)}
    if not membership_free:
        gone = [old[k][1].stem for k in old if k not in new]
        added = [new[k][1].stem for k in new if k not in old]
        if gone:
            out.append(f"removed {gone} unasked")
        if added:
            out.append(f"added {added} unasked")
    durations_changed = {
        k for k in old if k in new and abs(old[k][1].duration_s - new[k][1].duration_s) > 0.01
    }
    for sid, (j, seg) in new.items():
        if sid not in old or sid in named:
            continue
        prev = old[sid][1]
        if not length_free and abs(prev.duration_s - seg.duration_s) > 0.05:
            out.append(f"{seg.stem} duration {prev.duration_s} -> {seg.duration_s} unasked")
        for key in ("motion", "fit"):
            if getattr(prev, key) != getattr(seg, key):
                out.append(f"{seg.stem} {key} {getattr(prev, key)} -> {getattr(seg, key)} unasked")
        if prev.captions != seg.captions:
            out.append(f"{seg.stem} captions {list(prev.captions)} -> {list(seg.captions)} unasked")
        moved = old[sid][0] != j
        if not moved and not order_free and not membership_free:
            if prev.transition != seg.transition:
                out.append(f"{seg.stem} transition {prev.transition} -> {seg.transition} unasked")
            neighbour = after.segments[j - 1].id if j else None
            near = neighbour in named or neighbour in durations_changed or sid in durations_changed
            if not near and not length_free and abs(prev.transition_s - seg.transition_s) > TRANSITION_TOL_S:
                out.append(f"{seg.stem} transition {prev.transition_s} s -> {seg.transition_s} s unasked")
    if not order_free:
        common_before = [s.id for s in before.segments if s.id in new]
        common_after = [s.id for s in after.segments if s.id in old]
        if common_before != common_after:
            out.append("the order changed unasked")
    if "music" not in whole:
        a, b = after.music, before.music
        keys = ("present", "src", "builtin_mood", "vol", "fade_in_s", "fade_out_s", "start_s", "delay_s")
        diff = [k for k in keys if getattr(a, k) != getattr(b, k)]
        if diff:
            out.append(f"music {', '.join(diff)} changed unasked")
    if "title" not in whole and (before.title, before.title_span) != (after.title, after.title_span):
        out.append(f"title {before.title!r} -> {after.title!r} unasked")
    if "aspect" not in video and before.aspect != after.aspect:
        out.append(f"aspect {before.aspect} -> {after.aspect} unasked")
    for key in ("fade_in_from_black", "fade_out_to_black"):
        if key not in video and getattr(before, key) != getattr(after, key):
            out.append(f"{key} changed unasked")
    return out


def reply_language_ok(reply: str, lang: str, stems: list[str]) -> bool:
    """The reply is in the request's language; file names, stems and quoted text are not counted."""
    text = _QUOTED.sub(" ", _FILE_TOKEN.sub(" ", reply))
    for stem in sorted(stems, key=len, reverse=True):
        text = text.replace(stem, " ")
    cjk = len(_CJK.findall(text))
    words = [w for w in _LATIN_WORD.findall(text) if w.lower() not in _LATIN_OK]
    if lang == "zh":
        return cjk > 0 and len(words) * 2 <= cjk
    return bool(words) and cjk <= len(words)


def is_fallback(reply: str) -> bool:
    return any(marker in reply for marker in FALLBACK_MARKERS)


def is_refusal(reply: str) -> bool:
    low = reply.lower()
    return any(marker in low for marker in REFUSAL_MARKERS)


def is_question(reply: str) -> bool:
    return "?" in reply or "？" in reply


def check_reply(want: dict[str, Any], reply: str) -> list[str]:
    out = []
    low = reply.lower()
    if "contains_any" in want and not any(str(w).lower() in low for w in want["contains_any"]):
        out.append(f"reply contains none of {want['contains_any']!r}")
    if "not_contains" in want:
        bad = [w for w in want["not_contains"] if str(w).lower() in low]
        if bad:
            out.append(f"reply contains {bad!r}")
    if "contains" in want and str(want["contains"]).lower() not in low:
        out.append(f"reply lacks {want['contains']!r}")
    return out
