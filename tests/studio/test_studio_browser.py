"""The studio in a real browser (headless Chromium): what a person does, checked as they'd see it.

Journeys: drop three photos, ask for a slideshow, see the timeline, change it by chat, scrub the
preview, export, play the video; open a claim link; the Chinese UI on a phone-sized screen.
Pictures are checked by their pixels where it matters (the preview is a photo, not blank; the
thumbnails are the photos). Each step's time is printed (pytest -s) for the record, never asserted.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import numpy as np
import pytest

from server.config import LLMSettings
from tests.agent.planners.llm.loopback import LoopbackLLM, Recorded
from tests.conftest import bearer, create_session, get_anon_token
from tests.studio.conftest import PHOTO_COLOURS, pixels

pytestmark = pytest.mark.timeout(300)

TOKEN_PREFIX = "nmv_usr_"
STEP_TIMEOUT_MS = 60_000
EXPORT_TIMEOUT_MS = 180_000


@contextmanager
def step(name: str, times: dict[str, float]) -> Iterator[None]:
    started = time.monotonic()
    yield
    times[name] = round(time.monotonic() - started, 2)
    print(f"step {name}: {times[name]} s")


def drop_files(page: Any, selector: str, files: dict[str, bytes]) -> None:
    """A drag-and-drop of real files onto `selector`, as the browser delivers it (a DataTransfer
    carrying File objects), dispatched as dragenter, dragover and drop."""
    payload = [
        {"name": n, "b64": base64.b64encode(data).decode(), "type": "image/jpeg"} for n, data in files.items()
    ]
    transfer = page.evaluate_handle(
        """(files) => {
            const dt = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
                dt.items.add(new File([bytes], f.name, { type: f.type }));
            }
            return dt;
        }""",
        payload,
    )
    for kind in ("dragenter", "dragover", "drop"):
        page.dispatch_event(selector, kind, {"dataTransfer": transfer})


def colour_distance(a: np.ndarray, b: tuple[int, int, int]) -> float:
    return float(np.abs(a - np.array(b, dtype=np.float32)).max())


def dominant(picture: np.ndarray) -> np.ndarray:
    """The median colour: the photo's flat background, whatever card or title sits on it."""
    return np.median(picture.reshape(-1, 3), axis=0)  # type: ignore[no-any-return]


def wait_thumbnails(page: Any, selector: str, count: int) -> None:
    page.wait_for_function(
        """([sel, n]) => {
            const imgs = [...document.querySelectorAll(sel)];
            return imgs.length >= n && imgs.every((i) => i.complete && i.naturalWidth > 0);
        }""",
        arg=[selector, count],
        timeout=STEP_TIMEOUT_MS,
    )


def session_state(client: httpx.Client, page: Any) -> dict[str, Any]:
    """The state of the project the page has open, read with the page's own token."""
    sid = page.evaluate("() => localStorage.getItem('nemo.session_id')")
    token = page.evaluate("() => JSON.parse(localStorage.getItem('nemo.auth')).token")
    answer = client.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=bearer(token))
    return dict(answer.json()["data"]["state"])


def send_chat(page: Any, text: str) -> None:
    """Type a message and send it with Enter; wait until the turn's stream has closed.

    Waits for the outcome, not for the "working" banner to flash: a quick turn shows and hides it
    between two of Playwright's polls. The reply's bubble appears in the same step that shows the
    banner, so "one more reply bubble and no banner" means this turn has ended."""
    replies = page.locator("#messages .msg-model").count()
    page.fill("#chat-input", text)
    page.press("#chat-input", "Enter")
    page.wait_for_function(
        """(n) => document.querySelectorAll('#messages .msg-model').length > n
                  && document.querySelector('#working').hidden""",
        arg=replies,
        timeout=STEP_TIMEOUT_MS,
    )


def test_drop_photos_make_a_slideshow_edit_scrub_export_and_play(
    studio_server: httpx.Client, open_page: Any, photos: dict[str, bytes], shots: Any
) -> None:
    times: dict[str, float] = {}
    with step("load", times):
        page, watch = open_page(f"{studio_server.base_url}/")
        page.wait_for_selector("#studio:not([hidden])", timeout=STEP_TIMEOUT_MS)
        page.wait_for_function("() => document.querySelector('#credits').textContent.trim() !== ''")
    assert "100" in page.text_content("#credits")
    loaded = page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " return {dom_ms: Math.round(n.domContentLoadedEventEnd), load_ms: Math.round(n.loadEventEnd)}; }"
    )
    print(f"page load from the local server: {loaded}")

    with step("drop three photos", times):
        drop_files(page, "#dropzone", photos)
        wait_thumbnails(page, "#library .lib-thumb", 3)
    library = shots(page.locator("#library"), "library")
    # every thumbnail is its photo: the three colours, each one present
    strip = pixels(library)
    for colour in PHOTO_COLOURS.values():
        close = np.abs(strip - np.array(colour, dtype=np.float32)).max(axis=2) < 40
        assert close.mean() > 0.02, f"no thumbnail of the {colour} photo"

    with step("make a slideshow", times):
        send_chat(page, "make a vertical slideshow")
        page.wait_for_selector("#timeline .tl-seg-video", timeout=STEP_TIMEOUT_MS)
        wait_thumbnails(page, "#timeline .tl-thumb", 3)
        page.wait_for_function("() => document.querySelector('#still').naturalWidth > 0")
    assert page.locator("#messages .msg-model .chip").count() >= 1, "no tool chip in the reply"
    assert page.locator("#messages .msg-model .msg-body").last.text_content().strip()
    assert page.locator("#timeline .tl-seg-video").count() == 3
    draft = session_state(studio_server, page)["draft"]
    assert (draft["m"]["width"], draft["m"]["height"]) == (1080, 1920)
    shots(page, "after-slideshow", full_page=True)

    with step("change it by chat", times):
        before = page.text_content("#timeline-meta")
        send_chat(page, "2 seconds each, and add a title Summer")
        page.wait_for_selector("#timeline .tl-seg-text", timeout=STEP_TIMEOUT_MS)
    assert page.text_content("#timeline-meta") != before
    assert "Summer" in page.text_content("#timeline .tl-text")
    with step("undo and redo", times):
        page.get_by_role("button", name="Undo", exact=True).click()
        page.wait_for_selector("#working", state="hidden", timeout=STEP_TIMEOUT_MS)
        page.wait_for_function(
            "() => !document.querySelector('#timeline .tl-seg-text')", timeout=STEP_TIMEOUT_MS
        )
        send_chat(page, "redo")
        page.wait_for_selector("#timeline .tl-seg-text", timeout=STEP_TIMEOUT_MS)

    with step("scrub the preview", times):
        page.focus("#scrub")
        for _ in range(25):  # 2.5 s in
            page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "() => { const i = document.querySelector('#still');"
            " return i.dataset.t === '2.500' && i.complete && i.naturalWidth > 0; }"
        )
    assert page.input_value("#scrub") == "2.5"
    preview = pixels(shots(page.locator("#still"), "preview-2.5s"))
    assert preview.std() > 10, "the preview is blank"
    # 2 s per photo with 0.5 s crossfades: the second photo alone fills 1.5-3.5 s (uploads finish
    # in any order, so which photo is second is read from the draft)
    state = session_state(studio_server, page)
    second = sorted(state["draft"]["t"][0]["sg"], key=lambda seg: seg["st"])[1]
    name = next(f["filename"] for f in state["video_infos"] if second["src"] in (f["cdn_url"], f["media_id"]))
    shown = dominant(preview)
    assert colour_distance(shown, PHOTO_COLOURS[name]) < 30, (shown, name)

    with step("export", times):
        page.select_option("#export-res", "480p")
        page.click("#export")
        page.wait_for_selector("#job:not([hidden])")
        page.wait_for_selector("#result:not([hidden])", timeout=EXPORT_TIMEOUT_MS)
    seconds = session_state(studio_server, page)["draft"]["d"] / 1000

    with step("play", times):
        page.evaluate("() => { const v = document.querySelector('#player'); v.muted = true; v.play(); }")
        page.wait_for_function(
            "() => document.querySelector('#player').readyState === 4", timeout=STEP_TIMEOUT_MS
        )
    played = page.evaluate(
        "() => { const v = document.querySelector('#player');"
        " return {duration: v.duration, w: v.videoWidth, h: v.videoHeight}; }"
    )
    assert abs(played["duration"] - seconds) < 0.1, (played, seconds)
    assert (played["w"], played["h"]) == (480, 854)
    assert page.get_attribute("#download", "href", timeout=1000).endswith(".mp4")
    assert page.evaluate("() => document.querySelector('#player').poster").startswith("blob:")
    shots(page, "exported")

    assert not watch.errors, watch.errors
    assert not [u for u in watch.urls if TOKEN_PREFIX in u], "a token rode in a URL"
    print("journey times:", times)


def _project_with_a_slideshow(client: httpx.Client, photos: dict[str, bytes]) -> tuple[str, str]:
    token = get_anon_token(client)
    sid = create_session(client, token)
    files = [("files", (name, data, "image/jpeg")) for name, data in photos.items()]
    assert (
        client.post(f"/api/upload-video/nemo_agent/me/{sid}", headers=bearer(token), files=files).status_code
        == 200
    )
    message = {"parts": [{"text": "make a vertical slideshow with the title Trip"}]}
    turn = {"app_name": "nemo_agent", "user_id": "me", "session_id": sid, "new_message": message}
    with client.stream("POST", "/run_sse", headers=bearer(token), json=turn) as stream:
        for _ in stream.iter_lines():
            pass
    return token, sid


def test_a_claim_link_opens_the_project_signed_in(
    studio_server: httpx.Client, open_page: Any, photos: dict[str, bytes], shots: Any
) -> None:
    token, sid = _project_with_a_slideshow(studio_server, photos)
    claim = studio_server.post("/api/auth/claim-token", headers=bearer(token), json={"session_id": sid})
    url = claim.json()["data"]["claim_url"]

    started = time.monotonic()
    page, watch = open_page(url)  # a new visitor: nothing in this browser's storage
    page.wait_for_selector("#timeline .tl-seg-video", timeout=STEP_TIMEOUT_MS)
    wait_thumbnails(page, "#timeline .tl-thumb", 3)
    page.wait_for_function("() => document.querySelector('#still').naturalWidth > 0")
    print(f"claim link to project: {time.monotonic() - started:.2f} s")

    assert page.input_value("#project-select") == sid
    assert "Trip" in page.text_content("#project-select option:checked")
    assert "ct=" not in page.url and page.url.endswith("/"), "the link's secret stayed in the address bar"
    assert page.is_hidden("#claim-summary")
    # the conversation so far came along: the request and the reply with its tools
    assert "make a vertical slideshow" in page.text_content("#messages .msg-user")
    assert page.locator("#messages .msg-model .chip").count() >= 2
    assert "Trip" in page.text_content("#messages .msg-model .msg-body")
    # signed in as the project's owner: the browser's own token opens the session
    browser_token = page.evaluate("() => JSON.parse(localStorage.getItem('nemo.auth')).token")
    assert browser_token != token
    owned = studio_server.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=bearer(browser_token))
    assert owned.status_code == 200
    shots(page, "claimed")
    assert not watch.errors, watch.errors

    # the same browser on a dead link: the page says so, in words
    dead, _ = open_page(f"{studio_server.base_url}/workspace/claim?ct=clm_{'x' * 43}")
    assert "invalid or has expired" in dead.text_content("#claim-summary")


def test_chinese_ui_on_a_phone_is_usable_by_keyboard_with_labelled_controls(
    studio_server: httpx.Client, open_page: Any, photos: dict[str, bytes], shots: Any
) -> None:
    page, watch = open_page(
        f"{studio_server.base_url}/", viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True,
        has_touch=True, device_scale_factor=2,
    )  # fmt: skip
    page.wait_for_selector("#studio:not([hidden])", timeout=STEP_TIMEOUT_MS)
    page.wait_for_function("() => document.querySelector('#credits').textContent.includes('积分')")
    assert page.input_value("#lang-select") == "zh"
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.text_content("#export") == "导出" and page.text_content("#send") == "发送"
    assert "拖到这里" in page.text_content("#dropzone")
    # the characters are drawn as glyphs, not as the "no glyph" box (tofu): drawn in the button's
    # font, two Chinese characters differ from each other and from two unassigned code points
    drawn = page.evaluate(
        """async () => {
            if (document.readyState !== 'complete') await new Promise((r) => addEventListener('load', r));
            const font = getComputedStyle(document.querySelector('#export')).font;
            await document.fonts.load(font, '导出');
            const draw = (text) => {
                const canvas = document.createElement('canvas');
                canvas.width = 120; canvas.height = 60;
                const ctx = canvas.getContext('2d');
                ctx.font = font; ctx.fillStyle = '#fff'; ctx.fillText(text, 4, 40);
                return canvas.toDataURL();
            };
            const none = '\\u0378';  // an unassigned code point: every font's "no glyph" box
            return {dao: draw('导'), chu: draw('出'), tofu: draw(none), pair: draw('导出'),
                    tofus: draw(none + none)};
        }"""
    )
    assert drawn["dao"] != drawn["chu"] and drawn["dao"] != drawn["tofu"] and drawn["pair"] != drawn["tofus"]

    # and every control shows them once the font is in (Chromium kept the boxes it first drew in
    # the disabled "quick preview" button): what is shown is what drawing the same words anew shows
    page.wait_for_selector("html[data-cjk-font=ready]", state="attached", timeout=STEP_TIMEOUT_MS)
    shown = pixels(shots(page.locator("#preview-render"), "zh-quick-preview"))
    page.evaluate(
        "() => { const b = document.querySelector('#preview-render'); b.textContent = b.textContent; }"
    )
    redrawn = pixels(shots(page.locator("#preview-render"), "zh-quick-preview-redrawn"))
    assert shown.shape == redrawn.shape and np.abs(shown - redrawn).max() < 1, (
        "a control still shows empty glyph boxes"
    )

    # a text file named like a photo fails alone, in words; the photos go in
    drop_files(page, "#dropzone", {**photos, "notes.jpg": b"shopping list: milk, eggs\n" * 20})
    wait_thumbnails(page, "#library .lib-thumb", 3)
    failed = page.locator("#uploads .upload.bad")
    failed.wait_for(timeout=STEP_TIMEOUT_MS)
    assert "notes.jpg" in failed.text_content() and "不支持的文件" in failed.text_content()
    assert page.locator("#library .lib-item").count() == 3
    send_chat(page, "用这些照片做一个竖屏幻灯片")
    page.wait_for_selector("#timeline .tl-seg-video", timeout=STEP_TIMEOUT_MS)
    page.wait_for_function("() => document.querySelector('#still').naturalWidth > 0")
    # nothing wider than the phone: no sideways scrolling of the page itself
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    full = pixels(shots(page, "zh-phone"))
    assert full.shape[1] == 390 * 2
    still = pixels(shots(page.locator("#still"), "zh-phone-still"))
    assert still.std() > 10, "the preview is blank on the phone"
    reply = page.locator("#messages .msg-model .msg-body").last.text_content()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in reply), reply

    # the quick low-resolution preview renders the whole draft and plays it in place of the still
    page.click("#preview-render")
    page.wait_for_selector("#player:not([hidden])", timeout=EXPORT_TIMEOUT_MS)
    page.evaluate("() => { const v = document.querySelector('#player'); v.muted = true; v.play(); }")
    page.wait_for_function(
        "() => document.querySelector('#player').readyState === 4", timeout=STEP_TIMEOUT_MS
    )
    assert page.evaluate("() => document.querySelector('#player').videoHeight") == 854  # 480p, portrait
    assert page.text_content("#job-label").startswith("完成")

    # every control has a name a screen reader reads, and Tab reaches each one
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll(
            '#studio :is(button, input, select, textarea), header :is(select, button, a)')]
            .filter((el) => !el.closest('[hidden]'))
            .filter((el) => {
                const labelled = el.labels && [...el.labels].some((l) => l.textContent.trim());
                const named = el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
                return !(labelled || named || el.textContent.trim());
            }).map((el) => el.outerHTML.slice(0, 80))"""
    )
    assert not unnamed, unnamed
    reached: set[str] = set()
    for _ in range(60):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("() => document.activeElement.id || document.activeElement.className"))
    for control in (
        "file-input",
        "chat-input",
        "send",
        "scrub",
        "export",
        "export-res",
        "preview-render",
        "lang-select",
    ):
        assert control in reached, (control, reached)
    # the refused upload's answer (415) is the only error the browser logged
    assert [e for e in watch.errors if "status of 415" not in e] == [], watch.errors


def test_a_slow_turn_says_it_is_still_working_and_for_how_long(
    make_settings: Any, make_app: Any, make_client: Any, open_page: Any
) -> None:
    # The model (a double at the LLM boundary, on 127.0.0.1) takes 1.5 s to answer; the stream's
    # heartbeats (every 50 ms here) must reach the page as "Still working… (N s)" meanwhile.
    answer = {"role": "assistant", "content": "Here is your plan: six photos, three seconds each."}
    llm = LoopbackLLM(
        Recorded({"choices": [{"index": 0, "message": answer, "finish_reason": "stop"}]}), delay_seconds=1.5
    )
    try:
        settings = make_settings(heartbeat_seconds=0.05, llm=LLMSettings(base_url=llm.base_url))
        server = make_client(make_app(settings, start_workers=False))
        page, watch = open_page(f"{server.base_url}/")
        page.wait_for_selector("#studio:not([hidden])", timeout=STEP_TIMEOUT_MS)
        page.evaluate(
            """() => {
                window.seenWorking = [];
                const box = document.querySelector('#working-text');
                new MutationObserver(() => window.seenWorking.push(box.textContent))
                    .observe(box, {childList: true, characterData: true, subtree: true});
            }"""
        )
        send_chat(page, "what would you make from my photos?")
        seen = page.evaluate("() => window.seenWorking")
        assert any(text.startswith("Still working") for text in seen), seen
        assert "six photos" in page.locator("#messages .msg-model .msg-body").last.text_content()
        assert not watch.errors, watch.errors
    finally:
        llm.close()
