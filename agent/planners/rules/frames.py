"""A message as frames: what to do (intent), to what (targets), which attribute, which value.

`read_frames(text, scene, previous)` splits the normalised message into clauses (punctuation,
"then", "然后", "顺便", spaces between Chinese clauses), reads each clause's intent with the
lexicons below, its references (agent.planners.rules.resolve) and its values (numbers.py), and
folds a clause that names no intent into its neighbour ("猫那张放久点 五秒吧": one frame). A
clause it cannot read makes the frame `unknown`, so the planner knows the message was not fully
understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from agent.planners.rules.intents_music import _MOODS
from agent.planners.rules.numbers import bare_numbers, durations, number_value, percent
from agent.planners.rules.resolve import Item, Ref, Scene, find_refs

I = re.IGNORECASE  # noqa: E741


@dataclass
class Frame:
    intent: str
    targets: list[Item] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    refs: list[Ref] = field(default_factory=list)
    text: str = ""


# ASCII word boundaries: in "导出成gif格式" the Chinese letters are not part of the English word.
IA = re.IGNORECASE | re.ASCII


def _has(pattern: str, text: str) -> bool:
    return re.search(pattern, text, IA) is not None


# ---- lexicons (normalised text: lower case, chat spellings written out) ----

UNDO = (
    r"\bundo\b|\btake\s+(?:that|it)\s+back\b|\brevert\b|\b(?:put|bring|change|set|turn)\s+(?:it|them|that|"
    r"everything)\s+back\b|\bback\s+(?:to\s+)?(?:how|the\s+way|where)\s+it\s+was|\bgo\s+back\b|"
    r"\bnever\s*mind\b|撤销|撤回|改回去|恢复(?:成|到)?原来|还原|回到原来|恢复原样|变回去|不要刚才|加回来|放回来|放回去|撤了|放回原|回到原|原来的位置|改回原来|恢复原来"
)
REDO = r"\bredo\b|\bdo\s+(?:it|that)\s+again\b|重做|恢复刚才撤销|再做一次"
SAME_AS_BEFORE = (
    r"\b(?:the\s+)?same\s+(?:thing|one|effect|caption|text|for|on|to)?\b|\bdo\s+that\s+(?:for|to|on)\b|"
    r"\bthat\s+too\b|也(?:一样|这样|照做)|同样|一样的"
    r"|\btoo\s*[.!]*$|\bas\s+well\b|也要|也是|也加|也换|也改|也来"
)
MUSIC = (
    r"\bmusic\b|\bsongs?\b|\btrack\b|\baudio\b|\bsoundtrack\b|\btunes?\b|\bvolume\b"
    r"|音乐|歌|配乐|曲|背景乐|bgm|音量"
)
VOLUME_DOWN = (
    r"overpower\w*|\bdrown\w*|\bblasting\b|\btoo\s+much\b|太响|盖过|too\s+loud|\bloud\b|\blower\b|"
    r"\bquieter\b|\bsofter\b|\bturn\s+(?:it\s+|the\s+\w+\s+)?down\b|\bdown\b|"
    r"\breduce\b|\bdrown|\bquiet\b|\bless\s+loud|小声|调小|低一?点|轻一?点|太吵|吵|降低|减小|太大声|小一?点|弱一?点|轻点"
)
# said of music that is too soft: read before VOLUME_DOWN, whose "quiet" they contain
VOLUME_TOO_LOUD = (
    r"\btoo\s+loud|\bway\s+loud|overpower\w*|\bdrown\w*|\bblasting\b|太响|太吵|盖过|太大声|声音太大|音量太大"
)
VOLUME_TOO_SOFT = (
    r"\btoo\s+(?:quiet|soft|low)\b|\b(?:barely|hardly|can'?t|cannot|can\s+not)\s+(?:even\s+)?hear"
    r"(?:\s+(?:it|the\s+(?:music|song|track|audio)|anything))?(?:\s+(?:at\s+all|on\s+\w+\s+\w+))?\s*$|"
    r"\bhard\s+to\s+hear\b|\bnot\s+loud\s+enough\b|太小声|太小了|听不见|听不到|听不清|声音太小|音量太小"
)
VOLUME_UP = (
    VOLUME_TOO_SOFT
    + r"|\blouder\b|\bturn\s+(?:it\s+|the\s+\w+\s+)?up\b|\bcan'?t\s+hear\b|\btoo\s+quiet\b|\bboost\b|"
    r"\braise\b|\bincrease\b|大声|调大|响一?点|大一?点|太小声|听不见|听不到"
)
MUSIC_REMOVE = (
    r"\bbring\b|\bnudge\b|\bbump\b|\bshift\b|\b(?:no|without|remove|delete|drop|kill|ditch|lose|"
    r"get\s+rid\s+of|turn\s+off|mute)\s+(?:any\s+|"
    r"the\s+|all\s+|background\s+)*(?:music|song|soundtrack|audio|track)(?:\s+at\s+all)?|\b(?:music|"
    r"song)\s+(?:off|gone)\b|不要(?:背景)?(?:音乐|配乐|歌|bgm)|(?:去掉|删掉|删除|关掉|取消)(?:背景)?(?:音乐|配乐|歌|bgm)|(?:音乐|配乐|"
    r"bgm|歌)(?:去掉|删掉|删了|不要了|关掉)|(?:背景音乐|音乐|bgm)[^，。,]{0,3}(?:去掉|删掉|不要)"
)
MUSIC_REPLACE = (
    r"\b(?:replace|change|swap|switch|different|another|other|new|instead|rather|prefer|"
    r"from\s+your\s+library|built[\s-]?in)\b|换|别用|不用|不要我|改成|来点|来首|配个|配一首|来一首"
)
FADE_IN = (
    r"come\s+in\s+(?:softer|gently|slowly|gradually|quieter)|\bgradually\b|fade[\s-]*in|"
    r"fades?\s+(?:\w+\s+){0,3}in\b|ease\s+in|淡入|渐入|渐强|渐起"
)
FADE_OUT = (
    r"fade[\s-]*out|fades?\s+(?:\w+\s+){0,3}out\b|\babrupt\w*|\bcuts?\s+off\b|\bsudden\w*|戛然而止|太突然|突然断|ending\s+fade|fade\s+at\s+the\s+end|ending|淡出|渐出|渐弱|收尾|"
    r"收得"
)
HALFWAY = (
    r"\bhalf\s*way\s+(?:through|into|in)\b|\b(?:the\s+)?middle\s+of\s+the\s+(?:song|track|music)|"
    r"\bfrom\s+the\s+middle\b|从(?:歌|音乐|歌曲)?的?(?:一半|中间)"
)
NO_FADE = (
    r"\b(?:no|remove|delete|drop|lose|kill|without|get\s+rid\s+of|take\s+(?:out|off)|turn\s+off|"
    r"don'?t\s+(?:want\s+)?(?:a|any|the)?)\s+(?:the\s+|any\s+|a\s+)?(?:music\s+|song\s+)?fade"
    r"|(?:不要|去掉|删掉|取消|别|不用)(?:音乐的?|歌的?)?(?:淡入|淡出|渐入|渐出|渐强|渐弱)"
)
START_AT = (
    r"\bskip\s+(?:the\s+)?(?:first|intro)|\bstart(?:s|ing)?\s+(?:the\s+\w+\s+)?(?:from|at)\b|\bfrom\s+\d|"
    r"\b(?:begin|play)\s+(?:it\s+)?(?:from|at)\b|\boffset\b|"
    r"\b\d+(?:\.\d+)?\s*(?:seconds|s)\s+in(?:to\s+(?:the\s+)?(?:song|music|track))?\b|从.{0,6}(?:开始|放|播)|跳过|前奏"
)
TITLE = r"\btitle\b|\bheading\b|\bheadline\b|标题|片头字|题目|大标题"
CAPTION = (
    r"\bcaption\b|\bsubtitle\b|\blabel\b|\bwrite\b|\bwritten\b|\bwords?\b|\btext\b|\bsays?\b|\bsaying\b|字幕|"
    r"文字|写个|写上|写|配个字|配字|加一行字|加字|一行字|加(?:个|几个|一句|句)(?:字|话)|打(?:个|几个)?字"
)
VIDEO_FADE = (
    r"fade\s+(?:in\s+)?from\s+black|fade\s+(?:out\s+)?(?:to|into)\s+black|fade\s+to\s+black|"
    r"fade\s+out\s+to\s+black|from\s+black|to\s+black|\bblack\s+fade|\bfade\s+(?:in|out)\b.{0,20}\bblack\b|"
    r"黑场|黑屏|淡入淡出.*黑|黑.*淡"
)
TRANSITION = (
    r"\bbetween\s+(?:the\s+)?(?:photos|shots|segments|slides)|\btransitions?\b|\b(?:hard|straight|jump|"
    r"plain)\s+cuts?\b|\bcut\s+straight|\bwipe|\bslide\s+in|\bsliding\b|\bdissolve|\bcross\s?-?fade|"
    r"\bfade\s+through|\bfade\s+(?:into|in\s+from)|\bleading\s+into|\bgoing\s+into|转场|过渡|切换效果|切到|切过去|闪白|"
    r"黑场过渡|溶解|滑"
)
MOTION = (
    r"\bzoom|\bpan(?:s|ning)?\b|\bmotion\b|\bmovement\b|\bken\s+burns\b|\bstay\s+still\b|"
    r"\bkeep\s+(?:them\s+|it\s+)?still\b|\b(?:make|keep|leave|have)\s+(?:\w+\s+){0,3}still\b|\bstatic\b|\bmoving\b|\bmove\s+around\b|\bdizzy\b|\banimation\b|"
    r"动效|静止|放大|缩小|拉远|推近|平移|晃|动来动去|镜头|运镜|推拉|别动|不要动"
    r"|(?:慢慢|缓缓|轻轻)(?:地)?(?:往|向)?(?:右|左|上|下)?(?:移|动|摇|平移|推|拉)|(?:往|向)(?:右|左|上|下)(?:移|动|摇|平移)(?![一到个位两])"
)
FIT = (
    r"\bcrop|\bcut(?:ting)?\s+(?:any\s+of\s+it\s+)?off\b|\b(?:whole|entire|full)\s+(?:photo|picture|image|"
    r"shot|frame)|\b(?:see|show)\s+(?:\w+\s+){0,3}?(?:whole|entire|all\s+of)\b|\bin\s+full\b|"
    r"\bletterbox|\bblur(?:red|ry)?\s+(?:copy|background|backdrop|bars|fill|edges|sides)|\bblurred\b|"
    r"\bfill\s+(?:up\s+)?(?:the\s+)?(?:whole\s+|entire\s+|full\s+)?(?:screen|frame)|\b(?:black\s+)?bars\b|"
    r"\bcontain\b|完整|裁|模糊背景|铺满|填满|留黑边|黑边|满屏|显示全"
)
ASPECTS: list[tuple[str, str]] = [
    (
        "9:16",
        (
            r"9\s*[:x/×比]\s*16|\bvertical\b|\bportrait\b|tik\s?tok|douyin|\breels?\b|\bshorts\b|\bstor(?:y|"
            r"ies)\b|竖屏|竖版|竖着|竖的|抖音|快手|视频号"
        ),
    ),
    (
        "16:9",
        (
            r"16\s*[:x/×比]\s*9|\bhorizontal\b|\blandscape\b|wide\s?screen|youtube(?!\s*shorts)|"
            r"sideways|横屏|横版|"
            r"横着|横的|宽屏|b站|哔哩"
        ),
    ),
    ("1:1", r"\b1\s*[:x/×比]\s*1\b|\bsquare\b|the\s+gram\b|instagram\s+post|方形|正方形|方屏|1比1"),
    ("4:5", r"\b4\s*[:x/×比]\s*5\b|insta(?:gram)?\s+feed|4比5|小红书"),
]
HOLD = (
    r"\b(?:leave|keep)\b.{0,40}\b(?:at\s+the\s+length|as\s+(?:it\s+)?is|the\s+same|unchanged|alone)\b|"
    r"\bdon'?t\s+touch\b|保持.{0,8}不变|别动(?!效|画|来)|不要动(?!效|画|来)|不变"
)
REVERSE = (
    r"\breverse\b|\bbackwards?\b|\bopposite\s+order\b|\blast\s+to\s+first\b|"
    r"\bflip\s+(?:the\s+)?(?:whole\s+thing|order)|倒过来|倒序|反过来|颠倒"
)
SHUFFLE = (
    r"\bshuffle\b|\brandom(?:ly|ize|ise)?\b|\bmix\s+(?:them\s+|it\s+|the\s+order\s+)?up\b|\bscramble\b|打乱|"
    r"随机|乱序"
)
SWAP = (
    r"\bswap\b|\bswitch\b|\bexchange\b|\btrade\s+places\b|互换|交换|换一?下位置|换下位置|对调|调换|换个位置|(?<!替)换一下(?!成|个|首|音|"
    r"歌)"
)
REMOVE = (
    r"\bremove\b|\bdelete\b|\bdrop\b|\bcut\s+(?:out|the)\b|\btake\s+(?:out|off)\b|\bget\s+rid\s+of\b|"
    r"\bditch\b|\blose\b|\bloose\b|\bkill\b|\btrash\b|\bleave\s+out\b|\bwithout\b|\bskip\b|\bno\s+more\b|"
    r"\bexclude\b|\bout\s+of\s+the\s+video\b|\b(?:don'?t|do\s+not|no\s+longer)\s+(?:want|need)\b|不想要|\bcut\s+(?:it|them|that(?:\s+one)?|those)\s*$|删|去掉|不要|拿掉|去除|剔除|不用|别要|先不用"
)
KEEP_ONLY = (
    r"\bonly\s+(?:keep|use|want|leave)\b|\bkeep\s+only\b|\bjust\s+(?:keep|use|leave)\b|\bleave\s+only\b|"
    r"只保留|只留|只要|只用|只剩|光用|就拿|就用"
)
THE_REST = (
    r"\b(?:everything|all)\s+else\b|\bthe\s+rest\b|\ball\s+the\s+others\b|\bthe\s+others\b"
    r"|其余|其他的?|别的|剩下的"
)
MOVE = (
    r"\bbring\b|\bnudge\b|\bbump\b|\bshift\b|\bmove\b|\bput\b|\bplace\b|\bmake\b.*\b(?:first|last)\b|"
    r"\bgo(?:es)?\s+(?:first|last)\b|"
    r"\bcome\s+(?:first|last)\b|丢|扔|\bopen\s+(?:with|on)\b|\bstart\s+with\b|\bbegin\s+with\b|\bend\s+(?:with|"
    r"on)\b|\bfinish\s+with\b|\bcomes\s+right\s+after\b|\bbump\b|\bshift\b|移|挪|放到|放在|放最|放第|放前|放后|排到|当开头|"
    r"作为.{0,6}(?:开头|第一|最后)|开场|收尾|结尾用|接"
)
ADD = (
    r"\badd\b|\binclude\b|\binsert\b|\bput\b|\bthrow\s+in\b|\buse\b|\bstick\b|\bpop\b|\bslot\b|加|塞|插|放进|用上|"
    r"放到|接|放在|放最"
)
REPLACE = (
    r"\breplace\b|\binstead\s+of\b|\bswap\s+(?:out\s+)?(?:the\s+)?\w+(?:\s+\w+)?\s+for\b|"
    r"\bin\s+place\s+of\b|替换|换掉|换成|代替"
)
LONGER = (
    r"\btoo\s+(?:fast|quick(?:ly)?|short)\b|\bfly\s+by\b|\bgo\s+by\b.{0,20}\bquick|\brushed\b|太快|快了|太赶|有点赶|"
    r"看不清|一闪|一晃|闪过|没看清|看不到|太短|\blonger\b|\bstay\s+up\s+longer|\bhold\b|\bmore\s+time\b|\blinger\b|"
    r"\bslow(?:er)?\s*(?:it\s+)?down\b|\bslower\b|久一?点|长一?点|多放|多停|多给|多留|放久|停久|慢一?点|放慢|多一?点时间"
)
SHORTER = (
    r"\bshorter\b|(?<!too\s)\bquicker\b|(?<!too\s)\bfaster\b|\bspeed\s+(?:it\s+|them\s+)?up\b|"
    r"\bless\s+time\b|\btoo\s+(?:long|slow)\b|\bdraggy\b|短一?点|快一?点|缩短|少放|搞快|加快|太慢|太拖|拖|赶紧"
)
DURATION_WORDS = (
    r"\bseconds\b|\blong\b|\blonger\b|\bshorter\b|\bstay\b|\bhold\b|\bshow(?:s|ing)?\s+for\b|"
    r"\bon\s+screen\b|\bplay\s+for\b|\bduration\b|\blast\b|秒|停留|显示|放|时长|多久"
)
LENGTH = (
    r"\b(?:whole|entire|total|overall)\b|\bthe\s+video\b|\bvideo\s+(?:to\s+)?(?:be\s+|run\s+)?|"
    r"\bit\s+(?:down\s+)?to\b|\blength\b|\bcut\s+(?:it\s+)?(?:the\s+video\s+)?down\b|"
    r"\bget\s+it\s+(?:down\s+)?to\b|\bmake\s+it\b|\bstretch\b|\bunder\b|\bat\s+least\b|\broughly\b|"
    r"\babout\b|总时长|总长|整个|整体|视频|时长|压到|缩短到|拉长|弄成|改成|做成|至少|左右"
)
QUESTION = (
    r"^(?:how|what|which|where|when|is|are|does|do|did|can\s+you\s+tell|tell\s+me|wait\s+(?:what|how|which|"
    r"is|does)|so\s+(?:what|how))\b|[?？]\s*$|多长|多少|几张|几个|几秒|哪首|哪个|哪张|什么|吗[？?]?$|有没有|是不是|多久|怎么样"
)
EDIT_VERB = (
    r"\b(?:make|change|set|turn|put|add|remove|delete|move|swap|use|give|show|keep|cut|trim|replace|switch|"
    r"lower|raise|speed|slow|fade|zoom|pan)\b|改|换|加|删|调|设|移|挪|放|去掉"
)


def _clauses(text: str) -> list[str]:
    """Pieces that may each carry an intent."""
    parts = re.split(
        r"[,;!?，。；！？\n]+|\s\+\s|\.(?![a-z0-9])|\s+(?:and\s+then|then|also|plus|after\s+that|and\s+also)\s+"
        r"|然后|另外|顺便|并且|并把|同时|再把|还有|以及|，?再(?=[把给加换删改将让])|(?<=[\u4e00-\u9fff”」』])\s+(?=[\u4e00-\u9fffa-z]"
        r")|(?<=[a-z])\s+(?=[\u4e00-\u9fff])",
        text,
    )
    return [p.strip() for p in parts if p and p.strip()]


_AND_NEXT_REF = (
    r"|\s+and\s+(?=[\"“])|\s+and\s+(?=the\s+\w+(?:\s+\w+)?\s+(?:photo|pic|one|shot|clip|picture)\s+\S)"
    r"|\s+and\s+(?=the\s+(?:first|second|third|fourth|fifth|sixth|seventh|last|\d+(?:st|nd|rd|th))\s+"
    r"(?:one|photo|pic|clip)\s+(?!(?:photos?|pics?)\b)\w)"
)


def _and_split(clause: str) -> list[str]:
    """ "make the cat 6 s and add a title": split on 'and' when both sides start a new request."""
    pieces = re.split(
        (
            r"\s+and\s+(?=(?:make|change|set|turn|put|add|remove|delete|move|swap|use|give|show|keep|replace|"
            r"switch|lower|raise|speed|slow|fade|zoom|pan|mute|cut|trim|drop|let)\b)" + _AND_NEXT_REF
        ),
        clause,
    )
    return [p for p in pieces if p.strip()]


def _two_requests(clause: str, original: str, sc: Scene, previous: list[Item]) -> list[str]:
    """ "make it widescreen and no zooming", "the song's too loud and the whole thing drags": split on
    "and" (和/并且 in Chinese, "but" too) when each side reads as a request of its own and together
    they read as fewer, so no wish of a multi-intent message is lost."""
    pieces = re.split(
        r"\s+(?:and|but|&)\s+(?!then\b)|(?<=[\u4e00-\u9fff])(?:并且|而且)(?=[\u4e00-\u9fff])", clause
    )
    pieces = [p.strip() for p in pieces if p and p.strip()]
    if len(pieces) < 2:
        return [clause]
    whole = read_clause(clause, original, sc, previous)
    apart = [read_clause(p, original, sc, previous) for p in pieces]
    verb = pieces[0].split()[0] if re.match(r"[a-z]", pieces[0]) else ""
    for k in range(
        1, len(pieces)
    ):  # "pan right on the beach pic and left on the lake pic": the verb left out
        if not apart[k] and verb and not pieces[k].startswith(verb):
            again = read_clause(f"{verb} {pieces[k]}", original, sc, previous)
            if again and again[0].targets:
                pieces[k], apart[k] = f"{verb} {pieces[k]}", again
    if not all(apart):
        return [clause]

    def kinds(frames: list[Frame]) -> set[str]:
        return {f"{f.intent}:{k}={v!s}" for f in frames for k, v in (f.values or {"": 0}).items()}

    split_kinds = set().union(*(kinds(a) for a in apart))
    if len(split_kinds - kinds(whole)) and not kinds(whole) - split_kinds:
        return pieces
    return [clause]


def mood_of(text: str) -> str | None:
    if _has(r"guitar|acoustic|吉他|民谣|原声", text):
        return "acoustic"
    if _has(r"燃|热血|嗨|带劲|激昂|hype|pump|energetic|upbeat", text):
        return "upbeat"
    if _has(r"lo-?\s?fi|chill|低保真", text):
        return "lofi"
    for name, pattern in _MOODS:
        if pattern.search(text):
            return name
    if _has(r"安静|舒缓|轻柔|柔和|calm|relax", text):
        return "calm"
    return None


def quoted(original: str) -> str | None:
    m = re.search(r"[\"“「『]([^\"”」』]+)[\"”」』]|(?<![a-z])'([^']+)'(?![a-z])|‘([^’]+)’", original, I)
    if not m:
        return None
    return (m.group(1) or m.group(2) or m.group(3)).strip()


def _as_typed(words: str | None, original: str) -> str | None:
    """Words read from the normalised text, in the case the user typed them."""
    if not words:
        return None
    at = original.lower().find(words.lower())
    return original[at : at + len(words)] if at >= 0 else words


def seconds_in(text: str) -> float | None:
    spans = durations(text)
    return spans[0].value if spans else None


def _targets_of(refs: list[Ref]) -> list[Item]:
    out: list[Item] = []
    for ref in refs:
        for item in ref.items:
            if item not in out:
                out.append(item)
    return out


@dataclass
class Reading:
    frames: list[Frame]
    unknown: list[str]  # clauses nothing was read from


def _blank_refs(text: str, refs: list[Ref]) -> str:
    out = list(text)
    for r in refs:
        out[r.start : r.end] = " " * (r.end - r.start)
    return "".join(out)


def _blank_quotes(text: str) -> str:
    return re.sub(r"[\"“「『][^\"”」』]*[\"”」』]", lambda m: " " * len(m.group(0)), text)


LAST_FOR = re.compile(
    r"\blast(?=\s+(?:for\s+)?(?:about\s+|around\s+|like\s+|only\s+|just\s+)?(?:(?:\d+(?:\.\d+)?|one|two|three|four|"
    r"five|six|seven|eight|nine|ten|a\s+few|a\s+couple(?:\s+of)?)\s*(?:s|secs?|seconds?|minutes?)\b|longer\b|shorter\b|"
    r"a\s+(?:bit|little)\s+(?:longer|shorter)))",
    re.I,
)
# a clause that gives the reason for the request before it ("...，现在显得有点拖沓", "cuz it feels slow")
REASON = (
    r"显得|感觉|觉得|现在有点|因为|看着|\bseems?\b|\bfeels?\b|\bbecause\b|\bcuz\b|\bcoz\b|\bsince\b|"
    r"\blooks?\b|\bit'?s\s+(?:kind\s+of\s+|a\s+bit\s+|too\s+)?(?:slow|draggy|boring|long|fast|rushed)"
)


PLACE_END_WORDS = r"\b(?:end|finish|close|wrap\s+up|start|open|begin|kick\s+off)\s+(?:it\s+)?(?:on|with)\b"


def read_clause(clause: str, original: str, sc: Scene, previous: list[Item]) -> list[Frame]:
    """The frames of one clause (usually one)."""
    clause = LAST_FOR.sub("stay", clause)  # same length: reference spans hold
    instead = re.search(r"\s+(?:instead\s+of|rather\s+than|not)\s+(?:the\s+)?\S.*$", clause, re.I)
    if instead and _has(PLACE_END_WORDS, clause[: instead.start()]):
        clause = clause[: instead.start()]
    if _has(r"^(?:不要|别|不用|别用)[^，。,]{1,10}(?:结尾|开头|收尾|开场|打头)$", clause):
        return []  # "不要烟花结尾": what the place asked before it replaces, not a removal
    end_is = re.match(r"^(?:结尾|最后|收尾|结束|开头|开场|第一个)(?:换成|改成|改为|用|放|是)(.+)$", clause)
    if end_is:  # "结尾换成西湖那张": that one goes there
        spot = "最前" if clause.startswith(("开头", "开场", "第一个")) else "最后"
        clause = f"{end_is.group(1)}放到{spot}"
    refs = find_refs(_blank_quotes(clause), sc, previous)
    if any(r.how not in ("class", "pronoun") for r in refs):
        # "第二张到第四张，每张放4秒", "the first 3 photos, 2 s each": the class word distributes
        refs = [r for r in refs if r.how != "class"]
    if any(r.how == "named" and any(i.index < 0 for i in r.items) for r in refs):
        refs = [r for r in refs if r.how != "new"]  # "the new pizza photo": that one, not every new one
    spans = durations(clause)
    if refs and all(r.how == "pronoun" for r in refs) and spans and spans[0].value > VIDEO_LENGTH_S:
        refs = []  # "...and make it 20 seconds": a video's length, not one photo's
    targets = _targets_of(refs)
    mood = mood_of(clause)
    music_word = (
        _has(MUSIC, clause)
        or bool(mood and _has(MUSIC_REPLACE, clause) and not targets)
        or (
            (_has(FADE_IN, clause) or _has(FADE_OUT, clause)) and not _has(VIDEO_FADE, clause) and not targets
        )
    )
    frames: list[Frame] = []

    def frame(intent: str, **values: Any) -> Frame:
        f = Frame(intent, targets, values, refs, clause)
        frames.append(f)
        return f

    if _has(REDO, clause):
        return [frame("redo")]
    if (
        _has(UNDO, clause)
        and not durations(clause)
        and not _has(r"改回\s*\d|改回[一二三四五六七八九十两]", clause)
    ):
        steps = len(re.findall(r"\bundo\b|撤销|撤回", clause))
        n = re.search(r"(\d+|两|二|三|四|五|twice|two|three)\s*(?:steps|changes|times|步|次)?", clause)
        if n and steps <= 1:
            word = n.group(1)
            steps = 2 if word in ("两", "二", "twice", "two") else int(number_value(word) or 1)
        return [frame("undo", steps=max(1, steps))]
    if music_word and (not targets or _has(MUSIC_REMOVE, clause)):
        _music(clause, frame)
        if frames:
            for f in frames:
                f.targets = []
            return frames
    if _has(TITLE, clause):
        if _has(
            (
                r"\b(?:move|put|place)\b.*\b(?:top|bottom|center|centre|middle|left|right|corner)\b|(?:放到|移到|"
                r"挪到|放在)(?:顶部|底部|中间|上面|下面|左|右)|位置"
            ),
            clause,
        ):
            return []  # where the title sits: the phrase reader's move_text
        return [frame("title", text=_title_text(clause, original))]
    if (
        targets
        and all(t.kind == "clip" for t in targets if t.index >= 0)
        and _has((r"\bvolume\b|\bsound\b|\bmute\b|音量|声音|静音"), clause)
    ):
        pct = percent(clause)
        mute = _has(
            r"\bmute\b|\bsilent\b|\bsilence\b|\bsound\s+off\b|\boff\b|\bno\s+sound\b"
            r"|静音|没声|关掉|关了|去掉声音|不要声音",
            clause,
        )
        if pct is not None or mute:
            return [frame("clip_volume", volume=0.0 if mute else min(2.0, pct or 0))]
    if (
        _has(VIDEO_FADE, clause)
        and not (_has(TRANSITION, clause) and targets)
        and not _has(r"\bbetween\b|transitions|之间|转场|过渡", clause)
    ):
        fin = _has(
            r"fade\s+in|from\s+black|开头|开始|渐入|淡入|beginning|\bstart\b|渐入渐出|淡入淡出|都加", clause
        )
        fout = _has(r"fade\s+out|to\s+black|into\s+black|结尾|最后|渐出|淡出|\bend\b|ending|都加", clause)
        if targets and not _has(r"beginning|\bstart\b|\bend\b|开头|结尾", clause):
            return [frame("seg", transition="fade_black")]
        return [frame("video_fade", fade_in=fin or not fout, fade_out=fout)]
    caption = _caption_text(clause, original, refs)
    adding = _has(r"\b(?:add|put|write|show|with)\b|加|写|放|配", clause) and not _has(
        r"\b(?:change|edit|remove|delete|move)\b|改|删|去掉|移", clause
    )
    if caption and not targets and sc.items and adding and not _has(TITLE, clause):
        where = _place(clause, refs, sc).get("position")
        if where == -1:  # "在视频最后加上字幕…": an end card over the last seconds
            return [frame("end_card", text=caption)]
        if where == 1:  # "text at the start": over the first photo
            targets = [sc.items[0]]
    if caption and targets and not _has(TITLE, clause):
        return [frame("caption", text=caption)]
    if _has(REVERSE, clause):
        return [frame("reverse")]
    if _has(SHUFFLE, clause):
        return [frame("shuffle")]
    if _has(HOLD, clause) and targets and not durations(clause):
        return [frame("hold")]
    if _has(KEEP_ONLY, clause) and targets and not durations(clause):
        return [frame("keep")]
    if _has(THE_REST, clause) and _has(REMOVE, clause):
        return [frame("keep_rest")]
    seg = Frame("seg", targets, {}, refs, clause)
    _seg_attrs(clause, seg, sc)
    styled = any(k in seg.values for k in ("motion", "fit", "transition", "transition_s"))
    uploads = [t for t in targets if t.index < 0]
    if not styled and _has(REPLACE, clause) and targets and not durations(clause):
        return [frame("replace")]
    if not styled and _has(SWAP, clause) and len(targets) >= 1 and not _has(TRANSITION, clause):
        return [frame("swap")]
    if uploads and (
        _has(ADD, clause)
        or _has(MOVE, clause)
        or _place(clause, refs, sc)
        or _has(r"\bthrow\b|\bin\b", clause)
    ):
        f = frame("add")
        f.values.update(_place(clause, refs, sc))
        for key in ("seconds", "motion", "fit", "transition", "transition_s"):
            if key in seg.values:
                f.values[key] = seg.values[key]
        return frames
    if (
        not styled
        and targets
        and _has(REMOVE, clause)
        and not _has(
            r"\b(?:lose|remove|drop|kill|ditch|get\s+rid\s+of|stop|turn\s+off|take\s+(?:off|out))\s+"
            r"(?:the\s+|all\s+the\s+|that\s+)?(?:zoom\w*|motion|movement|ken\s+burns|pan\w*|"
            r"transitions?|fade|"
            r"caption|text|crop\w*|black\s+bars|effect)",
            clause,
        )
        and not _has(
            r"\bwithout\s+(?:cutting|cropping)|不要裁|别裁|不要放大|不要动|不要缩|不要截|动效|转场|过渡|裁切|裁剪",
            clause,
        )
    ):
        on = [t for t in targets if t.index >= 0]
        return [frame("remove")] if on else [frame("noop")]
    place = _place(clause, refs, sc)
    outside = _blank_refs(clause, refs)
    verbless = bool(
        place
        and not seg.values
        and not durations(clause)
        and ("after" in place or "before" in place or _place(outside, [], sc))
    )
    if not styled and targets and place and (_has(MOVE, clause) or verbless):
        moved = [t for t in targets if not any(t in r.items for r in refs if r.anchor_side)]
        if not moved and ("after" in place or "before" in place):
            return []  # "烟花后头": only where; it belongs to the clause before it
        f = frame("move", **place)
        f.targets = moved or targets
        return frames
    # attributes of segments (or of every segment when none is named)
    if seg.values:
        frames.append(seg)
        return frames
    # the whole video: length, pace, shape
    for aspect, pattern in ASPECTS:
        if _has(pattern, clause):
            frame("aspect", aspect=aspect)
            break
    length = _length(clause, sc)
    if length is not None and not targets:
        frame("length", explicit=_has(STRONG_LENGTH, clause), **length)
    elif not frames and not targets and (_has(LONGER, clause) or _has(SHORTER, clause)) and not music_word:
        frame("pace", factor=1.33 if _has(LONGER, clause) and not _has(SHORTER, clause) else 0.75)
    if music_word and not frames:
        _music(clause, frame)
    return frames


STRONG_LENGTH = (
    r"\b(?:max|maximum|tops|at\s+most)\b|最多|顶多|\b(?:whole|entire|total|overall|length|long)\b|\bthe\s+video\b|\bvideo\b|\bit\s+(?:down\s+)?to\b|"
    r"\bunder\b|\bat\s+least\b|总时长|总长|整个|整体|视频|时长|压到|拉长|缩短|至少"
)


def _music(clause: str, frame: Any) -> None:
    if _has(MUSIC_REMOVE, clause):
        frame("music", remove=True)
        return
    values: dict[str, Any] = {}
    mood = mood_of(clause)
    if mood and (
        _has(MUSIC_REPLACE, clause)
        or _has((r"something|some|a\s+\w+\s+(?:song|track)|一首|点的|一点的|那种"), clause)
    ):
        values["mood"] = mood
    pct = percent(clause)
    if pct is not None:
        values["volume"] = pct
    elif _has(r"\bhalf\b|一半", clause) and not _has(
        FADE_IN + "|" + FADE_OUT + "|" + START_AT + "|" + HALFWAY, clause
    ):
        values["volume_factor"] = 0.5
    elif _has(VOLUME_TOO_LOUD, clause) and not _has(FADE_IN + "|" + FADE_OUT + "|" + START_AT, clause):
        values["volume_factor"] = 0.75 if _has(r"slightly|a\s+(?:little|bit|touch)|稍微", clause) else 0.6
    elif _has(VOLUME_TOO_SOFT, clause):
        values["volume_factor"] = 1.4
    elif _has(VOLUME_DOWN, clause) and not _has(FADE_IN + "|" + FADE_OUT + "|" + START_AT, clause):
        values["volume_factor"] = (
            0.75 if _has(r"slightly|a\s+(?:little|bit|touch)|稍微|一点|点", clause) else 0.6
        )
    elif _has(VOLUME_UP, clause):
        values["volume_factor"] = 1.4
    spans = durations(clause)
    if _has(START_AT, clause) or _has(HALFWAY, clause):
        sec = spans[-1].value if spans else None
        if sec is not None:
            values["start"] = sec
        elif _has(HALFWAY, clause):  # "start halfway through the song", "从歌的一半开始"
            values["start_fraction"] = 0.5
    elif _has(NO_FADE, clause):  # "remove the fade-out", "no fade at the end", "不要淡入"
        fin, fout = _has(FADE_IN, clause), _has(FADE_OUT + r"|\bend\b|结尾", clause)
        if fin or not fout:
            values["fade_in"] = 0.0
        if fout or not fin:
            values["fade_out"] = 0.0
    else:
        if _has(FADE_IN, clause):
            values["fade_in"] = spans[0].value if spans else 2.0
        if _has(FADE_OUT, clause):
            fin = _has(FADE_IN, clause)
            values["fade_out"] = (
                spans[-1].value
                if spans and (not fin or len(spans) > 1)
                else (values.get("fade_in", 3.0) if fin and spans else 4.0)
            )
            if _has(r"结尾的?.*也改成|也改成|as well", clause) and fin:
                values["fade_out"] = spans[-1].value if spans else values["fade_in"]
    if _has(r"as\s+long\s+as\s+the\s+(?:song|music)|歌多长|跟歌一样长|和歌一样长|整首", clause):
        frame("length", to_song=True)
        return
    if not values and _has(MUSIC_REPLACE, clause) and mood:
        values["mood"] = mood
    if values:
        frame("music", **values)


_TITLE_JUNK = re.compile(r"^(?:at|in|on)?\s*(?:the\s+)?(?:start|beginning|top|end)$|^(?:a|an|the|it|to)$", I)


def _title_text(clause: str, original: str) -> Any:
    if _has(
        (
            r"\b(?:remove|delete|drop|no|without|get\s+rid|lose|kill)\b.*title|title.*\b(?:off|gone)\b|"
            r"不要.*标题|"
            r"标题.*(?:不要|删|去掉)|(?:删|去掉|取消).*标题"
        ),
        clause,
    ):
        return {"remove": True}
    q = _as_typed(quoted(clause), original) or quoted(original)
    if q:
        return {"text": q}
    fixed = re.search(
        r"(\d{4})[\s,，]*(?:not|instead\s+of|而不是|不是)\s*(\d{4})|(?:it\s*is|it'?s|should\s+be|改成|是)\s*(\d{4})"
        r"[^\d]{0,12}(?:not|instead\s+of|不是)\s*(\d{4})",
        original.lower(),
    )
    if fixed:  # "标题写错了 是2025不是2026", "its 2025 not 2026"
        new, old = (fixed.group(1), fixed.group(2)) if fixed.group(1) else (fixed.group(3), fixed.group(4))
        return {"replace": (old, new)}
    zh = re.search(
        r"(?:标题|题目)\s*(?:改一下|换一下|改改|换换)?[\s,，]*(?:改成|改为|换成|设为|设成|叫做|叫|写上|写|是|为|：|:)\s*"
        r"([^，。,；;！!？?\s][^，。,；;！!？?]*)"
        r"|(?:加个|加一个|打个|来个|配个)(?:大)?标题\s*(?:叫做|叫|是|为)?\s*[:：]?\s*([^，。,；;！!？?\s][^，。,；;！!？?]*)",
        original,
    )
    if zh and not _has(r"标题(?:里|中)", original):
        return {"text": _one_clause(zh.group(1) or zh.group(2))}
    whole = original.lower()
    m = re.search(
        (
            r"(\d{4})[\s,，]*(?:not|instead\s+of|而不是|不是)\s*(\d{4})|(?:it\s+is|should\s+be|改成|"
            r"是)\s*(\d{4})[^\d]{0,12}(?:not|instead\s+of|不是)\s*(\d{4})"
        ),
        whole,
    )
    if m:
        new, old = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        return {"replace": (old, new)}
    m = re.search(r"标题(?:里|中)(?:那个|的)?\s*(\S+?)\s*(?:改成|换成|改为)\s*([^，。,\s]+)", clause)
    if m:
        return {"replace": (m.group(1), m.group(2))}
    m = re.search(r"\bnames?\b[^:：,，]*(?:[:：,，]|\bis\b)\s*([^.!?]+)", original, I)
    if m:
        return {"text": m.group(1).strip()}
    typed = _strip_original_case(clause, original)
    # The word "title" anchors the text first: "with the title Summer" is "Summer", not "the title Summer".
    m = re.search(
        r"(?:title|heading)\s*(?:saying|that\s+says|to|as|of|reading|called|:|-|—)?\s*[:：]?\s*(?P<t>.+)$|"
        r"(?:标题|题目)\s*(?:改成|改为|换成|设为|叫|写|是|为|：|:)?\s*(?P<z>[^，。,]+)$|"
        r"(?:showing|with)\s+(?:my\s+\w+'?s\s+)?name,?\s*(?P<n>[a-z][a-z '&]+)$",
        _strip_original_case(clause, original),
        I,
    ) or re.search(r"(?:showing|with)\s+(?:my\s+\w+'?s\s+name,?\s*)?(?P<n>[a-z][a-z '&]+)$", typed, I)
    if m:
        groups = m.groupdict()
        text = (groups.get("t") or groups.get("z") or groups.get("n") or "").strip(" :：-")
        text = re.sub(r"^(?:should\s+)?(?:say|read|be)\s+", "", text, flags=I).strip()
        text = re.sub(
            (r"\s*(?:at\s+the\s+(?:start|beginning|end)|up\s+front|please)$"), "", text, flags=I
        ).strip()
        if text and not _TITLE_JUNK.match(text):
            return {"text": text}
    m = re.search(
        r"(?:标题|题目)\s*(?:改成|改为|换成|设为|叫|写|是|为|：|:)?\s*([^，。,；;！!？?\s][^，。,；;！!？?]*)",
        original,
    )
    if m and not _TITLE_JUNK.match(m.group(1).strip()):
        return {"text": m.group(1).strip()}
    return {"add": True}


def _one_clause(text: str) -> str:
    """Words to show, up to where the next request starts ("生日快乐宝贝 然后那张别裁了")."""
    cut = re.split(
        r"\s+(?=然后|再|顺便|并且|另外|还有|同时|and\b|then\b)|\s+(?=\S*(?:那张|那段|音乐|bgm|转场))", text
    )
    return cut[0].strip()


def _strip_original_case(clause: str, original: str) -> str:
    """The clause as the user typed it (case kept) when it can be found in the message."""
    idx = original.lower().find(clause[:12]) if clause else -1
    if idx >= 0:
        return original[idx : idx + len(clause)]
    return clause


def _caption_text(clause: str, original: str, refs: list[Ref]) -> str | None:
    if not _has(CAPTION, clause) and not quoted(original):
        return None
    if _has(TITLE, clause):
        return None
    q = quoted(_strip_original_case(clause, original)) or (
        quoted(original) if _has(CAPTION, clause) else None
    )
    if q:
        return q
    if not _has(CAPTION, clause):
        return None
    colon = re.search(r"(?:字幕|文字|字|caption|text|words?)\s*[:：]\s*([^。.\n]+)", original, I)
    if colon and _has(r"[\u4e00-\u9fff]", clause):
        return colon.group(1).strip(" \"'“”")
    zh = re.search(
        r"(?:配个字幕|加个字幕|配字幕|加字幕|加一行字幕|加行字幕|字幕|写个|写上|配个字|配字|加一行字|加行字|加(?:个|几个|一句|句)?(?:字|话)|加文字|打(?:个|几个)?字|"
        r"文字)\s*[:：]?\s*([^，。,；;！!？?\s][^，。,；;！!？?]*)",
        original,
    )
    if zh and _has(r"[\u4e00-\u9fff]", clause):
        text = _one_clause(zh.group(1))
        if text and not re.fullmatch(r"(?:幕|吧|呗|啊|一下)+", text):
            return re.sub(r"^(?:叫|是|为)\s*", "", text)
    typed = _strip_original_case(clause, original)
    m = re.search(
        r"(?:caption|label|subtitle|text|words?)\s*(?:on\s+the\s+\S+(?:\s+\S+)?\s*)?[:：]\s*(?P<a>.+)$"
        r"|write\s+(?P<b>.+?)\s+on\s+(?:the\s+)?\S+"
        r"|(?:写个|写上|写|配个字幕|配个字|配字|加一行字|加字|字幕|文字)\s*[:：]?\s*(?P<c>[^，。,]+)$",
        typed,
        I,
    )
    if m:
        text = (m.group("a") or m.group("b") or m.group("c") or "").strip(" :：\"'")
        return text or None
    # "cake pic caption happy bday Mia and keep it up 5 sec": the words after the noun, as typed
    m = re.search(
        r"\b(?:caption|label|subtitle)(?:\s+(?:it|that|saying|that\s+says|reading|with|as|to\s+say))?\s+"
        r"(?P<t>.+?)(?=\s+(?:and|then|&|\+)\s+(?:keep|make|set|put|add|use|move|give|change|turn|have|hold|"
        r"let|zoom|pan|fade|slow|speed)\b|\s+on\s+(?:the|it|that|this)\b|[,;.!?]|$)",
        original,
        I,
    )
    if m and not re.fullmatch(
        r"(?:it|that|this|the|a|an|please|pls|too|here|there)", m.group("t").strip(), I
    ):
        return m.group("t").strip(" :：\"'")
    return None


def _place(clause: str, refs: list[Ref], sc: Scene) -> dict[str, Any]:
    """Where something goes: {"position": 1 | -1} or {"after"/"before": Item}."""
    m = re.search(
        r"\b(?:right\s+|just\s+|directly\s+|immediately\s+)?(after|before|behind|ahead\s+of|"
        r"in\s+front\s+of|following|next\s+to)\s+(?:the\s+)?"
        r"|(?:(?:^|\s)(?=[^，。,\s]{1,8}(?:后面|前面|后头|前头|后边|前边|之后|之前)$)|插到|放到|放在|挪到|移到|加到|接在|插在|接到|排到|插在|丢到|扔到|放|到)(?P<zh>(?!最)[^，。,]{1,10}?)(?:的)?(?<!最)(后面|前面|之后|之前|后边|前边|"
        r"后头|前头|后)",
        clause,
        I,
    )
    if m:
        side_word = (m.group(1) or m.group(3) or "").lower()
        side = (
            "before"
            if side_word in ("before", "ahead of", "in front of", "前面", "之前", "前边")
            else "after"
        )
        pos = m.end() if m.group(1) else m.start("zh")
        anchors = [r for r in refs if (r.start >= pos if m.group(1) else r.start >= pos and r.end <= m.end())]
        if m.group(1) is None:  # "放到猫咪后面", "生日那张丢最后 烟花后头": the name right before the side
            anchors = [r for r in refs if r.start >= m.start("zh") and r.end <= m.start(3) + 1][-1:]
        if anchors:
            anchor = anchors[0]
            anchor.anchor_side = side
            items = [i for i in anchor.items if i.index >= 0]
            if items:
                return {side: items[-1] if side == "after" else items[0]}
    at = re.search(
        r"(?:移|挪|放|排|插)到第\s*(\d+|[一二三四五六七八九十]+)\s*(?:个|位|张)?(?![^，。,\s]{0,3}(?:后|前))",
        clause,
    )
    if at and number_value(at.group(1)):
        for r in refs:  # "第三个" here is a place, not a photo to move
            if r.start >= at.start() and r.end <= at.end() + 1:
                r.anchor_side = "at"
        return {"position": int(number_value(at.group(1)) or 1)}
    # "the first 3 photos", "the last two": a set of photos, not a place
    clause = _blank_refs(
        clause,
        [
            r
            for r in refs
            if re.match(r"(?:the\s+)?(?:first|last|final)\s+\w+\s+\w", clause[r.start : r.end], I)
        ],
    )
    one = r"(?:by\s+)?(?:one|1|a)\s+(?:spot|place|position|slot)"
    if _has(
        rf"(?:later|back|down|right|behind)\s+{one}|{one}\s+(?:later|back|down|right)|down\s+one\b"
        r"|往后(?:挪|移|放)?一(?:个|位)|后移一(?:个|位)|往后挪一下",
        clause,
    ):
        return {"step": 1}
    if _has(
        rf"(?:forward|earlier|up|ahead|left)\s+{one}|{one}\s+(?:earlier|forward|up|ahead|left)|up\s+one\b"
        r"|往前(?:挪|移|放)?一(?:个|位)|前移一(?:个|位)|往前挪一下",
        clause,
    ):
        return {"step": -1}
    if _has(
        (
            r"\b(?:very\s+)?(?:beginning|start|front|first|1st)\b|\bopen(?:s)?\s+(?:with|on)\b|"
            r"\bstart\s+with\b|\bopens?\s+(?:up\s+)?the\s+(?:video|show|slideshow|montage|reel|thing)\b|"
            r"\b(?:kick|lead)s?\s+(?:it\s+)?off\b|\bbegin\s+with\b|\bgo\s+first\b|\bintro\b|\bopening\b|\bopener\b|最前|最开始|开头|第一个|第一张|开场|片头|第一"
        ),
        clause,
    ):
        return {"position": 1}
    if _has(
        (
            r"\b(?:very\s+)?end\b|\blast\b|\bfinal\b|\boutro\b|\bcloser\b|\bclose\s+(?:with|on)\b|"
            r"\bfinish\s+with\b|"
            r"\bends?\s+(?:with|on)\b|最后|末尾|结尾|收尾"
        ),
        clause,
    ):
        return {"position": -1}
    if _has(r"\b(?:in|to)\s+the\s+middle\b|正中间|中间", clause):
        return {"position": "middle"}
    m = re.search(
        r"\b(?:position|spot|place|slot)\s+(\d+)|第\s*(\d+|[一二三四五六七八九十]+)\s*(?:位|个位置)",
        clause,
        I,
    )
    if m:
        n = number_value(m.group(1) or m.group(2))
        if n:
            return {"position": int(n)}
    return {}


# fill the frame (crop what sticks out): "fill the whole screen", "no black bars", "不要黑边"
COVER = (
    r"\bfill\s+(?:up\s+)?(?:the\s+)?(?:whole\s+|entire\s+|full\s+)?(?:screen|frame)|\b(?:no|without|lose|remove|"
    r"get\s+rid\s+of)\s+(?:the\s+|any\s+)?(?:black\s+)?bars|铺满|填满|满屏|(?:不要|去掉|不留|别留|没有)黑边"
)
MOTIONS: list[tuple[str, str]] = [
    (
        "none",
        (
            r"\b(?:lose|remove|drop|kill|ditch|get\s+rid\s+of|stop)\s+(?:the\s+)?(?:zoom\w*|motion|movement)|"
            r"\b(?:don'?t|do\s+not|never|stop)\s+(?:zoom|pan|move)\w*|别(?:再)?(?:放大|缩小|推近|拉远|推|拉)|"
            r"不要(?:再)?(?:放大|缩小|推近|拉远)|"
            r"\b(?:make|keep|leave|have)\s+(?:\w+\s+){0,3}(?:stay\s+)?still\b|"
            r"\bno\s+(?:motion|zoom(?:ing)?|movement|animation|ken\s+burns|effects?)\b|\b(?:turn|"
            r"switch)\s+(?:off|em\s+off)|\boff\b|\bstay\s+still|\bkeep\s+(?:them\s+|it\s+)?still|"
            r"\bstill\s+(?:photos|images)|\bbe\s+still\b|\bstatic\b|\bstop\s+(?:moving|zooming)|\bdizzy\b|"
            r"\b(?:motion\s+)?sick\b|\bnause\w*|头晕|眼晕|晕|静止|"
            r"别动|不要动|别晃|不要晃|定住|不动|去掉动效|动效去掉|不要.{0,3}动效|别.{0,2}动来动去|取消动效"
        ),
    ),
    ("zoom_out", r"zoom(?:s|ed|ing)?\s+out|\bout\s+than\s+in|缩小|拉远|往外拉|由近到远"),
    ("zoom_in", r"zoom(?:s|ed|ing)?\s+in\b|推近|放大|拉近|由远到近"),
    ("pan_right", r"left\s+to\s+right|pan(?:s|ning)?\s+(?:to\s+the\s+)?right|向右|往右|从左到右"),
    ("pan_left", r"right\s+to\s+left|pan(?:s|ning)?\s+(?:to\s+the\s+)?left|向左|往左|从右到左|左右平移|左右"),
    ("pan_up", r"pan(?:s|ning)?\s+up|bottom\s+to\s+top|向上|往上|从下到上"),
    ("pan_down", r"pan(?:s|ning)?\s+down|top\s+to\s+bottom|向下|往下|从上到下|上下平移"),
    ("pan_right", r"\bpan(?:s|ning)?\b|\bpan\s+across|平移"),
    ("auto", r"ken\s+burns|\bmotion\b|推拉|动感"),
]
TRANSITIONS: list[tuple[str, str]] = [
    (
        "none",
        (
            r"\bno\s+(?:fancy\s+)?transitions?|\bhard\s+cuts?|\bstraight\s+cuts?|\bjump\s+cuts?|"
            r"\bcut\s+straight|\bjust\s+cut\b|\bremove\s+(?:all\s+)?(?:the\s+)?transitions|"
            r"\bwithout\s+(?:any\s+)?transitions|\bplain\s+cuts?|不要转场|无转场|去掉转场|取消转场|硬切|直接切|直接跳"
        ),
    ),
    (
        "fade_black",
        r"fade\s+(?:through|to|via|from|in\s+from)\s+black|dip\s+to\s+black|black\s+fade|黑场|黑屏",
    ),
    ("fade_white", r"fade\s+(?:through|to|via)\s+white|white\s+flash|flash|闪白|白场"),
    ("dissolve", r"\bdissolve|溶解"),
    ("wipe_left", r"\bwipe|擦除|擦"),
    ("slide_left", r"\bslide|\bsliding|滑"),
    ("push_left", r"\bpush|推移|推入"),
    ("circle", r"\bcircle|\biris|圆形"),
    ("crossfade", r"cross\s?-?fade|交叉淡|淡入淡出|叠化|crossfade|\bfade\b"),
]


def _seg_attrs(clause: str, f: Frame, sc: Scene) -> None:
    """Per-segment attributes the clause sets: duration, motion, fit, transition (into)."""
    values = f.values
    transition_talk = _has(TRANSITION, clause)
    if transition_talk:
        for name, pattern in TRANSITIONS:
            if _has(pattern, clause):
                if (
                    name == "crossfade"
                    and _has(r"\bfade\s+(?:in|out)\b", clause)
                    and not _has(r"cross", clause)
                ):
                    continue
                values["transition"] = name
                break
        if _has(r"往右|向右|to\s+the\s+right|rightward", clause) and values.get("transition", "").endswith(
            "_left"
        ):
            values["transition"] = values["transition"].replace("_left", "_right")
        secs = seconds_in(clause)
        if secs is not None and secs <= 5 and values.get("transition") != "none":
            values["transition_s"] = secs
        elif _has(r"quarter\s+of\s+a\s+second", clause):
            values["transition_s"] = 0.25
        elif _has(r"full\s+second|一秒", clause):
            values["transition_s"] = 1.0
        elif (
            _has(
                (
                    r"snapp|quick|fast|short|sluggish|slow\s+transitions?|(?:too|kinda|a\s+bit|so)\s+slow|"
                    r"利索|干脆|快|短|太慢|太拖|有点慢|慢了|好慢|很慢|拖沓"
                ),
                clause,
            )
            and values.get("transition") != "none"
        ):
            values["transition_s"] = 0.25
        elif (
            _has(r"longer|slower|smoother|gentler|慢一点|长一点|更慢|慢点|长点|柔和", clause)
            and values.get("transition") != "none"
        ):
            values["transition_s"] = 1.0
        if values:
            return
    for name, pattern in MOTIONS:
        if _has(pattern, clause) and (
            _has(MOTION, clause) or (name in ("none",) and _has(r"zoom|motion|动效|晃|动", clause))
        ):
            values["motion"] = name
            break
    if (
        f.targets
        and all(t.kind == "clip" for t in f.targets)
        and _has(
            r"完整(?:播放|放)|放完|播完|play\s+(?:the\s+|its\s+)?(?:whole|full|entire)"
            r"|full\s+(?:length|\d+\s+seconds)|all\s+of\s+it",
            clause,
        )
    ):
        values["full"] = True
        return
    if _has(FIT, clause):
        if _has(r"blur|模糊", clause):
            values["fit"] = "blur"
        elif _has(COVER, clause):
            values["fit"] = "cover"
        else:
            values["fit"] = "contain"
    mult = re.search(r"(\d+(?:\.\d+)?)\s*x\b|\btwice\b|\bdouble\b|翻倍|两倍|\bhalf\b|一半|减半", clause, IA)
    if mult and f.targets and not durations(clause) and not values:
        word = mult.group(0).lower()
        values["factor"] = (
            float(mult.group(1)) if mult.group(1) else (0.5 if word in ("half", "一半", "减半") else 2.0)
        )
        return
    lengths = [s for s in durations(clause) if s.value > 0]
    if lengths and (f.targets or _has(r"each|every|per|apiece|都|每张|每个|每", clause)):
        # "another 2 s", "2 more seconds", "多放两秒", "longer by 1": added; "more time, like 5s": set
        if _has(
            r"(?:another|extra|再多|多(?:停留|显示|放|给|停|留|待|呆)(?:个|了|上)?|加)\s*"
            r"(?:\d|[一二两三四五六七八九十半]|a\s+(?:few|couple|second))"
            r"|\d+(?:\.\d+)?\s*(?:s|secs?|seconds?)?\s+(?:more|longer|extra)\b|(?:longer|more)\s+by",
            clause,
        ) and not _has(r"改成|设为|to\s+\d", clause):
            values["delta"] = lengths[0].value
        else:
            values["seconds"] = lengths[0].value
    elif (
        f.targets
        and not values
        and (
            bare := [
                b
                for b in bare_numbers(_blank_refs(clause, f.refs))  # "photos 2 and 3": places, not seconds
                if 0.3 <= b.value <= 60 and clause[b.start].isdigit()
            ]
        )
        and (
            _has(LONGER + "|" + SHORTER + r"|\btry\b|\bmake\s+(?:it|them)\b|改成|改为|换成|设为", clause)
            or re.search(r"^\D*\d+(?:\.\d+)?\s*$", _blank_refs(clause, f.refs))  # "and the cat pic 5"
        )
    ):  # "too fast, try 2.5": a number with no unit, said of a photo's time
        values["seconds"] = bare[-1].value
    elif f.targets and not values and (_has(LONGER, clause) or _has(SHORTER, clause)):
        values["factor"] = 1.5 if _has(LONGER, clause) and not _has(SHORTER, clause) else 0.67
    elif f.targets and _has(r"不要截|别截|完整放完|play\s+(?:the\s+)?whole|full\s+length|整段", clause):
        values["full"] = True


MAX_LENGTH = re.compile(
    r"(\d+(?:\.\d+)?)\s*(?:s|secs?|seconds?)?\s*(?:max(?:imum)?|tops|at\s+most|or\s+less|or\s+under)\b"
    r"|\b(?:max(?:imum)?|at\s+most|no\s+(?:more|longer)\s+than|最多|顶多|不超过|最长)\s*(\d+(?:\.\d+)?)",
    re.I,
)


def _length(clause: str, sc: Scene) -> dict[str, Any] | None:
    bound = MAX_LENGTH.search(clause)
    if bound and not _has(r"\beach\b|\bevery\b|\bper\b|每", clause):
        return {"seconds": float(bound.group(1) or bound.group(2))}
    if _has(r"twice\s+as\s+long|\bdouble\b|两倍|x\s*2\b|×\s*2|翻倍|加倍", clause):
        return {"factor": 2.0}
    if _has(r"half\s+as\s+long|\bhalve\b|一半", clause):
        return {"factor": 0.5}
    if _has(r"as\s+long\s+as\s+the\s+(?:song|music)|歌多长|跟歌一样长|整首歌", clause):
        return {"to_song": True}
    spans = durations(clause)
    if not spans:
        return None
    value = spans[-1].value
    if _has(r"\bunder\b|\bless\s+than\b|\bshorter\s+than\b|以内|不到|不超过", clause):
        return {"seconds": max(1.0, value - 1)}
    if _has(r"at\s+least|more\s+than|longer\s+than|至少|起码|以上", clause):
        return {"seconds": value + 1 if value < 3600 else value}
    if _has(r"\beach\b|\bevery\b|\bper\b|每|都", clause):
        return None
    return {"seconds": value}


# "make it 20 seconds" after naming a photo: a length that long is the video's, not one photo's
VIDEO_LENGTH_S = 10.0
_WHOLE_WORDS = (
    r"\b(?:all|every|each)\s+(?:the\s+|of\s+the\s+|of\s+my\s+)?(?:photos|pics|pictures|segments|"
    r"transitions|of\s+them)\b"
    r"|\beverything\b|\bevery\s+\w+|\beach\s+\w+|所有|全部|都|每|整个|整体"
)


def _inherit(
    got: list[Frame], frames: list[Frame], clause: str, original: str, sc: Scene, carry: list[Item]
) -> list[Frame]:
    """A clause that goes on about what the one before it named: "猫那张不要放大的动效了，让它静止就好",
    "音乐跳过前奏，从第15秒开始播放", "...the music is too abrupt. Make it about 4 seconds"."""
    if not frames:
        return got
    last = frames[-1]
    if (
        last.intent == "video_fade"
        and all(f.intent == "music" and set(f.values) <= {"fade_in", "fade_out"} for f in got)
        and got
        and not _has(MUSIC, clause)
    ):
        return []  # "开头结尾都加个黑场 渐入渐出那种": how the black fades go, not the music
    if (
        last.intent == "seg"
        and not last.targets
        and ("transition_s" in last.values or "transition" in last.values)
        and len(got) == 1
        and got[0].intent == "pace"
    ):
        last.values["transition_s"] = 0.25 if got[0].values["factor"] < 1 else 1.0
        return []
    follows_music = last.intent == "music" and len(got) <= 1 and not (got and got[0].intent == "music")
    vague = not got or (got[0].intent in ("length", "pace") and not got[0].values.get("explicit"))
    about_music = _has(
        START_AT + "|" + FADE_IN + "|" + FADE_OUT + "|" + VOLUME_DOWN + "|" + VOLUME_UP, clause
    )
    if follows_music and vague and (about_music or (got and got[0].intent == "length")):
        again = read_clause("music " + clause, original, sc, carry)
        if again and again[0].intent == "music" and again[0].values:
            return again
        if got and got[0].intent == "length" and ("fade_out" in last.values or "fade_in" in last.values):
            key = "fade_out" if "fade_out" in last.values else "fade_in"
            last.values[key] = got[0].values.get("seconds", last.values[key])
            return []
    if not last.targets or last.intent not in ("seg", "caption", "add", "move", "swap"):
        return got
    out = []
    for f in got:
        if f.intent == "seg" and not f.targets and not _has(_WHOLE_WORDS, clause):
            f.targets = list(last.targets) if last.intent != "swap" else [last.targets[-1]]
        elif f.intent == "length" and not f.values.get("explicit") and "seconds" in f.values:
            if f.values["seconds"] <= VIDEO_LENGTH_S or not _has(r"\bit\b", clause):
                f = Frame("seg", list(last.targets), {"seconds": f.values["seconds"]}, [], clause)
        elif f.intent == "pace" and not _has(_WHOLE_WORDS, clause):
            f = Frame("seg", list(last.targets), {"factor": f.values["factor"]}, [], clause)
        out.append(f)
    return out


# the video's length as it is, whatever else changes: "add the new pics but don't make it any longer"
KEEP_LENGTH = re.compile(
    r"\b(?:don'?t|do\s+not|without)\s+(?:make|making|let|letting)\s+(?:it|the\s+video|the\s+whole\s+thing)\s+"
    r"(?:get\s+|be\s+)?(?:any\s+)?longer\b|\bkeep\s+(?:it\s+|the\s+video\s+)?(?:at\s+)?(?:the\s+)?same\s+"
    r"(?:length|duration)\b|\bkeep\s+the\s+(?:total\s+)?(?:length|duration)\b|\bsame\s+(?:total\s+)?length\b"
    r"|(?:总)?时长(?:保持)?不变|保持(?:原来的)?(?:总)?时长|(?:别|不要)(?:变长|加长|拉长)|长度不变|总长不变",
    re.I,
)


def _total_s(sc: Scene) -> float:
    return max((i.seg.st + i.seg.d for i in sc.items if i.seg), default=0) / 1000


def read_frames(text: str, original: str, sc: Scene, previous: list[Item]) -> Reading:
    frames: list[Frame] = []
    pending: list[str] = []
    keep_length = KEEP_LENGTH.search(text)
    if keep_length:  # "烟花那段保持现在的长度不变": that segment's length (HOLD), not the video's
        head = re.split(r"[,;.!?，。；！？]|\b(?:but|and|then)\b|但|不过|然后", text[: keep_length.start()])[
            -1
        ]
        if find_refs(head, sc, []):
            keep_length = None
    if keep_length and sc.items:
        text = (
            text[: keep_length.start()]
            + " " * (keep_length.end() - keep_length.start())
            + text[keep_length.end() :]
        )
    clauses = [piece for c in _clauses(text) for piece in _and_split(c)]
    clauses = [piece for c in clauses for piece in _two_requests(c, original, sc, previous)]
    for clause in clauses:
        carry = (
            next((f.targets for f in reversed(frames) if f.targets and f.intent != "remove"), None)
            or previous
        )
        words = re.sub(r"^(?:写|写上|叫|是|改成|[:：])\s*", "", clause).strip()
        if words and any(  # "标题改一下 写 海边的日子": the words already on screen as the title or caption
            words
            in str(
                (f.values.get("text") or {}).get("text", "")
                if f.intent == "title"
                else f.values.get("text", "")
            )
            for f in frames
            if f.intent in ("title", "caption")
        ):
            continue
        got = read_clause(clause, original, sc, carry)
        got = _inherit(got, frames, clause, original, sc, carry)
        if not got:
            if pending:  # two pieces that only mean something together
                joined = pending[-1] + " " + clause
                merged = read_clause(joined, original, sc, carry)
                if merged:
                    pending.pop()
                    frames += _inherit(merged, frames, joined, original, sc, carry)
                    continue
            if frames and (durations(clause) or bare_numbers(clause) or find_refs(clause, sc, [])):
                last = frames[-1].text
                merged = read_clause(last + " " + clause, original, sc, carry)
                if merged and [f.intent for f in merged] == [f.intent for f in frames if f.text == last]:
                    frames = [f for f in frames if f.text != last] + merged
                    continue
            pending.append(clause)
            continue
        if pending:
            merged = read_clause(pending[-1] + " " + clause, original, sc, carry)
            mine = [r for f in got for r in f.refs]
            theirs = [r for f in merged for r in f.refs]
            specific = any(r.how != "class" for r in theirs) and all(r.how == "class" for r in mine)
            musical = _has(MUSIC, pending[-1]) and [f.intent for f in merged] == ["music"]
            if merged and (len(_targets_of(theirs)) > len(_targets_of(mine)) or specific or musical):
                got = merged
                pending.pop()
        frames += got
    added: list[Item] = []
    kept_frames = []
    for f in frames:
        if f.intent == "add":
            if all(t in added for t in f.targets if t.index < 0):
                continue
            added += [t for t in f.targets if t.index < 0]
        kept_frames.append(f)
    frames = kept_frames
    # "a faster pace, every photo 2 s": the seconds say how fast
    if any(f.intent == "seg" and "seconds" in f.values for f in frames):
        frames = [f for f in frames if f.intent != "pace"]
    held = [t for f in frames if f.intent == "hold" for t in f.targets]
    for f in frames:
        if held and f.intent == "length":
            f.values["keep"] = held
        if held and f.intent == "seg":
            f.targets = [t for t in f.targets if t not in held]
    frames = [f for f in frames if f.intent not in ("hold", "noop")]
    if any(f.intent != "pace" for f in frames):
        frames = [f for f in frames if not (f.intent == "pace" and _has(REASON, f.text))]
    if keep_length and sc.items and frames and not any(f.intent in ("length", "pace") for f in frames):
        frames.append(
            Frame("length", [], {"seconds": _total_s(sc), "explicit": True}, [], keep_length.group(0))
        )
    return Reading(_dedupe(frames), [p for p in pending if not _filler(p)])


def _dedupe(frames: list[Frame]) -> list[Frame]:
    """One frame per thing: "reverse it, last to first" is one reversal; "放久点 五秒吧" one duration."""
    out: list[Frame] = []
    for f in frames:
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.intent == f.intent
            and f.intent in ("reverse", "shuffle", "undo", "redo", "video_fade")
        ):
            prev.values.update({k: v or prev.values.get(k) for k, v in f.values.items()})
            continue
        if prev is not None and prev.intent == f.intent == "length" and "seconds" in f.values:
            if f.values.get("explicit") or not prev.values.get("explicit"):
                out[-1] = f  # "nobody's gonna watch 19 secs of this. 12 max": the bound
            continue
        if (
            prev is not None
            and prev.intent == f.intent == "seg"
            and [t.index for t in prev.targets] == [t.index for t in f.targets]
        ):
            timing = ("seconds", "delta", "factor", "full")
            if any(k in f.values for k in timing):
                for k in timing:
                    prev.values.pop(k, None)
            prev.values.update(f.values)
            continue
        out.append(f)
    return out


def merged_from(frames: list[Frame]) -> list[Frame]:
    """The frames of the last clause read (they share its text)."""
    last = frames[-1].text
    out = [f for f in frames if f.text == last]
    return out


def _filler(clause: str) -> bool:
    return (
        _has(
            r"^(?:ok(?:ay)?|yes|yeah|yep|sure|thanks?|thank\s+you|cool|great|nice|hmm+|hm|ah|oh|so|well|"
            r"and|also|please|wait|actually|hey|hi|好的?|嗯+|哈+|谢谢|呗|吧|啊|呀|哈|谢了|挺好看的|挺好的|吃的放一块|"
            r"its?\s+the\s+best\s+one|i\s+want\s+to\s+see\s+how\s+it\s+looks)$",
            clause.strip(),
        )
        or len(clause.strip()) <= 1
    )
