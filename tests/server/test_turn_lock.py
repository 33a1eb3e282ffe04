"""One chat turn per session across API processes that share a database (server/turn_lock.py).

Two (or three) apps built by create_app, each with its own engine on the same database, stand for
API processes behind one load balancer; the last test runs a real `python -m server` and kills it
with SIGKILL mid-turn. The planner is the only double: GatedPlanner holds a turn open, and the
killed server's LLM endpoint is a local HTTP stub that never answers.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from database.engine import make_engine
from server import session_store
from server.app import create_app
from server.config import Settings
from server.turn_lock import LeaseLost, TurnLocks, release, take
from tests.conftest import bearer
from tests.server.test_chat_sse import GatedPlanner, _body, _events, _photos, balance
from tests.server.test_scale_out import worker_database_url
from tests.server_process import ServerProcess, free_port

pytestmark = pytest.mark.all_dbs


@pytest.fixture
def other_process(
    engine: Engine, make_settings: Callable[..., Settings], make_client: Callable[[FastAPI], httpx.Client]
) -> Iterator[Callable[..., tuple[FastAPI, httpx.Client]]]:
    """Another app on the same database through its own engine (its own pool), as a second API
    process would be; same secret key, so a token from one app is good on all of them."""
    engines: list[Engine] = []

    def make(**overrides: Any) -> tuple[FastAPI, httpx.Client]:
        own = make_engine(worker_database_url(engine))
        engines.append(own)
        app = create_app(make_settings(**overrides), engine=own, start_workers=False)
        return app, make_client(app)

    yield make
    for own in engines:
        own.dispose()


def _turn(client: httpx.Client, token: str, sid: str, text: str = "add the title Winter") -> httpx.Response:
    """A whole turn, read to its end (the lines are in `.text`)."""
    return client.post("/run_sse", headers=bearer(token), json=_body(sid, text))


def _last_event(answer: httpx.Response) -> dict[str, Any]:
    return _events(answer.text.splitlines())[-1]


def test_a_turn_in_one_process_holds_its_session_in_the_others(
    make_settings: Any, make_app: Any, make_client: Any, other_process: Any, anon_token: Any, new_session: Any
) -> None:
    planner = GatedPlanner()
    app_a = make_app(make_settings(), planner=planner)
    client_a = make_client(app_a)
    _, client_b = other_process(turn_wait_seconds=0.3)
    _, client_c = other_process(turn_wait_seconds=60)
    token = anon_token(client_a)
    busy, free = new_session(client_a, token), new_session(client_a, token)
    _photos(app_a, busy)

    with client_a.stream("POST", "/run_sse", headers=bearer(token), json=_body(busy)) as first:
        assert planner.started.wait(30)
        refused = _turn(client_b, token, busy)
        assert refused.status_code == 429
        assert "another turn is running" in refused.json()["message"]
        assert int(refused.headers["Retry-After"]) >= 1

        other = _turn(client_b, token, free)  # another session is not held up at all
        assert other.status_code == 200 and _last_event(other)["author"] == "nemo_agent"
        assert balance(client_b, token) == {"available": 90, "frozen": 5, "total": 95}  # A's turn only

        # C waits (up to 60 s) in its own process, and gets the session once A's turn has ended.
        queued: list[httpx.Response] = []
        waiter = threading.Thread(target=lambda: queued.append(_turn(client_c, token, busy)))
        waiter.start()
        time.sleep(0.3)  # C is polling the lease by now; opening the gate earlier would prove less
        planner.gate.set()
        assert _events(list(first.iter_lines()))[-1]["author"] == "nemo_agent"
    waiter.join(60)
    assert queued and queued[0].status_code == 200 and _last_event(queued[0])["author"] == "nemo_agent"

    after = _turn(client_b, token, busy)  # B's next turn runs: nothing is left held
    assert after.status_code == 200 and _last_event(after)["author"] == "nemo_agent"
    assert balance(client_a, token) == {"available": 80, "frozen": 0, "total": 80}
    # The three turns on the busy session ran one after the other: their events never interleave.
    turns = [event.invocation_id for event in session_store.events(app_a.state.ctx.engine, busy)]
    blocks = [turn for i, turn in enumerate(turns) if i == 0 or turns[i - 1] != turn]
    assert len(blocks) == len(set(blocks)) == 3


def test_an_expired_lease_of_a_dead_holder_is_taken_over_and_its_writes_refused(
    engine: Engine, other_process: Any, anon_token: Any, new_session: Any
) -> None:
    _, client = other_process(turn_wait_seconds=0.2)
    token = anon_token(client)
    sid = new_session(client, token)
    # A process took the session an hour ago and died: its one-second lease was never renewed.
    stale = take(engine, sid, "dead-host:1:0", lease_s=1, now=time.time() - 3600)
    assert stale is not None
    answer = _turn(client, token, sid)
    assert answer.status_code == 200 and _last_event(answer)["author"] == "nemo_agent"

    # The dead holder wakes up and writes: refused, and the draft is what the new turn made.
    before = session_store.get_state(engine, sid)
    with pytest.raises(LeaseLost):
        session_store.apply_state_delta(engine, sid, {"draft": None}, reason="stale", fence=stale.fence)
    assert session_store.get_state(engine, sid) == before
    assert not release(engine, stale)


def test_waiters_of_one_app_queue_in_memory_and_give_up_at_the_wait(engine: Engine) -> None:
    async def scenario() -> list[object]:
        locks = TurnLocks(engine, wait_seconds=0.05)
        no_wait = TurnLocks(engine, wait_seconds=0)
        first = await locks.acquire("1")
        refused = await locks.acquire("1")  # held past the wait
        other_session = await locks.acquire("2")
        waiter = asyncio.create_task(locks.acquire("1"))
        await asyncio.sleep(0)
        assert first is not None and other_session is not None
        await locks.release(first)  # the holder ends within the wait: the waiter gets the session
        queued = await waiter
        assert queued is not None
        busy_elsewhere = await no_wait.acquire("1")  # another app, same database: held
        await locks.release(queued)
        await locks.release(other_session)
        free_without_wait = await no_wait.acquire("1")
        assert free_without_wait is not None
        await no_wait.release(free_without_wait)
        return [refused, queued.token, locks.held_here("1"), busy_elsewhere, free_without_wait.token]

    assert asyncio.run(scenario()) == [None, 2, False, None, 3]


class _SilentLLM:
    """An OpenAI-compatible endpoint that takes the request and never answers (until closed)."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.closing = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.asked.set()
                outer.closing.wait(120)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()


class _TurnServer(ServerProcess):
    """`python -m server` on the test's database, its planner an LLM that never answers."""

    def __init__(self, tmp_path: Path, database_url: str, llm_url: str) -> None:
        data_dir = tmp_path / "killed"
        data_dir.mkdir()
        super().__init__(data_dir, free_port(), tmp_path / "killed.log")
        self.database_url, self.llm_url = database_url, llm_url

    def settings_env(self) -> dict[str, str]:
        return {
            **super().settings_env(),
            "NEMO_SECRET_KEY": "test-secret-key",  # what make_settings uses: tokens work on both
            "NEMO_DATABASE_URL": self.database_url,
            "NEMO_RENDER__WORKERS": "0",
            "NEMO_TURN_LEASE_SECONDS": "1",
            "NEMO_LLM__BASE_URL": self.llm_url,
            "NEMO_LLM__TIMEOUT_SECONDS": "300",
        }


def test_a_server_killed_mid_turn_holds_its_session_only_until_its_lease_expires(
    engine: Engine, tmp_path: Path, other_process: Any, anon_token: Any, new_session: Any
) -> None:
    llm = _SilentLLM()
    killed = _TurnServer(tmp_path, worker_database_url(engine), llm.url)
    try:
        killed.start()
        _, client = other_process(turn_wait_seconds=0.2)
        token = anon_token(client)
        sid = new_session(client, token)
        held = threading.Thread(target=_read_until_dropped, args=(killed.url, token, sid), daemon=True)
        held.start()
        assert llm.asked.wait(60), killed.log.read_text()[-3000:]
        time.sleep(1.5)  # past one lease period: renewals, not luck, keep the session held
        assert _turn(client, token, sid).status_code == 429

        killed.kill9()
        deadline = time.monotonic() + 30
        while (answer := _turn(client, token, sid)).status_code == 429:  # a client obeying Retry-After
            assert time.monotonic() < deadline, "the dead server's lease never expired"
            time.sleep(0.2)
        assert answer.status_code == 200 and _last_event(answer)["author"] == "nemo_agent"
    finally:
        killed.stop()
        llm.close()


def _read_until_dropped(url: str, token: str, sid: str) -> None:
    try:
        with httpx.stream("POST", f"{url}/run_sse", headers=bearer(token), json=_body(sid), timeout=120) as r:
            for _ in r.iter_lines():
                pass
    except httpx.HTTPError:
        pass  # the server was killed under it
