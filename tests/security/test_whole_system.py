# ruff: noqa: E501  (the security.md -> test map is a wide table)
"""security.md, "Whole-system checks": every line, as a named test that can fail.

| security.md line                                       | test                                                  |
|--------------------------------------------------------|-------------------------------------------------------|
| fuzz every route from openapi.yaml (schemathesis): no  | test_every_route_of_the_spec_survives_fuzzing (NEMO_SCHEMA_EXAMPLES per |
| 5xx, every answer matches the spec                     | operation: 25 in CI; the checks: not_a_server_error, status_code_, |
|                                                        | content_type_ and response_schema_conformance)        |
| load: 200 req/s on state and credits, p99 < 50 ms on 2 | `make load` (bench/load.py prints p50/p99/errors; timings are never |
| cores                                                  | asserted in tests); test_a_burst_on_state_and_credits_loses_nothing |
| 100 concurrent SSE streams held; nothing lost          | `make load`; test_concurrent_streams_all_finish_and_all_are_charged (30 here) |
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from server.app import create_app
from server.testing import LiveServer
from tests.conftest import ArgumentSettings, bearer, create_session, get_anon_token
from tests.server.test_chat_sse import _body, _events, _photos

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("NEMO_SCHEMA_EXAMPLES", "25"))
SCHEMA = schemathesis.openapi.from_path(str(ROOT / "openapi.yaml"))


class Live:
    def __init__(self, base_url: str, token: str, session_id: str) -> None:
        self.base_url, self.token, self.session_id = base_url, token, session_id


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    data_dir = tmp_path_factory.mktemp("schema")
    app = create_app(
        ArgumentSettings(_env_file=None, data_dir=data_dir, secret_key="schema", rate_limit_per_token=None),  # type: ignore[call-arg]
        start_workers=False,
    )
    with LiveServer(app) as server, httpx.Client(base_url=server.base_url, timeout=30) as client:
        token = get_anon_token(client, "fuzz")
        sid = create_session(client, token)
        yield Live(server.base_url, token, sid)
    app.state.ctx.engine.dispose()


@SCHEMA.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_every_route_of_the_spec_survives_fuzzing(case: Any, live: Live) -> None:
    # Half the cases name the real session, so the generated bodies reach past the 1002 check.
    if case.path_parameters and "session_id" in case.path_parameters and uuid.uuid4().int % 2:
        case.path_parameters["session_id"] = live.session_id
    case.call_and_validate(
        base_url=live.base_url,
        headers={"Authorization": f"Bearer {live.token}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
        timeout=60,
    )


def test_a_burst_on_state_and_credits_loses_nothing(live: Live) -> None:
    """400 requests from 8 threads on the two hot read routes: every one answered 200 and right."""
    urls = [f"/api/state/nemo_agent/me/{live.session_id}/latest", "/api/credits/balance/simple"] * 200

    def get(url: str) -> int:
        with httpx.Client(base_url=live.base_url, timeout=30) as own:
            return own.get(url, headers=bearer(live.token)).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(get, urls))
    assert statuses == [200] * len(urls)


def test_concurrent_streams_all_finish_and_all_are_charged(
    make_settings: Any, make_app: Any, make_client: Any, anon_token: Any, new_session: Any
) -> None:
    app = make_app(make_settings(anon_tokens_per_ip=100))  # 30 users from one address
    client = make_client(app)
    streams = 30
    users = [anon_token(client) for _ in range(streams)]
    sessions = [new_session(client, token) for token in users]
    for sid in sessions:
        _photos(app, sid)
    finished: list[str] = []
    lock = threading.Lock()

    def one(token: str, sid: str) -> None:
        with (
            httpx.Client(base_url=client.base_url, timeout=120) as own,
            own.stream("POST", "/run_sse", headers=bearer(token), json=_body(sid)) as answer,
        ):
            assert answer.status_code == 200
            last = _events(list(answer.iter_lines()))[-1]
        with lock:
            finished.append(str(last["author"]))

    threads = [threading.Thread(target=one, args=pair) for pair in zip(users, sessions, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert finished == ["nemo_agent"] * streams
    for token in users:
        assert (
            client.get("/api/credits/balance/simple", headers=bearer(token)).json()["data"]["available"] == 95
        )
