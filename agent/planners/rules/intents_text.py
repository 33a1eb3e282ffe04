"""Requests about captions, the end card, and where text sits (English and simplified Chinese).

`read_text_intents(text)` returns what it found and the text with those phrases blanked, so the
general reader does not take a caption's words for the title.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from agent.planners.rules.references import Ref, find_refs

I = re.IGNORECASE  # noqa: E741
Kind = Literal["title", "caption", "end_card"]
_Q_OPEN, _Q_CLOSE = "\"“'‘「『", "\"”'’」』"
QUOTED = rf"[{_Q_OPEN}](?P<q>[^{_Q_CLOSE}\n]+)[{_Q_CLOSE}]"


_QUOTED_SPAN = re.compile(r"(?:(?<!\w)[\"']|[“‘「『])[^\"'”’」』\n]+[\"'”’」』](?!\w)")
_LABEL_BEFORE = re.compile(
    r"\b(?:titled?|titles|caption(?:ed)?|heading|called|named|saying|says|reads?|text)\b\s*:?[^,.;!?\n]*$"
    r"|(?:标题|字幕|题目|文字)[^，。；！？,.;!?\n]*$",
    I,
)


def on_screen_words(text: str, at: int) -> bool:
    """Whether `at` is inside words meant for the screen ("title: Speed it up", "'Start here'"),
    which other readers must not take as requests."""
    if any(m.start() < at < m.end() for m in _QUOTED_SPAN.finditer(text)):
        return True
    return bool(_LABEL_BEFORE.search(text[:at]))


class TextOp(BaseModel):
    op: Literal["add", "edit", "move", "remove"]
    kind: Kind
    text: str | None = None
    refs: list[Ref] = Field(default_factory=list)  # captions: the photo meant
    number: int | None = None  # captions: "the second caption"
    position: str | None = None
    start_s: float | None = None


class TextIntents(BaseModel):
    ops: list[TextOp] = Field(default_factory=list)
    title_position: str | None = None


_POSITIONS: list[tuple[str, re.Pattern[str]]] = [
    ("top_left", re.compile(r"top[\s-]left|upper[\s-]left|左上", I)),
    ("top_right", re.compile(r"top[\s-]right|upper[\s-]right|右上", I)),
    ("bottom_left", re.compile(r"bottom[\s-]left|lower[\s-]left|左下", I)),
    ("bottom_right", re.compile(r"bottom[\s-]right|lower[\s-]right|右下", I)),
    ("top", re.compile(r"\btop\b|\bupper\b|顶部|上方|最上面|上面", I)),
    ("bottom", re.compile(r"\bbottom\b|\blower\b|底部|下方|最下面|下面", I)),
    ("center", re.compile(r"\bcent(?:er|re)\b|\bmiddle\b|中间|居中|正中", I)),
]
_KIND_WORDS = (
    r"(?P<kind>titles?|captions?|subtitles?|end[\s-]?cards?|outro|end\s+screen|closing\s+(?:text|card)|text"
    r"|标题|字幕|片尾字幕|片尾|结尾字幕)"
)
_KIND_WORDS_Z = _KIND_WORDS.replace("?P<kind>", "?P<zkind>")
_MOVE = re.compile(
    rf"\b(?:move|put|place|position|shift)\s+(?:the\s+|all\s+(?:the\s+)?)?{_KIND_WORDS}\s+(?:to|at|in|"
    rf"on)\s+(?:the\s+)?(?P<where>[\w\s-]{{2,20}})|{_KIND_WORDS_Z}(?:都)?(?:放到|移到|放在|挪到|"
    rf"改到)(?P<zwhere>\S{{1,4}})",
    I,
)
_CAPTION_ADD = re.compile(
    rf"\b(?:add|put|write|place)\s+(?:a\s+|the\s+)?(?:caption|subtitle|text|label)s?\s*(?:saying|"
    rf"that\s+says|reading|:)?\s*{QUOTED}"
    rf"|\bcaption\s+(?P<cref>.{{3,40}}?)\s+(?:with\s+)?{QUOTED.replace('?P<q>', '?P<q2>')}"
    rf"|给(?P<zref>.{{2,12}}?)(?:加上?|添加)(?:字幕|文字|说明)[:：]?\s*[{_Q_OPEN}]?(?P<zq>[^{_Q_CLOSE}，。,\n]+)[{_Q_CLOSE}"
    rf"]?"
    rf"|在(?P<zref2>.{{2,12}}?)上?(?:加上?|添加)(?:字幕|文字)[:：]?\s*[{_Q_OPEN}]?(?P<zq2>[^{_Q_CLOSE}，。,\n]+)[{_Q_CLOSE}"
    rf"]?",
    I,
)
_AT_TIME = re.compile(r"^\s*at\s+(\d+(?:\.\d+)?)\s*(?:seconds?|s)\b", I)
_END_CARD = re.compile(
    rf"(?:end[\s-]?card|outro|end\s+screen|closing\s+(?:text|card|title)|"
    rf"end\s+(?:it\s+)?with)\s*(?:saying|that\s+says|reading|of|:)?\s*{QUOTED}"
    rf"|(?:片尾|结尾)(?:字幕|文字)?(?:加上?|写|显示|改成|改为|是|为)?[:：]?\s*[{_Q_OPEN}](?P<zq>[^{_Q_CLOSE}\n]+)[{_Q_CLOSE}]"
    rf"|(?:片尾|结尾)(?:加上?|写|显示)[:：]?\s*(?P<zq2>[^，。,\n「」\"]+)",
    I,
)
_EDIT = re.compile(
    rf"\b(?:change|edit|update|replace|rename|make)\s+(?:the\s+)?(?P<which>(?:(?:\d+(?:st|nd|rd|th)|"
    rf"first|second|third|last)\s+)?caption|end[\s-]?card|outro)(?P<on>\s+(?:on|of|for|"
    rf"under)\s+.{{3,40}}?)?\s+(?:to\s+(?:say\s+)?|say\s+|read\s+)?{QUOTED}"
    rf"|(?P<zwhich>字幕|片尾字幕|片尾)(?:改成|改为|换成)[{_Q_OPEN}]?(?P<zq>[^{_Q_CLOSE}，。,\n]+)[{_Q_CLOSE}]?",
    I,
)
_REMOVE = re.compile(
    r"\b(?:remove|delete|drop|get\s+rid\s+of|no)\s+(?:all\s+)?(?:the\s+)?(?:captions?|"
    r"subtitles?)(?P<on>\s+(?:on|of|for|from)\s+[^,.;]{3,40})?"
    r"|\b(?:remove|delete|drop|get\s+rid\s+of|no)\s+(?:the\s+)?(?P<end>end[\s-]?card|outro|end\s+screen)"
    r"|(?:删除|删掉|去掉|不要)(?P<zend>片尾字幕|片尾)|(?:删除|删掉|去掉|不要)(?:所有|全部)?字幕",
    I,
)
_NTH_CAPTION = re.compile(r"(\d+)(?:st|nd|rd|th)|\b(first|second|third|last)\b", I)
_NTH = {"first": 1, "second": 2, "third": 3, "last": -1}


def _position(words: str) -> str | None:
    return next((name for name, p in _POSITIONS if p.search(words)), None)


def _kind(word: str) -> Kind:
    word = word.lower()
    if "title" in word or word == "标题":
        return "title"
    if "caption" in word or "subtitle" in word or word == "字幕" or word == "text":
        return "caption"
    return "end_card"


def read_text_intents(text: str) -> tuple[TextIntents, str]:
    found = TextIntents()
    spans: list[tuple[int, int]] = []
    for m in _MOVE.finditer(text):
        pos = _position(m.group("where") or m.group("zwhere") or "")
        if pos:
            found.ops.append(
                TextOp(op="move", kind=_kind(m.group("kind") or m.group("zkind") or ""), position=pos)
            )
            spans.append(m.span())
    for m in _EDIT.finditer(text):
        which = (m.group("which") or m.group("zwhich") or "").lower()
        kind: Kind = "caption" if "caption" in which or which == "字幕" else "end_card"
        op = TextOp(op="edit", kind=kind, text=(m.group("q") or m.group("zq") or "").strip())
        if nth := _NTH_CAPTION.search(which):
            op.number = int(nth.group(1)) if nth.group(1) else _NTH[nth.group(2).lower()]
        if m.group("on"):
            op.refs = find_refs(m.group("on"))
        found.ops.append(op)
        spans.append(m.span())
    for m in _CAPTION_ADD.finditer(text):
        if any(a < m.end() and m.start() < b for a, b in spans):
            continue
        words = m.group("q") or m.group("q2") or m.group("zq") or m.group("zq2") or ""
        where = m.group("cref") or m.group("zref") or m.group("zref2") or ""
        end = m.end()
        tail = text[end : end + 60]
        op = TextOp(op="add", kind="caption", text=words.strip())
        refs = find_refs(where) or find_refs(re.split(r"[,;.，。]", tail, maxsplit=1)[0])
        if (refs and re.match(r"^\s*(?:to|on|for|under|over)\b", tail, I)) or where:
            op.refs = refs[:1]
            if not where and refs:
                end += refs[0].end
        elif at := _AT_TIME.match(tail):
            op.start_s = float(at.group(1))
            end += at.end()
        op.position = (
            _position(text[end : end + 30])
            if re.match(r"^\s*(?:at|in|on)\s+the\s+(?:top|bottom|center|middle)", text[end : end + 30], I)
            else None
        )
        found.ops.append(op)
        spans.append((m.start(), end))
    for m in _END_CARD.finditer(text):
        if not any(a < m.end() and m.start() < b for a, b in spans):
            words = m.group("q") or m.group("zq") or m.group("zq2") or ""
            found.ops.append(TextOp(op="add", kind="end_card", text=words.strip()))
            spans.append(m.span())
    for m in _REMOVE.finditer(text):
        if any(a < m.end() and m.start() < b for a, b in spans):
            continue
        if m.group("end") or m.group("zend"):
            found.ops.append(TextOp(op="remove", kind="end_card"))
        else:
            op = TextOp(op="remove", kind="caption")
            if m.group("on"):
                op.refs = find_refs(m.group("on"))[:1]
            found.ops.append(op)
        spans.append(m.span())
    chars = list(text)
    for a, b in spans:
        chars[a:b] = " " * (b - a)
    return found, "".join(chars)


def title_position(text: str) -> str | None:
    """'add the title X at the top' -> top (only the phrases that say where the title goes)."""
    if m := re.search(
        r"\b(?:at|in|on)\s+the\s+(top|bottom|cent(?:er|re)|middle)\b(?!\s+of\s+the\s+video)", text, I
    ):
        return _position(m.group(1))
    if m := re.search(r"标题[^，。,]{0,20}?(?:放在|在)(顶部|底部|中间|上方|下方)", text):
        return _position(m.group(1))
    return None
