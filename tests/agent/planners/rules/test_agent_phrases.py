"""The rule planner's phrase corpus: message -> the tool calls it plans (English and Chinese).

`fresh`: ten photos and a song uploaded, nothing made yet. `made`: the same after "make a
slideshow" (video track and the uploaded song as music, no title). Each expected call lists the
tool name and the arguments that must be present with those values (others may be present too).
Every planned turn is also run, and its draft must validate and keep the timing invariants.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from agent.edits import timing_problems
from agent.planners.rules.planner import plan_calls
from agent.state import MediaFile, SessionState
from renderer.schema.draft import Draft

M = "make_slideshow"
Call = tuple[str, dict[str, Any]]
SONG = "med10"
P1, P2, P3, P4, P5 = ({"kind": "photo", "index": n} for n in range(1, 6))
LAST = {"kind": "photo", "index": -1}
C2 = {"kind": "clip", "index": 2}

CORPUS: list[tuple[str, str, list[Call]]] = [
    # --- making the video (fresh) ---
    (
        "fresh",
        "turn my photos into a slideshow video with music and transitions",
        [(M, {"transition": "crossfade"}), ("set_music", {"source": SONG})],
    ),
    (
        "fresh",
        "turn these photos into a 30-second video with transitions and background music",
        [(M, {"total_seconds": 30}), ("set_music", {"source": SONG})],
    ),
    ("fresh", "make a slideshow", [(M, {}), ("set_music", {"source": SONG})]),
    ("fresh", "Make a slideshow with this background music", [(M, {}), ("set_music", {"source": SONG})]),
    ("fresh", "create a video from my photos", [(M, {}), ("set_music", {})]),
    ("fresh", "make me a 1 minute video", [(M, {"total_seconds": 60}), ("set_music", {})]),
    ("fresh", "make a thirty seconds slideshow", [(M, {"total_seconds": 30}), ("set_music", {})]),
    ("fresh", "make a video that is half a minute long", [(M, {"total_seconds": 30}), ("set_music", {})]),
    ("fresh", "make a one and a half minute video", [(M, {"total_seconds": 90}), ("set_music", {})]),
    ("fresh", "make a 1m30s montage", [(M, {"total_seconds": 90}), ("set_music", {})]),
    ("fresh", "slideshow, 4 seconds per photo", [(M, {"seconds_per_photo": 4}), ("set_music", {})]),
    (
        "fresh",
        "make a slideshow, each photo for 2.5 seconds",
        [(M, {"seconds_per_photo": 2.5}), ("set_music", {})],
    ),
    ("fresh", "make a vertical slideshow for TikTok", [(M, {"aspect": "9:16"}), ("set_music", {})]),
    ("fresh", "make a 16:9 video for YouTube", [(M, {"aspect": "16:9"}), ("set_music", {})]),
    ("fresh", "make a square slideshow for an Instagram post", [(M, {"aspect": "1:1"}), ("set_music", {})]),
    ("fresh", "make a slideshow without music", [(M, {})]),
    ("fresh", "make a slideshow with upbeat music", [(M, {}), ("set_music", {"source": "builtin:upbeat"})]),
    (
        "fresh",
        "make a slideshow with some calm piano music",
        [(M, {}), ("set_music", {"source": "builtin:calm"})],
    ),
    (
        "fresh",
        "create a video with epic cinematic music",
        [(M, {}), ("set_music", {"source": "builtin:cinematic"})],
    ),
    ("fresh", "make a slideshow with my song", [(M, {}), ("set_music", {"source": SONG})]),
    ("fresh", "make a slideshow with no transitions", [(M, {"transition": "none"}), ("set_music", {})]),
    (
        "fresh",
        "make a slideshow with fade to black transitions",
        [(M, {"transition": "fade_black"}), ("set_music", {})],
    ),
    (
        "fresh",
        "make a slideshow with 1-second crossfades",
        [(M, {"transition": "crossfade", "transition_seconds": 1}), ("set_music", {})],
    ),
    ("fresh", "make a slideshow, no ken burns", [(M, {"motion": "none"}), ("set_music", {})]),
    ("fresh", "make a slideshow and don't crop the photos", [(M, {"fit": "contain"}), ("set_music", {})]),
    (
        "fresh",
        "turn my photos into a slideshow and add the title Summer 2026",
        [(M, {}), ("set_music", {}), ("add_title", {"text": "Summer 2026"})],
    ),
    (
        "fresh",
        "make a vertical 20 second video with a fade and the title 'Lake Trip'",
        [
            (M, {"aspect": "9:16", "total_seconds": 20, "transition": "crossfade"}),
            ("set_music", {}),
            ("add_title", {"text": "Lake Trip"}),
        ],
    ),
    ("fresh", "make it vertical", [(M, {"aspect": "9:16"}), ("set_music", {})]),
    ("fresh", "30 seconds please", [(M, {"total_seconds": 30}), ("set_music", {})]),
    (
        "fresh",
        'put a title "Our Wedding" on it',
        [(M, {}), ("set_music", {}), ("add_title", {"text": "Our Wedding"})],
    ),
    (
        "fresh",
        "compile these pictures into a reel with electronic music",
        [(M, {"aspect": "9:16"}), ("set_music", {"source": "builtin:electronic"})],
    ),
    ("fresh", "做成视频", [(M, {}), ("set_music", {"source": SONG})]),
    ("fresh", "把我的照片做成一个30秒的视频", [(M, {"total_seconds": 30}), ("set_music", {})]),
    (
        "fresh",
        "把这些照片做成三十秒的竖屏视频",
        [(M, {"total_seconds": 30, "aspect": "9:16"}), ("set_music", {})],
    ),
    ("fresh", "做一个一分钟的横屏视频", [(M, {"total_seconds": 60, "aspect": "16:9"}), ("set_music", {})]),
    (
        "fresh",
        "用这些照片做一个抖音视频，配欢快的音乐",
        [(M, {"aspect": "9:16"}), ("set_music", {"source": "builtin:upbeat"})],
    ),
    ("fresh", "生成一个方形的视频，不要音乐", [(M, {"aspect": "1:1"})]),
    ("fresh", "做成幻灯片，每张照片显示4秒", [(M, {"seconds_per_photo": 4}), ("set_music", {})]),
    ("fresh", "做成视频，用这首歌做背景音乐", [(M, {}), ("set_music", {"source": SONG})]),
    ("fresh", "做成视频，配上安静的音乐", [(M, {}), ("set_music", {"source": "builtin:calm"})]),
    (
        "fresh",
        "做成视频，加上标题：我们的夏天",
        [(M, {}), ("set_music", {}), ("add_title", {"text": "我们的夏天"})],
    ),
    ("fresh", "做成视频，不要转场", [(M, {"transition": "none"}), ("set_music", {})]),
    ("fresh", "做成视频，用黑场转场", [(M, {"transition": "fade_black"}), ("set_music", {})]),
    ("fresh", "制作一个电子相册，吉他音乐", [(M, {}), ("set_music", {"source": "builtin:acoustic"})]),
    # --- editing what was made ---
    ("made", "make it vertical", [("set_aspect", {"aspect": "9:16"})]),
    ("made", "switch to landscape", [("set_aspect", {"aspect": "16:9"})]),
    ("made", "make it square", [("set_aspect", {"aspect": "1:1"})]),
    ("made", "change the aspect ratio to 4:5", [("set_aspect", {"aspect": "4:5"})]),
    ("made", "make it vertical for TikTok", [("set_aspect", {"aspect": "9:16"})]),
    ("made", "I need it for YouTube Shorts", [("set_aspect", {"aspect": "9:16"})]),
    ("made", "改成竖屏", [("set_aspect", {"aspect": "9:16"})]),
    ("made", "改成横屏", [("set_aspect", {"aspect": "16:9"})]),
    ("made", "make it 30 seconds", [("set_duration", {"total_seconds": 30})]),
    ("made", "make the video 45 seconds long", [("set_duration", {"total_seconds": 45})]),
    ("made", "shorten it to fifteen seconds", [("set_duration", {"total_seconds": 15})]),
    ("made", "make it a minute", [("set_duration", {"total_seconds": 60})]),
    ("made", "make it 2 minutes", [("set_duration", {"total_seconds": 120})]),
    ("made", "时长改成20秒", [("set_duration", {"total_seconds": 20})]),
    ("made", "改成一分钟", [("set_duration", {"total_seconds": 60})]),
    ("made", "4 seconds per photo", [("set_seconds_per_photo", {"seconds": 4})]),
    ("made", "show each photo for 5 seconds", [("set_seconds_per_photo", {"seconds": 5})]),
    ("made", "every picture should last 2 seconds", [("set_seconds_per_photo", {"seconds": 2})]),
    ("made", "2 seconds each", [("set_seconds_per_photo", {"seconds": 2})]),
    ("made", "每张照片显示4秒", [("set_seconds_per_photo", {"seconds": 4})]),
    ("made", "每张图片停留三秒", [("set_seconds_per_photo", {"seconds": 3})]),
    ("made", "add the title Summer 2026", [("add_title", {"text": "Summer 2026"})]),
    ("made", "add the title 'Lake Trip' at the start", [("add_title", {"text": "Lake Trip"})]),
    ("made", "title: Graduation Day", [("add_title", {"text": "Graduation Day"})]),
    ("made", 'put "Happy Birthday Mom" as the title', [("add_title", {"text": "Happy Birthday Mom"})]),
    ("made", "add a title that says Welcome Home", [("add_title", {"text": "Welcome Home"})]),
    ("made", "add the title Paris for 5 seconds", [("add_title", {"text": "Paris", "duration_seconds": 5})]),
    ("made", "标题 夏天", [("add_title", {"text": "夏天"})]),
    ("made", "加上标题「毕业快乐」", [("add_title", {"text": "毕业快乐"})]),
    ("made", "remove the title", [("remove_title", {})]),
    ("made", "去掉标题", [("remove_title", {})]),
    ("made", "no music", [("remove_music", {})]),
    ("made", "remove the background music", [("remove_music", {})]),
    ("made", "去掉背景音乐", [("remove_music", {})]),
    ("made", "use upbeat music instead", [("set_music", {"source": "builtin:upbeat"})]),
    ("made", "change the music to something calm", [("set_music", {"source": "builtin:calm"})]),
    ("made", "use a lo-fi track", [("set_music", {"source": "builtin:lofi"})]),
    ("made", "try some electronic dance music", [("set_music", {"source": "builtin:electronic"})]),
    ("made", "use different music", [("set_music", {"source": "builtin:upbeat"})]),
    ("made", "换成欢快的音乐", [("set_music", {"source": "builtin:upbeat"})]),
    ("made", "换成电影感的配乐", [("set_music", {"source": "builtin:cinematic"})]),
    ("made", "set the music volume to 50%", [("set_music", {"volume": 0.5})]),
    ("made", "make the music quieter", [("set_music", {"volume": 0.21})]),
    ("made", "turn the music up", [("set_music", {"volume": 0.52})]),
    ("made", "音乐音量调到20%", [("set_music", {"volume": 0.2})]),
    ("made", "音乐小声一点", [("set_music", {"volume": 0.21})]),
    ("made", "use crossfade transitions", [("set_transition", {"kind": "crossfade"})]),
    ("made", "use 1 second dissolves", [("set_transition", {"kind": "dissolve", "duration_seconds": 1})]),
    ("made", "fade to black between photos", [("set_transition", {"kind": "fade_black"})]),
    ("made", "use wipe transitions", [("set_transition", {"kind": "wipe_left"})]),
    ("made", "no transitions, hard cuts", [("set_transition", {"kind": "none"})]),
    ("made", "转场改成溶解", [("set_transition", {"kind": "dissolve"})]),
    ("made", "不要转场", [("set_transition", {"kind": "none"})]),
    ("made", "remove the ken burns effect, no motion", [("set_motion", {"kind": "none"})]),
    ("made", "zoom in on every photo", [("set_motion", {"kind": "zoom_in"})]),
    ("made", "add ken burns", [("set_motion", {"kind": "auto"})]),
    ("made", "不要动画", [("set_motion", {"kind": "none"})]),
    ("made", "show the whole photo, don't crop", [("set_fit", {"mode": "contain"})]),
    ("made", "use a blurred background instead of black bars", [("set_fit", {"mode": "blur"})]),
    (
        "made",
        "make it vertical, 20 seconds, with a fade",
        [
            ("set_aspect", {"aspect": "9:16"}),
            ("set_transition", {"kind": "crossfade"}),
            ("set_duration", {"total_seconds": 20}),
        ],
    ),
    (
        "made",
        "改成竖屏，30秒，加上标题 旅行",
        [
            ("set_aspect", {"aspect": "9:16"}),
            ("set_duration", {"total_seconds": 30}),
            ("add_title", {"text": "旅行"}),
        ],
    ),
    ("made", "set the transition to slide", [("set_transition", {"kind": "slide_left"})]),
    ("made", "make the photos change every 2 seconds", [("set_seconds_per_photo", {"seconds": 2})]),
    (
        "made",
        "use 0.8 second transitions",
        [("set_transition", {"kind": "crossfade", "duration_seconds": 0.8})],
    ),
    ("made", "make it 15s", [("set_duration", {"total_seconds": 15})]),
    ("made", "视频改成45秒", [("set_duration", {"total_seconds": 45})]),
    ("made", "把音乐音量调低一点", [("set_music", {"volume": 0.21})]),
    (
        "made",
        "make the music louder and add the title 'Hello World'",
        [("set_music", {"volume": 0.52}), ("add_title", {"text": "Hello World"})],
    ),
    (
        "fresh",
        "I want a 45 second vertical video with cinematic music, titled Iceland",
        [
            (M, {"total_seconds": 45, "aspect": "9:16"}),
            ("set_music", {"source": "builtin:cinematic"}),
            ("add_title", {"text": "Iceland"}),
        ],
    ),
    (
        "fresh",
        "帮我把照片剪成一个竖屏短视频，每张3秒，配上电子音乐",
        [(M, {"seconds_per_photo": 3, "aspect": "9:16"}), ("set_music", {"source": "builtin:electronic"})],
    ),
    (
        "fresh",
        "Make a video for my mom's birthday with happy music",
        [(M, {}), ("set_music", {"source": "builtin:upbeat"})],
    ),
    ("made", "what's on the timeline?", [("describe", {})]),
    ("made", "描述一下当前的时间线", [("describe", {})]),
    ("made", "start over with 5 seconds per photo", [(M, {"seconds_per_photo": 5})]),
    ("fresh", "make a rough cut", [(M, {}), ("set_music", {"source": SONG})]),
    ("fresh", "先粗剪一版", [(M, {}), ("set_music", {})]),
    # --- one photo or clip: ordinals, file names, numbers in words ---
    (
        "made",
        "get rid of the picture number four",
        [("remove_segment", {"target": {"kind": "photo", "index": 4}})],
    ),
    (
        "made",
        "remove the last 2 photos",
        [
            ("remove_segment", {"target": {"kind": "photo", "index": 10}}),
            ("remove_segment", {"target": {"kind": "photo", "index": 9}}),
        ],
    ),
    (
        "made",
        "第二张和第三张删掉",
        [
            ("remove_segment", {"target": {"kind": "photo", "index": 3}}),
            ("remove_segment", {"target": {"kind": "photo", "index": 2}}),
        ],
    ),
    (
        "made",
        "remove photo01.jpg and photo02.jpg",
        [
            ("remove_segment", {"target": {"name": "photo02.jpg"}}),
            ("remove_segment", {"target": {"name": "photo01.jpg"}}),
        ],
    ),
    ("made", "remove the third photo", [("remove_segment", {"target": P3})]),
    ("made", "delete photo 3", [("remove_segment", {"target": P3})]),
    ("made", "take out the last picture", [("remove_segment", {"target": {"kind": "photo", "index": -1}})]),
    ("made", "remove the last one", [("remove_segment", {"target": {"kind": "any", "index": -1}})]),
    (
        "made",
        "drop the second to last photo",
        [("remove_segment", {"target": {"kind": "photo", "index": -2}})],
    ),
    ("made", "remove the 4th image", [("remove_segment", {"target": {"kind": "photo", "index": 4}})]),
    ("made", "delete photo03.jpg", [("remove_segment", {"target": {"name": "photo03.jpg"}})]),
    (
        "made",
        "remove the first and second photos",
        [
            ("remove_segment", {"target": {"kind": "photo", "index": 2}}),
            ("remove_segment", {"target": {"kind": "photo", "index": 1}}),
        ],
    ),
    ("made", "删除第三张照片", [("remove_segment", {"target": P3})]),
    ("made", "删掉第3张", [("remove_segment", {"target": P3})]),
    ("made", "把最后一张删掉", [("remove_segment", {"target": {"kind": "photo", "index": -1}})]),
    ("made", "去掉倒数第二张", [("remove_segment", {"target": {"kind": "photo", "index": -2}})]),
    ("made", "把photo05.jpg删掉", [("remove_segment", {"target": {"name": "photo05.jpg"}})]),
    ("made", "move the third photo to the end", [("move_segment", {"target": P3, "position": -1})]),
    ("made", "move the last photo to the start", [("move_segment", {"position": 1})]),
    ("made", "put photo07.jpg first", [("move_segment", {"target": {"name": "photo07.jpg"}, "position": 1})]),
    ("made", "move the second photo to position 5", [("move_segment", {"position": 5})]),
    ("made", "把第三张移到最后", [("move_segment", {"target": P3, "position": -1})]),
    ("made", "把最后一张放到开头", [("move_segment", {"position": 1})]),
    (
        "made",
        "swap the first and second photos",
        [
            (
                "swap_segments",
                {"first": {"kind": "photo", "index": 1}, "second": {"kind": "photo", "index": 2}},
            )
        ],
    ),
    ("made", "交换第一张和第二张", [("swap_segments", {"first": {"kind": "photo", "index": 1}})]),
    ("made", "reverse the order", [("reorder_segments", {"order": "reverse"})]),
    ("made", "照片顺序倒过来", [("reorder_segments", {"order": "reverse"})]),
    ("made", "sort the photos by name", [("reorder_segments", {"order": "by_name"})]),
    (
        "made",
        "duplicate the second photo",
        [("duplicate_segment", {"target": {"kind": "photo", "index": 2}})],
    ),
    ("made", "复制第二张", [("duplicate_segment", {"target": {"kind": "photo", "index": 2}})]),
    ("made", "show the third photo for 5 seconds", [("set_seconds_per_photo", {"seconds": 5, "target": P3})]),
    ("made", "make the last photo six seconds", [("set_seconds_per_photo", {"seconds": 6})]),
    ("made", "第三张显示五秒", [("set_seconds_per_photo", {"seconds": 5, "target": P3})]),
    ("made", "第一张照片停留6秒", [("set_seconds_per_photo", {"seconds": 6})]),
    ("mixed", "trim the second clip to 3 seconds", [("trim_segment", {"target": C2, "seconds": 3})]),
    ("mixed", "cut the first clip to two seconds", [("trim_segment", {"seconds": 2})]),
    (
        "mixed",
        "use only the first 2 seconds of the first clip",
        [("trim_segment", {"seconds": 2, "start_seconds": 0})],
    ),
    (
        "mixed",
        "skip the first 1 seconds of the second clip",
        [("trim_segment", {"target": C2, "start_seconds": 1})],
    ),
    (
        "mixed",
        "use 1 to 4 seconds of the second clip",
        [("trim_segment", {"start_seconds": 1, "end_seconds": 4})],
    ),
    ("mixed", "把第二个视频剪到3秒", [("trim_segment", {"target": C2, "seconds": 3})]),
    ("mixed", "第一个片段只保留前2秒", [("trim_segment", {"seconds": 2, "start_seconds": 0})]),
    ("mixed", "mute the second clip", [("set_clip_volume", {"target": C2, "volume": 0})]),
    ("mixed", "mute all the clips", [("set_clip_volume", {"volume": 0})]),
    ("mixed", "视频原声静音", [("set_clip_volume", {"volume": 0})]),
    ("mixed", "把第一个视频静音", [("set_clip_volume", {"volume": 0})]),
    ("mixed", "set the volume of the first clip to 50%", [("set_clip_volume", {"volume": 0.5})]),
    ("mixed", "remove the second clip", [("remove_segment", {"target": C2})]),
    ("mixed", "remove the beach.mp4 clip", [("remove_segment", {"target": {"name": "beach.mp4"}})]),
    ("mixed", "add the new photos", [("add_media", {"media": "new"})]),
    ("mixed", "把新上传的照片加进去", [("add_media", {"media": "new"})]),
    ("mixed", "add extra.jpg at the end", [("add_media", {"media": ["extra.jpg"]})]),
    # --- text: captions, end card, moving and editing ---
    (
        "made",
        'add a caption "Day one" to the second photo',
        [("add_caption", {"text": "Day one", "target": {"kind": "photo", "index": 2}})],
    ),
    ("made", "caption the first photo 'Arrival'", [("add_caption", {"text": "Arrival"})]),
    (
        "made",
        'add the caption "Sunset" at 10 seconds',
        [("add_caption", {"text": "Sunset", "start_seconds": 10})],
    ),
    (
        "made",
        "给第二张照片加字幕「出发」",
        [("add_caption", {"text": "出发", "target": {"kind": "photo", "index": 2}})],
    ),
    (
        "made",
        'add an end card saying "Thanks for watching"',
        [("add_end_card", {"text": "Thanks for watching"})],
    ),
    ("made", "end with 'See you next summer'", [("add_end_card", {"text": "See you next summer"})]),
    ("made", "结尾加上「谢谢观看」", [("add_end_card", {"text": "谢谢观看"})]),
    ("texts", "move the title to the top", [("move_text", {"kind": "title", "position": "top"})]),
    ("texts", "put the captions at the top", [("move_text", {"kind": "caption", "position": "top"})]),
    ("texts", "标题放到底部", [("move_text", {"kind": "title", "position": "bottom"})]),
    ("texts", "字幕移到顶部", [("move_text", {"kind": "caption", "position": "top"})]),
    (
        "texts",
        "change the caption on the second photo to 'Day two'",
        [("edit_text", {"kind": "caption", "text": "Day two", "target": {"kind": "photo", "index": 2}})],
    ),
    ("texts", "change the end card to 'Bye'", [("edit_text", {"kind": "end_card", "text": "Bye"})]),
    ("texts", "字幕改成「第二天」", [("edit_text", {"kind": "caption", "text": "第二天"})]),
    ("texts", "remove the captions", [("remove_text", {"kind": "caption"})]),
    ("texts", "remove the end card", [("remove_text", {"kind": "end_card"})]),
    ("texts", "删除字幕", [("remove_text", {"kind": "caption"})]),
    ("texts", "去掉片尾", [("remove_text", {"kind": "end_card"})]),
    ("texts", "change the title to 'Lake Trip 2026'", [("set_title", {"text": "Lake Trip 2026"})]),
    ("made", "add the title 'Hello' at the top", [("add_title", {"text": "Hello", "position": "top"})]),
    # --- music: fades, loop, the beat ---
    ("made", "fade the music out", [("set_music", {"fade_out_ms": 2000})]),
    ("made", "fade the music in and out", [("set_music", {"fade_in_ms": 1000, "fade_out_ms": 2000})]),
    ("made", "add a 3 second fade out at the end", [("set_music", {"fade_out_ms": 3000})]),
    ("made", "no music fades", [("set_music", {"fade_in_ms": 0, "fade_out_ms": 0})]),
    ("made", "音乐淡入淡出", [("set_music", {"fade_in_ms": 1000, "fade_out_ms": 2000})]),
    ("made", "don't loop the music", [("set_music", {"loop": False})]),
    ("made", "loop the song", [("set_music", {"loop": True})]),
    ("made", "音乐不要循环", [("set_music", {"loop": False})]),
    ("beat", "cut to the beat", [("cut_to_beat", {})]),
    ("beat", "sync the photos to the music", [("cut_to_beat", {})]),
    ("beat", "卡点", [("cut_to_beat", {})]),
    ("beat", "跟着音乐节拍切换照片", [("cut_to_beat", {})]),
    ("beat", "cut on the beat, every 2 beats", [("cut_to_beat", {"beats_per_segment": 2})]),
    ("beat", "每两拍换一张，卡点", [("cut_to_beat", {"beats_per_segment": 2})]),
    (
        "made",
        "cut to the beat of some upbeat music",
        [("set_music", {"source": "builtin:upbeat"}), ("cut_to_beat", {})],
    ),
    (
        "fresh",
        "make a beat-synced video with electronic music",
        [(M, {}), ("set_music", {"source": "builtin:electronic"}), ("cut_to_beat", {})],
    ),
    # --- undo and redo, alone and with other requests ---
    ("made", "undo", [("undo", {})]),
    ("made", "undo that", [("undo", {})]),
    ("made", "undo the last 2 changes", [("undo", {"steps": 2})]),
    ("made", "撤销", [("undo", {})]),
    ("made", "撤销两步", [("undo", {"steps": 2})]),
    ("made", "redo", [("redo", {})]),
    ("made", "重做", [("redo", {})]),
    ("made", "取消撤销", [("redo", {})]),
    # --- placing one photo next to another ---
    ("made", "put the second photo after the fifth", [("move_segment", {"target": P2, "after": P5})]),
    ("made", "move photo 2 before photo 4", [("move_segment", {"target": P2, "before": P4})]),
    ("made", "move the last photo to the beginning", [("move_segment", {"target": LAST, "position": 1})]),
    (
        "made",
        "put the first photo right after the last one",
        [("move_segment", {"target": P1, "after": LAST})],
    ),
    (
        "mixed",
        "move the second clip before the first photo",
        [("move_segment", {"target": C2, "before": P1})],
    ),
    ("made", "把第二张照片放到第五张后面", [("move_segment", {"target": P2, "after": P5})]),
    ("made", "把第五张移到第二张前面", [("move_segment", {"target": P5, "before": P2})]),
    ("made", "把最后一张放到第一张前面", [("move_segment", {"target": LAST, "before": P1})]),
    ("made", "把第二张照片移动到第五张的后面", [("move_segment", {"target": P2, "after": P5})]),
    ("made", "put photo 1 between photo 4 and photo 5", [("move_segment", {"target": P1, "after": P4})]),
    ("made", "把第一张放到第四张和第五张之间", [("move_segment", {"target": P1, "after": P4})]),
    # --- faster and slower: every photo's own time scaled, clips as they are ---
    ("made", "speed it up", [("set_seconds_per_photo", {"factor": 0.75})]),
    ("made", "faster", [("set_seconds_per_photo", {"factor": 0.75})]),
    ("made", "slow it down a bit", [("set_seconds_per_photo", {"factor": 1.33})]),
    ("made", "make it slower", [("set_seconds_per_photo", {"factor": 1.33})]),
    ("made", "slow down the slideshow", [("set_seconds_per_photo", {"factor": 1.33})]),
    ("made", "make the slideshow much faster", [("set_seconds_per_photo", {"factor": 0.5})]),
    ("made", "it's too slow", [("set_seconds_per_photo", {"factor": 0.75})]),
    ("mixed", "speed it up", [("set_seconds_per_photo", {"factor": 0.75})]),
    ("fresh", "make a fast-paced slideshow", [(M, {"seconds_per_photo": 2.25}), ("set_music", {})]),
    ("made", "节奏快一点", [("set_seconds_per_photo", {"factor": 0.75})]),
    ("made", "慢一点", [("set_seconds_per_photo", {"factor": 1.33})]),
    ("made", "加快节奏", [("set_seconds_per_photo", {"factor": 0.75})]),
    ("made", "节奏太快了", [("set_seconds_per_photo", {"factor": 1.33})]),
    ("made", "title: Speed it up", [("add_title", {"text": "Speed it up"})]),  # words for the screen
    # --- "it": the photo just named in the same message ---
    ("made", "the 3rd pic is blurry, remove it", [("remove_segment", {"target": P3})]),
    ("made", "I don't like the last photo, delete it", [("remove_segment", {"target": LAST})]),
    ("made", "I don't like the last photo, delete that photo", [("remove_segment", {"target": LAST})]),
    ("made", "the second photo is great, duplicate it", [("duplicate_segment", {"target": P2})]),
    ("made", "remove the second photo. It is blurry.", [("remove_segment", {"target": P2})]),  # once
    (
        "made",
        "the 2nd photo is dark, put it after the fifth",
        [("move_segment", {"target": P2, "after": P5})],
    ),
    (
        "made",
        "I like the 3rd photo, make it 5 seconds",
        [("set_seconds_per_photo", {"seconds": 5, "target": P3})],
    ),
    (
        "made",
        "remove the 3rd photo and make it 20 seconds",  # "it" is the video: the photo is gone
        [("remove_segment", {"target": P3}), ("set_duration", {"total_seconds": 20})],
    ),
    ("made", "第三张照片太暗了，删掉它", [("remove_segment", {"target": P3})]),
    ("made", "第二张照片太暗了，把它删掉", [("remove_segment", {"target": P2})]),
    ("made", "最后一张照片不好看，把它移到最前面", [("move_segment", {"target": LAST, "position": 1})]),
    # --- another upload in a photo's place; two photos exchanging places ---
    (
        "mixed",
        "replace the 3rd photo with extra.jpg",
        [("replace_segment", {"target": P3, "media": "extra.jpg"})],
    ),
    (
        "mixed",
        "replace the 3rd photo with the new photo",
        [("replace_segment", {"target": P3, "media": "extra.jpg"})],
    ),
    (
        "mixed",
        "swap out the second clip for the new photo",
        [("replace_segment", {"target": C2, "media": "extra.jpg"})],
    ),
    (
        "mixed",
        "swap the third photo with extra.jpg",
        [("replace_segment", {"target": P3, "media": "extra.jpg"})],
    ),
    (
        "mixed",
        "use extra.jpg instead of the first photo",
        [("replace_segment", {"target": P1, "media": "extra.jpg"})],
    ),
    (
        "made",
        "replace the 3rd photo with photo07.jpg",
        [("replace_segment", {"target": P3, "media": "photo07.jpg"})],
    ),
    ("made", "swap photo 2 and photo 5", [("swap_segments", {"first": P2, "second": P5})]),
    ("mixed", "把第三张换成 extra.jpg", [("replace_segment", {"target": P3, "media": "extra.jpg"})]),
    ("mixed", "把第三张照片换成新上传的照片", [("replace_segment", {"target": P3, "media": "extra.jpg"})]),
    ("mixed", "用extra.jpg替换第一张", [("replace_segment", {"target": P1, "media": "extra.jpg"})]),
    ("made", "交换第二张和第五张", [("swap_segments", {"first": P2, "second": P5})]),
    ("made", "把第二张和第五张对调", [("swap_segments", {"first": P2, "second": P5})]),
    # --- where the song starts (its own time) and when it comes in (the video's time) ---
    ("made", "start the music at 10 seconds", [("set_music", {"start_seconds": 10})]),
    ("made", "start the song from 0:45", [("set_music", {"start_seconds": 45})]),
    ("made", "music starts from the chorus at 1:02", [("set_music", {"start_seconds": 62})]),
    ("made", "make the music start at 5 seconds", [("set_music", {"start_seconds": 5})]),
    ("made", "skip the first 20 seconds of the song", [("set_music", {"start_seconds": 20})]),
    ("made", "use my song and start it at 0:30", [("set_music", {"start_seconds": 30})]),
    ("made", "start the music 5 seconds into the video", [("set_music", {"delay_seconds": 5})]),
    ("made", "the music should come in after 3 seconds", [("set_music", {"delay_seconds": 3})]),
    (
        "fresh",
        "make a slideshow and start the music at 0:20",
        [(M, {}), ("set_music", {"source": SONG, "start_seconds": 20})],
    ),
    (
        "beat",
        "start the music at 0:10 and cut to the beat",
        [("set_music", {"start_seconds": 10}), ("cut_to_beat", {})],
    ),
    ("made", "音乐从30秒开始", [("set_music", {"start_seconds": 30})]),
    ("made", "歌从1:02开始播放", [("set_music", {"start_seconds": 62})]),
    ("made", "音乐在第5秒进来", [("set_music", {"delay_seconds": 5})]),
    ("made", "视频开始3秒后再放音乐", [("set_music", {"delay_seconds": 3})]),
    ("made", "音乐从头开始播放", [("set_music", {"start_seconds": 0})]),
    # --- several requests at once ---
    (
        "made",
        "make it square, remove the third photo and add the title 'Home'",
        [
            ("set_aspect", {"aspect": "1:1"}),
            ("remove_segment", {"target": P3}),
            ("add_title", {"text": "Home"}),
        ],
    ),
    (
        "made",
        "改成横屏，删除第二张，音乐淡出",
        [
            ("set_aspect", {"aspect": "16:9"}),
            ("remove_segment", {"target": {"kind": "photo", "index": 2}}),
            ("set_music", {"fade_out_ms": 2000}),
        ],
    ),
    (
        "made",
        "move the first photo to the end and make it 20 seconds",
        [("move_segment", {"position": -1}), ("set_duration", {"total_seconds": 20})],
    ),
]

QUESTIONS: list[tuple[str, str]] = [
    ("made", "remove the photo"),
    ("made", "remove the 12th photo"),
    ("made", "删除第十二张照片"),
    ("made", "删掉这张照片"),
    ("made", "mute the clip"),
    ("mixed", "mute the clip"),
    ("mixed", "trim the third clip to 2 seconds"),
    ("made", "swap the third photo"),
    ("made", "move photo99.jpg to the end"),
    ("made", "move photo 2 after photo 12"),
    ("made", "move photo 2 after photo 2"),
    ("made", "把第二张放到第十二张后面"),
    ("made", "delete it"),
    ("made", "把它删掉"),
    ("made", "replace the 3rd photo with the new photo"),  # every upload is on the timeline
    ("made", "replace the 3rd photo"),
    ("made", "replace the 3rd photo with beach.jpg"),
    ("made", "把第三张换成新照片"),
    ("made", "make the music faster"),
    ("made", "start the music at 2:00"),  # the song is 95 s long
    ("made", "start the music from the chorus"),
    ("made", "start the music 50 seconds into the video"),
    ("made", "音乐从副歌开始"),
    ("made", "跳过歌曲前奏"),
    ("fresh", "hello"),
    ("fresh", "你好"),
    ("made", "what can you do"),
    ("made", "export"),
    ("made", "render it"),
    ("made", "导出视频"),
]


@pytest.fixture(scope="module")
def states(turn: Callable[..., Any], make_media: Callable[..., MediaFile]) -> dict[str, SessionState]:
    """fresh: nothing made; made: a slideshow with the song; mixed: 8 photos and 2 clips made, then
    one more photo uploaded; texts: made, with a title, a caption on photo 2 and an end card;
    beat: made with a built-in track (whose beats are known)."""
    sizes = [(1080, 1920), (1920, 1080), (3024, 4032), (4032, 3024), (1080, 1080)] * 2
    photos_and_song = SessionState(
        video_infos=[
            *(make_media(i, width=w, height=h) for i, (w, h) in enumerate(sizes)),
            make_media(10, "audio", None, None, 95.0, "song.mp3"),
        ]
    )
    made = turn(photos_and_song, "make a slideshow").state
    photos = photos_and_song.video_infos[:8]
    clips = [make_media(20, "video", 1920, 1080, 6.5, "beach.mp4"), make_media(21, "video", 1080, 1920, 4.0)]
    mixed = turn(
        SessionState(video_infos=[*photos, *clips, photos_and_song.video_infos[10]]), "make a video"
    ).state
    mixed = mixed.model_copy(update={"video_infos": [*mixed.video_infos, make_media(30, name="extra.jpg")]})
    texts = turn(made, "add the title 'Lake Trip'").state
    texts = turn(texts, "add a caption 'Day one' to the second photo").state
    texts = turn(texts, "add an end card saying 'The End'").state
    beat = turn(photos_and_song, "make a slideshow with upbeat music").state
    return {"fresh": photos_and_song, "made": made, "mixed": mixed, "texts": texts, "beat": beat}


@pytest.mark.parametrize(("start", "message", "expected"), CORPUS, ids=[m for _, m, _ in CORPUS])
def test_phrase(
    start: str, message: str, expected: list[Call], states: dict[str, SessionState], turn: Callable[..., Any]
) -> None:
    state = states[start]
    step = plan_calls(message, state, "en")
    got = [(c.name, c.args) for c in step.calls]
    assert [name for name, _ in got] == [name for name, _ in expected], got
    for (_, args), (_, want) in zip(got, expected, strict=True):
        assert {k: args.get(k) for k in want} == want, args
    result = turn(state, message)
    assert not [
        e
        for e in result.events
        if e.content
        and e.content.parts[0].function_response
        and "error" in e.content.parts[0].function_response.response
    ]
    if result.state.draft is not None:  # (undo may go back to before the first cut)
        draft = Draft.model_validate(result.draft.to_json())
        assert timing_problems(draft) == []


@pytest.mark.parametrize(("start", "message"), QUESTIONS, ids=[m for _, m in QUESTIONS])
def test_phrase_changes_nothing(
    start: str, message: str, states: dict[str, SessionState], turn: Callable[..., Any]
) -> None:
    state = states[start]
    step = plan_calls(message, state, "en")
    assert step.calls == [] and step.text
    assert turn(state, message).state == state


def test_corpus_size() -> None:
    assert len(CORPUS) + len(QUESTIONS) >= 150
    assert sum(1 for _, m, _ in CORPUS if re.search(r"[\u4e00-\u9fff]", m)) >= 50  # Chinese too


def test_questions_say_what_is_there(states: dict[str, SessionState]) -> None:
    made, mixed = states["made"], states["mixed"]
    assert (plan_calls("remove the photo", made, "en").text or "").startswith(
        "Which photo? There are 10: 1. photo00.jpg, 2. photo01.jpg"
    )
    assert "only 10 photos on the timeline, so there is no 12th photo" in (
        plan_calls("remove the 12th photo", made, "en").text or ""
    )
    assert "只有 10张照片" in (plan_calls("删除第十二张照片", made, "zh").text or "")
    assert "There are no clips" in (plan_calls("mute the clip", made, "en").text or "")
    assert "Which clip? There are 2: 1. beach.mp4" in (plan_calls("mute the clip", mixed, "en").text or "")
    assert "no item named 'photo99.jpg'" in (plan_calls("move photo99.jpg to the end", made, "en").text or "")


def _readme_examples() -> list[str]:
    """The quoted examples in the README's "What you can say" table (its last row, export, is
    answered with words, not edits)."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[4] / "README.md").read_text()
    section = readme.split("### What you can say", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith('| "')]
    return [quote for row in rows[:-1] for quote in re.findall(r'"([^"]+)"', row.split(" | ")[0])]


@pytest.mark.parametrize("message", _readme_examples())
def test_readme_examples_make_edits(
    message: str, states: dict[str, SessionState], make_media: Callable[..., MediaFile]
) -> None:
    """What the README promises a newcomer can say does something, in a state where it applies
    (a replacement needs its file uploaded and not yet on the timeline)."""
    with_beach = states["mixed"].model_copy(
        update={"video_infos": [*states["mixed"].video_infos, make_media(31, name="beach.jpg")]}
    )
    candidates = [states["fresh"], states["made"], states["beat"], with_beach]
    lang = "zh" if re.search(r"[\u4e00-\u9fff]", message) else "en"
    assert any(plan_calls(message, state, lang).calls for state in candidates), message
