"""Session states the agent tests start from, and a way to run a turn to the end."""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import Callable

import pytest

from agent.events import Event
from agent.planner import Planner
from agent.planners.rules.planner import RulePlanner
from agent.runner import apply_state_delta, run_turn
from agent.state import MediaFile, SessionState
from agent.versions import StateVersions
from renderer.schema.draft import Draft


def media(
    i: int,
    kind: str = "image",
    width: int | None = 1080,
    height: int | None = 1920,
    duration: float | None = None,
    name: str | None = None,
) -> MediaFile:
    ext = {"image": "jpg", "video": "mp4", "audio": "mp3"}[kind]
    return MediaFile(
        media_id=f"med{i:02d}",
        filename=name or f"photo{i:02d}.{ext}",
        file_type=kind,  # type: ignore[arg-type]
        cdn_url=f"http://127.0.0.1:8000/media/med{i:02d}.{ext}",
        width=width,
        height=height,
        duration=duration,
        hash=f"{i:064x}",
    )


def ten_photos() -> list[MediaFile]:
    """Ten photos of mixed orientation (6 portrait, 3 landscape, 1 square) in upload order."""
    sizes = [
        (1080, 1920),
        (1920, 1080),
        (3024, 4032),
        (4032, 3024),
        (1080, 1080),
        (1200, 1600),
        (1600, 1200),
        (900, 1600),
        (2000, 3000),
        (2448, 3264),
    ]
    return [media(i, width=w, height=h) for i, (w, h) in enumerate(sizes)]


@pytest.fixture(scope="session")
def make_media() -> Callable[..., MediaFile]:
    """media(i, kind="image", width, height, duration, name): one upload as video_infos lists it."""
    return media


@pytest.fixture
def photos_and_song() -> SessionState:
    return SessionState(video_infos=[*ten_photos(), media(10, "audio", None, None, 95.0, "song.mp3")])


@pytest.fixture
def photos_only() -> SessionState:
    return SessionState(video_infos=ten_photos())


class Turn:
    """A finished turn: its events and the state after applying each event's stateDelta."""

    def __init__(self, events: list[Event], state: SessionState) -> None:
        self.events = events
        self.state = state

    @property
    def draft(self) -> Draft:
        assert self.state.draft is not None
        return self.state.draft

    @property
    def reply(self) -> str:
        return self.events[-1].text

    @property
    def tool_names(self) -> list[str]:
        return [
            p.function_call.name for e in self.events if e.content for p in e.content.parts if p.function_call
        ]


def _counter_ids() -> Callable[[], str]:
    numbers = itertools.count(1)
    return lambda: f"ev{next(numbers):06d}"


@pytest.fixture
def counter_ids() -> Callable[[], Callable[[], str]]:
    """Makes id sources that count: ev000001, ev000002, ... (8 alphanumerics, like ADK's)."""
    return _counter_ids


def play(
    state: SessionState,
    message: str,
    *,
    planner: Planner | None = None,
    versions: StateVersions | None = None,
    **options: object,
) -> Turn:
    """Run `message` on `state` to the end.

    With `versions` (the committed states, as the server's table keeps them) the turn runs as on
    the server: on a committed version (`state` is committed first unless it is the latest), and
    each event's stateDelta committed as the next version, so undo names drafts by version.
    """
    if versions is not None:
        latest, number = versions.latest
        number = number if latest == state else versions.commit(state)
        options = {**options, "version": number, "drafts": versions}

    async def collect() -> list[Event]:
        return [e async for e in run_turn(state, message, planner=planner or RulePlanner(), **options)]  # type: ignore[arg-type]

    events = asyncio.run(collect())
    for event in events:
        if event.actions.state_delta:
            state = apply_state_delta(state, event.actions.state_delta)
            if versions is not None:
                versions.commit(state)
    return Turn(events, state)


@pytest.fixture(scope="session")
def turn() -> Callable[..., Turn]:
    """play() over one record of committed versions: every state a test runs a turn on is in it."""
    return functools.partial(play, versions=StateVersions())
