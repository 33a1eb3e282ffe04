"""Numbers and durations as people type them, English and Chinese.

`number_at(text)` reads digits, English number words and Chinese numerals (两, 十五, 一百二);
`durations(text)` finds every length in seconds with its span: "5 sec", "五秒", "1:30", "一分半",
"a min and a half", "half a minute", "半分钟", "四五秒" (a range: its middle), "like 20 sec".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EN_NUM = {
    "zero": 0,
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
    "couple": 2,
    "few": 3,
}
ZH_DIGIT = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "俩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
ZH_NUM = r"[零〇一二两俩三四五六七八九十百]+"
_EN_WORD = r"(?:" + "|".join(sorted((k for k in EN_NUM if len(k) > 1), key=len, reverse=True)) + r")"
NUM = (
    rf"(?:\d+(?:\.\d+)?|{_EN_WORD}(?:[\s-]+(?:one|two|three|four|five|six|seven|eight|nine))?|"
    rf"{ZH_NUM}(?:点[零一二三四五六七八九])?)"
)


def zh_value(text: str) -> float:
    """十五 15, 三十 30, 一百二十 120, 二点五 2.5, 俩 2."""
    if "点" in text:
        whole, frac = text.split("点", 1)
        return zh_value(whole) + float("0." + "".join(str(ZH_DIGIT.get(c, 0)) for c in frac))
    total, current = 0, 0
    for ch in text:
        if ch in ZH_DIGIT:
            current = ZH_DIGIT[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
    return float(total + current)


def number_value(token: str) -> float | None:
    token = token.strip().lower()
    if not token:
        return None
    if re.fullmatch(r"\d+(?:\.\d+)?", token):
        return float(token)
    if re.fullmatch(ZH_NUM + r"(?:点[零一二三四五六七八九])?", token):
        return zh_value(token)
    words = re.split(r"[\s-]+", token)
    if all(w in EN_NUM for w in words):
        return float(sum(EN_NUM[w] for w in words))
    return None


@dataclass(frozen=True)
class Span:
    value: float
    start: int
    end: int


_SEC = r"(?:seconds?|secs?|s|秒钟?|sec)"
_MINU = r"(?:minutes?|mins?|m|分钟|分)"
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(\d+):(\d{2})(?!\d)"), "clock"),
    (re.compile(rf"(?:a|one)\s+{_MINU}\s+and\s+a\s+half|one\s+and\s+a\s+half\s+{_MINU}", re.I), "90"),
    (re.compile(r"一分半钟?|一分钟半"), "90"),
    (re.compile(rf"half\s+(?:a|an|one)\s+{_MINU}|半分钟"), "30"),
    (re.compile(rf"({NUM})\s*(?:and\s+a\s+half|个?半)\s*{_SEC}(?![a-z])", re.I), "half_sec"),
    (re.compile(rf"({NUM})\s*-?\s*{_MINU}\s*(?:and\s+)?({NUM})\s*-?\s*{_SEC}(?![a-z])", re.I), "min_sec"),
    (re.compile(rf"({NUM})\s*-?\s*(?:{_MINU})(?![a-z])(?!\s*(?:之|的)?一)", re.I), "min"),
    (re.compile(r"([一二三四五六七八九])([一二三四五六七八九])\s*秒"), "zh_range"),
    (
        re.compile(
            rf"(?<![a-z]\s)(?<!\bone\s)({NUM})\s*(?:-|to|~|～|到|至)\s*({NUM})\s*-?\s*{_SEC}(?![a-z])", re.I
        ),
        "range",
    ),
    (re.compile(rf"({NUM})\s*-?\s*{_SEC}(?![a-z])", re.I), "sec"),
]


def durations(text: str) -> list[Span]:
    """Every length in `text`, in seconds, left to right (spans never overlap)."""
    found: list[Span] = []
    taken: list[tuple[int, int]] = []
    for pattern, kind in _PATTERNS:
        for m in pattern.finditer(text):
            if any(m.start() < b and a < m.end() for a, b in taken):
                continue
            value: float | None
            if kind == "clock":
                value = int(m.group(1)) * 60 + int(m.group(2))
            elif kind in ("90", "30"):
                value = float(kind)
            elif kind == "half_sec":
                base = number_value(m.group(1))
                value = None if base is None else base + 0.5
            elif kind == "min_sec":
                a, b = number_value(m.group(1)), number_value(m.group(2))
                value = None if a is None or b is None else a * 60 + b
            elif kind == "min":
                a = number_value(m.group(1))
                value = None if a is None else a * 60
            elif kind == "zh_range":
                value = (ZH_DIGIT[m.group(1)] + ZH_DIGIT[m.group(2)]) / 2
            elif kind == "range":
                a, b = number_value(m.group(1)), number_value(m.group(2))
                value = None if a is None or b is None else (a + b) / 2
            else:
                value = number_value(m.group(1))
            if value is None:
                continue
            found.append(Span(value, m.start(), m.end()))
            taken.append(m.span())
    return sorted(found, key=lambda s: s.start)


_PERCENT = re.compile(rf"(\d+(?:\.\d+)?)\s*%|百分之({ZH_NUM}|\d+)|(\d+)\s*percent", re.I)


def percent(text: str) -> float | None:
    m = _PERCENT.search(text)
    if not m:
        return None
    raw = m.group(1) or m.group(2) or m.group(3)
    value = number_value(raw)
    return None if value is None else value / 100


_BARE = re.compile(rf"(?<![\w.])({NUM})(?![\w.%:])", re.I)
# a number that counts things ("the 2 new pics", "3 more photos", "两张"): not a value of time
_COUNTED = re.compile(
    r"\s*(?:new\s+|more\s+|other\s+|of\s+(?:the|them|my)\b|last\s+|first\s+)?"
    r"(?:photos?|pics?|pictures?|images?|shots?|ones|clips?|videos?|segments?|slides?|uploads?|files?)\b",
    re.I,
)


def bare_numbers(text: str) -> list[Span]:
    """Numbers with no unit ("try 2.5", "hmm nah, 4")."""
    out = []
    for m in _BARE.finditer(text):
        value = number_value(m.group(1))
        if value is not None and m.group(1).lower() not in ("a", "an") and not _COUNTED.match(text, m.end()):
            out.append(Span(value, m.start(), m.end()))
    return out
