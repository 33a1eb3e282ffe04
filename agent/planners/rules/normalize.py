"""The message as the frame reader wants it: one width, one case, chat spellings and common typos
written out, filler dropped. Quoted text is kept as typed (it is what goes on screen)."""

from __future__ import annotations

import re
import unicodedata

# Chat spellings and typos, as whole words (English) -> what they stand for.
_EN_WORDS = {
    "u": "you",
    "ur": "your",
    "r": "are",
    "n": "and",
    "w": "with",
    "w/": "with",
    "thru": "through",
    "shud": "should",
    "shld": "should",
    "cud": "could",
    "cn": "can",
    "pls": "please",
    "plz": "please",
    "plez": "please",
    "thx": "thanks",
    "dbl": "double",
    "vid": "video",
    "vids": "videos",
    "vido": "video",
    "viedo": "video",
    "pic": "photo",
    "pics": "photos",
    "pix": "photos",
    "picture": "photo",
    "pictures": "photos",
    "image": "photo",
    "images": "photos",
    "shot": "photo",
    "shots": "photos",
    "photograph": "photo",
    "foto": "photo",
    "fotos": "photos",
    "sec": "seconds",
    "secs": "seconds",
    "sek": "seconds",
    "min": "minute",
    "mins": "minutes",
    "bday": "birthday",
    "b-day": "birthday",
    "doggo": "dog",
    "doggy": "dog",
    "puppy": "dog",
    "pup": "dog",
    "kitty": "cat",
    "kitten": "cat",
    "rn": "now",
    "hows": "how",
    "whats": "what",
    "thats": "that",
    "dont": "don't",
    "cant": "can't",
    "wanna": "want to",
    "gonna": "going to",
    "gotta": "have to",
    "em": "them",
    "ya": "you",
    "tho": "though",
    "abt": "about",
    "bc": "because",
    "b4": "before",
    "musik": "music",
    "muisc": "music",
    "msuic": "music",
    "trasition": "transition",
    "transtion": "transition",
    "transiton": "transition",
    "tranistion": "transition",
    "transitons": "transitions",
    "slidshow": "slideshow",
    "slideshwo": "slideshow",
    "lenght": "length",
    "longr": "longer",
    "shorer": "shorter",
    "titel": "title",
    "tittle": "title",
    "captoin": "caption",
    "captian": "caption",
    "remvoe": "remove",
    "delet": "delete",
    "lowr": "lower",
    "bgm": "music",
    "smth": "something",
    "sth": "something",
    "outta": "out of",
    "lemme": "let me",
    "gimme": "give me",
    "kinda": "kind of",
    "pic's": "photo's",
    "vid's": "video's",
    "sng": "song",
    "soung": "song",
    "tite": "title",
    "titl": "title",
    "widescreen": "wide screen",
    "secnds": "seconds",
    "seconsd": "seconds",
    "secods": "seconds",
    "sencond": "second",
    "phto": "photo",
    "photoes": "photos",
    "trnasition": "transition",
    "musci": "music",
    "vidoe": "video",
    "lenth": "length",
}
_FILLER = re.compile(
    r"\b(?:lol|lmao|tbh|idk|imo|ngl|hmm+|umm*|uh+|ugh|pls|please|plz|kinda|sorta|like,|just|really|"
    r"literally)\b",
    re.I,
)
# Chinese typos seen in chat (homophones an IME offers first).
_ZH_FIXES = {
    "视屏": "视频",
    "专场": "转场",
    "砖场": "转场",
    "背影音乐": "背景音乐",
    "配东": "配乐",
    "相皮": "相片",
    "整个视频": "做个视频",  # "帮我整个视频": 整 = 弄/做 here; "整个视频的时长" is read before this
    "整一个": "做一个",
}


# Words spelt with a double letter: a stretched "tooo"/"coool" comes back to these, not to one letter.
_DOUBLES = {
    "too",
    "cool",
    "good",
    "soon",
    "look",
    "see",
    "need",
    "feel",
    "keep",
    "all",
    "will",
    "still",
    "off",
    "zoom",
    "loop",
    "speed",
    "free",
    "full",
    "small",
    "tall",
    "wee",
    "sweet",
    "three",
    "boom",
    "nooo",
}


def _unstretch(word: str) -> str:
    """ "waaay" -> "way", "tooo" -> "too", "pleeease" -> "please": letters held down for emphasis."""
    if not re.search(r"([a-z])\1\1", word):
        return word
    double = re.sub(r"([a-z])\1{2,}", r"\1\1", word)
    return double if double in _DOUBLES else re.sub(r"([a-z])\1{2,}", r"\1", word)


def widths(text: str) -> str:
    """Full-width letters, digits and punctuation as half-width (NFKC), Chinese quotes kept."""
    out = unicodedata.normalize("NFKC", text)
    return out.replace("\u3000", " ")


def normalize(text: str) -> str:
    """Lower case, one width, chat spellings and typos written out (quotes untouched)."""
    text = widths(text)
    parts = re.split(r"(\"[^\"]*\"|“[^”]*”|「[^」]*」|『[^』]*』)", text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(part)
            continue
        part = part.lower()
        for bad, good in _ZH_FIXES.items():
            if bad == "整个视频" and re.search(r"整个视频的|整个视频(?:时长|长度|改|缩|拉|压|变)", part):
                continue
            part = part.replace(bad, good)
        part = re.sub(
            r"(?<![\w'])([a-z][a-z0-9/'-]*)(?![\w'])",
            lambda m: _EN_WORDS.get(_unstretch(m.group(1)), _unstretch(m.group(1))),
            part,
        )
        out.append(part)
    return re.sub(r"[ \t]+", " ", "".join(out)).strip()


def without_filler(text: str) -> str:
    return re.sub(r"\s+", " ", _FILLER.sub(" ", text)).strip()
