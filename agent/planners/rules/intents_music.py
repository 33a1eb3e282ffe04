"""What a message asks of the music (English and simplified Chinese): which, how loud, where it starts.

`read_music_start(text)` (numbers already digits) returns where the music should start and the text
with that phrase blanked, so "start the music at 10 seconds" is not read as a 10-second video;
`read_music_intents` reads the rest (which music, how loud) once the other readers are done.
Where the song starts is two things: the offset into the song ("start the song from 0:45", the
audio segment's `ss`) and when it comes in on the video ("5 seconds into the video", its `st`).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel

from agent.planners.rules.intents_text import on_screen_words

I = re.IGNORECASE  # noqa: E741
SEC = r"(?:seconds?|secs?|s|秒钟?)"
MIN = r"(?:minutes?|mins?|m|分钟|分)"
# A moment: "1:02", "45 seconds", "1 minute 2 seconds", "1m2s", "1分2秒", "30秒". Used once per pattern
# (the group names may not repeat).
_TIME = (
    r"(?:(?P<mm>\d{1,3}):(?P<ss>\d{2}(?:\.\d+)?)"
    rf"|(?P<m>\d+(?:\.\d+)?)\s*-?\s*{MIN}\s*(?:and\s+)?(?:(?P<ms>\d+(?:\.\d+)?)\s*-?\s*{SEC})?"
    rf"|(?P<s>\d+(?:\.\d+)?)\s*-?\s*{SEC})(?![a-z])"
)


class MusicIntents(BaseModel):
    music_word: bool = False
    no_music: bool = False
    uploaded_music: bool = False
    mood: str | None = None
    new_music: bool = False  # "different music", "换一首"
    volume: float | None = None
    volume_step: Literal["up", "down"] | None = None
    start_s: float | None = None  # offset into the song ("from 0:45")
    delay_s: float | None = None  # when it comes in on the video ("5 seconds into the video")
    start_part: str | None = None  # "from the chorus" with no time: only the user knows where that is

    def changes_start(self) -> bool:
        return self.start_s is not None or self.delay_s is not None or self.start_part is not None


_MOODS: list[tuple[str, re.Pattern[str]]] = [
    ("lofi", re.compile(r"lo-?\s?fi|chill|laid-?back|jazzy|mellow|轻松|低保真|慵懒", I)),
    (
        "upbeat",
        re.compile(
            r"upbeat|happy|cheerful|\bfun\b|joyful|lively|party|bright|欢快|快乐|活泼|开心|轻快|愉快", I
        ),
    ),
    (
        "cinematic",
        re.compile(
            r"cinematic|\bepic\b|dramatic|trailer|orchestral|emotional|filmic|史诗|电影感|电影|大片|大气|震撼|煽情|磅礴|燃情",
            I,
        ),
    ),
    (
        "calm",
        re.compile(
            r"\bcalm\b|peaceful|\bsoft\b|gentle|\bquiet\b|relaxing|ambient|soothing|\bpiano\b|安静|平静|舒缓|"
            r"温柔|宁静|柔和",
            I,
        ),
    ),
    ("acoustic", re.compile(r"acoustic|guitar|\bfolk\b|\bwarm\b|country|unplugged|吉他|民谣|原声|温暖", I)),
    (
        "electronic",
        re.compile(
            r"electronic|\bedm\b|techno|\bdance\b|synth|\bhouse\b|\bclub\b|energetic|electro|电子|动感|舞曲",
            I,
        ),
    ),
]
_MUSIC_WORD = re.compile(
    r"music|\bsongs?\b|soundtrack|\bbgm\b|\btrack\b|\btune\b|\baudio\b|\bmp3\b|音乐|配乐|歌|背景乐|曲子", I
)
_NO_MUSIC = re.compile(
    r"\b(?:no|without|remove|delete|drop|mute|lose|get\s+rid\s+of|turn\s+off)\s+(?:the\s+|"
    r"any\s+)?(?:background\s+)?(?:music|song|soundtrack|bgm)\b|\bsilent\b|不要(?:背景)?(?:音乐|配乐)|(?:去掉|删除|"
    r"删掉|关掉|取消)(?:背景)?(?:音乐|配乐)|无音乐|静音",
    I,
)
_UPLOADED_MUSIC = re.compile(
    r"\bth(?:is|at)\s+(?:background\s+)?(?:music|song|track|audio|mp3)\b(?!\s+(?:volume|louder|"
    r"quieter))|\bmy\s+(?:own\s+)?(?:music|song|track|audio|mp3)|uploaded\s+(?:music|song|track|audio)|"
    r"(?:song|track|audio|music|mp3)\s+i\s+(?:uploaded|sent|added|gave)|这首|我的(?:音乐|歌)|上传的(?:音乐|歌|音频)|"
    r"这个音乐|这段音乐|这个歌",
    I,
)
_NEW_MUSIC = re.compile(
    r"\b(?:different|another|other|new)\s+(?:background\s+)?(?:music|song|track|tune)|"
    r"change\s+the\s+(?:music|song)|(?<![切转变交替])换(?:一首|首|个)?(?:音乐|歌|配乐)|换一首",
    I,
)
_VOLUME = re.compile(r"(?:volume|音量)[^\d]{0,12}?(\d{1,3})\s*%|(\d{1,3})\s*%\s*(?:volume|音量)?", I)
_QUIETER = re.compile(
    r"quieter|softer|lower\s+the\s+(?:music|volume)|turn\s+(?:the\s+)?(?:music|volume)\s+down|(?:music|"
    r"volume)\s+(?:down|lower)|less\s+loud|小声|调小|调低|降低|低一点|小一点|轻一点|音量小",
    I,
)
_LOUDER = re.compile(
    r"louder|turn\s+(?:the\s+)?(?:music|volume)\s+up|raise\s+the\s+(?:music|volume)|(?:music|"
    r"volume)\s+up\b|大声|调大|调高|提高|高一点|大一点|响一点|音量大",
    I,
)

_MUS = (
    r"(?:the\s+|my\s+|this\s+|our\s+|that\s+)?(?:background\s+)?"
    r"(?:music|song|track|soundtrack|bgm|audio|tune)\b"
)
_VIDEO = r"(?:the\s+|my\s+|this\s+)?(?:video|slide\s?show|movie|film|reel|timeline|montage)\b"
_PART = r"(?:chorus|drop|hook|refrain|verse|bridge|intro|climax|(?:best|good|loud|catchy)\s+part)"
# "start the music at 10 seconds", "delay the song by 3 s": the verb first, the moment in `rest`.
_EN_VERB_FIRST = re.compile(
    rf"\b(?P<verb>start|begin|play|use|delay|cue)(?:s|ing)?\s+(?:playing\s+)?{_MUS}(?P<rest>[^.;!?\n]{{0,80}}"
    rf")",
    I,
)
# "music starts from the chorus at 1:02", "the song should come in after 5 seconds"
_EN_SUBJECT_FIRST = re.compile(
    rf"{_MUS}\s+(?:should\s+|to\s+|will\s+|must\s+|can\s+)?(?P<verb>start|begin|play|come|kick|enter|drop)"
    rf"(?:s|ing)?(?:\s+in\b)?(?P<rest>[^.;!?\n]{{0,80}})",
    I,
)
_EN_IT = re.compile(r"\b(?P<verb>start|begin|play|delay)(?:s|ing)?\s+it\b(?P<rest>[^.;!?\n]{0,80})", I)
_EN_WHEN = re.compile(
    rf"^\s*(?:playing\s+)?(?:(?:from|at|with)\s+(?:the\s+)?(?P<part>{_PART})\b\s*,?\s*(?:which\s+is\s+)?)?"
    r"(?:(?P<prep>at|from|after|around|by|in)\s+(?:the\s+)?(?:around\s+|about\s+|roughly\s+)?)?"
    rf"{_TIME}(?:\s*-?\s*mark)?(?P<into>\s+(?:in(?:to)?|of)\s+{_VIDEO}|\s+in\b)?",
    I,
)
_EN_PART_ONLY = re.compile(rf"^\s*(?:playing\s+)?(?:from|at|with)\s+(?:the\s+)?(?P<part>{_PART})\b", I)
_EN_FROM_TOP = re.compile(r"^\s*(?:playing\s+)?from\s+the\s+(?:very\s+)?(?:beginning|start|top)\b", I)
_EN_SKIP = re.compile(
    rf"\b(?:skip|cut(?:\s+off)?|drop|lose|trim)\s+(?:the\s+)?(?:first\s+)?{_TIME}\s+of\s+{_MUS}"
    rf"|\bskip\s+(?:the\s+)?(?P<part>intro)\s+of\s+{_MUS}",
    I,
)
_ZH_MUS = r"(?:背景音乐|音乐|配乐|歌曲|这首歌|歌|bgm)"
_ZH_PART = r"(?P<part>副歌|高潮|前奏|主歌)"
_ZH_OFFSET = [
    re.compile(
        rf"{_ZH_MUS}(?:要|请|就)?(?:从|由)(?:{_ZH_PART}(?:部分)?(?:的|，|,)?\s*)?(?:第)?\s*{_TIME}\s*(?:处|"
        rf"的地方)?(?:开始)?(?:播放?|放|播|响起)?",
        I,
    ),
    re.compile(rf"从(?:第)?\s*{_TIME}\s*(?:处)?开始(?:播放?|放|播)(?:背景)?{_ZH_MUS}", I),
    re.compile(rf"跳过{_ZH_MUS}(?:的)?前\s*{_TIME}", I),
    re.compile(rf"{_ZH_MUS}(?:要)?跳过前\s*{_TIME}", I),
]
_ZH_FROM_TOP = re.compile(rf"{_ZH_MUS}(?:要|请|就)?从头(?:开始)?(?:播放?|放|播)?", I)
_ZH_PART_ONLY = re.compile(
    rf"{_ZH_MUS}(?:要|请|就)?从{_ZH_PART}(?:部分)?开始|跳过{_ZH_MUS}的?(?P<intro>前奏)", I
)
_ZH_DELAY = [
    re.compile(rf"{_ZH_MUS}(?:要|请)?(?:延迟|推迟|晚)\s*{_TIME}(?:再)?(?:进来|开始|出现|响起|播放?)?", I),
    re.compile(
        rf"{_ZH_MUS}(?:要|请)?在(?:视频)?(?:的)?(?:第)?\s*{_TIME}(?:的时候|时|后|之后)?(?:再)?"
        r"(?:进来|开始|出现|响起|切入|播放?|放)",
        I,
    ),
    re.compile(
        rf"(?:视频|画面)(?:开始)?(?:第)?\s*{_TIME}(?:后|之后|的时候|时)?(?:再)?(?:开始)?(?:放|播放?|进|出现|响起){_ZH_MUS}",
        I,
    ),
]
_DELAY_VERBS = ("delay", "come", "kick", "enter", "drop")


def _seconds(m: re.Match[str]) -> float:
    g = m.groupdict()
    if g.get("mm") is not None:
        return int(g["mm"]) * 60 + float(g["ss"])
    if g.get("m") is not None:
        return float(g["m"]) * 60 + float(g.get("ms") or 0)
    return float(g["s"])


def _english_start(text: str, found: MusicIntents) -> tuple[int, int] | None:
    """The span of an English music-start phrase, with what it asks set on `found`."""
    for pattern in (_EN_VERB_FIRST, _EN_SUBJECT_FIRST, _EN_IT):
        for m in pattern.finditer(text):
            if pattern is _EN_IT and not _MUSIC_WORD.search(text[: m.start()]):
                continue  # "start it at 5 s" is about the music only after the music was named
            if on_screen_words(text, m.start()):  # "add the caption 'Start the music at 5 seconds'"
                continue
            rest, at = m.group("rest"), m.start("rest")
            verb = m.group("verb").lower()
            if when := _EN_WHEN.match(rest):
                into = (when.group("into") or "").strip().lower()
                # "5 seconds into the video", "after 5 seconds", "comes in at": the timeline;
                # "at 10 seconds", "from 0:45", "30 seconds in": the song's own time.
                on_video = into not in ("", "in") or when.group("prep") == "after" or verb in _DELAY_VERBS
                if on_video:
                    found.delay_s = _seconds(when)
                else:
                    found.start_s = _seconds(when)
                return m.start(), at + when.end()
            if top := _EN_FROM_TOP.match(rest):
                found.start_s = 0.0
                return m.start(), at + top.end()
            if part := _EN_PART_ONLY.match(rest):
                found.start_part = part.group("part")
                return m.start(), at + part.end()
    if skip := _EN_SKIP.search(text):
        if skip.group("part"):
            found.start_part = skip.group("part")
        else:
            found.start_s = _seconds(skip)
        return skip.span()
    return None


def _chinese_start(text: str, found: MusicIntents) -> tuple[int, int] | None:
    for pattern in _ZH_DELAY:
        if m := pattern.search(text):
            found.delay_s = _seconds(m)
            return m.span()
    for pattern in _ZH_OFFSET:
        if m := pattern.search(text):
            found.start_s = _seconds(m)
            return m.span()
    if m := _ZH_FROM_TOP.search(text):
        found.start_s = 0.0
        return m.span()
    if m := _ZH_PART_ONLY.search(text):
        found.start_part = m.group("part") or m.group("intro")
        return m.span()
    return None


def _first(patterns: list[tuple[str, re.Pattern[str]]], text: str) -> str | None:
    return next((name for name, pattern in patterns if pattern.search(text)), None)


def read_music_start(text: str) -> tuple[MusicIntents, str]:
    """Where the music should start, and the text with that phrase blanked."""
    found = MusicIntents()
    span = _english_start(text, found) or _chinese_start(text, found)
    rest = text if span is None else text[: span[0]] + " " * (span[1] - span[0]) + text[span[1] :]
    return found, rest


def read_music_intents(text: str, found: MusicIntents) -> MusicIntents:
    """Which music and how loud, added to what read_music_start found (text: after the other
    readers blanked their phrases, so "fade the music out" is a fade and not a music request)."""
    found = found.model_copy()
    found.music_word = bool(_MUSIC_WORD.search(text))
    found.no_music = bool(_NO_MUSIC.search(text))
    found.uploaded_music = bool(_UPLOADED_MUSIC.search(text)) and not found.no_music
    found.mood = _first(_MOODS, text)
    found.new_music = bool(_NEW_MUSIC.search(text)) and found.music_word
    if match := _VOLUME.search(text):
        percent = int(match.group(1) or match.group(2))
        found.volume = min(100, percent) / 100
    elif _QUIETER.search(text):
        found.volume_step = "down"
    elif _LOUDER.search(text):
        found.volume_step = "up"
    return found
