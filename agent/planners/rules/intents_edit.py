"""Requests about the timeline as a whole: undo/redo, order, new uploads, the beat, the music's fades

`read_edit_intents(text)` (text with numbers already in digits) returns what it found and the text
with those phrases blanked, so the general reader (agent.planners.rules.intents) does not take "show the third
photo for 5 seconds" for a 5-second video, or "mute the clip" for "no music".
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from agent.planners.rules.intents_segment import SegmentOp, blank, read_segment_ops
from agent.planners.rules.references import Ref, bind_pronouns, find_refs

I = re.IGNORECASE  # noqa: E741
NUM = r"(\d+(?:\.\d+)?)"
SEC = r"(?:seconds?|secs?|s|秒钟?)"


class EditIntents(BaseModel):
    ops: list[SegmentOp] = Field(default_factory=list)
    refs: list[Ref] = Field(default_factory=list)  # every reference seen, used or not
    add_media: list[str] | Literal["new"] | None = None
    reorder: Literal["reverse", "by_name", "upload"] | None = None
    mute_all: bool = False
    clip_volume_all: float | None = None
    undo: int = 0
    redo: int = 0
    beat: bool = False
    beats_per: int | None = None
    fade_in_ms: int | None = None
    fade_out_ms: int | None = None
    loop: bool | None = None


_NEW_MEDIA = re.compile(
    r"\badd\s+(?:in\s+)?(?:the\s+|my\s+)?(?:new|newly\s+uploaded|remaining|other|rest\s+of\s+the|"
    r"latest|unused)\s+(?:photos?|pictures?|pics|images|clips?|videos?|uploads?|files|ones)"
    r"|\badd\s+the\s+rest\b|(?:把)?新(?:上传|传)?的?(?:照片|图片|视频|素材)(?:也)?(?:加|放)(?:进去|进来|上|到)|"
    r"加上新(?:上传的)?(?:照片|图片|素材)",
    I,
)
_REORDER = [
    (
        "reverse",
        re.compile(
            r"\breverse\s+(?:the\s+)?order\b|\bin\s+reverse\b|\breverse\s+(?:them|it|the\s+(?:photos|"
            r"slides|clips))\b|倒序|顺序反过来|反转顺序|倒过来",
            I,
        ),
    ),
    (
        "by_name",
        re.compile(
            r"\b(?:sort|order)\s+(?:them\s+|the\s+\w+\s+)?by\s+(?:file\s*)?name\b|alphabetical|"
            r"按(?:文件)?名(?:字|称)?排",
            I,
        ),
    ),
    ("upload", re.compile(r"\b(?:upload|original)\s+order\b|按上传顺序|原来的顺序", I)),
]
_MUTE_ALL = re.compile(
    r"\bmute\s+(?:all\s+(?:the\s+)?|the\s+|every\s+)?(?:clips|videos|video\s+clips|original\s+(?:sound|"
    r"audio)|clip\s+(?:sound|audio))\b"
    r"|\b(?:mute|remove|turn\s+off|no)\s+(?:the\s+)?(?:original|clips?'?|videos?'?)\s+(?:sound|audio)\b"
    r"|(?:视频)?原声(?:静音|去掉|关掉)|(?:去掉|关掉|关闭)(?:视频)?原声|视频(?:片段)?静音",
    I,
)
_UNDO = re.compile(
    r"\bundo\b|\brevert\b|\bgo\s+back\b|\btake\s+(?:that|it)\s+back\b|撤销|撤回|返回上一步|回到上一步", I
)
_UNDO_N = re.compile(
    r"(?:undo|revert|go\s+back)\s+(?:the\s+last\s+)?(\d+|two|three|twice)\s*(?:changes?|steps?|"
    r"times?)?|撤销\s*(\d+|两|二|三)\s*(?:步|次)",
    I,
)
_REDO = re.compile(
    r"\bredo\b(?!\s+(?:the\s+|a\s+|my\s+)?(?:video|slideshow|montage|whole|everything|all))|重做(?:上一步|"
    r"一下)?\s*$|^\s*重做|取消撤销|恢复(?:刚才|撤销|上一步)",
    I,
)
_BEAT = re.compile(
    r"\b(?:cut|sync|synch?ronise|synch?ronize|time|match|edit|switch|change)\w*\s+(?:it\s+|them\s+|"
    r"the\s+(?:photos?|pictures?|cuts?|slides?|video)\s+)?(?:to|on|with)\s+(?:the\s+)?(?:beats?|rhythm|"
    r"music|song|tempo)\b"
    r"|\bon\s+the\s+beats?\b|\bbeat[\s-]?(?:sync|synced|matched|cut)|\bto\s+the\s+beat\b|卡点|踩点|(?:跟着|按|"
    r"随)(?:着)?(?:音乐|歌|节拍|节奏)(?:的节拍|的节奏)?(?:切换|换|剪)|节拍|节奏",
    I,
)
_BEATS_PER = re.compile(r"every\s+(\d+|two|four|eight)\s+beats?|每\s*(\d+|一|两|二|四|八)\s*(?:拍|个节拍)", I)
_WORDS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "eight": 8,
    "twice": 2,
    "一": 1,
    "两": 2,
    "二": 2,
    "三": 3,
    "四": 4,
    "八": 8,
}
_FADE_MUSIC = re.compile(
    r"\bfade\s+(?:the\s+)?(?:music|song|audio|bgm|soundtrack)\s+(?P<a>in\s+and\s+out|in|out)\b"
    r"|\bfade\s+(?P<b>in\s+and\s+out|in|out)\s+(?:the\s+)?(?:music|song|audio|bgm|soundtrack)\b"
    r"|(?:music|song|audio)\s+(?:should\s+)?fades?\s+(?P<c>in\s+and\s+out|in|out)\b"
    r"|(?:(?P<secs>\d+(?:\.\d+)?)\s*-?\s*(?:seconds?|s)\s+)?fade[\s-]?(?P<d>in|"
    r"out)\s+(?:at\s+the\s+(?:end|start|beginning)|of\s+the\s+music)"
    r"|(?:音乐|歌曲|背景音乐|配乐)(?:开头|结尾)?(?:要)?(?P<z>淡入淡出|淡入|淡出)|结尾(?:音乐)?(?P<ze>淡出)",
    I,
)
_NO_FADE = re.compile(
    r"\bno\s+(?:music\s+)?fades?\b(?!\s+transitions?)|\bremove\s+the\s+(?:music\s+)?fades\b|(?:音乐)?不要淡入淡出",
    I,
)
_LOOP_OFF = re.compile(
    r"\bdon'?t\s+loop|\bno\s+loop|\bstop\s+looping|play\s+(?:the\s+(?:song|music|track)|"
    r"it)\s+(?:only\s+)?once|不要循环|不循环|只播放?一遍",
    I,
)
_LOOP_ON = re.compile(
    r"\bloop\s+(?:the\s+)?(?:music|song|track|audio|it)\b|\b(?:music|song|"
    r"track)\s+(?:should\s+)?loops?\b|\brepeat\s+the\s+(?:song|music|track)\b|循环播放|(?:音乐|歌)循环",
    I,
)


def _count(match: re.Match[str]) -> int:
    word = next((g for g in match.groups() if g), "1")
    return int(word) if word.isdigit() else _WORDS.get(word.lower(), 1)


def read_edit_intents(text: str) -> tuple[EditIntents, str]:
    found = EditIntents()
    spans: list[tuple[int, int]] = []
    for pattern, field in ((_FADE_MUSIC, "fade"), (_NO_FADE, "nofade")):
        for fade in pattern.finditer(text):
            spans.append(fade.span())
            if field == "nofade":
                found.fade_in_ms = found.fade_out_ms = 0
                continue
            which = next((g for g in (fade.group(k) for k in "abcdz") if g), None) or fade.group("ze") or ""
            ms = round(float(fade.group("secs")) * 1000) if fade.group("secs") else None
            if "in" in which or "入" in which:
                found.fade_in_ms = ms or 1000
            if "out" in which or "出" in which:
                found.fade_out_ms = ms or 2000
    if m := _LOOP_OFF.search(text):
        found.loop = False
        spans.append(m.span())
    elif m := _LOOP_ON.search(text):
        found.loop = True
        spans.append(m.span())
    if m := _BEAT.search(text):
        found.beat = True
        spans.append(m.span())
        if per := _BEATS_PER.search(text):
            found.beats_per = _count(per)
            spans.append(per.span())
    if m := _REDO.search(text):
        found.redo = 1
        spans.append(m.span())
    rest = blank(text, spans)  # "取消撤销" is a redo, not an undo
    if m := _UNDO_N.search(rest):
        found.undo = _count(m)
        spans.append(m.span())
    elif m := _UNDO.search(rest):
        found.undo = 1
        spans.append(m.span())
    for name, pattern in _REORDER:
        if m := pattern.search(text):
            found.reorder = name  # type: ignore[assignment]
            spans.append(m.span())
            break
    if m := _MUTE_ALL.search(text):
        found.mute_all = True
        spans.append(m.span())
    if m := _NEW_MEDIA.search(text):
        found.add_media = "new"
        spans.append(m.span())
    text_b = blank(text, spans)
    found.refs = bind_pronouns(text_b, find_refs(text_b))
    found.ops, added = read_segment_ops(text_b, found.refs, spans)
    if added:
        found.add_media = [*(found.add_media if isinstance(found.add_media, list) else []), *added]
    return found, blank(text, spans)
