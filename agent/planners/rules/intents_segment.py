"""Requests about single photos and clips: remove, move (to a place, or after or before another),
swap, replace with another upload, duplicate, show longer, trim, mute.

`read_segment_ops(text, refs, spans)` gives each reference (agent.planners.rules.references) the verb nearest
it in its clause ("remove the third photo", "第三张删掉"), with what the verb needs from around it
(a place, a length, the upload to show instead). It appends the spans it used to `spans`, so the
general reader does not take "show the third photo for 5 seconds" for a 5-second video.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel

from agent.planners.rules.references import Kind, Ref, find_refs

I = re.IGNORECASE  # noqa: E741
NUM = r"(\d+(?:\.\d+)?)"
SEC = r"(?:seconds?|secs?|s|秒钟?)"

Op = Literal["remove", "move", "swap", "replace", "duplicate", "length", "trim", "mute", "volume"]


class SegmentOp(BaseModel):
    op: Op
    refs: list[Ref]
    position: int | None = None  # move: 1-based, -1 the end
    anchor: Ref | None = None  # move: next to this one instead ("after the fifth")
    side: Literal["after", "before"] | None = None
    media: str | None = None  # replace: a file name, or "new" (an upload not on the timeline yet)
    media_kind: Kind = "any"  # replace "new": "the new photo" is not the new clip
    seconds: float | None = None  # length / trim: how long to keep
    start_s: float | None = None  # trim: where in the clip to start
    end_s: float | None = None
    volume: float | None = None


_BEFORE: list[tuple[Op, re.Pattern[str]]] = [  # on a tie the first wins: "swap out" is a replace
    ("replace", re.compile(r"\b(?:replace|substitute|swap\s+out|switch\s+out)\b|替换|换掉", I)),
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
    ("move", re.compile(r"^\s*(?:移到|放到|挪到|放在|移至|移动到)")),
    ("replace", re.compile(r"^\s*(?:的)?(?:换成|替换成|替换为|换为)")),
    ("swap", re.compile(r"^\s*(?:的位置)?(?:对调|交换|互换|调换)")),
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
            r"^[^,;.!?，。]{0,20}?(?:to\s+the\s+(?:start|beginning|front)|\bfirst\b|at\s+the\s+(?:start|"
            r"beginning)|最前面?|开头|第一个|第一位)",
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
    rf"(?:skip|cut(?:\s+off)?|drop|remove|lose)\s+the\s+first\s+{NUM}\s*{SEC}\s+of\s*$|(?:剪掉|去掉|"
    rf"跳过)前\s*{NUM}\s*秒",
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

# "after the fifth", "right before photo 4"; in Chinese the side follows: "放到第五张后面".
# Used with .match(text, pos): no "^", which would only match at the start of the text.
_RELATIVE = re.compile(
    r"\s*(?:to\s+)?(?:(?:right|just|immediately|directly)\s+)?(?P<side>after|behind|following|before|"
    r"ahead\s+of"
    r"|in\s+front\s+of|preceding|between)\s+",
    I,
)
_ZH_SIDE = re.compile(r"\s*(?:的)?(?P<side>后面|后边|之后|后|前面|前边|之前|前|之间|中间)")
# "between the 4th and 5th" is after the 4th (the first of a pair the "and" joined).
_AFTER_SIDES = ("after", "behind", "following", "between", "后面", "后边", "之后", "后", "之间", "中间")
# An upload not on the timeline yet: "the new photo", "the picture I just uploaded", "新上传的照片".
_NEW_ONE = re.compile(
    r"(?:the\s+|my\s+|a\s+)?(?:new(?:ly)?(?:\s+uploaded)?|latest|just\s+uploaded|recently\s+uploaded"
    r"|last\s+uploaded|other)\s+(?P<noun>photo|picture|pic|image|shot|clip|video|one|upload|file)s?\b"
    r"|the\s+(?P<noun2>photo|picture|pic|image|clip|video|one|file)\s+i\s+(?:just\s+)?(?:uploaded|"
    r"added|sent)\b"
    r"|(?:(?:刚才?|刚刚|新|最新)(?:上传|传|发|加)的?|最?新的?)(?:那|这)?一?(?:张|个|段)?"
    r"(?P<znoun>照片|图片|相片|图|视频|片段|素材)?",
    I,
)
_WITH = re.compile(r"(?:with|by|for|to|into|using)\s+", I)
# "use beach.jpg instead of the third photo", "用 beach.jpg 替换第三张"
_USE_INSTEAD = re.compile(
    r"(?:\buse\s+|\bput\s+|用\s*)(?P<m>[^,;!?，。]+?)\s*(?:\binstead\s+of|\bin\s+place\s+of|\bto\s+replace"
    r"|来?替换掉?|来?换掉|来?代替)\s*(?:the\s+)?$",
    I,
)
_NEEDS_ONE = ("remove", "move", "swap", "duplicate", "replace")  # "delete it" with nothing named: which?
_ADD_VERB = re.compile(r"\b(?:add|include|insert|append)\b|加上|加入|添加", I)


def blank(text: str, spans: list[tuple[int, int]]) -> str:
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


def _noun_kind(noun: str | None) -> Kind:
    noun = (noun or "").lower()
    if noun in ("clip", "video", "视频", "片段"):
        return "clip"
    return "any" if noun in ("", "one", "upload", "file", "素材") else "photo"


def _new_one(text: str, at: int) -> tuple[Kind, int] | None:
    """An upload-not-on-the-timeline phrase starting at `at`: its kind and where it ends."""
    m = _NEW_ONE.match(text, at)
    if m is None or not m.group(0).strip():
        return None
    return _noun_kind(m.group("noun") or m.group("noun2") or m.group("znoun")), m.end()


class _Groups:
    """References sharing a span, as the op reader walks them in order; `used` ones are done."""

    def __init__(self, text: str, refs: list[Ref]) -> None:
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
        self.keys = sorted(groups)
        self.refs = [groups[k] for k in self.keys]
        self.used: set[int] = set()

    def at(self, text: str, pos: int) -> int | None:
        """The group starting at `pos` (after blanks), if any."""
        pos += len(text[pos:]) - len(text[pos:].lstrip())
        return next((n for n, k in enumerate(self.keys) if k[0] == pos), None)

    def within(self, a: int, b: int) -> set[int]:
        return {n for n, k in enumerate(self.keys) if a <= k[0] < b}


def _relative(
    text: str, at: int, groups: _Groups, kind: Kind
) -> tuple[Ref, Literal["after", "before"], int] | None:
    """ "after the fifth" / "第五张后面" from `at`: a move's anchor, the side, and where that ends."""
    side = None
    if m := _RELATIVE.match(text, at):
        side, at = m.group("side").lower(), m.end()
    n = groups.at(text, at)
    if n is None:
        return None
    end = groups.keys[n][1]
    if side is None:
        if not (z := _ZH_SIDE.match(text, end)):
            return None
        side, end = z.group("side"), z.end()
    anchor = groups.refs[n][0]
    if anchor.kind == "any" and anchor.name is None:  # "put the second photo after the fifth" (photo)
        anchor = anchor.model_copy(update={"kind": kind})
    groups.used.add(n)
    return anchor, "after" if side in _AFTER_SIDES else "before", end


def _media_after(text: str, at: int, groups: _Groups) -> tuple[str, Kind, int, set[int]] | None:
    """The upload named after a replace's target ("with beach.jpg", "换成新照片"): name or "new",
    its kind, where the phrase ends, and the groups it takes up."""
    at += len(text[at:]) - len(text[at:].lstrip())
    if joined := _WITH.match(text, at):
        at = joined.end()
    n = groups.at(text, at)
    if n is not None and (name := groups.refs[n][0].name):
        return name, "any", groups.keys[n][1], {n}
    if new := _new_one(text, at + len(text[at:]) - len(text[at:].lstrip())):
        return "new", new[0], new[1], groups.within(at, new[1])  # "the last uploaded photo" is one
    return None


def _media_before(before: str) -> tuple[str, Kind, int] | None:
    """ "use beach.jpg instead of" / "用新照片替换" before the target: the upload, and where it starts."""
    m = _USE_INSTEAD.search(before)
    if m is None:
        return None
    named = [r.name for r in find_refs(m.group("m")) if r.name]
    if named:
        return named[0], "any", m.start()
    if (new := _new_one(m.group("m").strip(), 0)) and new[1] == len(m.group("m").strip()):
        return "new", new[0], m.start()
    return None


def read_segment_ops(
    text: str, refs: list[Ref], spans: list[tuple[int, int]]
) -> tuple[list[SegmentOp], list[str]]:
    """The ops the message asks of its references, and the file names it asks to add ("add x.jpg")."""
    groups = _Groups(text, refs)
    ops: list[SegmentOp] = []
    added: list[str] = []
    with_op: set[int] = set()  # starts of groups that got an op
    for n, key in enumerate(groups.keys):
        if n in groups.used:
            continue
        group = groups.refs[n]
        start, end = key
        c0, c1 = _clause_start(text, start), _clause_end(text, end)
        if group[0].of is not None:  # "remove the 2nd photo. It is blurry": no verb from before "it"
            c0 = max(c0, next((k[1] for k in groups.keys if k[0] == group[0].of), c0))
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
            added += [r.name for r in group if r.name]
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
        media = _media_after(text, span[1], groups) if sop.op in ("replace", "swap") else None
        # "swap the third photo for the new one" replaces; "swap it with beach.jpg" is left to the
        # planner, which knows whether beach.jpg is on the timeline (exchange) or only uploaded.
        if media and (sop.op == "replace" or media[0] == "new"):
            sop.op, sop.media, sop.media_kind, span[1] = "replace", media[0], media[1], media[2]
            groups.used |= media[3]
        elif sop.op in ("replace", "length", "move") and (media_b := _media_before(before)):
            sop.op, sop.media, sop.media_kind, span[0] = "replace", media_b[0], media_b[1], c0 + media_b[2]
        if sop.op == "swap" and len(group) == 1 and n + 1 < len(groups.keys):
            nxt = groups.keys[n + 1]
            if _SWAP_AFTER.match(text[end : nxt[0]]) or nxt[0] - end < 8:
                sop.refs = [*group, *groups.refs[n + 1]]
                groups.used.add(n + 1)
                span[1] = nxt[1]
                if m := re.search(
                    r"^\s*(?:交换|互换|调换|对调)",
                    text[nxt[1] : c1 if c1 > nxt[1] else _clause_end(text, nxt[1])],
                ):
                    span[1] = nxt[1] + m.end()
        if sop.op == "move":
            _place(text, sop, span, groups)
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
        if sop.op == "move" and sop.position is None and sop.anchor is None:
            continue
        if group[0].pronoun and (
            (group[0].of is None and sop.op not in _NEEDS_ONE)  # "make it 20 seconds": the video
            or (sop.op == "length" and group[0].of in with_op)  # "remove the 3rd photo and make it 20 s"
        ):
            continue
        with_op.add(start)
        ops.append(sop)
        spans.append((span[0], span[1]))
    return ops, added


def _place(text: str, sop: SegmentOp, span: list[int], groups: _Groups) -> None:
    """Where a move goes: next to another segment, to an end, or to a numbered position."""
    if rel := _relative(text, span[1], groups, sop.refs[0].kind):
        sop.anchor, sop.side, span[1] = rel
        return
    tail = text[span[1] : _clause_end(text, span[1])]
    for pos, pattern in _POSITION:
        if m := pattern.search(tail):
            sop.position = pos
            span[1] += m.end()
            return
    if m := _POSITION_N.search(tail):
        sop.position = int(m.group(1))
        span[1] += m.end()
