"""Faster or slower as a whole: "speed it up", "slow down the slideshow", "节奏快一点", "太慢了".

`read_pace(text)` returns the factor every photo's time is multiplied by (below 1 is faster) and
the text with the phrase blanked: "slow down the slideshow" is not a request to make a slideshow,
and "节奏快一点" is not a request to cut to the beat (the beat reader knows 节奏 too).
"""

from __future__ import annotations

import re

from agent.planners.rules.intents_text import on_screen_words

I = re.IGNORECASE  # noqa: E741
FASTER, SLOWER = 0.75, 1.33  # a quarter less time per photo; its inverse (rounded) undoes it
MUCH_FASTER, MUCH_SLOWER = 0.5, 2.0

_SUBJECT = (
    r"(?:it|this|things|everything|the\s+(?:whole\s+)?(?:video|slide\s?show|photos|pictures|pics|slides"
    r"|pace|pacing|thing|montage|cuts|edit))"
)
_MUCH = r"(?:much|a\s+lot|way|far|lots|twice\s+as)"
_BIT = r"(?:a\s+(?:bit|little|tad|touch)|slightly|somewhat|even)"
_AMOUNT = rf"(?:{_MUCH}|{_BIT})"
# "faster transitions" and "a faster song" are about something else.
_NOT_PACE = r"(?!\s+(?:transitions?|fades?|dissolves?|music|songs?|tracks?|beats?|tempo|cross\s?fades?))"
_PATTERNS: list[tuple[bool, re.Pattern[str]]] = [
    (
        True,
        re.compile(
            rf"\bspeed\s+(?:{_SUBJECT}\s+)?up\b(?:\s+{_SUBJECT}\b)?(?:\s+{_AMOUNT})?"
            rf"|\b(?:pick|step)\s+up\s+the\s+pac(?:e|ing)\b"
            rf"|(?:\b(?:make|get|have)\s+{_SUBJECT}\s+)?(?:{_AMOUNT}\s+)?\b(?:faster|quicker|snappier|"
            rf"speedier)\b"
            rf"(?:-paced)?{_NOT_PACE}(?:\s+{_AMOUNT})?"
            rf"|\b(?:too|so|very|kind\s+of|a\s+bit)\s+slow\b(?!\s*(?:motion|zoom))"
            rf"|\b(?:fast|quick)[\s-]paced\b"
            rf"|\bless\s+time\s+(?:on|for|per)\s+(?:each|every)\s+(?:photo|picture|slide)\b",
            I,
        ),
    ),
    (
        False,
        re.compile(
            rf"\bslow\s+(?:{_SUBJECT}\s+)?down\b(?:\s+{_SUBJECT}\b)?(?:\s+{_AMOUNT})?"
            rf"|(?:\b(?:make|get|have)\s+{_SUBJECT}\s+)?(?:{_AMOUNT}\s+)?\b(?:slower|more\s+slowly|"
            rf"less\s+rushed)\b"
            rf"{_NOT_PACE}(?:\s+{_AMOUNT})?"
            rf"|\b(?:too|so|very|kind\s+of|a\s+bit)\s+(?:fast|quick|rushed)\b"
            rf"|\bslow(?:er)?[\s-]paced\b|\bleisurely\b"
            rf"|\bmore\s+time\s+(?:on|for|per)\s+(?:each|every)\s+(?:photo|picture|slide)\b",
            I,
        ),
    ),
    (
        True,  # 快 only as a pace word: not 欢快/轻快 (moods), 尽快 (soon), 快手 (an app)
        re.compile(
            r"(?:(?:整体|视频|照片|画面|切换)?的?(?:节奏|速度|切换)?(?:再|稍微|稍稍|更|稍)?(?<![欢轻愉爽凉痛赶尽飞太点些])快"
            r"(?:很多|得多|多了)?(?:一点儿?|一些|点儿?|些)?(?![手乐速])"
            r"|加快(?:节奏|速度|切换)?(?:一点|一些)?|(?:节奏|速度)?太慢了|节奏(?:有点|有些)慢)"
        ),
    ),
    (
        False,
        re.compile(
            r"(?:(?:整体|视频|照片|画面|切换)?的?(?:节奏|速度|切换)?(?:再|稍微|稍稍|更|稍)?(?<![缓太点些])慢"
            r"(?:很多|得多)?(?:一点儿?|一些|点儿?|些)?(?!动作|镜头)"
            r"|放慢(?:节奏|速度|切换)?(?:一点|一些)?|(?:节奏|速度)?太快了|节奏(?:有点|有些)快)"
        ),
    ),
]
_MUCH_WORDS = re.compile(rf"\b{_MUCH}\b|很多|得多|多了", I)
_MUSIC_NEAR = re.compile(r"(?:music|song|tempo|bgm|音乐|歌|配乐)[^,.;!?，。；！？]{0,12}$", I)


def read_pace(text: str) -> tuple[float | None, str]:
    """The factor asked for (None if none), and the text with that phrase blanked."""
    for faster, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            if _MUSIC_NEAR.search(text[: m.start()]):  # "make the music faster": see asks_tempo
                continue
            if on_screen_words(text, m.start()):  # "add the title 'Faster'"
                continue
            much = bool(_MUCH_WORDS.search(m.group(0)))
            factor = (MUCH_FASTER if much else FASTER) if faster else (MUCH_SLOWER if much else SLOWER)
            return factor, text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    return None, text


def asks_tempo(text: str) -> bool:
    """ "Make the music faster": the song's own tempo, which no tool changes (the planner says so)."""
    return any(
        _MUSIC_NEAR.search(text[: m.start()]) and not on_screen_words(text, m.start())
        for _, p in _PATTERNS
        for m in p.finditer(text)
    )
