"""The render proxy over real HTTP: queue, poll, download (with Range), refuse, cancel.

Renders are real (the embedded worker runs renderer.render in a child process) and small.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from server.config import RenderSettings, Settings
from tests.conftest import bearer
from tests.ffprobe import ffprobe

STATUS_FIELDS = {
    "id", "status", "progress", "phase", "eta_seconds",
    "outputUrl", "output", "error", "createdAt", "completedAt",
}  # fmt: skip


def tiny_draft(duration_ms: int = 1000, title: str = "Hi") -> dict[str, Any]:
    return {
        "d": duration_ms,
        "m": {"title": title, "width": 160, "height": 284, "fps": 30, "bg": "#204080"},
        "t": [
            {"id": "a1", "tt": 1, "m": {"name": "BGM"}, "sg": [
                {"id": "s2", "src": "builtin:lofi", "st": 0, "d": duration_ms, "ss": 0,
                 "m": {"vol": 0.5, "fade_out": 200}}]},
            {"id": "x1", "tt": 7, "sg": [
                {"id": "s3", "st": 0, "d": duration_ms, "m": {"text": title, "pos": "center", "size": 0.1}}]},
        ],
        "client_key": {"kept": True},
    }  # fmt: skip


class Api:
    """A client as a skill drives it: a token, a session, render calls."""

    def __init__(self, client: httpx.Client, token: str, session_id: str) -> None:
        self.client, self.token, self.session_id = client, token, session_id

    def submit(self, render_id: str, draft: dict[str, Any] | None = None, **extra: Any) -> httpx.Response:
        body = {"id": render_id, "sessionId": self.session_id, "draft": draft or tiny_draft(),
                "output": {"format": "mp4", "quality": "low"}, **extra}  # fmt: skip
        return self.client.post("/api/render/proxy/lambda", json=body, headers=bearer(self.token))

    def status(self, render_id: str) -> httpx.Response:
        return self.client.get(f"/api/render/proxy/lambda/{render_id}", headers=bearer(self.token))

    def wait(self, render_id: str, timeout: float = 120) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            answer = self.status(render_id)
            assert answer.status_code == 200, answer.text
            seen.append(answer.json())
            if seen[-1]["status"] in ("completed", "failed", "cancelled"):
                return seen
            assert time.monotonic() < deadline, f"render did not finish: {seen[-1]}"
            time.sleep(0.1)


@pytest.fixture
def api_for(
    make_settings: Callable[..., Settings],
    make_app: Callable[..., FastAPI],
    make_client: Callable[[FastAPI], httpx.Client],
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
) -> Callable[..., Api]:
    def build(workers: int = 1, **overrides: Any) -> Api:
        settings = make_settings(
            render=RenderSettings.model_validate({"workers": workers, "device": "cpu", "poll_seconds": 0.05}),
            **overrides,
        )
        client = make_client(make_app(settings, start_workers=True))
        token = anon_token(client)
        return Api(client, token, new_session(client, token))

    return build


@pytest.mark.all_dbs
def test_render_lifecycle_to_a_downloadable_mp4(api_for: Callable[..., Api], tmp_path: Path) -> None:
    api = api_for()
    answer = api.submit("render_1")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["code"], body["success"], body["message"]) == (0, True, "success")
    assert set(body) == STATUS_FIELDS | {"code", "success", "message", "data"}
    assert body["data"] == {k: body[k] for k in STATUS_FIELDS}
    assert body["id"] == "render_1" and body["status"] in ("pending", "processing")
    assert isinstance(body["createdAt"], int) and body["completedAt"] is None and body["output"] is None

    seen = api.wait("render_1")
    final = seen[-1]
    assert final["status"] == "completed", final
    statuses = [s["status"] for s in seen]
    assert statuses == sorted(statuses, key=["pending", "processing", "completed"].index)
    progress = [s["progress"] for s in seen]
    assert progress == sorted(progress) and progress[-1] == 100
    assert final["error"] is None and final["eta_seconds"] is None
    assert final["completedAt"] >= final["createdAt"]
    url = final["outputUrl"]
    assert url == final["output"]["url"] == final["data"]["outputUrl"]
    # a full link ending in the render's name, like the cloud's CDN links (api-contract.md)
    assert re.fullmatch(rf"{api.client.base_url}/media/renders/\d+-[0-9a-f]{{32}}/render_1\.mp4", url), url
    assert (final["output"]["width"], final["output"]["height"]) == (160, 284)

    # `curl -o "$outputUrl"`, as skills do and as a person's browser does: no token, no redirect
    download = httpx.get(url)
    assert download.status_code == 200
    assert download.headers["content-type"] == "video/mp4"
    assert 'filename="render_1.mp4"' in download.headers["content-disposition"]
    # the token-checked download route serves the same bytes, as an attachment
    direct = httpx.get(f"{api.client.base_url}/api/render/proxy/render_1/download", headers=bearer(api.token))
    assert direct.status_code == 200 and direct.content == download.content
    assert direct.headers["content-disposition"].startswith("attachment")
    assert len(download.content) == final["output"]["size"]
    out = tmp_path / "out.mp4"
    out.write_bytes(download.content)
    probe = ffprobe(out)
    kinds = {s["codec_type"]: s for s in probe["streams"]}
    assert kinds["video"]["codec_name"] == "h264" and kinds["audio"]["codec_name"] == "aac"
    assert (kinds["video"]["width"], kinds["video"]["height"]) == (160, 284)
    assert abs(float(probe["format"]["duration"]) - 1.0) < 0.15

    ranged = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert ranged.status_code == 206
    assert ranged.content == download.content[100:200]
    assert ranged.headers["content-range"] == f"bytes 100-199/{len(download.content)}"

    state = api.client.get(f"/api/state/nemo_agent/me/{api.session_id}/latest", headers=bearer(api.token))
    generated = state.json()["data"]["state"]["generated_media"]
    renders = [g for g in generated if g["type"] == "render"]
    assert len(renders) == 1 and renders[0]["url"] == url and abs(renders[0]["duration"] - 1.0) < 0.15

    # the link is its own key: any other key, job or name opens nothing
    job_key, name = url.split("/media/renders/")[1].split("/")
    job, mac = job_key.split("-")
    forged_mac = f"{int(mac[0], 16) ^ 1:x}{mac[1:]}"
    for forged in (
        f"/media/renders/{job}-{forged_mac}/{name}",
        f"/media/renders/{int(job) + 1}-{mac}/{name}",
        f"/media/renders/{job}-{mac}/render_2.mp4",
    ):
        refused = httpx.get(f"{api.client.base_url}{forged}")
        assert refused.status_code == 404 and refused.json()["code"] == 4004, forged


def test_legacy_aliases_and_path_prefix(api_for: Callable[..., Api]) -> None:
    api = api_for(workers=0)
    body = {"id": "old:1", "sessionId": api.session_id, "draft": tiny_draft(), "output": {}}
    answer = api.client.post("/api/render/proxy/draft", json=body, headers=bearer(api.token))
    assert answer.status_code == 200, answer.text
    legacy = api.client.get("/api/render/proxy/old:1", headers=bearer(api.token))
    assert legacy.status_code == 200 and legacy.json()["status"] == "pending"
    assert legacy.json()["phase"] == "queued" and legacy.json()["progress"] == 0
    prefixed = api.client.get("/some/prefix/api/render/proxy/lambda/old:1", headers=bearer(api.token))
    assert prefixed.status_code == 200 and prefixed.json()["id"] == "old:1"


def test_duplicate_render_id_is_refused(api_for: Callable[..., Api]) -> None:
    api = api_for(workers=0)
    assert api.submit("dup").status_code == 200
    again = api.submit("dup")
    assert again.status_code == 409
    assert again.json()["code"] == 4009 and "duplicate" in again.json()["message"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["t"][1]["sg"][0]["m"].update(pos="middle-ish"), "draft.t.1.sg.0.m.pos"),
        (lambda d: d["t"][0]["sg"][0].update(src="file:///etc/passwd"), "draft.t.0.sg.0.src"),
        (lambda d: d["t"][0]["sg"][0].update(src="builtin:nope"), "draft.t.0.sg.0.src"),
        (lambda d: d["m"].update(width=161), "draft.m.width"),
        (lambda d: d.pop("d"), "draft.d"),
    ],
)
def test_invalid_draft_is_refused_naming_the_field(
    api_for: Callable[..., Api], change: Callable[[dict[str, Any]], Any], field: str
) -> None:
    api = api_for(workers=0)
    draft = tiny_draft()
    change(draft)
    answer = api.submit(f"bad_{uuid.uuid4().hex[:6]}", draft)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == 400 and field in answer.json()["message"]


def test_bad_request_body_fields_are_named(api_for: Callable[..., Api]) -> None:
    api = api_for(workers=0)
    answer = api.submit("has spaces/slash")
    assert answer.status_code == 400 and "id" in answer.json()["message"]
    answer = api.submit("ok", output={"format": "gif"})
    assert answer.status_code == 400 and "output.format" in answer.json()["message"]


def test_foreign_url_in_draft_is_refused_without_fetching(api_for: Callable[..., Api]) -> None:
    api = api_for(workers=0)
    draft = tiny_draft()
    draft["t"][0]["sg"][0]["src"] = "http://169.254.169.254/latest/meta-data/song.mp3"
    answer = api.submit("foreign", draft)
    assert answer.status_code == 400 and answer.json()["code"] == 4003


def test_unknown_and_foreign_render_ids_are_not_found(
    api_for: Callable[..., Api], anon_token: Callable[..., str]
) -> None:
    api = api_for(workers=0)
    assert api.submit("mine").status_code == 200
    for path in (
        "/api/render/proxy/lambda/nope",
        "/api/render/proxy/nope",
        "/api/render/proxy/nope/download",
    ):
        answer = api.client.get(path, headers=bearer(api.token))
        assert answer.status_code == 404 and answer.json()["code"] == 4004, path
    other = anon_token(api.client)
    answer = api.client.get("/api/render/proxy/lambda/mine", headers=bearer(other))
    assert answer.status_code == 404 and answer.json()["code"] == 4004
    answer = api.client.post("/api/render/proxy/lambda/mine/cancel", headers=bearer(other))
    assert answer.status_code == 404 and answer.json()["code"] == 4004
    # Not finished yet: nothing to download.
    answer = api.client.get("/api/render/proxy/mine/download", headers=bearer(api.token))
    assert answer.status_code == 404 and answer.json()["code"] == 4004


def test_render_needs_the_callers_session(
    api_for: Callable[..., Api], anon_token: Callable[..., str]
) -> None:
    api = api_for(workers=0)
    other = Api(api.client, anon_token(api.client), api.session_id)
    answer = other.submit("x")
    assert answer.status_code == 404 and answer.json()["code"] == 1002
    answer = api.client.post(
        "/api/render/proxy/lambda", json={"id": "x", "sessionId": "1", "draft": tiny_draft()}
    )
    assert answer.status_code == 401 and answer.json()["code"] == 1001


def test_cancel_a_queued_render(api_for: Callable[..., Api]) -> None:
    api = api_for(workers=0)
    assert api.submit("c1").status_code == 200
    answer = api.client.post("/api/render/proxy/lambda/c1/cancel", headers=bearer(api.token))
    assert answer.status_code == 200
    body = answer.json()
    # clients know pending/processing/completed/failed only: a cancel reads as a failure, saying so
    assert body["status"] == "failed" and body["error"]["code"] == "cancelled"
    assert body["data"]["status"] == "failed" and body["data"]["error"]["code"] == "cancelled"
    assert api.status("c1").json()["data"]["status"] == "failed"


def test_cancel_a_running_render(api_for: Callable[..., Api]) -> None:
    api = api_for()
    assert api.submit("long", tiny_draft(duration_ms=60_000)).status_code == 200
    deadline = time.monotonic() + 60
    while api.status("long").json()["status"] != "processing":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    api.client.post("/api/render/proxy/lambda/long/cancel", headers=bearer(api.token))
    final = api.wait("long")[-1]
    assert final["status"] == "failed" and final["error"]["code"] == "cancelled" and final["output"] is None


def test_attribution_gating_when_configured(api_for: Callable[..., Api]) -> None:
    api = api_for(workers=0, require_attribution=True)
    answer = api.submit("gated")
    assert answer.status_code == 402 and answer.json()["code"] == 402
    headers = {
        **bearer(api.token),
        "X-Skill-Source": "skill",
        "X-Skill-Version": "1.0",
        "X-Skill-Platform": "cli",
    }
    body = {"id": "gated", "sessionId": api.session_id, "draft": tiny_draft()}
    answer = api.client.post("/api/render/proxy/lambda", json=body, headers=headers)
    assert answer.status_code == 200, answer.text


def test_export_costs_no_credits(api_for: Callable[..., Api]) -> None:
    api = api_for(workers=0)
    before = api.client.get("/api/credits/balance/simple", headers=bearer(api.token)).json()["data"]
    assert api.submit("free").status_code == 200
    after = api.client.get("/api/credits/balance/simple", headers=bearer(api.token)).json()["data"]
    assert after == before


def test_status_never_goes_back_to_pending_when_a_started_render_is_requeued(
    make_settings: Callable[..., Settings],
    make_app: Callable[..., FastAPI],
    make_client: Callable[[FastAPI], httpx.Client],
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
) -> None:
    # A server that shuts down mid-render (a deploy) gives the job back to the queue; a client
    # polling another server of the deployment must still see pending -> processing -> done.
    render = RenderSettings.model_validate({"workers": 1, "device": "cpu", "poll_seconds": 0.05})
    stopping = make_app(make_settings(render=render), start_workers=True)
    client = make_client(stopping)
    token = anon_token(client)
    api = Api(client, token, new_session(client, token))
    assert api.submit("requeued", tiny_draft(duration_ms=60_000)).status_code == 200
    deadline = time.monotonic() + 60
    while (seen := api.status("requeued").json())["progress"] == 0:
        assert seen["status"] in ("pending", "processing") and time.monotonic() < deadline, seen
        time.sleep(0.05)
    stopping.state.ctx.renders.stop()  # what its shutdown does: the running render is released
    other = make_client(make_app())  # no render workers: the job waits in the queue
    after = other.get("/api/render/proxy/lambda/requeued", headers=bearer(token)).json()
    assert after["status"] == after["data"]["status"] == "processing", after
    assert after["progress"] >= seen["progress"] and after["outputUrl"] is None


def test_an_unknown_or_over_long_session_id_is_1002_and_long_attribution_headers_are_fine(
    api_for: Callable[..., Api],
) -> None:
    api = api_for(workers=0)
    for session_id in ("", "1" * 19, "9" * 100, "not-a-session"):
        body = {"id": f"s{len(session_id)}", "sessionId": session_id, "draft": tiny_draft()}
        answer = api.client.post("/api/render/proxy/lambda", json=body, headers=bearer(api.token))
        assert answer.status_code == 404 and answer.json()["code"] == 1002, (session_id, answer.text)
    headers = {**bearer(api.token), "X-Skill-Source": "s" * 300, "X-Skill-Platform": "p" * 1000}
    body = {"id": "attributed", "sessionId": api.session_id, "draft": tiny_draft()}
    answer = api.client.post("/api/render/proxy/lambda", json=body, headers=headers)
    assert answer.status_code == 200, answer.text


def _without_ids(draft: dict[str, Any]) -> dict[str, Any]:
    def strip(item: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in item.items() if k != "id"}

    return {**draft, "t": [{**strip(track), "sg": [strip(s) for s in track["sg"]]} for track in draft["t"]]}


def test_json_sent_with_curl_d_labelled_as_a_form_is_read_as_json(api_for: Callable[..., Api]) -> None:
    # `curl -d '{...}'` without -H Content-Type sends application/x-www-form-urlencoded
    api = api_for(workers=0)
    form = {"Content-Type": "application/x-www-form-urlencoded", **bearer(api.token)}
    session = api.client.post(
        "/api/tasks/me/with-session/nemo_agent", content='{"task_name":"curl"}', headers=form
    )
    assert session.status_code == 200, session.text
    assert session.json()["data"]["session_id"].isdigit()
    body = {"id": "curl_d", "sessionId": api.session_id, "draft": tiny_draft(), "output": {}}
    answer = api.client.post("/api/render/proxy/lambda", content="\n " + json.dumps(body), headers=form)
    assert answer.status_code == 200 and answer.json()["status"] == "pending", answer.text
    # a real form is still no JSON: refused with the envelope, as before
    refused = api.client.post("/api/tasks/me/with-session/nemo_agent", content="task_name=x", headers=form)
    assert refused.status_code == 400 and refused.json()["code"] == 400


def test_a_hand_written_draft_without_track_or_segment_ids_is_accepted(api_for: Callable[..., Api]) -> None:
    api = api_for(workers=0)
    answer = api.submit("no_ids", _without_ids(tiny_draft()))
    assert answer.status_code == 200 and answer.json()["status"] == "pending", answer.text
    # ids the draft does have are kept; the missing ones are filled without clashing with them
    draft = tiny_draft()
    draft["t"][1]["sg"][0].pop("id")
    draft["t"][0]["id"] = "track_2"  # what the second track would otherwise be named
    draft["t"][1].pop("id")
    assert api.submit("some_ids", draft).status_code == 200


def test_head_answers_the_download_and_the_public_link_without_the_bytes(api_for: Callable[..., Api]) -> None:
    api = api_for()
    assert api.submit("headed").status_code == 200
    final = api.wait("headed")[-1]
    assert final["status"] == "completed", final
    download = f"{api.client.base_url}/api/render/proxy/headed/download"
    for url, headers in ((final["outputUrl"], {}), (download, bearer(api.token))):
        head = httpx.head(url, headers=headers)
        assert head.status_code == 200 and head.content == b"", url
        assert head.headers["content-type"] == "video/mp4"
        assert int(head.headers["content-length"]) == final["output"]["size"]
    assert httpx.head(download).status_code == 401
