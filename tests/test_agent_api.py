"""Issue 4's walk through the public API: a rough cut, five edits in English and Chinese (undo among
them), then an export that shows all of them.

Each step is checked in `state` (latest and the numbered versions), the version grows by exactly one
per committed change, and the MP4 is checked with the `ffprobe` command.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agent.state import HISTORY_LIMIT
from tests import media_factory as mf
from tests.api_walk import ApiWalk, video_segments
from tests.ffprobe import ffprobe, stream

pytestmark = pytest.mark.skipif(not shutil.which("ffprobe"), reason="needs the ffprobe command")


def _changes(events: list[dict[str, Any]]) -> int:
    """Events whose stateDelta the server commits (each one is a new version)."""
    return sum(1 for e in events if e.get("actions", {}).get("stateDelta"))


def _calls(events: list[dict[str, Any]]) -> list[str]:
    return [p["functionCall"]["name"] for e in events for p in e["content"]["parts"] if "functionCall" in p]


def _texts(draft: dict[str, Any]) -> list[str]:
    return [seg["m"]["text"] for track in draft["t"] if track["tt"] == 7 for seg in track["sg"]]


@pytest.fixture
def skill(
    make_app: Callable[..., FastAPI],
    make_client: Callable[[FastAPI], httpx.Client],
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
) -> ApiWalk:
    http = make_client(make_app(start_workers=True))
    return ApiWalk.start(http, anon_token, new_session, task_name="lake", language="en")


def test_rough_cut_then_edits_with_undo_then_export(skill: ApiWalk, tmp_path: Path) -> None:
    photos = [mf.webp_photo(tmp_path, f"lake{i}.webp", size=(480, 320)) for i in range(1, 5)]
    uploaded = skill.upload(photos)
    _, version = skill.state()

    def step(message: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        nonlocal version
        events = skill.chat(message)
        state, now = skill.state()
        assert now == version + _changes(events), (message, now, version)  # one version per change
        version = now
        return events, state

    events, state = step("make a rough cut of my photos")
    assert _calls(events)[0] == "make_slideshow"
    rough = state["draft"]
    assert [s["src"] for s in video_segments(rough)] == [f["cdn_url"] for f in uploaded]
    assert rough["m"]["width"] > rough["m"]["height"]  # landscape photos: a landscape cut first

    events, state = step("make it vertical for TikTok")
    assert _calls(events) == ["set_aspect"]
    assert (state["draft"]["m"]["width"], state["draft"]["m"]["height"]) == (1080, 1920)
    assert state["canvas_config"] == {"width": 1080, "height": 1920, "ratio": "9:16"}

    events, state = step("add the title 'Lake Trip' at the start")
    title = next(t for t in state["draft"]["t"] if t["tt"] == 7)["sg"][0]
    assert (title["m"]["text"], title["st"]) == ("Lake Trip", 0)
    before_removal, before_version = state["draft"], version

    events, state = step("remove the third photo")
    assert _calls(events) == ["remove_segment"]
    assert [s["src"] for s in video_segments(state["draft"])] == [uploaded[i]["cdn_url"] for i in (0, 1, 3)]
    assert "Timeline (3 tracks): 1. Video: 3 photos" in events[-1]["content"]["parts"][0]["text"]

    events, state = step("undo")
    assert _calls(events) == ["undo"]
    assert state["draft"] == before_removal  # the photo is back, the title and canvas stay
    assert skill.state(before_version)[0]["draft"] == before_removal  # the version undo went back to
    assert "Lake Trip" in _texts(state["draft"])

    events, state = step("每张照片显示4秒")
    assert _calls(events) == ["set_seconds_per_photo"]
    reply = events[-1]["content"]["parts"][0]["text"]
    assert "每张照片现在显示 4 秒" in reply  # answered in the language of the message
    draft = state["draft"]
    video = video_segments(draft)
    assert len(video) == 4 and all(s["d"] == 4000 for s in video)
    overlap = sum(s["m"]["tr"]["d"] for s in video[1:] if s["m"].get("tr"))
    assert draft["d"] == 4 * 4000 - overlap

    out = tmp_path / "lake.mp4"
    skill.export(draft, out, "lake_trip", resolution="480p", preset="ultrafast")
    info = ffprobe(out)
    picture = stream(info, "video")
    assert picture["height"] > picture["width"]  # vertical
    assert picture["height"] == 854 or min(picture["width"], picture["height"]) == 480
    assert float(info["format"]["duration"]) == pytest.approx(draft["d"] / 1000, abs=0.1)


def test_undo_and_redo_across_turns_and_nothing_to_undo(skill: ApiWalk, tmp_path: Path) -> None:
    skill.upload([mf.webp_photo(tmp_path, f"p{i}.webp") for i in range(3)])
    events = skill.chat("undo")
    assert _calls(events) == ["undo"]
    assert "nothing to undo" in events[-1]["content"]["parts"][0]["text"].lower()
    skill.chat("make a slideshow without music")
    made, _ = skill.state()
    skill.chat("make it 20 seconds")
    long, _ = skill.state()
    assert long["draft"]["d"] == 20000
    skill.chat("undo")
    assert skill.state()[0]["draft"] == made["draft"]
    events = skill.chat("redo")
    assert _calls(events) == ["redo"]
    assert skill.state()[0]["draft"] == long["draft"]
    skill.chat("undo twice")
    assert skill.state()[0]["draft"] is None  # back before the first cut


def test_an_uploaded_song_carries_its_tempo_and_the_cuts_land_on_its_beats(
    make_app, make_client, anon_token, new_session, tmp_path
) -> None:
    """Upload photos and a 120 BPM song, ask to cut to the beat: every cut is on a beat of it."""
    import wave

    import numpy as np

    rate, bpm, seconds = 48000, 120.0, 30.0
    song = np.zeros(int(seconds * rate), np.float32)
    click = (np.sin(2 * np.pi * 80 * np.arange(2400) / rate) * np.exp(-np.arange(2400) / 400)).astype(
        np.float32
    )
    beat_times = np.arange(0.25, seconds - 0.1, 60 / bpm)
    for t in beat_times:
        song[int(t * rate) : int(t * rate) + 2400] += click * 0.8
    path = tmp_path / "song.wav"
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(rate)
        fh.writeframes((song.clip(-1, 1) * 32767).astype("<i2").tobytes())

    client = make_client(make_app())
    token = anon_token(client)
    sid = new_session(client, token)
    headers = {"Authorization": f"Bearer {token}"}
    photos = [mf.webp_photo(tmp_path, f"p{i}.webp") for i in range(6)]
    files = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in [*photos, path]]
    uploaded = client.post(f"/api/upload-video/nemo_agent/me/{sid}", headers=headers, files=files).json()
    song_info = uploaded["data"]["files"][-1]
    assert song_info["bpm"] == pytest.approx(bpm, abs=1.0)

    for text in ("make a slideshow with this background music", "cut to the beat"):
        body = {
            "app_name": "nemo_agent",
            "user_id": "me",
            "session_id": sid,
            "new_message": {"parts": [{"text": text}]},
        }
        assert client.post("/run_sse", headers=headers, json=body).status_code == 200
    draft = client.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=headers).json()["data"]["state"][
        "draft"
    ]
    video = next(t for t in draft["t"] if t["tt"] == 0)
    music = next(t for t in draft["t"] if t["tt"] == 1)["sg"][0]
    beats_ms = beat_times * 1000 - music.get("ss", 0) + music["st"]
    for seg in video["sg"][1:]:
        assert np.min(np.abs(beats_ms - seg["st"])) <= 1000 / 30, seg["st"]


def test_state_stays_one_draft_in_size_after_many_turns_and_undo_still_restores(
    make_app: Callable[..., FastAPI],
    make_client: Callable[[FastAPI], httpx.Client],
    make_settings: Callable[..., Any],
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
    tmp_path: Path,
) -> None:
    """25 committed turns: what `state` answers stays about one draft's size (the undo history is
    not carried as drafts), yet undo and redo, on a server started afresh, bring back the right
    drafts."""
    settings = make_settings(turn_cost=0)  # 25 turns cost more than an anonymous user's credits
    first = ApiWalk.start(make_client(make_app(settings)), anon_token, new_session, language="en")
    first.upload([mf.webp_photo(tmp_path, f"p{i}.webp") for i in range(4)])
    first.chat("make a slideshow without music")
    drafts: list[dict[str, Any]] = []
    sizes: list[int] = []
    for seconds in range(10, 34):  # 24 more turns: 25 committed turns in all
        events = first.chat(f"make it {seconds} seconds")
        assert _changes(events) >= 1
        answer = first.http.get(f"/api/state/nemo_agent/me/{first.sid}/latest", headers=first.headers)
        sizes.append(len(answer.content))
        drafts.append(answer.json()["data"]["state"]["draft"])
    one_draft = len(json.dumps(drafts[-1], separators=(",", ":")))
    uploads = len(json.dumps(answer.json()["data"]["state"]["video_infos"], separators=(",", ":")))
    # Besides the list of the user's own uploads, the answer is about one draft, and stays so.
    assert sizes[-1] - uploads < 2 * one_draft
    assert sizes[-1] - sizes[0] < one_draft // 4
    # The turn's stream carries its new draft and an undo history of version numbers, far from
    # the earlier drafts themselves (one per undo step).
    delta = sum(len(json.dumps(e["actions"]["stateDelta"], ensure_ascii=False).encode()) for e in events)
    assert delta < one_draft + HISTORY_LIMIT * one_draft // 4

    # The undo history survives the server: a new app on the same database undoes and redoes.
    again = ApiWalk(make_client(make_app(settings)), first.headers["Authorization"][7:], first.sid)
    again.chat("undo")
    assert again.draft() == drafts[-2]
    again.chat("undo 2 steps")
    assert again.draft() == drafts[-4]
    again.chat("redo")
    assert again.draft() == drafts[-3]
