"""What a chat message asks for, read with patterns (English and simplified Chinese).

`read_intents(message)` returns an `Intents`: every request found in the message, several at once
("make it vertical, 20 seconds, with a fade"). It knows nothing of the session; the rule planner
turns intents into tool calls against the state. Numbers in words are made digits first.
Readers by concern (modules beside this one), each blanking what it took: intents_pace (faster,
slower), intents_music (which song, how loud, where it starts), intents_text (captions, end card),
intents_edit and intents_segment (single photos and clips, undo, the beat);
this module reads the rest (making the video, its length and shape, title, transitions).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from agent.language import digits_for_words
from agent.planners.rules.intents_edit import EditIntents, read_edit_intents
from agent.planners.rules.intents_music import MusicIntents, read_music_intents, read_music_start
from agent.planners.rules.intents_pace import asks_tempo, read_pace
from agent.planners.rules.intents_text import TextIntents, read_text_intents, title_position

I = re.IGNORECASE  # noqa: E741  (read as a flag beside each pattern)
NUM = r"(\d+(?:\.\d+)?)"
SEC = r"(?:seconds?|secs?|s|秒钟?)"
MIN = r"(?:minutes?|mins?|m|分钟|分)"
PHOTO = r"(?:photos?|pictures?|pics?|images?|slides?|shots?|stills?)"


class Intents(BaseModel):
    make: bool = False
    total_s: float | None = None
    per_photo_s: float | None = None
    aspect: Literal["9:16", "16:9", "1:1", "4:5"] | None = None
    title: str | None = None
    title_change: bool = False  # "change the title to ..." rather than "add"
    title_s: float | None = None
    remove_title: bool = False
    pace: float | None = None  # every photo's time times this: "faster" 0.75, "slower" 1.33
    music_tempo: bool = False  # "make the music faster": not something we can do
    transition: str | None = None
    transition_s: float | None = None
    motion: str | None = None
    fit: str | None = None
    export: bool = False
    describe: bool = False
    undo: bool = False
    title_position: str | None = None
    edit: EditIntents = Field(default_factory=EditIntents)  # single photos/clips, undo, beat, fades
    text: TextIntents = Field(default_factory=TextIntents)  # captions, end card, moving text
    music: MusicIntents = Field(default_factory=MusicIntents)  # which song, volume, where it starts

    def edits_anything(self) -> bool:
        e, music = self.edit, self.music
        return any(
            (
                e.ops,
                e.add_media,
                e.reorder,
                e.mute_all,
                e.beat,
                e.fade_in_ms is not None,
                e.fade_out_ms is not None,
                e.loop is not None,
                self.text.ops,
                self.total_s,
                self.per_photo_s,
                self.aspect,
                self.title,
                self.remove_title,
                self.pace,
                music.no_music,
                music.uploaded_music,
                music.mood and music.music_word,
                music.new_music,
                music.volume is not None,
                music.volume_step,
                music.changes_start(),
                self.transition,
                self.motion,
                self.fit,
            )
        )


_MAKE = [
    re.compile(
        r"slide\s?shows?|montage|photo\s?(?:video|film|reel|album)|\bvlog\b"
        r"|start over|from scratch|\brebuild\b|rough\s+cut|first\s+cut|first\s+draft",
        I,
    ),
    re.compile(
        r"\b(?:turn|convert|combine|compile|assemble|stitch)\b[^.!?]{0,40}\b(?:photos?|pictures?|pics|"
        r"images|clips?|videos?|uploads?|files|them|these|everything)\b",
        I,
    ),
    re.compile(
        r"\b(?:make|create|build|generate|produce|edit|cut)\s+(?:me\s+)?(?:a|an|"
        r"one)\s+(?:[\w-]+\s+){0,4}?(?:video|movie|film|reel|slideshow|montage|tiktok|short|clip|"
        r"story)\b",
        I,
    ),
    re.compile(r"\b(?:photos?|pictures?|pics|images)\s+(?:in)?to\s+(?:a|an)\b", I),
    re.compile(
        r"(?:做成|制作|生成|剪成|剪辑成|合成|弄成|变成|做一?个|做一?段|剪一?个|来一?个)[^，。,！!]{0,12}?(?:视频|影片|短片|幻灯片|相册|vlog|片子|短视频)",
        I,
    ),
    re.compile(
        r"幻灯片|电子相册|(?:把|用)(?:这些|我的|所有|全部)?(?:照片|图片|相片|素材)(?![^，。,]{0,6}?(?:加|放)(?:进去|进来|上))|重新做|粗剪|初剪"
    ),
]
_ASPECTS: list[tuple[str, re.Pattern[str]]] = [
    (
        "9:16",
        re.compile(
            r"\b9\s*[:x/×]\s*16\b|vertical|portrait|tik\s?tok|douyin|\breels?\b|\bshorts\b|"
            r"(?:instagram|insta|ig)\s+story|stories|竖屏|竖版|竖向|竖着|抖音|快手|视频号",
            I,
        ),
    ),
    (
        "16:9",
        re.compile(
            r"\b16\s*[:x/×]\s*9\b|horizontal|landscape|wide\s?screen|youtube(?!\s*shorts)|横屏|横版|横向|宽屏|b站",
            I,
        ),
    ),
    ("1:1", re.compile(r"\b1\s*[:x/×]\s*1\b|square|instagram post|方形|正方形|方屏", I)),
    ("4:5", re.compile(r"\b4\s*[:x/×]\s*5\b", I)),
]
_PER_PHOTO = [
    re.compile(
        rf"{NUM}\s*-?\s*{SEC}\s*(?:(?:per|for\s+each|for\s+every|each|every|a)\s+{PHOTO}|/\s*{PHOTO}|"
        rf"(?:each|apiece)\b)",
        I,
    ),
    re.compile(
        rf"\b(?:each|every|per)\s+{PHOTO}\s+(?:should\s+)?(?:for|shows?|show|stays?|displays?|lasts?|"
        rf"last|be|is|at|gets?|get|of)?\s*(?:for\s+|up\s+for\s+|"
        rf"on\s+screen\s+for\s+)?{NUM}\s*-?\s*{SEC}\b",
        I,
    ),
    re.compile(rf"\b{NUM}\s*-?\s*{SEC}\s+(?:each|apiece)\b", I),
    re.compile(rf"\b(?:change|switch|move\s+on|next\s+{PHOTO})?\s*every\s+{NUM}\s*-?\s*{SEC}\b", I),
    re.compile(rf"每(?:一)?(?:张|幅|个|页)(?:照片|图片|图|相片|画面)?[^，。,\d]{{0,6}}?{NUM}\s*秒"),
    re.compile(rf"(?:照片|图片|相片)每张[^，。,\d]{{0,4}}?{NUM}\s*秒|一张{NUM}秒"),
]
_TRANSITION_S = [
    re.compile(
        rf"{NUM}\s*-?\s*{SEC}\s+(?:long\s+)?(?:cross\s?-?fades?|fades?|transitions?|dissolves?|wipes?)", I
    ),
    re.compile(
        rf"(?:transitions?|cross\s?-?fades?|dissolves?)\s+(?:of|lasting|at|to)?\s*{NUM}\s*-?\s*{SEC}\b", I
    ),
    re.compile(r"(\d+)\s*ms\b", I),
    re.compile(rf"转场(?:时间|时长)?(?:为|改为|设为)?\s*{NUM}\s*秒|{NUM}\s*秒的?转场"),
]
_TITLE_S = re.compile(rf"(?:title|标题)[^.,;，。]*?(?P<dur>(?:\bfor|持续|显示)\s*{NUM}\s*{SEC})", I)
_MIN_SEC = re.compile(rf"{NUM}\s*{MIN}\s*(?:and\s+)?(\d+)\s*{SEC}(?![a-z])", I)
_AT_TIME = re.compile(
    rf"\b(?:at|from|after|until)\s+(?:the\s+)?{NUM}\s*-?\s*{SEC}(?![a-z])|从{NUM}秒|在{NUM}秒", I
)
_TOTAL = re.compile(rf"{NUM}\s*-?\s*({SEC}|{MIN})(?![a-z])", I)
_TRANSITION_KINDS: list[tuple[str, re.Pattern[str]]] = [
    (
        "none",
        re.compile(
            r"\bno\s+transitions?|without\s+(?:any\s+)?transitions?|remove\s+(?:the\s+|"
            r"all\s+)?transitions|hard\s+cuts?|straight\s+cuts?|jump\s+cuts?|不要转场|无转场|去掉转场|取消转场|硬切|直接切",
            I,
        ),
    ),
    (
        "fade_black",
        re.compile(
            r"fade\s+(?:to|through|from)\s+black|dip\s+to\s+black|black\s+fades?|黑场|淡出到黑|渐黑", I
        ),
    ),
    (
        "fade_white",
        re.compile(r"fade\s+(?:to|through)\s+white|white\s+flash|flash\s+transitions?|白场|闪白", I),
    ),
    ("dissolve", re.compile(r"(?<!cross\s)(?<!cross-)\bdissolves?\b|溶解", I)),
    ("wipe_left", re.compile(r"\bwipes?\b|擦除", I)),
    (
        "slide_left",
        re.compile(
            r"\bslide\s+transitions?|transitions?\s+(?:to|as|into)\s+(?:a\s+)?slides?\b|"
            r"\bslides?\s+in\b|sliding|滑动转场|滑入",
            I,
        ),
    ),
    (
        "push_left",
        re.compile(r"\bpush\s+transitions?|transitions?\s+(?:to|as|into)\s+(?:a\s+)?push\b|推移|推入", I),
    ),
    (
        "zoom",
        re.compile(r"\bzoom\s+transitions?|transitions?\s+(?:to|as|into)\s+(?:a\s+)?zoom\b|缩放转场", I),
    ),
    (
        "circle",
        re.compile(
            r"\bcircle\s+transitions?|transitions?\s+(?:to|as|into)\s+(?:a\s+)?circle\b|iris|圆形转场", I
        ),
    ),
    (
        "blur",
        re.compile(r"\bblur\s+transitions?|transitions?\s+(?:to|as|into)\s+(?:a\s+)?blur\b|模糊转场", I),
    ),
    (
        "crossfade",
        re.compile(
            r"cross\s?-?fades?|cross\s+dissolves?|(?<!music )\bfades?\b(?!\s+(?:in|out|to|through))"
            r"|\btransitions?\b|交叉淡化|淡入淡出|渐变|转场|过渡",
            I,
        ),
    ),
]
_MOTIONS: list[tuple[str, re.Pattern[str]]] = [
    (
        "none",
        re.compile(
            r"\bno\s+(?:ken\s+burns|motion|zoom(?:ing)?|movement|animation|panning)|"
            r"without\s+(?:the\s+)?(?:ken\s+burns|motion|zoom(?:ing)?|movement|animation)|\bstatic\b|"
            r"still\s+photos|keep\s+(?:the\s+)?(?:photos|pictures)\s+still|不要(?:动画|缩放|镜头运动|运动|推拉|动效)|"
            r"静止|去掉动画",
            I,
        ),
    ),
    ("zoom_in", re.compile(r"\bzoom(?:s|ing)?\s+in\b|推近|放大效果", I)),
    ("zoom_out", re.compile(r"\bzoom(?:s|ing)?\s+out\b|拉远", I)),
    ("pan_left", re.compile(r"\bpan(?:s|ning)?\s+(?:to\s+the\s+)?left\b|向左平移", I)),
    ("pan_right", re.compile(r"\bpan(?:s|ning)?\s+(?:to\s+the\s+)?right\b|向右平移", I)),
    ("auto", re.compile(r"ken\s*burns|slow\s+zoom|\bmotion\b|camera\s+movement|推拉|缓慢缩放|动感镜头", I)),
]
_FITS: list[tuple[str, re.Pattern[str]]] = [
    ("blur", re.compile(r"blur(?:red|ry)?\s+(?:background|backdrop|bars|fill|edges)|模糊背景|背景模糊", I)),
    (
        "contain",
        re.compile(
            r"don'?t\s+crop|do\s+not\s+crop|no\s+crop(?:ping)?|without\s+cropping|"
            r"show\s+(?:the\s+)?whole|whole\s+(?:photo|picture|image)|letterbox|black\s+bars|"
            r"\bcontain\b|不要裁剪|不裁剪|完整显示|留黑边",
            I,
        ),
    ),
    (
        "cover",
        re.compile(
            r"fill\s+the\s+(?:screen|frame|canvas)|crop\s+to\s+fill|full\s?screen|铺满|填满|裁剪填充", I
        ),
    ),
]
_REMOVE_TITLE = re.compile(
    r"\b(?:remove|delete|drop|no|without|get\s+rid\s+of)\s+(?:the\s+|a\s+)?title|(?:去掉|删除|删掉|不要|取消)(?:片头)?标题",
    I,
)
_TITLE_CHANGE = re.compile(
    r"\b(?:change|rename|edit|update|replace)\b[^.]{0,20}\btitle|title\s+(?:should\s+be|to)\b|标题(?:改成|"
    r"改为|换成)|把标题",
    I,
)
_QUOTED_TITLE = [
    re.compile(
        r"(?:title[ds]?|caption|heading|called|named|saying|says|reads?|标题|"
        r"题目)[^\"“”'‘’「」『』\n]{0,30}?[\"“'‘「『]([^\"”'’」』\n]+)[\"”'’」』]",
        I,
    ),
    re.compile(
        r"[\"“'‘「『]([^\"”'’」』\n]+)[\"”'’」』]\s+as\s+(?:the\s+|a\s+)?(?:title|caption|heading)", I
    ),
]
_PLAIN_TITLE = re.compile(
    r"\b(?:title[ds]?|caption|heading)\b(?:\s+(?:it|to|as|of|saying|that\s+says|reading|called|text|"
    r"should\s+be))?\s*[:：-]?\s*"
    r"(?P<t>[^,.;!?\n]+?)(?=\s+(?:and|then|with|at\s+the|in\s+the|on\s+the|for\s+\d|please)\b|[,.;!?\n]|$)",
    I,
)
_ZH_TITLE = re.compile(
    r"(?:标题|题目|片头文字)(?:改成|改为|换成|设为|设置为|为|是|叫|写|：|:)?\s*[「“\"']?(?P<t>[^」”\"'，。,.;；！!？?\n]+?)[」”\"']?(?="
    r"[，。,.;；！!？?\n]|$|\s*(?:并且|并|然后|再|和|，))"
)
_TITLE_JUNK = re.compile(
    r"^(?:(?:at|in|on)\s+)?(?:the\s+)?(?:start|beginning|top|end|bottom|center|middle)$|^(?:a|an|the|"
    r"it|to|as)$",
    I,
)
_EXPORT = re.compile(
    r"\b(?:export|render|download|finali[sz]e|publish)\b|save\s+(?:it|the\s+video)|"
    r"give\s+me\s+the\s+(?:mp4|video|file)|导出|渲染|下载|生成mp4|输出视频|出片",
    I,
)
_DESCRIBE = re.compile(
    r"what'?s\s+(?:on\s+)?(?:the\s+)?timeline|describe|show\s+(?:me\s+)?the\s+(?:timeline|draft)|"
    r"what\s+do\s+(?:we|i)\s+have|current\s+(?:timeline|draft)|\bstatus\b|时间线|现在是什么样|描述|当前的?草稿",
    I,
)


def _first(patterns: list[tuple[str, re.Pattern[str]]], text: str) -> str | None:
    return next((name for name, pattern in patterns if pattern.search(text)), None)


def _take(pattern: re.Pattern[str], text: str) -> tuple[str | None, str]:
    """The first number `pattern` captures, and the text with that match blanked out."""
    match = pattern.search(text)
    if not match:
        return None, text
    value = next(g for g in match.groups() if g is not None)
    return value, text[: match.start()] + " " + text[match.end() :]


def _title(text: str) -> str | None:
    for pattern in _QUOTED_TITLE:
        if match := pattern.search(text):
            return match.group(1).strip()
    if match := _ZH_TITLE.search(text):
        found = match.group("t").strip()
        return found or None
    for match in _PLAIN_TITLE.finditer(text):
        found = match.group("t").strip().strip("\"'“”")
        if found and not _TITLE_JUNK.match(found):
            return found
    return None


def read_intents(message: str) -> Intents:
    text = digits_for_words(message)
    found = Intents()
    # Pace and the music's start first: their words ("slideshow", "节奏", "10 seconds") mean
    # something else to the readers after them.
    found.music_tempo = asks_tempo(text)
    found.pace, text = read_pace(text)
    music_start, text = read_music_start(text)
    found.text, text = read_text_intents(text)
    found.edit, text = read_edit_intents(text)
    found.make = any(p.search(text) for p in _MAKE)
    found.aspect = _first(_ASPECTS, text)  # type: ignore[assignment]
    found.remove_title = bool(_REMOVE_TITLE.search(text))
    if not found.remove_title:
        if match := _TITLE_S.search(text):
            found.title_s = float(match.group(2))
            text = text[: match.start("dur")] + text[match.end("dur") :]
        found.title = _title(text)
        found.title_change = bool(found.title and _TITLE_CHANGE.search(text))
    rest = text
    if found.title:  # numbers inside a title ("Summer 2026") are not lengths
        rest = rest.replace(found.title, " ")
    for pattern in _PER_PHOTO:
        value, rest = _take(pattern, rest)
        if value:
            found.per_photo_s = float(value)
            break
    for pattern in _TRANSITION_S:
        value, rest = _take(pattern, rest)
        if value:
            found.transition_s = float(value) / (1000 if "ms" in pattern.pattern else 1)
            break
    rest = _AT_TIME.sub(" ", rest)  # "start at 5 seconds" is a moment, not a length
    if match := _MIN_SEC.search(rest):
        found.total_s = float(match.group(1)) * 60 + float(match.group(2))
    elif match := _TOTAL.search(rest):
        unit = match.group(2).lower()
        found.total_s = float(match.group(1)) * (60 if unit.startswith("m") or unit.startswith("分") else 1)
    found.music = read_music_intents(text, music_start)
    found.transition = _first(_TRANSITION_KINDS, text)
    if found.transition_s and not found.transition:
        found.transition = "crossfade"
    found.motion = _first(_MOTIONS, text)
    found.fit = _first(_FITS, text)
    found.export = bool(_EXPORT.search(text))
    found.describe = bool(_DESCRIBE.search(text))
    found.undo = bool(found.edit.undo)
    if found.title:
        found.title_position = title_position(text)
    return found
