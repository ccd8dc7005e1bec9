"""The live page in a real headless Chromium: the stream list, the MJPEG picture updating
in an <img>, and the recognition events filling the list beside it, in English and Chinese.
Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import ARTIFACTS, launched, skip_without_chromium
from tests.live.conftest import CAMERA, PERSON, LiveServer

skip_without_chromium()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched() as chromium:
        yield chromium


def picture(page: Any) -> bytes:
    """What the <img> shows now, as the page renders it."""
    shot: bytes = page.locator("#video").screenshot()
    return shot


def test_the_live_page_shows_the_camera_and_the_events(browser: Any, live_server: LiveServer):
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{live_server.base}/live")
        assert "/login" in page.url  # the page needs a session like the others
        page.fill("#key", live_server.monitor)
        page.click("#login-submit")
        page.wait_for_url("**/live")
        row = page.locator(f'#streams tr[data-stream="{CAMERA}"]')
        row.wait_for(timeout=15_000)
        # The first stream is watched by default: the <img> gets MJPEG frames (same-origin,
        # so the session cookie authenticates it).
        page.wait_for_function(
            "() => document.getElementById('video').naturalWidth === 854", timeout=30_000
        )
        first = picture(page)
        deadline = time.monotonic() + 20
        while picture(page) == first:  # the picture changes as the video plays
            assert time.monotonic() < deadline, "the picture never changed"
            time.sleep(0.2)
        known = page.locator("#events li.known", has_text=PERSON)
        known.first.wait_for(timeout=30_000)
        assert CAMERA in known.first.inner_text()
        page.wait_for_function(
            f"() => document.querySelector('#streams tr[data-stream=\"{CAMERA}\"] td:nth-child(3)')"
            ".textContent === 'running'",
            timeout=15_000,
        )
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "live-en.png"), full_page=True)

        page.click("#lang-zh")
        page.wait_for_url("**/live")
        assert page.locator("h1").inner_text() == "实时画面"
        page.wait_for_function(
            "() => document.getElementById('video').naturalWidth === 854", timeout=30_000
        )
        page.wait_for_function(  # the list refreshes in Chinese too
            f"() => document.querySelector('#streams tr[data-stream=\"{CAMERA}\"] td:nth-child(3)')"
            ".textContent === '运行中'",
            timeout=15_000,
        )
        page.screenshot(path=str(ARTIFACTS / "live-zh.png"), full_page=True)
    finally:
        context.close()
    # The page is gone, and with it the only viewer: the camera stops by itself.
    deadline = time.monotonic() + 30
    while live_server.streams()[CAMERA]["state"] != "idle":
        assert time.monotonic() < deadline, live_server.streams()[CAMERA]
        time.sleep(0.2)
