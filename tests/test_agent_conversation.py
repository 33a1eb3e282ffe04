"""Issue 15's walk through the public API: a 12-turn conversation in English and one in Chinese, as a
creator types it, over real HTTP against a live server.

Photos are uploaded under names that say what they show (cat, lake, beach, cake), with a clip and a
song; the turns make a rough cut, name photos by a word of their file name, edit only them, ask a
question, wish for something we can't do, undo, lower the music and export. After every turn the
draft is read back through `state`: an edit touches only what it names, a question or a refusal
changes nothing. The exports are checked with ffprobe, by decoding frames (each photo is one flat
colour, so the frame at a segment's middle shows whose turn it is) and by FFmpeg's ebur128 meter
(lowering the music lowers the loudness of the export).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from PIL import Image

from tests import media_factory as mf
from tests.api_walk import ApiWalk, video_segments
from tests.ffprobe import ffprobe, stream

pytestmark = pytest.mark.skipif(
    not (shutil.which("ffprobe") and shutil.which("ffmpeg")), reason="needs the ffprobe and ffmpeg commands"
)

# Each photo one flat colour (RGB), so a decoded frame says which photo is on screen.
COLOURS = {
    "cat": (220, 30, 30),
    "lake": (30, 60, 220),
    "beach": (240, 220, 40),
    "cake": (40, 200, 60),
}


@dataclass(frozen=True)
class Script:
    """One language's conversation: the file stems and the 12 things the creator says."""

    lang: str
    stems: dict[str, str]  # cat, lake, beach, cake, clip, song -> the file's stem
    make: str
    cat_5s: str
    lake_zoom_out: str
    how_long: str
    four_k: str
    remove_beach: str
    undo: str
    caption_cake: str
    caption_text: str
    cake_first: str
    music_down: str
    clip_last_look: str
    export: str


EN = Script(
    lang="en",
    stems={
        "cat": "cat",
        "lake": "lake",
        "beach": "beach",
        "cake": "cake",
        "clip": "fireworks",
        "song": "song",
    },
    make="put my pics and the fireworks clip together into a video with my song",
    cat_5s="make the cat pic 5 secs",
    lake_zoom_out="zoom out on the lake one",
    how_long="how long is it?",
    four_k="can u export it in 4K",
    remove_beach="remove the beach photo",
    undo="undo",
    caption_cake="add a caption 'Happy birthday' to the cake pic",
    caption_text="Happy birthday",
    cake_first="move the cake one to the start",
    music_down="the song is way too loud",
    clip_last_look="what's the last segment?",
    export="ok get it ready to export",
)
ZH = Script(
    lang="zh",
    stems={"cat": "猫咪", "lake": "西湖", "beach": "海边", "cake": "蛋糕", "clip": "烟花", "song": "夏日"},
    make="把我的照片和烟花视频做成一个视频，配上我的歌",
    cat_5s="猫咪那张放5秒",
    lake_zoom_out="西湖那张改成拉远的镜头",
    how_long="现在视频多长？",
    four_k="能导出4K吗",
    remove_beach="把海边那张删掉",
    undo="撤销",
    caption_cake="蛋糕那张加个字幕“生日快乐”",
    caption_text="生日快乐",
    cake_first="把蛋糕那张移到最前面",
    music_down="音乐太吵了，小声一点",
    clip_last_look="最后一个是什么？",
    export="好了，准备导出吧",
)


def _photo(directory: Path, stem: str, colour: tuple[int, int, int]) -> Path:
    path = directory / f"{stem}.jpg"
    Image.new("RGB", (640, 480), colour).save(path, quality=95)
    return path


def _calls(events: list[dict[str, Any]]) -> list[str]:
    return [p["functionCall"]["name"] for e in events for p in e["content"]["parts"] if "functionCall" in p]


def _reply(events: list[dict[str, Any]]) -> str:
    return str(events[-1]["content"]["parts"][0]["text"])


def _chinese(text: str) -> bool:
    return len(re.findall(r"[\u4e00-\u9fff]", text)) >= 4


def _names(draft: dict[str, Any], uploaded: dict[str, dict[str, Any]]) -> list[str]:
    """The timeline, as the keys of `uploaded` (cat, lake, ...)."""
    by_src = {f["cdn_url"]: key for key, f in uploaded.items()}
    return [by_src[s["src"]] for s in video_segments(draft)]


def _segment(draft: dict[str, Any], uploaded: dict[str, dict[str, Any]], key: str) -> dict[str, Any]:
    return next(s for s in video_segments(draft) if s["src"] == uploaded[key]["cdn_url"])


def _look(seg: dict[str, Any]) -> tuple[Any, ...]:
    """What an edit of another segment must leave alone."""
    m = seg["m"]
    return seg["d"], m.get("motion"), m.get("fit"), (m.get("tr") or {}).get("type")


def _music(draft: dict[str, Any]) -> dict[str, Any]:
    return next(t for t in draft["t"] if t["tt"] == 1)["sg"][0]


def _captions(draft: dict[str, Any]) -> list[str]:
    return [seg["m"]["text"] for track in draft["t"] if track["tt"] == 7 for seg in track["sg"]]


def _integrated_lufs(path: Path) -> float:
    """Integrated loudness of the file's audio by FFmpeg's ebur128 filter (not by our meter)."""
    result = subprocess.run(
        ["ffmpeg", "-nostats", "-hide_banner", "-i", str(path), "-filter_complex", "ebur128",
         "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    summary = result.stderr[result.stderr.rindex("Summary:") :]
    found = re.search(r"I:\s+(-?[\d.]+) LUFS", summary)
    assert found, summary
    return float(found.group(1))


def _frame_at(path: Path, seconds: float) -> np.ndarray:
    """The decoded RGB frame shown at `seconds`."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        shown = None
        for frame in container.decode(video):
            if frame.time is not None and frame.time > seconds:
                break
            shown = frame
        assert shown is not None
        return np.asarray(shown.to_ndarray(format="rgb24"), dtype=np.float64)


def _centre_colour(frame: np.ndarray) -> np.ndarray:
    h, w, _ = frame.shape
    return frame[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3].reshape(-1, 3).mean(axis=0)


def _check_pictures(path: Path, draft: dict[str, Any], uploaded: dict[str, dict[str, Any]]) -> None:
    """At the middle of every photo's own time (clear of the transitions), its colour is on screen."""
    for seg in video_segments(draft):
        key = next(k for k, f in uploaded.items() if f["cdn_url"] == seg["src"])
        if key not in COLOURS:
            continue
        middle_s = (seg["st"] + seg["d"] / 2) / 1000
        got = _centre_colour(_frame_at(path, middle_s))
        want = np.array(COLOURS[key], dtype=np.float64)
        assert np.abs(got - want).max() < 40, (key, middle_s, got.round(), want)


def _export(walk: ApiWalk, draft: dict[str, Any], out: Path, name: str) -> dict[str, Any]:
    walk.export(draft, out, name, resolution="480p", preset="ultrafast")
    info = ffprobe(out)
    picture, sound = stream(info, "video"), stream(info, "audio")
    wide = draft["m"]["width"] > draft["m"]["height"]  # landscape photos: a landscape cut
    assert (picture["width"] > picture["height"]) == wide
    assert float(info["format"]["duration"]) == pytest.approx(draft["d"] / 1000, abs=0.15)
    assert sound["codec_name"] == "aac"
    return info


@pytest.fixture
def walk_for(
    make_app: Callable[..., FastAPI],
    make_client: Callable[[FastAPI], httpx.Client],
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
) -> Callable[[str], ApiWalk]:
    def start(lang: str) -> ApiWalk:
        http = make_client(make_app(start_workers=True))
        return ApiWalk.start(http, anon_token, new_session, task_name="trip", language=lang)

    return start


@pytest.mark.parametrize("script", [EN, ZH], ids=["en", "zh"])
def test_a_twelve_turn_conversation_edits_only_what_it_names_and_exports_it(
    script: Script, walk_for: Callable[[str], ApiWalk], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    walk = walk_for(script.lang)
    s = script.stems
    files = [_photo(tmp_path, s[k], COLOURS[k]) for k in ("cat", "lake", "beach", "cake")]
    files.append(mf.mp4_clip(tmp_path, f"{s['clip']}.mp4", size=(320, 180), seconds=3.0, fps=10))
    files.append(mf.mp3_tone(tmp_path, f"{s['song']}.mp3", seconds=40.0))
    keys = ["cat", "lake", "beach", "cake", "clip", "song"]
    uploaded = dict(zip(keys, walk.upload(files), strict=True))
    zh = script.lang == "zh"

    def say(message: str) -> tuple[list[dict[str, Any]], dict[str, Any], int]:
        events = walk.chat(message)
        state, version = walk.state()
        reply = _reply(events)
        assert _chinese(reply) == zh, (message, reply)  # answered in the language of the message
        assert "not sure what to change" not in reply and "不确定要改什么" not in reply, (message, reply)
        return events, state["draft"], version

    # 1. the rough cut: every photo, the clip, the song
    events, draft, _ = say(script.make)
    assert "make_slideshow" in _calls(events)
    assert sorted(_names(draft, uploaded)) == sorted(["cat", "lake", "beach", "cake", "clip"])
    assert _music(draft)["src"] == uploaded["song"]["cdn_url"]

    # 2. one photo by a word of its name: only it changes
    before = {k: _look(_segment(draft, uploaded, k)) for k in _names(draft, uploaded)}
    _, draft, _ = say(script.cat_5s)
    assert _segment(draft, uploaded, "cat")["d"] == 5000
    assert all(_look(_segment(draft, uploaded, k)) == before[k] for k in before if k != "cat")

    # 3. another photo's motion, scoped the same way
    before = {k: _look(_segment(draft, uploaded, k)) for k in _names(draft, uploaded)}
    _, draft, _ = say(script.lake_zoom_out)
    assert _segment(draft, uploaded, "lake")["m"]["motion"] == "zoom_out"
    assert all(_look(_segment(draft, uploaded, k)) == before[k] for k in before if k != "lake")

    # 4. a question: answered from the draft, nothing changes
    _, version_before = walk.state()
    events, asked, version = say(script.how_long)
    assert asked == draft and version == version_before and not _calls(events)
    assert f"{draft['d'] / 1000:g}" in _reply(events) or str(round(draft["d"] / 1000)) in _reply(events)

    # 5. a wish we can't do: an honest refusal naming the nearest, nothing changes
    events, refused, version = say(script.four_k)
    assert refused == draft and version == version_before
    assert re.search(r"can'?t|cannot|only|不能|无法|不支持|只能", _reply(events)), _reply(events)
    assert "1080" in _reply(events)

    # 6-7. a removal by name, then undo brings back exactly what was there
    _, removed, _ = say(script.remove_beach)
    assert "beach" not in _names(removed, uploaded) and len(_names(removed, uploaded)) == 4
    events, draft_back, _ = say(script.undo)
    assert _calls(events) == ["undo"] and draft_back == draft

    # 8. a caption on one photo
    _, draft, _ = say(script.caption_cake)
    assert script.caption_text in _captions(draft)

    # 9. a move by name
    _, draft, _ = say(script.cake_first)
    assert _names(draft, uploaded)[0] == "cake"
    assert _segment(draft, uploaded, "cat")["d"] == 5000  # earlier edits hold
    loud_draft = draft
    loud_out = tmp_path / "loud.mp4"
    _export(walk, loud_draft, loud_out, f"{script.lang}-loud")

    # 10. lowering the music: only the music's volume changes
    _, draft, _ = say(script.music_down)
    vol_before = _music(loud_draft)["m"].get("vol", 1.0)
    assert _music(draft)["m"]["vol"] < vol_before
    assert video_segments(draft) == video_segments(loud_draft)

    # 11. a question about a position
    events, asked, _ = say(script.clip_last_look)
    assert asked == draft and not _calls(events)

    # 12. export: the reply says how, nothing changes
    events, final, _ = say(script.export)
    assert final == draft
    assert "mp4" in _reply(events).lower()

    out = tmp_path / "final.mp4"
    _export(walk, final, out, f"{script.lang}-final")
    _check_pictures(out, final, uploaded)

    quieter_db = _integrated_lufs(loud_out) - _integrated_lufs(out)
    assert quieter_db >= 1.0, f"the export with the music lowered is only {quieter_db:.2f} dB quieter"
