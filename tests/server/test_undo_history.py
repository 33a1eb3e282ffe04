"""Undo across turns on the server: the history names committed versions, which it loads back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from server import session_store
from tests import media_factory as mf
from tests.api_walk import ApiWalk

pytestmark = pytest.mark.all_dbs


@pytest.fixture
def walk(
    make_app: Callable[..., FastAPI],
    make_client: Callable[[FastAPI], httpx.Client],
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
    tmp_path: Path,
) -> ApiWalk:
    walk = ApiWalk.start(make_client(make_app()), anon_token, new_session, language="en")
    walk.upload([mf.webp_photo(tmp_path, f"p{i}.webp") for i in range(3)])
    return walk


def test_state_answers_leave_the_undo_history_out(walk: ApiWalk) -> None:
    walk.chat("make a slideshow without music")
    walk.chat("make it 20 seconds")
    state, version = walk.state()
    assert set(state) == {"draft", "video_infos", "canvas_config", "video_analyses", "generated_media"}
    assert "history" not in walk.state(version - 1)[0]


def test_a_session_stored_with_whole_drafts_in_its_history_still_loads_and_undoes(
    walk: ApiWalk, engine: Engine
) -> None:
    """States stored before the history named versions carried the drafts themselves."""
    walk.chat("make a slideshow without music")
    made = walk.draft()
    walk.chat("make it 20 seconds")
    longer = walk.draft()
    old_history: dict[str, Any] = {
        "past": [
            {"turn": "e-1", "what": ["Made a slideshow."], "what_zh": ["已制作幻灯片。"]},
            {"turn": "e-2", "draft": made, "what": ["Set the video length to 20 s."]},
        ],
        "future": [],
    }
    session_store.apply_state_delta(engine, walk.sid, {"history": old_history}, reason="old shape")

    state, _ = walk.state()  # no 500, and the old history is not answered either
    assert state["draft"] == longer and "history" not in state
    walk.chat("undo")
    assert walk.draft() == made
    walk.chat("redo")
    assert walk.draft() == longer
    walk.chat("undo twice")
    assert walk.state()[0]["draft"] is None


def test_the_stored_drafts_of_a_session_by_version(walk: ApiWalk, engine: Engine) -> None:
    walk.chat("make a slideshow without music")
    state, version = session_store.get_state(engine, walk.sid)
    drafts = session_store.StoredDrafts(engine, walk.sid)
    assert drafts(version) == state.draft
    assert drafts(0) is None  # the new session had no timeline
    with pytest.raises(LookupError):
        drafts(version + 1)
