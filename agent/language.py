"""Which language to answer in, and numbers written as words (English and Chinese) made digits."""

from __future__ import annotations

import re
from typing import Literal

Lang = Literal["en", "zh"]

_CJK = re.compile(r"[\u4e00-\u9fff]")


def reply_language(language: str | None, message: str) -> Lang:
    """Chinese when the session says so (`zh`, `zh-CN`, ...) or the message is written in Chinese."""
    if language and language.lower().startswith("zh"):
        return "zh"
    return "zh" if _CJK.search(message) else "en"


_UNITS = {
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
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_EN_NUMBER = re.compile(
    r"\b(?:(?P<tens>"
    + "|".join(_TENS)
    + r")(?:[\s-]+(?P<unit1>"
    + "|".join(k for k in _UNITS if len(k) > 2)
    + r"))?|(?P<unit>"
    + "|".join(sorted(_UNITS, key=len, reverse=True))
    + r"))\b"
    r"(?P<half>\s+and\s+a\s+half)?(?=[\s-]+(?:sec|second|seconds|s|minute|minutes|min|mins)\b)",
    re.IGNORECASE,
)
_HALF_MINUTE = re.compile(r"\bhalf\s+(?:a|one)\s+minute\b", re.IGNORECASE)

_ZH_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_ZH_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百]+(?=\s*(?:秒|分钟|分|张|个|s\b))")
_ZH_HALF_MINUTE = re.compile(r"半分钟")


def _zh_value(text: str) -> int:
    """Chinese numerals up to the hundreds: 十五 15, 三十 30, 一百二十 120, 九十 90."""
    total, current = 0, 0
    for ch in text:
        if ch in _ZH_DIGITS:
            current = _ZH_DIGITS[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
    return total + current


def zh_number(text: str) -> int:
    """Chinese numerals (or digits) as an int: 三 3, 十二 12, 12 12."""
    return int(text) if text.isdigit() else _zh_value(text)


def _en_value(match: re.Match[str]) -> str:
    if match.group("tens"):
        value: float = _TENS[match.group("tens").lower()] + _UNITS.get(
            (match.group("unit1") or "").lower(), 0
        )
    else:
        value = _UNITS[match.group("unit").lower()]
    if match.group("half"):
        value += 0.5
    return f"{value:g}"


def digits_for_words(text: str) -> str:
    """'thirty seconds' -> '30 seconds', 'half a minute' -> '30 seconds', '三十秒' -> '30秒'."""
    text = _HALF_MINUTE.sub("30 seconds", text)
    text = _ZH_HALF_MINUTE.sub("30秒", text)
    text = _EN_NUMBER.sub(_en_value, text)
    return _ZH_NUMBER.sub(lambda m: str(_zh_value(m.group(0))), text)
