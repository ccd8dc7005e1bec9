"""The access pages in a real headless Chromium, in English and Chinese: the door page shows
the door camera's MJPEG with the decision drawn over it and the decision list filling with
snapshots; the board lists the door with today's counts and adds a group through its form.
The door's camera is a server camera playing the dev video of Barack Obama (enrolled, in an
allowed group). Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from facegate.access.store import AccessStore, DoorCamera
from tests.browser import ARTIFACTS, launched, skip_without_chromium
from tests.live.conftest import CAMERA, LiveServer, live_server  # noqa: F401 (fixture)

skip_without_chromium()

DOOR = "podium-door"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def door(live_server: LiveServer) -> str:  # noqa: F811
    access = AccessStore(live_server.app.state.services.gallery.store.db)
    access.add_door(DOOR, [DoorCamera(CAMERA, "in")])
    access.add_group("staff")
    access.add_member("staff", live_server.person_id)
    access.add_rule(DOOR, "staff")
    live_server.app.state.access_hook.access.directory.refresh()
    return DOOR


def test_the_door_page_shows_decisions_live(browser: Any, live_server: LiveServer, door: str):  # noqa: F811
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{live_server.base}/access/doors/{door}")
        assert "/login" in page.url
        page.fill("#key", live_server.admin)
        page.click("#login-submit")
        page.wait_for_url(f"**/access/doors/{door}")
        # the MJPEG picture plays (same origin: the session cookie authenticates it)
        page.wait_for_function(
            "() => document.getElementById('door-video').naturalWidth === 854", timeout=30_000
        )
        granted = page.locator("#door-events li.granted", has_text="Barack_Obama")
        granted.first.wait_for(timeout=60_000)
        assert "allowed by rule" in granted.first.inner_text()
        snap = granted.first.locator("img.snap")
        page.wait_for_function(
            "(img) => img.complete && img.naturalWidth > 0", arg=snap.element_handle()
        )
        # the decision is drawn over the live picture, labelled, in the frame's coordinates
        box = page.locator("#door-overlay g.granted")
        box.first.wait_for(timeout=10_000)
        assert "Barack_Obama" in box.first.inner_html()
        assert page.get_attribute("#door-overlay", "viewBox") == "0 0 854 480"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "access-door-en.png"), full_page=True)

        page.click("#lang-zh")
        page.wait_for_url(f"**/access/doors/{door}")
        assert page.locator("h1").inner_text().startswith("门")
        first = page.locator("#door-events li.granted").first
        first.wait_for(timeout=10_000)
        assert "放行" in first.inner_text() and "规则允许" in first.inner_text()
        page.wait_for_function(
            "() => document.getElementById('door-video').naturalWidth === 854", timeout=30_000
        )
        page.screenshot(path=str(ARTIFACTS / "access-door-zh.png"), full_page=True)

        page.goto(f"{live_server.base}/access")
        row = page.locator(f'#acc-doors tr[data-door="{door}"]')
        assert int(row.locator(".granted-count").inner_text()) >= 1
        assert "今日" in page.locator("#acc-doors thead").inner_text()
        page.fill("#add-group input[name=name]", "访客")
        page.click("#add-group button[type=submit]")
        page.locator('#acc-groups tr[data-group="访客"]').wait_for(timeout=10_000)
        page.click("#lang-en")
        page.wait_for_url("**/access")
        assert page.locator("h1").inner_text() == "Access control"
        page.screenshot(path=str(ARTIFACTS / "access-board-en.png"), full_page=True)
    finally:
        context.close()
