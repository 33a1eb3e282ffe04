"""Health, metrics, request logging, and serving under a path prefix."""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx
import pytest

from tests.conftest import bearer


def test_healthz_checks_the_database(client: httpx.Client) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok" and body["code"] == 0
    assert body["data"] == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize("prefix", ["", "/some/prefix", "/api/v1", "/nemo"])
def test_every_route_works_under_a_path_prefix(
    client: httpx.Client, anon_token: Any, new_session: Any, prefix: str
) -> None:
    token = client.post(f"{prefix}/api/auth/anonymous-token", headers={"X-Client-Id": "pfx"}).json()["data"][
        "token"
    ]
    created = client.post(f"{prefix}/api/tasks/me/with-session/nemo_agent", headers=bearer(token), json={})
    sid = created.json()["data"]["session_id"]
    assert (
        client.get(f"{prefix}/api/state/nemo_agent/me/{sid}/latest", headers=bearer(token)).json()["code"]
        == 0
    )
    assert (
        client.get(f"{prefix}/api/credits/balance/simple", headers=bearer(token)).json()["data"]["total"]
        == 100
    )
    assert client.get(f"{prefix}/healthz").json()["status"] == "ok"
    assert client.get(f"{prefix}/metrics").status_code == 200
    missing = client.post(
        f"{prefix}/run_sse",
        headers=bearer(token),
        json={"session_id": "1" * 19, "new_message": {"parts": [{"text": "hi"}]}},
    )
    assert missing.status_code == 404 and missing.json()["code"] == 1002


def test_an_unknown_path_is_a_plain_404_envelope(client: httpx.Client) -> None:
    for path in ("/nothing/here", "/some/prefix/api/unknown"):
        answer = client.get(path)
        assert answer.status_code == 404 and answer.json()["message"] == "not found"


def test_metrics_count_requests_turn_routes_and_attribution(client: httpx.Client, anon_token: Any) -> None:
    anon_token(client)
    client.get("/healthz", headers={"X-Skill-Source": "clawhub", "X-Skill-Version": "1.2"})
    client.get("/prefix/healthz")
    text = client.get("/metrics").text
    assert re.search(
        r'nemo_http_requests_total\{method="POST",route="/api/auth/anonymous-token",status="200"\} 1\.0', text
    )
    assert re.search(r'nemo_http_requests_total\{method="GET",route="/healthz",status="200"\} 2\.0', text)
    assert re.search(r'nemo_attribution_headers_total\{header="source",present="yes"\} 1\.0', text)
    assert re.search(r'nemo_attribution_headers_total\{header="platform",present="no"\} 3\.0', text)
    assert "nemo_http_request_duration_seconds_bucket" in text
    assert "nemo_turns_running 0.0" in text


def test_metrics_belong_to_one_app(make_app: Any, make_client: Any, client: httpx.Client) -> None:
    client.get("/healthz")
    other = make_client(make_app())
    assert 'route="/healthz"' not in other.get("/metrics").text


def test_each_request_is_logged_with_its_attribution_and_never_its_token(
    client: httpx.Client, anon_token: Any, caplog: pytest.LogCaptureFixture
) -> None:
    token = anon_token(client)
    with caplog.at_level(logging.INFO, logger="nemo.access"):
        client.get(
            "/api/credits/balance/simple",
            headers={**bearer(token), "X-Skill-Source": "clawhub", "X-Skill-Platform": "openclaw"},
        )
        client.get("/workspace/claim", params={"ct": "clm_secret-in-query"})
    lines = [r.getMessage() for r in caplog.records if r.name == "nemo.access"]
    balance_line = next(line for line in lines if "/api/credits/balance/simple" in line)
    assert (
        "source=clawhub" in balance_line and "platform=openclaw" in balance_line and "-> 200" in balance_line
    )
    assert all(token not in line and "clm_secret" not in line for line in lines)
