"""Questions about the draft answered from the state (nothing changes), and honest refusals of
what the product cannot do, each with the nearest thing it can. English and Chinese."""

from __future__ import annotations

import re

from agent.language import Lang
from agent.planners.rules.resolve import Scene, find_refs
from agent.state import SessionState
from agent.tools.segment_edits import MOTION_ZH
from agent.tools.state_view import TRANSITION_ZH
from renderer.schema.draft import TrackType

I = re.IGNORECASE  # noqa: E741

# (what is asked, pattern, English answer, Chinese answer)
_REFUSALS: list[tuple[str, str, str]] = [
    (
        (
            r"\b(?:remove|erase|cut\s+out|delete|change|replace|blur)\s+(?:the\s+)?background\s+(?:of|from|in|on|behind)\b|"
            r"\bbackground\s+remov|\bcut\s*out\s+(?:the\s+)?(?:cat|dog|person|subject|me)\b|\bgreen\s*screen|"
            r"抠图|抠掉|抠出|去掉.{0,6}背景(?!音乐|乐|声)|背景(?!音乐|乐|声).{0,3}(?:去掉|抠|换掉|删掉)|换背景(?!音乐|乐)"
        ),
        (
            "I can't remove or replace a photo's background. The nearest: show the whole photo over a "
            'blurred copy of itself ("blur the background"), or replace the photo with another upload.'
        ),
        "没法抠图或更换照片背景。可以把整张照片放在它自己的模糊背景上（说“模糊背景”），或者换成另一张照片。",
    ),
    (
        (
            r"\bauto(?:matic(?:ally)?)?[\s-]*(?:generated\s+)?(?:subtitles|captions)|subtitles?\s+automatically|"
            r"\bfrom\s+the\s+(?:audio|speech)|\btranscri|\bspeech[\s-]+to[\s-]+text|自动(?:生成)?字幕|语音识别|识别语音|滚动字幕"
        ),
        (
            "I can't make subtitles from the sound or animate scrolling text. "
            "The nearest: type the words and I'll put them on as captions or a title."
        ),
        "没法根据声音自动生成字幕，也不能做滚动字幕。可以把要显示的文字告诉我，我加成字幕或标题。",
    ),
    (
        (
            r"\bpolaroid\b|\bvhs\b|\bfilm\s+(?:look|grain|effect)|\blook\s+like\s+(?:a\s+|an\s+)?(?:old|"
            r"vintage|retro|film)|胶片|老电影|拍立得"
        ),
        (
            "I can't apply a look or filter (Polaroid, film, VHS): the photos keep their own colours. I can "
            "change the motion, fit, transitions, captions and music."
        ),
        "没法加胶片、拍立得之类的风格滤镜：照片保持原本的颜色。我可以改镜头运动、显示方式、转场、字幕和音乐。",
    ),
    (
        (
            r"\b[248]\s?k\b|\buhd\b|\b(?:1440|2160|4320)p?\b|ultra\s*hd|higher\s+resolution|超清|超高清|蓝光|2160|"
            r"更高(?:的)?分辨率"
        ),
        (
            "I can't export in 4K: the largest export is 1080x1920 (1080p, Full HD). That is what your video "
            "renders at now, as an MP4."
        ),
        "没法导出 4K：最高只能导出 1080x1920（1080p 全高清）。现在的视频就是按这个分辨率导出 MP4。",
    ),
    (
        r"\bgif\b|\bwebm\b|\.?\bmov\b(?!e)|\bavi\b|\bmkv\b|\bwmv\b|\bflv\b|表情包|动图|\bmp3\b(?=.*export)",
        (
            "I can't make a GIF or other formats: exports are MP4 video files (H.264 with AAC sound) only. "
            "Most apps can turn the MP4 into a GIF."
        ),
        "没法导出 GIF：只支持导出 MP4 视频文件（H.264 + AAC）。可以用其他工具把 MP4 转成动图。",
    ),
    (
        (
            r"\bfilters?\b|\bsepia\b|\bvintage\b|\bblack\s+and\s+white\b|\bb\s*&\s*w\b|\bgr[ae]yscale\b|"
            r"\bcolou?r\s+grad|"
            r"\bsaturation\b|\bbrightness\b|\bcontrast\b|\bwarmer\b|\bcooler\s+tones?\b|\blut\b|滤镜|调色|色调|"
            r"美颜|亮度|对比度|饱和度|黑白|复古"
        ),
        (
            "I can't apply filters or colour grading (sepia, vintage, black and white, colour tones): the "
            "photos keep their own colours. I can change their motion, fit, transitions, captions and music."
        ),
        "没法加滤镜或调色：照片保持原本的颜色。我可以改镜头运动、显示方式、转场、字幕和音乐。",
    ),
    (
        (
            r"\bai\b|\bgenerate\b|\bgenerated\b|\bcreate\s+(?:an?\s+)?(?:new\s+)?(?:image|photo|picture|"
            r"video\s+of)|"
            r"\bdraw\b|生成.{0,6}(?:图|照片|视频|画面)|ai.{0,4}(?:生成|画)|画一张"
        ),
        (
            "I can't generate new images or video with AI. I can only use media you upload: upload the photo "
            "or clip and I'll add it to the video."
        ),
        "没法用 AI 生成新的图片或视频，只能用你上传的素材：把照片或视频上传后，我就能把它加进视频里。",
    ),
    (
        (
            r"\bvoice\s?-?over\b|\bnarrat|\brecord\b|\bmy\s+voice\b|\bspeak\b|\btext[\s-]to[\s-]speech\b|"
            r"\btts\b|配音|录音|旁白|解说|录一段|朗读"
        ),
        (
            "I can't record or generate a voiceover. The nearest: captions or a title with your words on "
            "screen, or upload a recording and I'll use it as the soundtrack."
        ),
        "没法录制或生成配音。可以改用字幕或标题把要说的话显示在画面上，或者上传你录好的音频，我用它做背景声音。",
    ),
    (
        (
            r"\bstickers?\b|\bemojis?\s+(?:floating|bouncing|flying|animated)|\banimated\s+(?:emojis?|"
            r"hearts?|stars?)|"
            r"\bconfetti\b|\bsparkles?\b|\boverlay\s+(?:effects?|animations?)|\bparticles?\b|贴纸|特效|小爱心|爱心|"
            r"表情贴|动画贴|撒花"
        ),
        (
            "I can't add stickers or animated effects. The nearest: a caption (text) on the photo, for "
            'example "add the caption \u2764 on the cat photo".'
        ),
        "没法添加贴纸或动画特效。可以改成在照片上加一行字幕（文字），比如「在猫那张上加字幕 ❤」。",
    ),
    (
        (
            r"\bface\s*-?\s*swap|\bswap\s+(?:my\s+)?face|\bmy\s+face\b|\bdeepfake|\breplace\s+(?:his|her|"
            r"the)\s+face|换脸|换成我的脸|脸换"
        ),
        "I can't swap or edit faces. I can replace the whole photo with another one you upload.",
        "没法换脸或修改人脸。可以把整张照片换成你上传的另一张。",
    ),
    (
        (
            r"\bslow[\s-]?mo(?:tion)?\b|\b(?:60|120|240|48|50)\s*(?:fps|frames)|\bframe\s*rate\b|"
            r"\bhigh\s+fps\b|慢动作|慢放|(?:60|120|240)\s*帧|高帧率|帧率"
        ),
        (
            "I can't do slow motion or high frame rates: the video exports at 30 fps and clips play at "
            "normal speed. I can let the clip play longer, or trim it to its best part."
        ),
        (
            "没法做慢动作或高帧率：视频按 30 帧/秒导出，片段按正常速度播放。"
            "可以让这段播放得更久，或剪出最精彩的部分。"
        ),
    ),
    (
        (
            r"\bspeed\s+up\s+the\s+(?:clip|video\s+clip|fireworks)|\btime[\s-]?lapse\b|"
            r"\breverse\s+the\s+(?:clip|fireworks)|"
            r"\bplay\s+(?:the\s+\w+\s+)?backwards|倒放|快进|加速播放"
        ),
        (
            "I can't change a clip's playback speed or play it backwards; clips play as filmed. I can "
            "trim it or change how long it shows."
        ),
        "没法改变片段的播放速度或倒放：片段按原速播放。可以剪短它或改变它显示的时长。",
    ),
    (
        (
            r"\b(?:upload|post|share|publish)\s+(?:it\s+|this\s+|the\s+video\s+)?(?:to|on)\s+(?:my\s+|our\s+)?"
            r"(?:tiktok|youtube|instagram|insta|ig|facebook|twitter|x|snapchat|reels?)|发到.{0,4}(?:抖音|b站|朋友圈|小红书)上?(?:去)?$|帮我发|网盘|云盘|\bdropbox\b|\bgoogle\s+drive\b|"
            r"\bicloud\b|\bemail\s+it\b|上传到"
        ),
        "I can't post to social media or upload anywhere for you. Export the MP4 and upload it from the app.",
        "没法替你发布到社交平台。导出 MP4 后在 App 里上传即可。",
    ),
]


def refusal(text: str, lang: Lang) -> str | None:
    """An honest "can't, here is the nearest" for a wish outside what the product does."""
    for pattern, en, zh in _REFUSALS:
        if re.search(pattern, text, re.IGNORECASE | re.ASCII):
            return zh if lang == "zh" else en
    return None


def _secs(ms: int) -> str:
    return f"{round(ms / 1000, 1):g}"


def _song_name(name: str) -> tuple[str, str]:
    stem = name.rsplit(".", 1)[0]
    pretty = stem.replace("_", " ").replace("-", " ").strip()
    return stem, pretty.title() if pretty.isascii() else pretty


QUESTION = re.compile(
    r"^(?:how|what|which|where|when|is|are|does|do|did|can\s+you\s+tell|tell\s+me|wait\s+(?:what|how|"
    r"which|is|does)|so\s+(?:what|how)|who)\b"
    r"|[?？]\s*$|多长|多少|几张|几个|几秒|哪首|哪个|哪张|什么|吗[？?]?$|有没有|是不是|多久|怎么样|是啥|叫啥|谁的|是谁|哪里"
    r"|多大(?:声)?$|多响$|多高$",
    I,
)


def is_question(text: str) -> bool:
    return bool(QUESTION.search(text.strip()))


def answer(text: str, state: SessionState, sc: Scene, lang: Lang) -> str | None:
    """The answer to a question about the draft, from the state; None when it is not one we know."""
    draft = state.draft
    zh = lang == "zh"
    if draft is None:
        n = len(sc.uploads)
        return (
            f"还没有做视频。你上传了 {n} 个照片或视频片段和 {len(sc.songs)} 首音乐；说“做成视频”我就开始。"
            if zh
            else f"There is no video yet: you uploaded {n} photos or clips and {len(sc.songs)} songs. "
            'Say "make a video" and I\'ll make one.'
        )
    video = draft.tracks(TrackType.VIDEO)[0].sg if draft.tracks(TrackType.VIDEO) else []
    audio = next((t.sg[0] for t in draft.tracks(TrackType.AUDIO) if t.sg), None)
    photos = [i for i in sc.items if i.kind == "photo"]
    clips = [i for i in sc.items if i.kind == "clip"]
    refs = [r for r in find_refs(text, sc, []) if r.indexes]
    music_q = re.search(r"\bmusic\b|\bsong\b|\btrack\b|\bbgm\b|音乐|歌|配乐|bgm", text, I)
    if refs and re.search(
        r"第几|排(?:在)?(?:哪|第几)|在哪|哪个位置|\bwhere\s+(?:is|does)|\bwhich\s+(?:position|spot|number|place)"
        r"|\bwhat\s+(?:position|number|spot|place)|\bwhen\s+does\b.{0,30}\b(?:come|show|appear)",
        text,
        I,
    ):  # "烟花排第几个", "where's the cake pic": its place in the order
        item = sc.items[refs[0].indexes[0]]
        n, total = item.index + 1, len(sc.items)
        start_ms = item.seg.st if item.seg else 0
        last_zh, last_en = (
            ("，也就是最后一个" if n == total else ""),
            (", the last one" if n == total else ""),
        )
        return (
            f"「{item.stem}」排在第 {n} 个（共 {total} 个{last_zh}），从第 {_secs(start_ms)} 秒开始。"
            if zh
            else f'"{item.stem}" is number {n} of {total}{last_en}; it starts at {_secs(start_ms)} s.'
        )
    if re.search(r"\bfade|淡出|淡入|渐", text, I) and (music_q or re.search(r"end|结尾|stop", text, I)):
        if audio is None:
            return "没有背景音乐。" if zh else "There is no background music."
        fo, fi = audio.m.fade_out or 0, audio.m.fade_in or 0
        if zh:
            out = f"有，音乐结尾淡出 {_secs(fo)} 秒" if fo else "音乐结尾没有淡出，会直接停"
            return out + (f"，开头淡入 {_secs(fi)} 秒。" if fi else "，开头没有淡入。")
        out = (
            (f"Yes: the music fades out over the last {_secs(fo)} s")
            if fo
            else "No: the music stops without a fade out"
        )
        return out + (f" and fades in over {_secs(fi)} s." if fi else " (no fade in at the start).")
    if music_q and audio is not None and re.search(r"\bvolume\b|how\s+loud|音量|多大声", text, I):
        vol = round((audio.m.vol if audio.m.vol is not None else 1) * 100)
        return f"背景音乐的音量是 {vol}%。" if zh else f"The music is at {vol}% volume."
    if music_q and re.search(
        r"name|called|which|what|who|is\s+there|any|哪首|什么|叫|谁|啥|有没有|有.*吗", text, I
    ):
        if audio is None:
            return "现在没有背景音乐。" if zh else "There is no background music right now."
        name = audio.m.name or "music"
        stem, pretty = _song_name(name)
        vol = round((audio.m.vol if audio.m.vol is not None else 1) * 100)
        return (
            f"背景音乐是「{stem}」（{name}），音量 {vol}%。"
            if zh
            else f'The music is "{pretty}" ({name}), at {vol}% volume.'
        )
    if re.search(
        r"\bres(?:olution)?\b|\bquality\b|\b1080\b|\bexport\s+at\b|(?<![a-z])fps(?![a-z])|分辨率|清晰度|画质|多大|帧|"
        r"frame\s*rate",
        text,
        I,
    ):
        w, h = draft.m.width, draft.m.height
        return (
            f"导出为 {w}x{h}（{'竖屏' if h > w else '横屏' if w > h else '方形'}），"
            f"{draft.m.fps} 帧/秒，MP4 格式。"
            if zh
            else f"It exports at {w}x{h} ({'vertical' if h > w else 'landscape' if w > h else 'square'}), "
            f"{draft.m.fps} fps, as an MP4."
        )
    if re.search(
        r"vertical|horizontal|sideways|landscape|portrait|aspect|ratio|横屏|竖屏|比例|横的|竖的", text, I
    ):
        w, h = draft.m.width, draft.m.height
        shape_en = "vertical (portrait) 9:16" if h > w else "landscape 16:9" if w > h else "square 1:1"
        shape_zh = "竖屏 9:16" if h > w else "横屏 16:9" if w > h else "方形 1:1"
        return f"现在是{shape_zh}（{w}x{h}）。" if zh else f"It is {shape_en} ({w}x{h})."
    if re.search(r"sound|audio|声音|原声", text, I) and clips:
        item = next((i for r in refs for i in r.items if i.kind == "clip"), clips[0])
        seg = item.seg
        clip_vol = seg.m.vol if seg is not None and seg.m.vol is not None else 1.0
        if clip_vol > 0:
            return (
                f"是的，{item.stem} 保留了原声（音量 {round(clip_vol * 100)}%）。"
                if zh
                else f"Yes, {item.stem} keeps its own sound ({round(clip_vol * 100)}%)."
            )
        return f"没有，{item.stem} 现在是静音的。" if zh else f"No, {item.stem} is muted."
    if re.search(r"transition|转场|过渡", text, I):
        kinds = sorted({(s.m.tr.type, s.m.tr.d) for s in video[1:] if s.m.tr})
        if not kinds:
            return "现在没有转场，直接切换。" if zh else "There are no transitions: hard cuts."
        en = ", ".join(f"{k.replace('_', ' ')} ({_secs(d)} s)" for k, d in kinds)
        z = "、".join(f"{TRANSITION_ZH.get(k, k)}（{_secs(d)} 秒）" for k, d in kinds)
        return f"转场用的是{z}。" if zh else f"The transitions are {en}."
    if re.search(r"motion|zoom|pan|动效|镜头|运动", text, I):
        motions = sorted({i.seg.m.motion or "none" for i in photos if i.seg})
        en = ", ".join(k.replace("_", " ") for k in motions)
        z = "、".join(MOTION_ZH.get(k, k) for k in motions)
        return f"照片的镜头运动：{z}。" if zh else f"The photos' motion: {en}."
    after = re.search(r"\b(?:after|before|next|following)\b|后面|前面|之后|之前|下一", text, I)
    if after and refs:
        idx = refs[-1].indexes[0]
        side = -1 if re.search(r"\bbefore\b|前面|之前", text, I) else 1
        j = idx + side
        if 0 <= j < len(sc.items):
            other = sc.items[j]
            return (
                f"{'在' if side < 0 else ''}{sc.items[idx].stem}"
                f"{'前面' if side < 0 else '后面'}是 {other.stem}。"
                if zh
                else f"{'Before' if side < 0 else 'After'} {sc.items[idx].stem} comes {other.stem} "
                f"({other.media.filename if other.media else other.stem})."
            )
    if re.search(r"how\s+many|number\s+of|count|几张|几个|多少张|多少个|几段", text, I):
        if re.search(r"segment|片段|item|things|clips?\b|段", text, I) and not re.search(
            r"photo|照片|图", text, I
        ):
            return (
                f"时间线上一共有 {len(sc.items)} 个片段：{len(photos)} 张照片和 {len(clips)} 个视频片段。"
                if zh
                else f"There are {len(sc.items)} segments: {len(photos)} photos and {len(clips)} clips."
            )
        return (
            f"用了 {len(photos)} 张照片" + (f"，另外还有 {len(clips)} 个视频片段。" if clips else "。")
            if zh
            else f"There are {len(photos)} photos"
            + ((f" plus {len(clips)} video clip{'s' if len(clips) > 1 else ''}.") if clips else ".")
        )
    if re.search(r"\btitle\b|标题", text, I):
        texts = [s for t in draft.tracks(TrackType.TEXT) for s in t.sg if t.m.name == "Title"]
        if not texts:
            return "现在没有标题。" if zh else "There is no title."
        t = texts[0]
        return (
            f"标题是「{t.m.text}」，显示在 {_secs(t.st)}-{_secs(t.end)} 秒。"
            if zh
            else f'The title is "{t.m.text}", shown {_secs(t.st)}-{_secs(t.end)} s.'
        )
    if refs and re.search(r"how\s+long|seconds|多久|几秒|多长|时长", text, I):
        item = sc.items[refs[0].indexes[0]]
        ms = item.seg.d if item.seg else 0
        return f"{item.stem} 在视频里显示 {_secs(ms)} 秒。" if zh else f"{item.stem} shows for {_secs(ms)} s."
    if re.search(r"\beach\s+photo\b|\bevery\s+photo\b|per\s+photo|each\s+picture|每张", text, I):
        lengths = sorted({round(i.seg.d / 100) / 10 for i in photos if i.seg})
        shown = "/".join(f"{v:g}" for v in lengths)
        return f"每张照片显示 {shown} 秒。" if zh else f"Each photo stays on screen for {shown} s."
    if re.search(r"how\s+long|length|duration|多长|多久|时长|几秒|几分钟|多少秒|多少分钟|多少时间", text, I):
        return f"视频现在总长 {_secs(draft.d)} 秒。" if zh else f"The video is {_secs(draft.d)} seconds long."
    if refs or re.search(r"\bfirst\b|\blast\b|\bstart\b|\bend\b|第一|最后|开头|最前|结尾|开始", text, I):
        starts = re.search(r"first|start|第一|开头|最前|开始", text, I)
        pool = refs[0].indexes if refs else ([0] if starts else [len(sc.items) - 1])
        item = sc.items[pool[0]]
        where = pool[0] + 1
        ms = item.seg.d if item.seg else 0
        return (
            f"第 {where} 个是 {item.stem}，显示 {_secs(ms)} 秒。"
            if zh
            else (
                f"Number {where} is {item.stem} "
                f"({item.media.filename if item.media else item.stem}), {_secs(ms)}"
                f" s."
            )
        )
    if not re.search(_ABOUT_THE_VIDEO, text, I):  # "what's 2+2", "天气怎么样": not about this video at all
        return (
            "这个我帮不了：我只能回答关于这个视频的问题（时长、照片、音乐、标题、比例），或者按你说的修改它。"
            if zh
            else "I can't help with that: I can only answer questions about this video (its length, photos, "
            "music, title, shape) or change it the way you ask."
        )
    return None


# words of the domain: a question with none of them is not about the draft
_ABOUT_THE_VIDEO = (
    r"video|vid|clip|photo|pic|image|slide|segment|music|song|track|audio|sound|volume|title|caption|text|"
    r"transition|fade|zoom|pan|motion|crop|fit|aspect|ratio|vertical|landscape|square|export|render|draft|"
    r"timeline|long|length|second|minute|order|first|last|it\b|this|that|"
    r"视频|片|照片|图|素材|音乐|歌|配乐|声音|音量|标题|字幕|文字|转场|过渡|淡|镜头|动效|比例|横屏|竖屏|导出|时长|秒|顺序|第|最后|它|这|那"
)
