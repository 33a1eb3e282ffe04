"""Words people use for what a photo shows, English and Chinese, grouped by what they mean.

A file is known by the words of its name (`lake_sunset.jpg`: lake, sunset; `西湖日落.jpg`: 西湖,
日落, and every Chinese word of this list inside it); a message names it by any word of the same
group ("the sunset pic", "湖边那张", "猫那张" for `cat_on_sofa.jpg`, "the cat" for `猫咪.jpg`).
"""

from __future__ import annotations

import re

# concept -> (English words, Chinese words). English words match whole (plural s/es allowed).
CONCEPTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "cat": (("cat", "kitty", "kitten", "kitties", "meow", "cats"), ("猫", "喵", "猫咪", "猫猫", "小猫")),
    "dog": (("dog", "doggo", "doggy", "puppy", "pup", "pooch"), ("狗", "小狗", "狗狗", "汪")),
    "sofa": (("sofa", "couch"), ("沙发",)),
    "lake": (("lake", "lakeside", "pond"), ("湖", "湖边", "西湖", "湖面")),
    "sunset": (("sunset", "sundown", "dusk", "golden hour"), ("日落", "夕阳", "落日", "黄昏", "晚霞")),
    "sunrise": (("sunrise", "dawn"), ("日出",)),
    "beach": (("beach", "sea", "seaside", "ocean", "shore", "coast", "sand"), ("海边", "海滩", "沙滩", "海")),
    "birthday": (("birthday", "bday"), ("生日",)),
    "cake": (("cake",), ("蛋糕",)),
    "mountain": (("mountain", "mountains", "hill", "peak", "summit"), ("山", "山顶", "雪山")),
    "hike": (("hike", "hiking", "hiker", "trek", "climb"), ("爬山", "登山", "徒步")),
    "park": (("park",), ("公园",)),
    "fireworks": (("firework", "fireworks"), ("烟花", "烟火", "礼花")),
    "pizza": (("pizza",), ("披萨", "比萨", "匹萨")),
    "city": (("city", "town", "downtown", "urban"), ("城市", "都市", "城")),
    "skyline": (("skyline",), ("天际线", "城市风景", "楼")),
    "night": (("night",), ("夜", "晚上", "夜景")),
    "summer": (("summer",), ("夏日", "夏天", "夏")),
    "vibes": (("vibes", "vibe"), ()),
    "day": (("day",), ()),
    "food": (("food", "dinner", "meal"), ("吃的", "美食")),
    "pet": (("pet", "animal", "furry friend", "fur baby"), ("宠物", "动物", "毛孩子")),
    "nature": (("nature", "outdoor", "outdoors", "scenery", "landscape shot"), ("风景", "自然", "户外")),
}
# words that name a group of concepts: "the pet pics" are the cat and the dog
_GROUPS = {"pet": {"cat", "dog"}, "nature": {"lake", "sunset", "sunrise", "beach", "mountain", "hike"}}
# A word of a file name that is this common says nothing about which file (day, night, new).
_WEAK = {
    "day",
    "night",
    "photo",
    "img",
    "image",
    "pic",
    "new",
    "final",
    "copy",
    "the",
    "and",
    "on",
    "of",
    "in",
}
STOP_WORDS = {
    "the",
    "a",
    "an",
    "and",
    "on",
    "of",
    "in",
    "at",
    "to",
    "img",
    "dsc",
    "photo",
    "pic",
    "video",
    "new",
    "final",
    "copy",
    "edit",
    "mp4",
    "jpg",
}
_FOOD = {"pizza", "cake"}


def stem_words(stem: str) -> list[str]:
    """The words of a file name's stem: `lake_sunset` -> lake, sunset; `IMG_2041` -> img."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", stem)
    return [w for w in re.split(r"[\s_\-.()]+|(?<=\D)(?=\d)|(?<=\d)(?=\D)", spaced.lower()) if w]


def concepts_of_stem(stem: str) -> set[str]:
    """The concepts a file name names, in either language."""
    words = set(stem_words(stem))
    found = set()
    for concept, (en, zh) in CONCEPTS.items():
        if words & set(en) or any(z in stem for z in zh):
            found.add(concept)
    if found & _FOOD:
        found.add("food")
    found |= {group for group, members in _GROUPS.items() if found & members}
    return found


def _en_word(word: str) -> str:
    w = re.escape(word).replace(r"\ ", r"\s+")
    return rf"(?<![a-z]){w}(?:s|es)?(?![a-z])"


_EN_CONCEPT = {
    concept: re.compile("|".join(_en_word(w) for w in en), re.I)
    for concept, (en, _zh) in CONCEPTS.items()
    if en
}


def concepts_in(text: str) -> list[tuple[str, int, int]]:
    """(concept, start, end) for every concept word in `text` (longest Chinese word first)."""
    found: list[tuple[str, int, int]] = []
    taken: list[tuple[int, int]] = []
    zh_words = sorted(((z, c) for c, (_en, zh) in CONCEPTS.items() for z in zh), key=lambda p: -len(p[0]))
    for word, concept in zh_words:
        for m in re.finditer(re.escape(word), text):
            if not any(m.start() < b and a < m.end() for a, b in taken):
                found.append((concept, m.start(), m.end()))
                taken.append(m.span())
    for concept, pattern in _EN_CONCEPT.items():
        for m in pattern.finditer(text):
            if not any(m.start() < b and a < m.end() for a, b in taken):
                found.append((concept, m.start(), m.end()))
                taken.append(m.span())
    return sorted(found, key=lambda f: f[1])


def weak(word: str) -> bool:
    return word in _WEAK or word in STOP_WORDS or len(word) < 3
