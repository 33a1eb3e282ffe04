"""Requests about single photos and clips, undo/redo, the beat and the music's fades and looping.

`read_edit_intents(text)` (text with numbers already in digits) returns what it found and the text
with those phrases blanked, so the general reader (agent.intents) does not take "show the third
photo for 5 seconds" for a 5-second video, or "mute the clip" for "no music".
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from agent.references import Ref, find_refs

I = re.IGNORECASE  # noqa: E741
NUM = r"(\d+(?:\.\d+)?)"
SEC = r"(?:seconds?|secs?|s|秒钟?)"

Op = Literal["remove", "move", "swap", "duplicate", "length", "trim", "mute", "volume"]


class SegmentOp(BaseModel):
    op: Op
    refs: list[Ref]
    position: int | None = None  # move: 1-based, -1 the end
    seconds: float | None = None  # length / trim: how long to keep
    start_s: float | None = None  # trim: where in the clip to start
    end_s: float | None = None
    volume: float | None = None


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


_BEFORE: list[tuple[Op, re.Pattern[str]]] = [
    ("swap", re.compile(r"\b(?:swap|switch|exchange|flip)\b|交换|互换|调换|对调", I)),
    (
        "remove",
        re.compile(
            r"\b(?:remove|delete|drop|take\s+out|get\s+rid\s+of|cut\s+out|lose|exclude)\b|删除|删掉|去掉|移除|拿掉|不要",
            I,
        ),
    ),
    ("duplicate", re.compile(r"\b(?:duplicate|repeat|copy|clone)\b|复制|重复", I)),
    ("mute", re.compile(r"\bmute\b|\bsilence\b|turn\s+off\s+the\s+sound\s+of|静音", I)),
    ("trim", re.compile(r"\b(?:trim|shorten|cut)\b|剪短|裁剪", I)),
    ("move", re.compile(r"\b(?:move|put|place|bring)\b|移动|挪", I)),
    ("length", re.compile(r"\b(?:show|hold|keep|display|make|set|give)\b|显示|停留", I)),
]
_AFTER: list[tuple[Op, re.Pattern[str]]] = [
    ("remove", re.compile(r"^\s*(?:的)?(?:删掉|删除|去掉|移除|拿掉|不要了|删了)")),
    ("duplicate", re.compile(r"^\s*(?:复制|重复)")),
    ("mute", re.compile(r"^\s*(?:的声音)?(?:静音|关掉声音|不要声音)")),
    ("move", re.compile(r"^\s*(?:移到|放到|挪到|放在|移至)")),
]
_SWAP_AFTER = re.compile(r"^\s*(?:和|与|跟|and)\s*$", I)
_POSITION = [
    (
        -1,
        re.compile(
            r"^[^,;.!?，。]{0,20}?(?:to\s+the\s+(?:end|back)|\blast\b|at\s+the\s+end|最后|末尾|结尾)", I
        ),
    ),
    (
        1,
        re.compile(
            r"^[^,;.!?，。]{0,20}?(?:to\s+the\s+(?:start|beginning|front)|\bfirst\b|at\s+the\s+(?:start|beginning)|最前面?|开头|第一个|第一位)",
            I,
        ),
    ),
]
_POSITION_N = re.compile(
    r"^[^,;.!?，。]{0,20}?(?:position|place|spot|slot|第)\s*(?:#|number\s+)?(\d+)(?:位|个)?", I
)
_LENGTH_AFTER = re.compile(rf"^[^,;.!?，。\d]{{0,16}}?{NUM}\s*-?\s*{SEC}(?![a-z])", I)
_PERCENT_AFTER = re.compile(r"^[^,;.!?，。\d]{0,24}?(\d{1,3})\s*%", I)
_KEEP_FIRST = re.compile(
    rf"(?:use|keep)\s+(?:only\s+)?the\s+first\s+{NUM}\s*{SEC}\s+of\s*$|只(?:保留|要|用)前\s*{NUM}\s*秒", I
)
_SKIP_FIRST = re.compile(
    rf"(?:skip|cut(?:\s+off)?|drop|remove|lose)\s+the\s+first\s+{NUM}\s*{SEC}\s+of\s*$|(?:剪掉|去掉|跳过)前\s*{NUM}\s*秒",
    I,
)
_SPAN = re.compile(rf"(?:from\s+)?{NUM}\s*{SEC}?\s*(?:to|-|–|until|到)\s*{NUM}\s*{SEC}", I)

_SPAN_OF = re.compile(
    rf"(?:\b(?:use|keep|only)\s+)?(?:from\s+)?{NUM}\s*{SEC}?\s*(?:to|-|–|until)\s*{NUM}\s*{SEC}\s+of\s*$", I
)
_JOIN = re.compile(r"^\s*(?:和|与|跟|、|,|，|and|&|,\s*and)\s*(?:the\s+)?$", I)
_SOUND = re.compile(r"volume|sound|音量|声音", I)
_BOUNDARY = re.compile(
    r"[;；。!?！？\n]|，|,(?!\s*(?:and\s+)?(?:the\s+)?\d*(?:st|nd|rd|th|first|second|third|last))|\bthen\b|然后",
    I,
)

_NEW_MEDIA = re.compile(
    r"\badd\s+(?:in\s+)?(?:the\s+|my\s+)?(?:new|newly\s+uploaded|remaining|other|rest\s+of\s+the|latest|unused)\s+(?:photos?|pictures?|pics|images|clips?|videos?|uploads?|files|ones)"
    r"|\badd\s+the\s+rest\b|(?:把)?新(?:上传|传)?的?(?:照片|图片|视频|素材)(?:也)?(?:加|放)(?:进去|进来|上|到)|加上新(?:上传的)?(?:照片|图片|素材)",
    I,
)
_ADD_VERB = re.compile(r"\b(?:add|include|insert|append)\b|加上|加入|添加", I)
_REORDER = [
    (
        "reverse",
        re.compile(
            r"\breverse\s+(?:the\s+)?order\b|\bin\s+reverse\b|\breverse\s+(?:them|it|the\s+(?:photos|slides|clips))\b|倒序|顺序反过来|反转顺序|倒过来",
            I,
        ),
    ),
    (
        "by_name",
        re.compile(
            r"\b(?:sort|order)\s+(?:them\s+|the\s+\w+\s+)?by\s+(?:file\s*)?name\b|alphabetical|按(?:文件)?名(?:字|称)?排",
            I,
        ),
    ),
    ("upload", re.compile(r"\b(?:upload|original)\s+order\b|按上传顺序|原来的顺序", I)),
]
_MUTE_ALL = re.compile(
    r"\bmute\s+(?:all\s+(?:the\s+)?|the\s+|every\s+)?(?:clips|videos|video\s+clips|original\s+(?:sound|audio)|clip\s+(?:sound|audio))\b"
    r"|\b(?:mute|remove|turn\s+off|no)\s+(?:the\s+)?(?:original|clips?'?|videos?'?)\s+(?:sound|audio)\b"
    r"|(?:视频)?原声(?:静音|去掉|关掉)|(?:去掉|关掉|关闭)(?:视频)?原声|视频(?:片段)?静音",
    I,
)
_UNDO = re.compile(
    r"\bundo\b|\brevert\b|\bgo\s+back\b|\btake\s+(?:that|it)\s+back\b|撤销|撤回|返回上一步|回到上一步", I
)
_UNDO_N = re.compile(
    r"(?:undo|revert|go\s+back)\s+(?:the\s+last\s+)?(\d+|two|three|twice)\s*(?:changes?|steps?|times?)?|撤销\s*(\d+|两|二|三)\s*(?:步|次)",
    I,
)
_REDO = re.compile(
    r"\bredo\b(?!\s+(?:the\s+|a\s+|my\s+)?(?:video|slideshow|montage|whole|everything|all))|重做(?:上一步|一下)?\s*$|^\s*重做|取消撤销|恢复(?:刚才|撤销|上一步)",
    I,
)
_BEAT = re.compile(
    r"\b(?:cut|sync|synch?ronise|synch?ronize|time|match|edit|switch|change)\w*\s+(?:it\s+|them\s+|the\s+(?:photos?|pictures?|cuts?|slides?|video)\s+)?(?:to|on|with)\s+(?:the\s+)?(?:beats?|rhythm|music|song|tempo)\b"
    r"|\bon\s+the\s+beats?\b|\bbeat[\s-]?(?:sync|synced|matched|cut)|\bto\s+the\s+beat\b|卡点|踩点|(?:跟着|按|随)(?:着)?(?:音乐|歌|节拍|节奏)(?:的节拍|的节奏)?(?:切换|换|剪)|节拍|节奏",
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
    r"|(?:(?P<secs>\d+(?:\.\d+)?)\s*-?\s*(?:seconds?|s)\s+)?fade[\s-]?(?P<d>in|out)\s+(?:at\s+the\s+(?:end|start|beginning)|of\s+the\s+music)"
    r"|(?:音乐|歌曲|背景音乐|配乐)(?:开头|结尾)?(?:要)?(?P<z>淡入淡出|淡入|淡出)|结尾(?:音乐)?(?P<ze>淡出)",
    I,
)
_NO_FADE = re.compile(
    r"\bno\s+(?:music\s+)?fades?\b(?!\s+transitions?)|\bremove\s+the\s+(?:music\s+)?fades\b|(?:音乐)?不要淡入淡出",
    I,
)
_LOOP_OFF = re.compile(
    r"\bdon'?t\s+loop|\bno\s+loop|\bstop\s+looping|play\s+(?:the\s+(?:song|music|track)|it)\s+(?:only\s+)?once|不要循环|不循环|只播放?一遍",
    I,
)
_LOOP_ON = re.compile(
    r"\bloop\s+(?:the\s+)?(?:music|song|track|audio|it)\b|\b(?:music|song|track)\s+(?:should\s+)?loops?\b|\brepeat\s+the\s+(?:song|music|track)\b|循环播放|(?:音乐|歌)循环",
    I,
)


def _count(match: re.Match[str]) -> int:
    word = next((g for g in match.groups() if g), "1")
    return int(word) if word.isdigit() else _WORDS.get(word.lower(), 1)


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for a, b in spans:
        for i in range(a, b):
            chars[i] = " "
    return "".join(chars)


def _clause_start(text: str, at: int) -> int:
    last = 0
    for m in _BOUNDARY.finditer(text, 0, at):
        last = m.end()
    return last


def _clause_end(text: str, at: int) -> int:
    m = _BOUNDARY.search(text, at)
    return m.start() if m else len(text)


def _verb(before: str) -> tuple[Op, int] | None:
    """The op whose verb is nearest before the reference, and where that verb starts."""
    best: tuple[Op, int] | None = None
    for op, pattern in _BEFORE:
        for m in pattern.finditer(before):
            if best is None or m.start() > best[1]:
                best = (op, m.start())
    return best


def read_edit_intents(text: str) -> tuple[EditIntents, str]:
    found = EditIntents()
    spans: list[tuple[int, int]] = []
    for pattern, field in ((_FADE_MUSIC, "fade"), (_NO_FADE, "nofade")):
        for m in pattern.finditer(text):
            spans.append(m.span())
            if field == "nofade":
                found.fade_in_ms = found.fade_out_ms = 0
                continue
            which = next((g for g in (m.group(k) for k in "abcdz") if g), None) or m.group("ze") or ""
            ms = round(float(m.group("secs")) * 1000) if m.group("secs") else None
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
    rest = _blank(text, spans)  # "取消撤销" is a redo, not an undo
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
    text_b = _blank(text, spans)
    found.refs = find_refs(text_b)
    _read_ops(text_b, found, spans)
    return found, _blank(text, spans)


def _read_ops(text: str, found: EditIntents, spans: list[tuple[int, int]]) -> None:
    refs = found.refs
    used: set[int] = set()
    groups: dict[tuple[int, int], list[Ref]] = {}
    for ref in refs:
        groups.setdefault((ref.start, ref.end), []).append(ref)
    # "第二张和第三张删掉", "photo01.jpg and photo02.jpg": references joined by "and" share one verb.
    for key in sorted(groups, reverse=True):
        prev = max((k for k in groups if k[1] <= key[0]), default=None)
        if prev is not None and _JOIN.match(text[prev[1] : key[0]]):
            merged = groups.pop(prev) + groups.pop(key)
            groups[(prev[0], key[1])] = [
                r.model_copy(update={"start": prev[0], "end": key[1]}) for r in merged
            ]
    keys = sorted(groups)
    for n, key in enumerate(keys):
        if n in used:
            continue
        group = groups[key]
        start, end = key
        c0, c1 = _clause_start(text, start), _clause_end(text, end)
        before, after = text[c0:start], text[end:c1]
        span = [start, end]
        verb = _verb(before)
        op: Op | None = verb[0] if verb else None
        if verb:
            span[0] = c0 + verb[1]
        for after_op, pattern in _AFTER:
            if m := pattern.search(after):
                op = after_op
                span[1] = end + m.end()
                break
        add_verb = _ADD_VERB.search(before)
        if add_verb and group[0].name and (verb is None or add_verb.start() >= verb[1]):  # "add x.jpg"
            names = [r.name for r in group if r.name]
            current = found.add_media if isinstance(found.add_media, list) else []
            found.add_media = [*current, *names]  # type: ignore[list-item]
            spans.append((c0 + add_verb.start(), end))
            continue
        sop = SegmentOp(op=op or "length", refs=list(group))
        if m := _KEEP_FIRST.search(before):
            sop.op, sop.seconds, sop.start_s = "trim", float(next(g for g in m.groups() if g)), 0.0
            span[0] = c0 + m.start()
        elif m := _SKIP_FIRST.search(before):
            sop.op, sop.start_s = "trim", float(next(g for g in m.groups() if g))
            span[0] = c0 + m.start()
        elif m := re.search(r"^\s*(?:只(?:保留|要|用))?前\s*" + NUM + r"\s*秒", after):
            sop.op, sop.seconds, sop.start_s = "trim", float(m.group(1)), 0.0
            span[1] = end + m.end()
        elif m := re.search(r"^\s*(?:的)?(?:剪掉|去掉|跳过)前\s*" + NUM + r"\s*秒", after):
            sop.op, sop.start_s = "trim", float(m.group(1))
            span[1] = end + m.end()
        elif (m := _SPAN_OF.search(before)) and op in ("trim", "length", None):
            sop.op, sop.start_s, sop.end_s = "trim", float(m.group(1)), float(m.group(2))
            span[0] = c0 + m.start()
        elif (m := _SPAN.search(after)) and op in ("trim", "length", None):
            sop.op, sop.start_s, sop.end_s = "trim", float(m.group(1)), float(m.group(2))
            span[1] = end + m.end()
        if sop.op == "swap" and len(group) == 1 and n + 1 < len(keys):
            nxt = keys[n + 1]
            if _SWAP_AFTER.match(text[end : nxt[0]]) or nxt[0] - end < 8:
                sop.refs = [*group, *groups[nxt]]
                used.add(n + 1)
                span[1] = nxt[1]
                if m := re.search(
                    r"^\s*(?:交换|互换|调换|对调)",
                    text[nxt[1] : c1 if c1 > nxt[1] else _clause_end(text, nxt[1])],
                ):
                    span[1] = nxt[1] + m.end()
        if sop.op == "move":
            tail = text[span[1] : _clause_end(text, span[1])] if span[1] >= end else after
            for pos, pattern in _POSITION:
                if m := pattern.search(tail):
                    sop.position = pos
                    span[1] += m.end()
                    break
            else:
                if m := _POSITION_N.search(tail):
                    sop.position = int(m.group(1))
                    span[1] += m.end()
        unset = sop.seconds is None and sop.start_s is None
        if sop.op in ("length", "trim") and unset and (m := _LENGTH_AFTER.search(text[span[1] : c1])):
            sop.seconds = float(m.group(1))
            span[1] += m.end()
        percent = _PERCENT_AFTER.search(text[span[1] : c1])
        if sop.op in ("volume", "length", "mute") and percent and _SOUND.search(text[c0:c1]):
            sop.op, sop.volume = "volume", int(percent.group(1)) / 100
            span[1] += percent.end()
        if sop.op == "length" and sop.seconds is None:
            continue  # a reference with nothing asked of it ("add a caption to the third photo")
        if sop.op == "move" and sop.position is None:
            continue
        found.ops.append(sop)
        spans.append((span[0], span[1]))
