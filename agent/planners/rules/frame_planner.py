"""Frames -> tool calls, every edit scoped to its target set; answers and refusals without calls.

`plan_frames` reads the message as frames (frames.py) against the session (resolve.py) and the
previous turn (for "it", "the same", "actually 4", "still too loud"), and returns the calls, a
text (an answer, a refusal, a question), or None when it understood nothing, so the phrase
reader (planner.py) gets its turn.
"""

from __future__ import annotations

import re
from typing import Any

from agent.language import Lang
from agent.planner import PlanStep, ToolCall
from agent.planners.rules import answers
from agent.planners.rules.frames import (
    LONGER,
    MUSIC,
    SAME_AS_BEFORE,
    SHORTER,
    VOLUME_DOWN,
    VOLUME_UP,
    Frame,
    quoted,
    read_clause,
    read_frames,
)
from agent.planners.rules.normalize import normalize
from agent.planners.rules.numbers import bare_numbers, durations
from agent.planners.rules.resolve import Item, Scene, find_refs, scene
from agent.state import SessionState
from renderer.schema.draft import TrackType

I = re.IGNORECASE  # noqa: E741
_EDITING = {"seg", "caption", "move", "remove", "keep", "swap", "replace", "add"}


def _target(item: Item) -> dict[str, Any]:
    if item.index >= 0 and item.seg is not None:
        return {"name": item.seg.id}
    return {"name": item.media.filename if item.media else item.stem}


def _same(a: Item, b: Item) -> bool:
    return a.media is not None and b.media is not None and a.media.cdn_url == b.media.cdn_url


def _current(items: list[Item], sc: Scene) -> list[Item]:
    """Items of an earlier reading, as they are on the timeline now (a removed one is an upload)."""
    out = []
    for item in items:
        now = next((i for i in sc.items + sc.uploads if _same(i, item)), None)
        if now is not None and now not in out:
            out.append(now)
    return out


def _last_user(history: list[dict[str, str]]) -> str | None:
    return next((h["text"] for h in reversed(history) if h.get("role") == "user"), None)


def previous_frames(history: list[dict[str, str]], sc: Scene) -> list[Frame]:
    """What the previous user turn asked, read against today's timeline."""
    said = _last_user(history)
    if not said:
        return []
    reading = read_frames(normalize(said), said, sc, [])
    for f in reading.frames:
        f.targets = _current(f.targets, sc)
        for key in ("after", "before"):
            if isinstance(f.values.get(key), Item):
                now = _current([f.values[key]], sc)
                f.values[key] = now[0] if now else None
    return reading.frames


def _previous_targets(prev: list[Frame], sc: Scene) -> list[Item]:
    out: list[Item] = []
    for f in prev:
        for t in f.targets:
            if t not in out:
                out.append(t)
    return out


def _music_meta(state: SessionState) -> tuple[float, str | None, int]:
    draft = state.draft
    seg = next((t.sg[0] for t in draft.tracks(TrackType.AUDIO) if t.sg), None) if draft else None
    if seg is None:
        return 1.0, None, 0
    return (seg.m.vol if seg.m.vol is not None else 1.0), seg.src, seg.ss


def _title_text(state: SessionState) -> str | None:
    draft = state.draft
    if draft is None:
        return None
    for track in draft.tracks(TrackType.TEXT):
        if track.m.name not in ("Captions", "End card") and track.sg:
            return track.sg[0].m.text
    return None


class Ask(Exception):
    """A question back to the user (nothing changes)."""


def _calls(f: Frame, state: SessionState, sc: Scene, lang: Lang, frames: list[Frame]) -> list[ToolCall]:
    zh = lang == "zh"
    v = f.values
    on = [t for t in f.targets if t.index >= 0]
    if f.intent == "end_card":
        return [ToolCall(name="add_end_card", args={"text": v["text"]})]
    if f.intent == "clip_volume":
        return [
            ToolCall(name="set_clip_volume", args={"target": _target(t), "volume": v["volume"]})
            for t in on
            if t.kind == "clip"
        ]
    if f.intent == "undo":
        steps = int(v.get("steps", 1))
        return [ToolCall(name="undo", args={"steps": steps} if steps > 1 else {})]
    if f.intent == "redo":
        return [ToolCall(name="redo")]
    if f.intent == "aspect":
        return [ToolCall(name="set_aspect", args={"aspect": v["aspect"]})]
    if f.intent == "video_fade":
        fades: dict[str, float] = {}
        if v.get("fade_in"):
            fades["fade_in_seconds"] = 1.0
        if v.get("fade_out"):
            fades["fade_out_seconds"] = 1.0
        return [ToolCall(name="set_video_fades", args=fades)]
    if f.intent == "length":
        d = state.draft.d / 1000 if state.draft else 0
        if v.get("to_song"):
            vol, src, ss = _music_meta(state)
            song = next((s for s in sc.songs if s.cdn_url == src), None)
            if song is None or not song.duration:
                raise Ask("没有找到歌曲的长度。" if zh else "I don't know how long the song is.")
            return [
                ToolCall(name="set_duration", args={"total_seconds": round(song.duration - ss / 1000, 2)})
            ]
        keep = [_target(t) for t in v.get("keep", []) if t.index >= 0]
        extra_keep: dict[str, Any] = {"keep": keep} if keep else {}
        if "factor" in v:
            return [
                ToolCall(name="set_duration", args={"total_seconds": round(d * v["factor"], 2), **extra_keep})
            ]
        return [ToolCall(name="set_duration", args={"total_seconds": v["seconds"], **extra_keep})]
    if f.intent == "pace":
        return [ToolCall(name="set_seconds_per_photo", args={"factor": v["factor"]})]
    if f.intent == "music":
        if v.get("remove"):
            return [ToolCall(name="remove_music")]
        args: dict[str, Any] = {}
        if "mood" in v:
            args["source"] = f"builtin:{v['mood']}"
        if "volume" in v:
            args["volume"] = min(2.0, v["volume"])
        elif "volume_factor" in v:
            vol, _src, _ss = _music_meta(state)
            args["volume"] = round(min(2.0, max(0.05, vol * v["volume_factor"])), 2)
        if "fade_in" in v:
            args["fade_in_ms"] = round(v["fade_in"] * 1000)
        if "fade_out" in v:
            args["fade_out_ms"] = round(v["fade_out"] * 1000)
        if "start" in v:
            args["start_seconds"] = v["start"]
        elif "start_fraction" in v:
            _vol, src, _ss = _music_meta(state)
            song = next((m for m in sc.songs if m.cdn_url == src), None)
            if song is None or not song.duration:
                raise Ask("我不知道这首歌有多长。" if zh else "I don't know how long the song is.")
            args["start_seconds"] = round(song.duration * v["start_fraction"], 1)
        if "source" not in args and state.draft and not state.draft.tracks(TrackType.AUDIO):
            args["source"] = sc.songs[-1].media_id if sc.songs else "builtin:lofi"
        return [ToolCall(name="set_music", args=args)] if args else []
    if f.intent == "title":
        t = v["text"]
        current = _title_text(state)
        if t.get("remove"):
            return [ToolCall(name="remove_title")]
        if "replace" in t:
            old, new = t["replace"]
            if current and old in current:
                return [ToolCall(name="set_title", args={"text": current.replace(old, new)})]
            raise Ask(f"标题里没有“{old}”。" if zh else f'The title has no "{old}" in it.')
        if "text" in t:
            name = "set_title" if current else "add_title"
            return [ToolCall(name=name, args={"text": t["text"]})]
        raise Ask("标题写什么？" if zh else "What should the title say?")
    if f.intent == "caption":
        return [
            ToolCall(name="add_caption", args={"text": v["text"], "target": _target(t)}) for t in on
        ] or _ask_which(zh)
    if f.intent == "reverse":
        return [ToolCall(name="reorder_segments", args={"order": "reverse"})]
    if f.intent == "shuffle":
        return [ToolCall(name="shuffle_segments")]
    if f.intent == "keep":
        if not on:
            raise Ask("要保留哪些？" if zh else "Which ones should stay?")
        return [ToolCall(name="remove_segments", args={"targets": [_target(t) for t in on], "keep": True})]
    if f.intent == "keep_rest":
        earlier = [
            t for g in frames if g is not f and g.intent in ("keep", "seg", "remove") for t in g.targets
        ]
        kept = [t for t in earlier or f.targets if t.index >= 0]
        if not kept:
            raise Ask("要保留哪些？" if zh else "Which ones should stay?")
        return [ToolCall(name="remove_segments", args={"targets": [_target(t) for t in kept], "keep": True})]
    if f.intent == "remove":
        if not on:
            return _ask_which(zh)
        return [ToolCall(name="remove_segments", args={"targets": [_target(t) for t in on]})]
    if f.intent == "swap":
        ups = [t for t in f.targets if t.index < 0]
        if len(on) == 1 and ups:
            return [
                ToolCall(
                    name="replace_segment",
                    args={
                        "target": _target(on[0]),
                        "media": ups[0].media.filename if ups[0].media else ups[0].stem,
                    },
                )
            ]
        if len(on) != 2:
            raise Ask("交换哪两个？" if zh else "Swap which two? Name both.")
        return [ToolCall(name="swap_segments", args={"first": _target(on[0]), "second": _target(on[1])})]
    if f.intent == "replace":
        ups = [t for t in f.targets if t.index < 0]
        if len(on) == 1 and ups:
            return [
                ToolCall(
                    name="replace_segment",
                    args={
                        "target": _target(on[0]),
                        "media": ups[0].media.filename if ups[0].media else ups[0].stem,
                    },
                )
            ]
        if len(on) == 2:  # "use the city one instead of the hike one", both on the timeline: swap
            return [ToolCall(name="swap_segments", args={"first": _target(on[0]), "second": _target(on[1])})]
        raise Ask(
            "换成哪一张？请说出要换上的照片。" if zh else "Replace it with which photo? Name the upload."
        )
    if f.intent == "move":
        if not on:
            return _ask_which(zh)
        item = on[0]
        if v.get("after") is not None or v.get("before") is not None:
            side = "after" if v.get("after") is not None else "before"
            anchor = v[side]
            calls = []
            for t in on if side == "before" else reversed(on):
                if _same(t, anchor):
                    continue
                calls.append(
                    ToolCall(name="move_segment", args={"target": _target(t), side: _target(anchor)})
                )
            return calls
        if "step" in v:
            return [
                ToolCall(
                    name="move_segment",
                    args={"target": _target(item), "position": item.index + 1 + v["step"]},
                )
            ]
        pos = v.get("position", -1)
        if pos == "middle":
            pos = (len(sc.items) + 1) // 2
        if pos == 1:
            return [
                ToolCall(name="move_segment", args={"target": _target(t), "position": 1})
                for t in reversed(on)
            ]
        return [ToolCall(name="move_segment", args={"target": _target(t), "position": pos}) for t in on]
    if f.intent == "add":
        ups = [t for t in f.targets if t.index < 0]
        names = [t.media.filename for t in ups if t.media]
        n = len(sc.items)
        if v.get("after") is not None:
            position = v["after"].index + 2
        elif v.get("before") is not None:
            position = v["before"].index + 1
        else:
            position = v.get("position", -1)
            if position == "middle":  # the place word the move reads too
                position = (n + 1) // 2 + 1
            position = -1 if position == -1 or position > n else position
        every = [u.media.filename for u in sc.uploads if u.media]
        said_new = any(r.how == "new" for r in f.refs)
        media: Any = "new" if said_new and names == every and position == -1 else names
        calls = [ToolCall(name="add_media", args={"media": media, "position": position})]
        extra = _seg_args(v)
        if extra:
            calls.append(
                ToolCall(name="edit_segments", args={"targets": [{"name": name} for name in names], **extra})
            )
        return calls
    if f.intent == "seg":
        extra = _seg_args(v)
        if not extra:
            return []
        if not f.targets or (f.refs and all(r.how == "class" for r in f.refs) and not _seconds_for_clips(f)):
            return _whole(v, sc)
        return [ToolCall(name="edit_segments", args={"targets": [_target(t) for t in f.targets], **extra})]
    return []


def _seconds_for_clips(f: Frame) -> bool:
    """ "every segment 3 s" names clips too: the whole-video tools would leave them."""
    return any(t.kind == "clip" for t in f.targets) and any(k in f.values for k in ("seconds", "factor"))


def _ask_which(zh: bool) -> list[ToolCall]:
    raise Ask("是哪一张？" if zh else "Which one do you mean?")


def _seg_args(v: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "seconds" in v:
        out["seconds"] = v["seconds"]
    elif "delta" in v:
        out["add_seconds"] = v["delta"]
    elif "factor" in v:
        out["factor"] = v["factor"]
    elif v.get("full"):
        out["full_clip"] = True
    for key, arg in (
        ("motion", "motion"),
        ("fit", "fit"),
        ("transition", "transition"),
        ("transition_s", "transition_seconds"),
    ):
        if key in v and not (key == "motion" and v[key] == "auto"):
            out[arg] = v[key]
    return out


def _whole(v: dict[str, Any], sc: Scene) -> list[ToolCall]:
    """A per-segment attribute with no segment named: every photo (motion, fit, time) or every cut."""
    calls: list[ToolCall] = []
    if "seconds" in v:
        calls.append(ToolCall(name="set_seconds_per_photo", args={"seconds": v["seconds"]}))
    elif "factor" in v:
        calls.append(ToolCall(name="set_seconds_per_photo", args={"factor": v["factor"]}))
    photos = [{"name": i.seg.id} for i in sc.items if i.kind == "photo" and i.seg]
    if "motion" in v:
        calls.append(ToolCall(name="set_motion", args={"kind": v["motion"]}))
    if "fit" in v and photos:
        calls.append(ToolCall(name="set_fit", args={"mode": v["fit"]}))
    if "transition" in v or "transition_s" in v:
        args: dict[str, Any] = {"kind": v.get("transition") or _usual_transition(sc), "keep_length": False}
        if "transition_s" in v:
            args["duration_seconds"] = v["transition_s"]
        elif args["kind"] == _usual_transition(sc):
            return calls
        calls.append(ToolCall(name="set_transition", args=args))
    return calls


def _usual_transition(sc: Scene) -> str:
    kinds = [i.seg.m.tr.type for i in sc.items[1:] if i.seg and i.seg.m.tr]
    return max(set(kinds), key=kinds.count) if kinds else "crossfade"


def _followup(text: str, original: str, sc: Scene, prev: list[Frame]) -> list[Frame]:
    """A message that only makes sense after the previous one: "actually 4", "do the same for the
    cat", "still too loud", "再小一点"."""
    if not prev:
        return []
    last = prev[-1]
    targets = _previous_targets(prev, sc)
    # "the same for the cat photo": the previous attributes on new targets
    if re.search(SAME_AS_BEFORE, text, I):
        found = [i for r in find_refs(text, sc, []) for i in r.items]
        new_targets = [t for t in found if t not in targets] or found
        if new_targets:
            out = []
            for f in prev:
                if f.intent in ("seg", "caption"):
                    out.append(Frame(f.intent, new_targets, dict(f.values), [], text))
            return out
    # music again: "still too loud", "再小一点", "lower it more"
    if last.intent == "music" and (
        re.search(VOLUME_DOWN, text, I)
        or re.search(VOLUME_UP, text, I)
        or re.search(r"再|more|even", text, I)
    ):
        again = read_clause("music " + text, original, sc, [])
        if again:
            return again
        down = not re.search(r"大|louder|up", text, I)
        return [Frame("music", [], {"volume_factor": 0.6 if down else 1.4}, [], text)]
    # title again: "make it say X instead", "add a ! at the end of it"
    if last.intent == "title":
        q = quoted(original)
        if q:
            return [Frame("title", [], {"text": {"text": q}}, [], text)]
        m = re.search(
            (r"add\s+(?:an?\s+)?(\S)\s+(?:at\s+the\s+end|to\s+the\s+end)|结尾加(?:个|一个)?(\S)"), original, I
        )
        if m:
            return [Frame("title", [], {"text": {"append": m.group(1) or m.group(2)}}, [], text)]
    # more or less of the same: "再长一点", "a bit longer still", "a bit more" (the same way again)
    if last.intent in ("seg", "add") and targets and not durations(text) and not bare_numbers(text):
        longer, shorter = re.search(LONGER, text, I), re.search(SHORTER, text, I)
        if longer or shorter:
            return [Frame("seg", targets, {"factor": 1.5 if longer and not shorter else 0.67}, [], text)]
        repeat = re.search(
            r"^(?:a\s+(?:bit|little|tad)\s+)?(?:more|again|even\s+more)\b|^(?:再|更)(?:多)?(?:一点|一些|点)?$",
            text,
            I,
        )
        if repeat and "factor" in last.values:
            return [Frame("seg", targets, {"factor": last.values["factor"]}, [], text)]
    # an edit with its object left out: "再往前挪一个", "now move it to the end" said without "it"
    if last.intent in ("seg", "add", "move", "caption", "swap") and targets:
        pronoun = "它" if re.search(r"[\u4e00-\u9fff]", text) else "it"
        again = [f for f in read_clause(f"{pronoun} {text}", original, sc, targets) if f.targets]
        if again and all(f.intent in ("move", "seg") for f in again) and any(f.values for f in again):
            return again
    # a new value for the previous attribute: "hmm nah too long, 4", "try 2.5", "actually 4 seconds"
    spans = durations(text) or bare_numbers(text)
    if spans and last.intent in ("seg", "add", "length"):
        value = spans[-1].value
        if last.intent == "length":
            return [Frame("length", [], {"seconds": value}, [], text)]
        values = {k: v for k, v in last.values.items() if k not in ("seconds", "delta", "factor", "full")}
        if any(k in last.values for k in ("seconds", "delta", "factor", "full")) or not values:
            values["seconds"] = value
        elif "transition_s" in last.values:
            values["transition_s"] = value
        return [Frame("seg", targets, values, [], text)]
    return []


_FILE_NAME = re.compile(r"\.(?:jpe?g|png|heic|webp|gif|mp4|mov|mp3|m4a|wav)(?![a-z0-9])", I)


def _content_ref(f: Frame, text: str) -> bool:
    """A reference only the frames resolve: by what a photo shows, a range, a relative run, "it"."""
    for ref in f.refs:
        if ref.how in ("range", "pronoun"):
            return True
        if ref.how == "named" and not _FILE_NAME.search(text[ref.start : ref.end + 6]):
            return True
    return False


def _phrase_targets(message: str, state: SessionState) -> set[int] | None:
    """The segments the phrase reader's references resolve to (None: it names none)."""
    from agent.language import digits_for_words
    from agent.planners.rules.references import bind_pronouns, find_refs
    from agent.tools.base import ToolError
    from agent.tools.segment_refs import Target, resolve

    refs = bind_pronouns(message, find_refs(digits_for_words(message)))
    if not refs:
        return None
    out = set()
    for ref in refs:
        try:
            out.add(resolve(state, Target.model_validate(ref.target())))
        except (ToolError, ValueError):
            return set()
    return out


def _disagrees(frames: list[Frame], message: str, state: SessionState) -> bool:
    """The phrase reader would misread this message: a length it reads otherwise ("一分半", "a min
    and a half"), a title it takes the wrong words for, a volume it cannot read ("百分之三十"), or
    segments it finds no reference to at all ("the 1st one", "the one in the middle")."""
    from agent.planners.rules.intents import read_intents

    found = read_intents(message)
    texty = re.search(r"\btitle|\bcaption|标题|字幕|文字|[\"“「‘]|(?<![a-z])'", message, I)  # not "nobody's"
    positional = False
    for f in frames:
        if f.intent == "end_card" and not any(op.kind == "end_card" for op in found.text.ops):
            return True
        if f.intent == "undo" and not found.edit.undo and not found.edit.redo:
            return True  # "算了，转场还是恢复成原来的样子"
        if f.intent == "undo" and f.values.get("steps", 1) > max(1, found.edit.undo or 0):
            return True  # "undo undo": two steps
        every = not f.targets or (bool(f.refs) and all(r.how == "class" for r in f.refs))
        if f.intent == "seg" and every and "seconds" in f.values and found.per_photo_s != f.values["seconds"]:
            return True
        if f.intent in ("seg", "remove", "move", "swap", "caption", "replace") and any(
            r.how in ("position", "clips") for r in f.refs
        ):
            positional = True
        if (
            f.intent == "length"
            and "seconds" in f.values
            and not texty
            and found.total_s is not None
            and found.total_s != f.values["seconds"]
        ):
            return True
        if f.intent == "title":
            t = f.values["text"]
            if (t.get("remove") and not found.remove_title) or "replace" in t:
                return True
            mine, theirs = t.get("text"), found.title
            if mine and theirs and mine not in theirs and theirs not in mine:
                return True
            if mine and theirs and theirs != mine and theirs.endswith(mine):
                return True  # "标题改一下 写 海边的日子": the phrases kept the words before the title
            filler = {"say", "says", "saying", "read", "reads", "be", "to", "that", "should", "called", "as"}
            if mine and theirs and mine != theirs and theirs.split()[0].lower() in filler:
                return True  # "change the title to say Summer 2025": not the words "say Summer 2025"
            if mine and not theirs and not found.remove_title:
                return True
        if f.intent == "music" and "volume" in f.values and found.music.volume != f.values["volume"]:
            return True
        if (
            f.intent == "music"
            and "start" in f.values
            and found.music.start_s is None
            and found.music.delay_s is None
        ):
            return True
    return positional and _phrase_targets(message, state) is None


def _decisive(frames: list[Frame], text: str) -> bool:
    """Whether the frames hold something only they read right (the phrase reader would not, or
    would change more than asked): references by what a photo shows, ranges and pronouns;
    per-photo motion, fit or transitions; whole-video fades; shuffling and keeping only some;
    relative lengths and music offsets, fades and replacements said in words."""
    for f in frames:
        if _content_ref(f, text):
            return True
        if f.intent in ("video_fade", "shuffle", "keep", "keep_rest", "add"):
            return True
        if f.intent == "seg" and any(k in f.values for k in ("motion", "fit", "transition", "transition_s")):
            return True  # per-photo styles, and whole-video ones through tools that keep every photo's time
        only_class = bool(f.refs) and all(r.how == "class" for r in f.refs)
        if (
            f.intent == "seg"
            and f.targets
            and not only_class
            and any(
                k in f.values
                for k in ("motion", "fit", "transition", "transition_s", "delta", "factor", "full")
            )
        ):
            return True
        if f.intent == "length" and ("factor" in f.values or f.values.get("to_song")):
            return True
        if f.intent == "music":
            v = f.values
            if "volume_factor" in v and re.search(r"half|一半|slightly|a\s+(?:little|bit)|稍微", text, I):
                return True
            if ("fade_in" in v or "fade_out" in v) and durations(text):
                return True
            if "start" in v and re.search(
                (r"skip|跳过|前奏|从.{0,6}(?:开始|放|播)|\binto\s+the\s+song|from\s+\d+:\d\d"), text, I
            ):
                return True
            if "mood" in v and re.search(
                (r"instead|replace|library|built[\s-]?in|rather|prefer|别用|不用|不要|换|太丧|不太行"),
                text,
                I,
            ):
                return True
    return False


def plan_frames(
    message: str, state: SessionState, lang: Lang, history: list[dict[str, str]]
) -> PlanStep | None:
    """The frames' plan when it should be the turn's plan (see _decisive), else None."""
    step, decisive = frame_plan(message, state, lang, history)
    return step if decisive else None


def frame_plan(
    message: str, state: SessionState, lang: Lang, history: list[dict[str, str]]
) -> tuple[PlanStep | None, bool]:
    """(the frames' plan or None, whether only the frames read this message right)."""
    text = normalize(message)
    sc = scene(state)
    has_draft = state.draft is not None and bool(state.draft.tracks(TrackType.VIDEO))
    if not has_draft:
        return None, False
    refused = answers.refusal(text, lang)
    if refused is not None and not re.search(r"\bexport\s+(?:it|the\s+video)?\s*$|\bmp4\b", text, I):
        return PlanStep(text=refused), True
    prev = previous_frames(history, sc)
    prev_targets = _previous_targets(prev, sc)
    request_like = re.search(
        r"^(?:can|could|would|will|may|shall)\s+(?!you\s+tell)|\b(?:can|could|would|will)\s+(?:you|u|"
        r"the|it|they|we|all|each|every)\b(?!\s+tell)|^(?:do|did)\s+(?:the\s+same|that)|^(?:能不能|可以|"
        r"可不可以|能否|帮我|请(?!问))|能(?:不能)?(?:把|给|再|多|少|加|换|删|改|放|让|调)"
        r"|就多长|改成|变成|弄成|换成|调到|调成|加个|删掉|去掉",
        text,
        I,
    )
    if answers.is_question(text) and not request_like:
        reply = answers.answer(text, state, sc, lang)
        if reply is not None:
            return PlanStep(text=reply), True
    reading = read_frames(text, message, sc, prev_targets)
    frames = reading.frames
    followed = False
    vague = all(
        (f.intent in ("length", "pace") and not f.values.get("explicit"))
        or (f.intent == "seg" and not f.targets)
        for f in frames
    )
    if prev and frames and vague and prev[-1].intent in ("seg", "add") and prev[-1].targets:
        frames = []  # "actually 4 seconds", "还是改回3秒吧": the value is for what the last turn changed
    if not frames or all(f.intent == "seg" and not f.values for f in frames):
        frames = _followup(text, message, sc, prev)
        followed = bool(frames)
    elif (
        prev and re.search(SAME_AS_BEFORE, text, I) and all(not f.values for f in frames if f.intent == "seg")
    ):
        again = _followup(text, message, sc, prev)
        frames, followed = (again, True) if again else (frames, False)
    if not frames:
        return None, False
    unclear = next((r for f in frames for r in f.refs if r.how == "ambiguous"), None)
    if unclear is not None:  # ask, naming both readings, rather than edit the wrong segments
        said = text[unclear.start : unclear.end]
        photos = (
            "、".join(i.stem for i in unclear.items)
            if lang == "zh"
            else ", ".join(i.stem for i in unclear.items)
        )
        every = (
            "、".join(i.stem for i in unclear.alt) if lang == "zh" else ", ".join(i.stem for i in unclear.alt)
        )
        return (
            PlanStep(
                text=f"“{said}”指的是只数照片（{photos}），还是连视频片段一起数（{every}）？"
                if lang == "zh"
                else f'By "{said}", do you mean counting photos only ({photos}) or every segment ({every})?'
            ),
            True,
        )
    decisive = followed or _decisive(frames, text) or _disagrees(frames, message, state)
    calls: list[ToolCall] = []
    try:
        for f in frames:
            if f.intent == "title" and "append" in f.values.get("text", {}):
                current = _title_text(state) or ""
                calls.append(ToolCall(name="set_title", args={"text": current + f.values["text"]["append"]}))
                continue
            calls += _calls(f, state, sc, lang, frames)
    except Ask as question:
        return PlanStep(text=str(question)), decisive
    if not calls:
        return None, False
    # removals last, so the targets of the other edits are still where they were named
    order = {"remove_segments": 1, "set_duration": 2, "undo": -1, "redo": -1}  # the length asked wins
    calls.sort(key=lambda c: order.get(c.name, 0))
    return PlanStep(calls=calls), decisive


def music_named(text: str) -> bool:
    return bool(re.search(MUSIC, text, I))
