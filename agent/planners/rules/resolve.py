"""Which photos or clips a piece of a message means, resolved against the session.

References: what a file's name says ("the cat pic", "湖边那张", the file name itself), positions
("the 2nd to last", "first 3 photos", "pics 2 thru 4", "第二张到第四张", "倒数第二个", "最后两张",
"the one in the middle", "the pics after the cake one", "从第三张开始后面所有照片"), classes ("every
photo", "所有照片", "everything", "the clip"), uploads not on the timeline ("the new ones", "刚传的")
and pronouns ("it", "that one", "那张"), which stand for the previous turn's target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.planners.rules.lexicon import concepts_in, concepts_of_stem, stem_words, weak
from agent.planners.rules.numbers import NUM, ZH_NUM, number_value
from agent.planners.rules.references import ORDINALS
from agent.state import MediaFile, SessionState
from renderer.schema.draft import Segment, TrackType

_WEAK_CONCEPTS = {"day", "night", "food"}


@dataclass
class Item:
    """One segment on the timeline (index >= 0) or one upload not on it (index -1)."""

    index: int
    media: MediaFile | None
    seg: Segment | None
    kind: str  # photo | clip
    stem: str
    concepts: set[str]


@dataclass
class Scene:
    items: list[Item]  # the timeline, in order
    uploads: list[Item]  # visual uploads not on the timeline, in upload order
    songs: list[MediaFile]

    @property
    def photos(self) -> list[int]:
        return [i.index for i in self.items if i.kind == "photo"]


def scene(state: SessionState) -> Scene:
    by_src = {f.cdn_url: f for f in state.video_infos}
    items: list[Item] = []
    video = state.draft.tracks(TrackType.VIDEO) if state.draft else []
    used: set[str] = set()
    for i, seg in enumerate(video[0].sg if video else []):
        media = by_src.get(seg.src or "")
        name = media.filename if media else (seg.m.name or seg.id)
        stem = name.rsplit(".", 1)[0]
        kind = "clip" if media is not None and media.file_type == "video" else "photo"
        items.append(Item(i, media, seg, kind, stem, concepts_of_stem(stem)))
        used.add(seg.src or "")
    uploads = [
        Item(
            -1,
            f,
            None,
            "clip" if f.file_type == "video" else "photo",
            f.filename.rsplit(".", 1)[0],
            concepts_of_stem(f.filename.rsplit(".", 1)[0]),
        )
        for f in state.video_infos
        if f.file_type in ("image", "video") and f.cdn_url not in used
    ]
    songs = [f for f in state.video_infos if f.file_type == "audio"]
    return Scene(items, uploads, songs)


@dataclass
class Ref:
    start: int
    end: int
    items: list[Item] = field(default_factory=list)  # what it means (timeline items and/or uploads)
    how: str = "named"  # named | position | class | new | pronoun | after | before | anchor
    anchor_side: str | None = None  # "after"/"before" when the reference is a place next to it
    alt: list[Item] = field(default_factory=list)  # how="ambiguous": the other reading

    @property
    def indexes(self) -> list[int]:
        return [i.index for i in self.items if i.index >= 0]


_EN_WORD_NUM = r"(?:one|two|three|four|five|six|seven|eight|nine|ten)"
_ORD = r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|\d+(?:st|nd|rd|th))"
_NOUN_PHOTO = r"(?:photos?|stills?|slides?)"
_NOUN_CLIP = r"(?:clips?|videos?|footage)"
_NOUN_ANY = r"(?:ones?|segments?|items?|parts?|things?)"
_NOUN = rf"(?:{_NOUN_PHOTO}|{_NOUN_CLIP}|{_NOUN_ANY})"
_ZH_UNIT = r"(?:张|幅|个|段|条)"
_ZH_NOUN = r"(?:视频片段|视频|片段|照片|图片|相片|图|素材|画面)?"


def _ord_value(word: str) -> int:
    word = word.lower()
    return ORDINALS.get(word) or int(re.sub(r"\D", "", word))


def _noun_kind(noun: str | None) -> str:
    noun = (noun or "").lower()
    if re.fullmatch(_NOUN_PHOTO, noun) or noun in ("照片", "图片", "相片", "图", "张", "幅"):
        return "photo"
    if re.fullmatch(_NOUN_CLIP, noun) or noun in ("视频", "视频片段"):
        return "clip"
    return "any"


def _pool(sc: Scene, kind: str) -> list[Item]:
    return [i for i in sc.items if kind == "any" or i.kind == kind]


def _nth(sc: Scene, kind: str, n: int) -> list[Item]:
    pool = _pool(sc, kind)
    k = n - 1 if n > 0 else len(pool) + n
    return [pool[k]] if 0 <= k < len(pool) else []


def _media_refs(text: str, sc: Scene) -> list[Ref]:
    everything = sc.items + sc.uploads
    mentions: list[tuple[int, int, list[Item]]] = []
    for concept, start, end in concepts_in(text):
        if concept in _WEAK_CONCEPTS:
            continue  # "day", "night": too common a word to name a photo by
        hits = [i for i in everything if concept in i.concepts]
        if hits:
            mentions.append((start, end, hits))
    # words of file names no concept covers ("vibes", "mochi", the stem itself, the file name)
    for item in everything:
        stem = item.stem.lower()
        whole = {stem} if len(stem) >= 3 or not stem.isascii() else set()
        if item.media is not None:  # the file name itself always names it: "a.jpg"
            whole.add(item.media.filename.lower())
        for word in {*whole, *(w for w in stem_words(item.stem) if not weak(w))}:
            if not re.search(r"[a-z]", word):
                if word in text and len(word) > 1:
                    for m in re.finditer(re.escape(word), text):
                        mentions.append((m.start(), m.end(), [item]))
                continue
            for m in re.finditer(rf"(?<![a-z]){re.escape(word)}(?:\.\w+)?(?![a-z])", text):
                mentions.append((m.start(), m.end(), [item]))
    mentions.sort(key=lambda m: (m[0], -m[1]))
    # merge mentions of one file next to each other: "lake sunset", "西湖日落", "birthday cake"
    refs: list[Ref] = []
    for start, end, hits in mentions:
        if refs and start < refs[-1].end:  # overlapping: narrow down
            both = [i for i in refs[-1].items if i in hits]
            if both:
                refs[-1].items = both
            refs[-1].end = max(refs[-1].end, end)
            continue
        if refs and re.fullmatch(r"[\s的_-]{0,3}", text[refs[-1].end : start]):
            both = [i for i in refs[-1].items if i in hits]
            if both:
                refs[-1].items = both
                refs[-1].end = end
                continue
        refs.append(Ref(start, end, list(hits)))
    return refs


def _span_free(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return not any(span[0] < b and a < span[1] for a, b in taken)


def find_refs(text: str, sc: Scene, previous: list[Item] | None = None) -> list[Ref]:
    """Every reference in `text` (normalised), left to right."""
    refs: list[Ref] = []
    taken: list[tuple[int, int]] = []

    def add(ref: Ref) -> None:
        refs.append(ref)
        taken.append((ref.start, ref.end))

    def run(pattern: str, build: object, how: str = "position") -> None:
        for m in re.finditer(pattern, text, re.I):
            if _span_free(m.span(), taken):
                items = build(m)  # type: ignore[operator]
                if items is not None:
                    add(Ref(m.start(), m.end(), items, how))

    n_ = rf"({NUM}|{ZH_NUM})"
    # ranges: "pics 2 thru 4", "photos 2-4", "第二张到第四张"
    run(
        rf"\b(?:the\s+)?({_NOUN})\s+(\d+|{_EN_WORD_NUM})\s*(?:-|to|through|until|till)\s*(\d+|{_EN_WORD_NUM})\b",
        lambda m: [
            i
            for n in range(int(number_value(m.group(2)) or 0), int(number_value(m.group(3)) or 0) + 1)
            for i in _nth(sc, _noun_kind(m.group(1)), n)
        ],
        "range",
    )
    run(
        rf"第{n_}{_ZH_UNIT}?{_ZH_NOUN}\s*(?:到|至|-|~)\s*第?{n_}{_ZH_UNIT}{_ZH_NOUN}",
        lambda m: [
            i
            for n in range(int(number_value(m.group(1)) or 0), int(number_value(m.group(2)) or 0) + 1)
            for i in _nth(sc, "photo" if "张" in m.group(0) else "any", n)
        ],
        "range",
    )
    # "from the third photo on", "从第三张开始(后面所有照片)"
    run(
        rf"从第{n_}({_ZH_UNIT}){_ZH_NOUN}(?:开始|起)(?:[^，。,]{{0,8}}?(?:所有|全部)?(?:照片|图片|片段|的)?)?",
        lambda m: _pool(sc, "photo" if m.group(2) == "张" else "any")[
            int(number_value(m.group(1)) or 1) - 1 :
        ],
        "range",
    )
    run(
        rf"\bfrom\s+the\s+({_ORD})\s+({_NOUN})?\s*(?:on(?:wards?)?|to\s+the\s+end)",
        lambda m: _pool(sc, _noun_kind(m.group(2)))[_ord_value(m.group(1)) - 1 :],
        "range",
    )
    # first / last N
    run(
        rf"\b(?:the\s+)?(first|last|final)\s+({NUM})\s+({_NOUN})",
        lambda m: (lambda pool, k: pool[:k] if m.group(1).lower() == "first" else pool[-k:])(
            _pool(sc, _noun_kind(m.group(3))), int(number_value(m.group(2)) or 1)
        ),
        "position",
    )
    run(
        rf"(前面?|后面?|最后)的?({ZH_NUM}|\d+){_ZH_UNIT}({_ZH_NOUN})",
        lambda m: (lambda pool, k: pool[:k] if m.group(1).startswith("前") else pool[-k:])(
            _pool(sc, _noun_kind(m.group(3)) if m.group(3) else ("photo" if "张" in m.group(0) else "any")),
            int(number_value(m.group(2)) or 1),
        ),
        "position",
    )
    # lists: "photos two and four", "pics 1, 3 and 5", "the 2nd and 4th photos"
    run(
        rf"\b({_NOUN_PHOTO}|{_NOUN_CLIP}|segments?)\s+((?:\d+|{_EN_WORD_NUM})(?:\s*(?:,|and|&|"
        rf",\s*and)\s*(?:\d+|{_EN_WORD_NUM}))+)\b",
        lambda m: [
            i
            for tok in re.findall(rf"\d+|{_EN_WORD_NUM}", m.group(2), re.I)
            for i in _nth(sc, _noun_kind(m.group(1)), int(number_value(tok) or 0))
        ],
        "range",
    )
    run(
        rf"\b(?:the\s+)?({_ORD}(?:\s*(?:,|and|&|,\s*and)\s*(?:the\s+)?{_ORD})+)\s+({_NOUN})\b",
        lambda m: [
            i
            for tok in re.findall(_ORD, m.group(1), re.I)
            for i in _nth(sc, _noun_kind(m.group(2)), _ord_value(tok))
        ],
        "position",
    )
    # ordinals
    run(
        rf"\b(?:the\s+)?(second|2nd)[\s-]+(?:to[\s-]+)?last\s*({_NOUN})?|\bpenultimate\s*({_NOUN})?",
        lambda m: _nth(sc, _noun_kind(m.group(2) or m.group(3)), -2),
    )
    run(
        rf"倒数第{n_}{_ZH_UNIT}{_ZH_NOUN}",
        lambda m: _nth(
            sc,
            "photo" if "张" in m.group(0) else _noun_kind(re.sub(r"^.*?(?:张|幅|个|段|条)", "", m.group(0))),
            -int(number_value(m.group(1)) or 1),
        ),
    )
    run(
        rf"第{n_}({_ZH_UNIT})({_ZH_NOUN})",
        lambda m: _nth(
            sc,
            _noun_kind(m.group(3)) if m.group(3) else ("photo" if m.group(2) in "张幅" else "any"),
            int(number_value(m.group(1)) or 1),
        ),
    )
    run(
        rf"最后(?:那|这)?(?:一|1)?({_ZH_UNIT})({_ZH_NOUN})",
        lambda m: _nth(
            sc, _noun_kind(m.group(2)) if m.group(2) else ("photo" if m.group(1) == "张" else "any"), -1
        ),
    )
    run(
        rf"(?:最前面|开头|第一)的?(?:那)?(?:一|1)?({_ZH_UNIT})({_ZH_NOUN})",
        lambda m: _nth(
            sc, _noun_kind(m.group(2)) if m.group(2) else ("photo" if m.group(1) == "张" else "any"), 1
        ),
    )
    run(
        rf"\b(?:the\s+)?(very\s+)?({_ORD}|last|final)\s+({_NOUN})\b(?!\s+(?:and|,)\s+(?:the\s+)?{_ORD})",
        lambda m: _nth(
            sc,
            _noun_kind(m.group(3)),
            -1 if m.group(2).lower() in ("last", "final") else _ord_value(m.group(2)),
        ),
    )
    run(
        rf"\b({_NOUN_PHOTO}|{_NOUN_CLIP}|segments?)\s*(?:#|no\.?\s*|number\s+)?(\d+)\b(?!\s*(?:seconds|%|:))",
        lambda m: _nth(sc, _noun_kind(m.group(1)), int(m.group(2))),
    )
    run(
        rf"\b(?:the\s+)?({_ORD})\s+one\b|\bthe\s+(\d+(?:st|nd|rd|th))\b(?!\s+(?:seconds|of))",
        lambda m: _nth(sc, "any", _ord_value(m.group(1) or m.group(2))),
        "range",
    )
    run(
        r"\bthe\s+(?:one\s+)?(?:smack\s+)?(?:in\s+the\s+)?(?:middle|centre|center)\s*(?:one|photo)?|"
        r"正中间|中间那(?:张|个)",
        lambda m: [sc.items[(len(sc.items) - 1) // 2]] if sc.items else [],
        "range",
    )
    # the new uploads
    run(
        r"\b(?:the\s+)?(?:two\s+|2\s+)?(?:new(?:ly)?\s+(?:uploaded\s+)?|latest\s+|just[\s-]uploaded\s+|"
        r"recent\s+)(?:ones?|photos?|uploads?|files?|ones)\b"
        r"|\bthe\s+(?:two\s+|2\s+)?(?:ones?|photos?)\s+i\s+(?:just\s+)?(?:uploaded|added|"
        r"sent)(?:\s+(?:just\s+now|after|later))?"
        r"|\bboth\s+new\s+(?:ones|photos)\b|\b(?:two|2)\s+more\s+photos\b"
        r"|(?:刚|刚刚|才|新|后来|后面|最近|之后)(?:上)?(?:传|加|上传|添加)的?(?:那)?(?:两|俩|2)?(?:张|个)?(?:照片|图片|图|素材|新图)?|"
        r"新(?:照片|图片|图|素材)|两张新照片",
        lambda m: list(sc.uploads) or None,
        "new",
    )
    # classes
    run(
        r"\b(?:all|every|each)\s+(?:of\s+)?(?:the\s+|my\s+)?(?:single\s+)?photos?\b|"
        r"\b(?:the\s+)?photos\b(?!\s+(?:\d|number))"
        r"|所有(?:的)?(?:照片|图片|图)|全部(?:的)?(?:照片|图片|图)|(?:照片|图片|图)都|每(?:一)?张(?:照片|图片|图)?|每(?:一)?个(?:画面)?",
        lambda m: [i for i in sc.items if i.kind == "photo"],
        "class",
    )
    for ref in _media_refs(text, sc):
        if _span_free((ref.start, ref.end), taken):
            add(ref)
    run(
        r"\b(?:the\s+)?(?:video\s+)?clips?\b|\bthe\s+(?:video|footage)\s+(?:at|in)\b|视频片段",
        lambda m: [i for i in sc.items if i.kind == "clip"] or None,
        "clips",
    )
    run(
        r"\b(?:everything|all\s+of\s+them|every\s+(?:segment|one|item)|all\s+the\s+(?:segments|"
        r"items))\b|所有(?:片段|素材|画面)|全部(?:片段|素材)",
        lambda m: list(sc.items),
        "class",
    )
    if previous:
        run(
            r"\b(?:it|them|that\s+one|this\s+one|that\s+photo|this\s+photo|those|these|that)\b|它们|它|"
            r"(?:这|那)(?:一|1)?(?:张|个|段)(?:照片|图片|图)?(?!.{0,2}(?:照片|图))",
            lambda m: list(previous),
            "pronoun",
        )
    refs.sort(key=lambda r: r.start)
    for ref in refs:
        _counted_from_the_end(text, ref, sc)
    refs = _except(text, refs, sc)
    kept: list[Ref] = []
    for ref in refs:
        numbered = re.fullmatch(r"([a-z]+)\s*(\d+)", text[ref.start : ref.end], re.I)
        if numbered and kept and kept[-1].how == "named" and ref.start - kept[-1].end <= 1:
            kept[-1].end = ref.start + len(numbered.group(1))  # "the cat pic 5": the cat photo, then 5
            continue
        noun_of_name = ref.how == "clips" and kept and kept[-1].how == "named"  # "the beach.mp4 clip"
        if (ref.how == "pronoun" or noun_of_name) and kept and ref.start - kept[-1].end <= 1:
            kept[-1].end = ref.end  # "猫那张", "the beach one": a name, then a demonstrative
            continue
        kept.append(ref)
    return _relative(text, kept, sc)


_FROM_END_BARE = re.compile(rf"^(?:最后|倒数第|后面?)(?:那|这)?的?({ZH_NUM}|\d+)?张$")


def _counted_from_the_end(text: str, ref: Ref, sc: Scene) -> None:
    """ "最后一张", "倒数第二张", "最后两张" with no noun: 张 counts photos, yet people say it of any
    segment; when a clip ends the timeline the two readings differ, and the ref says so."""
    said = text[ref.start : ref.end]
    m = _FROM_END_BARE.match(said)
    if m is None or ref.how != "position":
        return
    n = int(number_value(m.group(1)) or 1) if m.group(1) else 1
    every = sc.items[-n:] if 0 < n <= len(sc.items) else []
    if said.startswith("倒数第"):  # the n-th from the end alone, not the run up to it
        every = every[:1]
    if every and [i.index for i in every] != ref.indexes:
        ref.how, ref.alt = "ambiguous", every


_EXCEPT = re.compile(
    r"\b(?:everything|every\s+(?:photo|segment|one)|all(?:\s+(?:the\s+)?(?:photos|segments|others))?|"
    r"the\s+photos|each\s+photo)"
    r"\s+(?:except(?:\s+for)?|but(?:\s+not)?|apart\s+from|other\s+than|besides)\s+|除了",
    re.I,
)


def _except(text: str, refs: list[Ref], sc: Scene) -> list[Ref]:
    """ "everything except the first photo", "all but the cat", "除了猫咪其他都": the rest of a set."""
    m = _EXCEPT.search(text)
    rest_words = re.search(r"\bthe\s+rest\b|\beverything\s+else\b|其余|其他|别的|剩下", text, re.I)
    if m is None or not sc.items or rest_words:  # "除了猫咪 其他都删掉": the keep-rest reading
        return refs
    left = [r for r in refs if r.start >= m.end() and r.how != "class"]
    if not left:
        return refs
    excluded = {i.index for r in left[:3] for i in r.items}
    head = text[m.start() : m.end()].lower()
    photos_only = "photo" in head
    rest = [i for i in sc.items if i.index not in excluded and (not photos_only or i.kind == "photo")]
    end = max(r.end for r in left[:3])
    out = [r for r in refs if r.end <= m.start() or r.start >= end]
    out = [r for r in out if not (r.how == "class" and r.start >= m.end())]
    out.append(Ref(m.start(), end, rest, "range"))
    return sorted(out, key=lambda r: r.start)


_RELATIVE = re.compile(
    rf"\b(?:the\s+)?(?:(?P<n>{NUM})\s+)?(?:other\s+)?(?P<noun>photos|ones|segments|"
    rf"items)\s+(?:that\s+come\s+)?(?:right\s+|just\s+|directly\s+)?(?P<side>after|"
    rf"before)\s+(?:the\s+)?$",
    re.I,
)


def _relative(text: str, refs: list[Ref], sc: Scene) -> list[Ref]:
    """ "the 2 photos right before the fireworks", "the photos after the cake one": a run beside one."""
    out: list[Ref] = []
    skip: set[int] = set()
    for k, ref in enumerate(refs):
        head = _RELATIVE.search(text[: ref.start])
        if head is None or not ref.indexes or k in skip:
            continue
        if any(r.how == "new" and r.start < head.end() and head.start() < r.end for r in refs):
            continue  # "the new photos after the dog photo": a place for the new ones, not a run
        anchor = ref.indexes[0]
        kind = "photo" if head.group("noun").lower() == "photos" else "any"
        if head.group("side").lower() == "after":
            run = [i for i in sc.items[anchor + 1 :] if kind == "any" or i.kind == kind]
        else:
            run = [i for i in sc.items[:anchor] if kind == "any" or i.kind == kind]
        n = number_value(head.group("n")) if head.group("n") else None
        if n:
            run = run[: int(n)] if head.group("side").lower() == "after" else run[-int(n) :]
        for j, other in enumerate(refs):
            if other.start >= head.start() and other.end <= ref.start:
                skip.add(j)
        skip.add(k)
        out.append(Ref(head.start(), ref.end, run, "range"))
    out += [r for j, r in enumerate(refs) if j not in skip]
    return sorted(out, key=lambda r: r.start)
