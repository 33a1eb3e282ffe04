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
from agent.planners.rules.resolve import find_refs, scene
from agent.state import SessionState

I = re.IGNORECASE  # noqa: E741
MAKE = re.compile(
    r"\b(?:make|create|build|generate|produce|edit|cut|put|turn|combine|compile|assemble|stitch|throw|whip)\b"
    r".{0,40}\b(?:video|vid|movie|film|reel|slideshow|montage|tiktok|short|clip|story|vlog|together|"
    r"something)\b"
    r"|\bslide\s?show\b|\bmontage\b|\brough\s+cut\b"
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
    r"\bno\s+(?:video\s+)?clips?\b"
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


def _media_ids(text: str, state: SessionState) -> list[str] | None:
    """The uploads the message keeps, in upload order (None: all of them)."""
    sc = scene(state)
    visual = list(sc.uploads)
    unquoted = re.sub(r"[\"“「『][^\"”」』]*[\"”」』]", lambda m: " " * len(m.group(0)), text)
    refs = [r for r in find_refs(unquoted, sc, []) if r.how == "named"]
    named = [i for r in refs for i in r.items]
    chosen = visual
    if PHOTOS_ONLY.search(text):
        chosen = [i for i in chosen if i.kind == "photo"]
    if named:
        first = min(r.start for r in refs)
        keep_here = KEEP.search(text)
        drop_here = DROP.search(text)
        everything = re.search(r"\b(?:all|every|everything)\b|全部|所有|全用", text, I)
        if (keep_here and (not drop_here or keep_here.start() < drop_here.start())) or (
            not drop_here and not everything
        ):  # "just the cat and dog ones", "a video from the cat, dog and cake pictures"
            chosen = [i for i in visual if i in named]
            generic = re.search(
                r"\b(?:my|the|these|all)\s+(?:photos|pictures|pics|images)\b|这些照片|我的照片|照片和|所有照片|全部照片",
                text,
                I,
            )
            if generic:  # "my photos and the fireworks clip": every photo, and the clip named
                chosen = [i for i in visual if i.kind == "photo" or i in named]
        elif drop_here and abs(drop_here.start() - first) < 40:
            chosen = [i for i in chosen if i not in named]
    if len(chosen) == len(visual) or not chosen:
        return None
    return [i.media.media_id for i in chosen if i.media]


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
    media = _media_ids(text, state)
    if media is not None:
        args["media_ids"] = media
    spans = durations(text)
    if spans and EACH.search(text) and "seconds_per_photo" not in args:
        args.pop("total_seconds", None)
        args["seconds_per_photo"] = spans[0].value
    elif spans and "total_seconds" in args and ABOUT.search(text) and len(spans) == 1:
        args["total_seconds"] = spans[0].value
    if "aspect" not in args:
        for aspect, pattern in ASPECTS:
            if re.search(pattern, text, I):
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
    return PlanStep(calls=out + calls, text=step.text if not step.calls else None)
