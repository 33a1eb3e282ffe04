"""Where a message points at photos or clips: "the third photo", "第三张", "the last one", "beach.jpg".

`find_refs(text)` returns each reference with its span (so the intent reader can blank it out) as
a `Ref`: the kind counted among (photo, clip or any), a 1-based index (negative from the end), or a
file name; a bare "the photo" has neither, which the planner turns into a question.
`bind_pronouns` reads "it", "them", "它" and a bare "this photo" as the photo named before them in
the same message ("the 3rd pic is blurry, remove it").
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel

from agent.language import zh_number

I = re.IGNORECASE  # noqa: E741

ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "twentieth": 20,
}
_FROM_END = r"second[\s-]+(?:to[\s-]+)?last|penultimate|next[\s-]+to[\s-]+last"
ORD = rf"(?:{_FROM_END}|last|final|{'|'.join(ORDINALS)}|\d+(?:st|nd|rd|th))"
_PHOTO_N = r"photos?|pictures?|pics?|images?|slides?|shots?"
_CLIP_N = r"clips?|videos?|footage"
_ANY_N = r"ones?|segments?|items?|parts?"
NOUN = rf"(?:{_PHOTO_N}|{_CLIP_N}|{_ANY_N})"
EXTS = r"jpe?g|png|heic|heif|webp|gif|mp4|mov|avi|webm|mkv|m4v"

# "the first and (the) third photos", "the 2nd, 3rd and 5th photo"
_EN_LIST = re.compile(
    rf"\b(?:the\s+)?(?P<ords>{ORD}(?:\s*(?:,|and|&|,\s*and)\s*(?:the\s+)?{ORD})*)\s+(?P<noun>{NOUN})\b", I
)
_WORD_N = {
    w: i
    for i, w in enumerate(
        ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"], 1
    )
}
_NUMBER = rf"\d+|{'|'.join(_WORD_N)}"
# "the last 2 photos", "the first three pictures"
_EN_RUN = re.compile(
    rf"\b(?:the\s+)?(?P<end>last|first)\s+(?P<n>{_NUMBER})\s+(?P<noun>{_PHOTO_N}|{_CLIP_N}|{_ANY_N})\b", I
)
_EN_NUMBERED = re.compile(
    rf"\b(?P<noun>{_PHOTO_N}|{_CLIP_N}|segments?)\s*(?:(?:#|no\.?\s*|number\s+)?(?P<n>\d+)\b"
    rf"|number\s+(?P<w>{'|'.join(_WORD_N)})\b)",
    I,
)
_EN_BARE_ORD = re.compile(
    rf"\bthe\s+(?P<ord>{ORD})\b(?!\s+(?:{NOUN}|\d|seconds?|times?|beats?|changes?|steps?|edits?|"
    rf"titles?|captions?|songs?|music|tracks?|transitions?|frames?|minutes?|few|couple|position|place|"
    rf"spot|slot|half))",
    I,
)
_EN_BARE = re.compile(
    r"\b(?:the|this|that)\s+(?P<noun>photo|picture|pic|image|slide|clip)\b(?!\s*(?:#|\d))", I
)
# ASCII names anywhere (Chinese text runs straight into them: "把beach.jpg删掉"); names with other
# letters only after a space or a quote.
_FILE = re.compile(
    rf"(?:(?<![A-Za-z0-9_/.-])(?P<name>[A-Za-z0-9_][A-Za-z0-9_().\-]*\.(?:{EXTS}))"
    rf"|(?<=[\s\"'“‘「『])(?P<uname>[\w().\-]+\.(?:{EXTS})))(?![A-Za-z0-9_])",
    I,
)
_ZH_NUM = r"\d+|[一二两三四五六七八九十百]+"
_ZH_PHOTO = r"照片|图片|相片|图|张"
_ZH_CLIP = r"视频|片段|视频片段|段"
_ZH_ORD = re.compile(
    rf"(?P<rev>倒数)?第(?P<n>{_ZH_NUM})(?P<unit>张|幅|个|段)(?P<noun>视频片段|视频|片段|照片|图片|相片|图|素材)?"
)
_ZH_LAST = re.compile(
    r"最后(?:一|1)?(?P<unit>张|幅|个|段)(?P<noun>视频片段|视频|片段|照片|图片|相片|图|素材)?"
)
_ZH_FIRST = re.compile(
    rf"(?:最前面|开头)的?(?:那)?(?:一|1)?(?P<unit>张|个|段)(?P<noun>{_ZH_PHOTO}|{_ZH_CLIP})?"
)
_ZH_BARE = re.compile(r"(?:这|那)(?:一|1)?(?:张|个|段)(?P<noun>照片|图片|相片|视频|片段)")
# What else "it" may be, so "remove the music, delete it" is not a question about photos.
_OTHER_THINGS = re.compile(
    r"music|song|track|audio|title|caption|text|transition|end\s*card|音乐|歌|配乐|标题|字幕|文字|转场|片尾",
    I,
)
_PRONOUN = re.compile(
    r"\b(?:it|them|this\s+one|that\s+one)\b|它们|它|(?:这|那)(?:一|1)?张(?!照片|图片|相片|图)", I
)

Kind = Literal["any", "photo", "clip"]


class Ref(BaseModel):
    kind: Kind = "any"
    index: int | None = None
    name: str | None = None
    start: int = 0
    end: int = 0
    pronoun: bool = False  # "it", "它": a copy of what it stands for, or bare if nothing was named
    of: int | None = None  # a pronoun's copy: where the reference it stands for starts

    def target(self) -> dict[str, object]:
        """As the tools' `Target` argument (only what is set)."""
        out: dict[str, object] = {"kind": self.kind} if self.kind != "any" or self.name is None else {}
        if self.index is not None:
            out["index"] = self.index
        if self.name is not None:
            out["name"] = self.name
        return out


def _noun_kind(noun: str | None) -> Kind:
    noun = (noun or "").lower()
    if re.fullmatch(_PHOTO_N, noun, I) or noun in ("照片", "图片", "相片", "图", "张", "幅"):
        return "photo"
    if re.fullmatch(_CLIP_N, noun, I) or noun in ("视频", "片段", "视频片段", "段"):
        return "clip"
    return "any"


def _ord_value(word: str) -> int:
    word = word.lower()
    if word in ("last", "final"):
        return -1
    if re.fullmatch(_FROM_END, word, I):
        return -2
    if word in ORDINALS:
        return ORDINALS[word]
    return int(re.sub(r"\D", "", word))


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(span[0] < b and a < span[1] for a, b in taken)


def find_refs(text: str) -> list[Ref]:
    """Every reference, in the order they appear."""
    refs: list[Ref] = []
    taken: list[tuple[int, int]] = []

    def add(ref: Ref) -> None:
        refs.append(ref)
        taken.append((ref.start, ref.end))

    for m in _FILE.finditer(text):
        add(Ref(name=m.group("name") or m.group("uname"), start=m.start(), end=m.end()))
    for m in _EN_RUN.finditer(text):
        if _overlaps(m.span(), taken):
            continue
        count = int(m.group("n")) if m.group("n").isdigit() else _WORD_N[m.group("n").lower()]
        kind = _noun_kind(m.group("noun"))
        for k in range(1, min(count, 50) + 1):
            refs.append(
                Ref(
                    kind=kind,
                    index=-k if m.group("end").lower() == "last" else k,
                    start=m.start(),
                    end=m.end(),
                )
            )
        taken.append(m.span())
    for m in _EN_LIST.finditer(text):
        if _overlaps(m.span(), taken):
            continue
        kind = _noun_kind(m.group("noun"))
        words = re.findall(ORD, m.group("ords"), I)
        for w in words:
            refs.append(Ref(kind=kind, index=_ord_value(w), start=m.start(), end=m.end()))
        taken.append(m.span())
    for pattern in (_EN_NUMBERED,):
        for m in pattern.finditer(text):
            if not _overlaps(m.span(), taken):
                add(
                    Ref(
                        kind=_noun_kind(m.group("noun")),
                        index=int(m.group("n")) if m.group("n") else _WORD_N[m.group("w").lower()],
                        start=m.start(),
                        end=m.end(),
                    )
                )
    for m in _ZH_ORD.finditer(text):
        if _overlaps(m.span(), taken):
            continue
        n = zh_number(m.group("n"))
        kind = _noun_kind(m.group("noun") or m.group("unit"))
        if m.group("unit") == "个" and not m.group("noun"):
            kind = "any"
        add(Ref(kind=kind, index=-n if m.group("rev") else n, start=m.start(), end=m.end()))
    for pattern, index in ((_ZH_LAST, -1), (_ZH_FIRST, 1)):
        for m in pattern.finditer(text):
            if not _overlaps(m.span(), taken):
                kind = _noun_kind(m.group("noun") or m.group("unit"))
                kind = "any" if m.group("unit") == "个" and not m.group("noun") else kind
                add(Ref(kind=kind, index=index, start=m.start(), end=m.end()))
    for m in _EN_BARE_ORD.finditer(text):
        if not _overlaps(m.span(), taken):
            add(Ref(kind="any", index=_ord_value(m.group("ord")), start=m.start(), end=m.end()))
    for pattern in (_EN_BARE, _ZH_BARE):
        for m in pattern.finditer(text):
            if not _overlaps(m.span(), taken):
                add(Ref(kind=_noun_kind(m.group("noun")), start=m.start(), end=m.end()))
    return sorted(refs, key=lambda r: (r.start, r.end))


def _antecedent(refs: list[Ref], before: int, kind: Kind) -> list[Ref]:
    """The references named last before `before`, when they can be of `kind`."""
    named = [r for r in refs if r.end <= before and (r.index is not None or r.name is not None)]
    if not named:
        return []
    last = max(named, key=lambda r: r.end)
    group = [r for r in named if (r.start, r.end) == (last.start, last.end)]
    return group if kind == "any" or last.kind in ("any", kind) else []


def bind_pronouns(text: str, refs: list[Ref]) -> list[Ref]:
    """`refs` with "it", "them", "它" and bare "this photo" standing for the photo named before them.

    A pronoun with nothing named before it is a bare reference (the op reader keeps it only for
    verbs that need a photo: "delete it" asks which), unless the message names something else
    "it" may be (the music, the title); a bare "the photo" stays a question ("which photo?")."""
    out: list[Ref] = []
    for ref in refs:
        bare = ref.index is None and ref.name is None
        if bare and (found := _antecedent(refs, ref.start, ref.kind)):
            out += [_stand_in(a, ref.start, ref.end) for a in found]
        else:
            out.append(ref)
    taken = [(r.start, r.end) for r in refs]
    for m in _PRONOUN.finditer(text):
        if _overlaps(m.span(), taken):
            continue
        if found := _antecedent(refs, m.start(), "any"):
            out += [_stand_in(a, m.start(), m.end()) for a in found]
        elif not _OTHER_THINGS.search(text):
            out.append(Ref(start=m.start(), end=m.end(), pronoun=True))
    return sorted(out, key=lambda r: (r.start, r.end))


def _stand_in(ref: Ref, start: int, end: int) -> Ref:
    return ref.model_copy(update={"start": start, "end": end, "pronoun": True, "of": ref.start})
