"""The first video, as people ask for it: which uploads ("just the cat and dog ones", "烟花那段不要",
"photos only"), how long each photo shows ("图都放三秒"), the shape ("小红书 4比5"), the title, and
the music ("not my song, something upbeat", "我传的那首歌不太行 给配个燃一点的bgm").

The phrase reader plans the rough cut; this reads the same message with the frame lexicons and
corrects what the phrases missed, or makes the video when the phrases did not see a request to.
"""

from __future__ import annotations

import re
from typing import Any

from agent.language import Lang
from agent.planner import PlanStep, ToolCall
from agent.planners.rules.frames import ASPECTS, _title_text, mood_of, quoted
from agent.planners.rules.normalize import normalize
from agent.planners.rules.numbers import durations
from agent.planners.rules.resolve import Ref, find_refs, scene
from agent.state import SessionState

I = re.IGNORECASE  # noqa: E741
MAKE = re.compile(
    r"\b(?:make|create|build|generate|produce|edit|cut|put|turn|combine|compile|assemble|stitch|throw|whip)\b"
    r".{0,40}\b(?:video|vid|movie|film|reel|slideshow|montage|tiktok|short|clip|story|vlog|together|"
    r"something)\b"
    r"|\bslide\s?show\b|\bmontage\b|\brough\s+cut\b"
    r"|\b(?:want|like|need|love)\s+(?:\w+\s+){0,2}(?:video|vid|slideshow|montage|reel|movie|tiktok)\b"
    r"|做|剪|弄|整|生成|出个|出一个|合成|拼|来个|搞个|制作|帮我.{0,6}(?:视频|片)|视频|片子|短片|vlog",
    I,
)
KEEP = re.compile(r"\bonly\b|\bjust\b|只用|就拿|只要|光用|只拿|仅用|就用", I)
DROP = re.compile(
    r"\bwithout\b|\bexcept\b|\bbut\s+not\b|\bleave\s+out\b|\bskip\b|\bno\b|\bminus\b|\bexclude\b|不要|"
    r"先不用|不用|别用|去掉|除了",
    I,
)
PHOTOS_ONLY = re.compile(
    r"\bphotos?\s+only\b|\bonly\s+(?:the\s+)?photos\b|\bjust\s+(?:the\s+)?photos\b|"
    r"\bno\s+(?:video\s+)?clips?\b|\b(?:slideshow|video|montage)\s+(?:of|from)\s+(?:just\s+|only\s+)?(?:the|my|these)\s+photos\b(?!\s+and)"
    r"|光用照片|只用照片|只有照片|只要照片|照片就行|只用图",
    I,
)
NOT_MY_SONG = re.compile(
    r"\bnot\s+(?:my|the)\s+(?:own\s+)?(?:song|music|track)|\binstead\s+of\s+my\s+(?:song|music|track)|"
    r"\bother\s+than\s+my\b|\bwithout\s+(?:my|the)\s+(?:own\s+|uploaded\s+)?(?:song|music|track)|"
    r"\bdon'?t\s+use\s+my\s+(?:song|music)|\bmy\s+song\s+(?:is\s+)?(?:bad|boring|meh)|"
    r"别用我(?:上传|传)?的|不用我(?:上传|传)?的|不要我(?:上传|传)?的|我传的那首(?:歌)?不太行|换一首|换个|别的音乐",
    I,
)
NO_MUSIC = re.compile(
    (r"\bno\s+music\b|\bwithout\s+(?:any\s+)?music\b|\bsilent\b|不要(?:背景)?音乐|不要bgm|不配乐|不用配乐"), I
)
EACH = re.compile(r"\beach\b|\bevery\b|\bper\b|\bapiece\b|每张|每个|都放|都是|一张", I)
ABOUT = re.compile(r"\babout\b|\baround\b|\broughly\b|\bish\b|左右|差不多|大概", I)


ORIENTED = re.compile(
    r"\b(?P<en>landscape|horizontal|wide|portrait|vertical|tall|upright)\s+(?:ones|photos|shots)\b"
    r"|(?P<zh>横(?:着|向|版)?|竖(?:着|向|版)?)的?(?:那几张|照片|图片|图)",
    I,
)
# a place in the order, not a choice of uploads: "open with the sunset pic", "以烟花结尾"
ORDER_WORD = re.compile(
    r"\b(?:opens?|starts?|begins?|kicks?\s+off|leads?)\s+(?:\w+\s+)?(?:with|on)\s+(?:the\s+|my\s+|that\s+)?$"
    r"|\b(?:ends?|finish(?:es)?|closes?|wraps?\s+up)\s+(?:\w+\s+)?(?:with|on)\s+(?:the\s+|my\s+|that\s+)?$",
    I,
)
SELECT = re.compile(
    r"\b(?:of|from|with|using|use|include|including|only|just|out\s+of)\s+(?:the\s+|my\s+|these\s+|those\s+)?"
    r"(?:\w+\s*(?:,|and|&)\s*(?:the\s+)?)*\w*\s*$|(?:用|把|拿|只要|就要)[^，。,]{0,12}$",
    I,
)
ORDER_AFTER = re.compile(r"^\s*(?:那张|那个|那段)?(?:开头|开场|打头|结尾|收尾)", I)
_CLAUSE_END = re.compile(r"[,;.!?，。；！？]|\s(?:and|but|then)\s+(?:make|use|add|put|with|no)\b", I)


def _scope(text: str, at: int) -> str:
    """The words from `at` to the end of its clause."""
    end = _CLAUSE_END.search(text, at)
    return text[at : end.start() if end else len(text)]


def _media_ids(text: str, state: SessionState) -> tuple[list[str] | None, list[tuple[str, int]]]:
    """The uploads the message keeps, in upload order (None: all of them), and the places it gives
    some of them ("open with the sunset pic": [(id, 1)], "ends with the fireworks": [(id, -1)])."""
    sc = scene(state)
    visual = list(sc.uploads)
    unquoted = re.sub(r"[\"“「『][^\"”」』]*[\"”」』]", lambda m: " " * len(m.group(0)), text)
    refs = [r for r in find_refs(unquoted, sc, []) if r.how == "named"]
    places: list[tuple[str, int]] = []
    picked: list[Ref] = []
    for r in refs:
        before, after = unquoted[max(0, r.start - 30) : r.start], unquoted[r.end : r.end + 8]
        if ORDER_WORD.search(before) or ORDER_AFTER.search(after):
            end = re.search(r"ends?|finish|close|wrap|结尾|收尾", before[-20:] + after, I)
            for item in r.items:
                if item.media:
                    places.append((item.media.media_id, -1 if end else 1))
            continue
        picked.append(r)
    chosen = visual
    if PHOTOS_ONLY.search(text):
        chosen = [i for i in chosen if i.kind == "photo"]
    oriented = ORIENTED.search(text)
    if oriented:
        word = (oriented.group("en") or oriented.group("zh") or "").lower()
        want = (
            "landscape"
            if word in ("landscape", "horizontal", "wide") or word.startswith("横")
            else "portrait"
        )
        chosen = [i for i in chosen if i.kind == "photo" and i.media and i.media.orientation == want]
    dropped = {
        id(i)
        for d in DROP.finditer(unquoted)
        for r in picked
        if r.start >= d.end() and r.start < d.end() + len(_scope(unquoted, d.end())) + 1
        for i in r.items
    }
    dropped |= {  # "leave the fireworks vid out", "烟花那段不要"
        id(i)
        for r in picked
        if re.match(
            r"\s*(?:\w+\s+){0,2}(?:out|off)\b|\s*(?:那张|那个|那段|的)?(?:不要|别用|去掉|不用)",
            unquoted[r.end :],
            I,
        )
        for i in r.items
    }
    named = [i for r in picked for i in r.items if id(i) not in dropped]
    if dropped:
        chosen = [i for i in chosen if id(i) not in dropped]
    if named:
        keep_here = KEEP.search(text)
        everything = re.search(r"\b(?:all|every|everything)\b|全部|所有|全用", text, I)
        generic = re.search(
            r"\b(?:my|the|these|all)\s+(?:photos|pictures|pics|images)\b|这些照片|我的照片|照片和|所有照片|全部照片",
            text,
            I,
        )
        cue = any(  # the names follow a word that chooses: "of the cat and dog", "用猫和狗"
            SELECT.search(unquoted[max(0, r.start - 25) : r.start])
            for r in picked
            if id(r.items[0]) not in dropped
        )
        if keep_here or (cue and not (everything or dropped or generic)):
            # "just the cat and dog ones", "a video from the cat, dog and cake pictures"
            chosen = [i for i in visual if i in named]
        elif generic and not dropped:  # "my photos and the fireworks clip": every photo, and the clip named
            chosen = [i for i in chosen if i.kind == "photo" or i in named]
    ids = [i.media.media_id for i in chosen if i.media]
    if len(chosen) == len(visual) or not chosen:
        return None, places
    return ids, places


def refine_make(message: str, state: SessionState, lang: Lang, step: PlanStep) -> PlanStep:
    """The phrase reader's plan for a first video, with what the frames read right put in."""
    if state.draft is not None or not any(f.file_type in ("image", "video") for f in state.video_infos):
        return step
    text = normalize(message)
    make = next((c for c in step.calls if c.name == "make_slideshow"), None)
    if make is None:
        if not MAKE.search(text) or step.calls:
            return step
        make = ToolCall(name="make_slideshow", args={})
        songs = [f for f in state.video_infos if f.file_type == "audio"]
        calls = [make] + ([ToolCall(name="set_music", args={"source": songs[-1].media_id})] if songs else [])
        step = PlanStep(calls=calls)
    args: dict[str, Any] = dict(make.args)
    media, places = _media_ids(text, state)
    if media is not None:
        args["media_ids"] = media
    spans = durations(text)
    if spans and EACH.search(text) and "seconds_per_photo" not in args:
        args.pop("total_seconds", None)
        args["seconds_per_photo"] = spans[0].value
    elif spans and "total_seconds" in args and ABOUT.search(text) and len(spans) == 1:
        args["total_seconds"] = spans[0].value
    shape_text = ORIENTED.sub(" ", text)  # "the landscape photos" choose photos, not the shape
    if shape_text != text and not any(re.search(p, shape_text, I) for _a, p in ASPECTS):
        args.pop("aspect", None)
    if "aspect" not in args:
        for aspect, pattern in ASPECTS:
            if re.search(pattern, shape_text, I):
                args["aspect"] = aspect
                break
    calls = [c for c in step.calls if c.name not in ("make_slideshow", "set_music", "add_title")]
    out = [ToolCall(name="make_slideshow", args=args)]
    music = next((c for c in step.calls if c.name == "set_music"), None)
    if NO_MUSIC.search(text):
        music = None
    elif NOT_MY_SONG.search(text) or (mood_of(text) and not music):
        mood = mood_of(text) or "calm"
        music = ToolCall(
            name="set_music", args={**(music.args if music else {}), "source": f"builtin:{mood}"}
        )
    if music is not None:
        out.append(music)
    title = next((c for c in step.calls if c.name == "add_title"), None)
    if re.search(r"\btitle\b|标题|题目", text, I):
        read = _title_text(text, message)
        theirs = str(title.args.get("text", "")) if title else ""
        filler = {"say", "says", "saying", "read", "reads", "be", "to", "that", "should", "called", "as"}
        wrong = not theirs or theirs.split()[0].lower() in filler
        if "text" in read and wrong and theirs != read["text"]:
            title = ToolCall(name="add_title", args={**(title.args if title else {}), "text": read["text"]})
    elif title is None and quoted(message) and re.search(r"\bcalled\b|\bnamed\b|叫", text, I):
        title = ToolCall(name="add_title", args={"text": quoted(message)})
    if title is not None:
        out.append(title)
    for media_id, position in places:  # "open with the sunset pic": moved once the cut exists
        name = next((f.filename for f in state.video_infos if f.media_id == media_id), media_id)
        out.append(ToolCall(name="move_segment", args={"target": {"name": name}, "position": position}))
    return PlanStep(calls=out + calls, text=step.text if not step.calls else None)
