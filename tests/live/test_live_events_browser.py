"""The live page in a real headless Chromium keeps the id of the last event it showed and, after
its socket drops, reconnects with ``?after=<id>``: an event published while it was away is
shown once it is back (the server replays it from the live event log)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from facegate.api import create_app
from facegate.config import Settings
from facegate.events import RecognitionEvent
from tests.browser import launched, skip_without_chromium
from tests.inprocess import served

skip_without_chromium()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str, str]]:
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("live-page")))
    with served(app) as base:
        _, monitor = app.state.keys.create("monitor", "live page events test")
        yield app, base, monitor


def publish(app: Any, stream: str) -> None:
    app.state.services.events.publish(
        RecognitionEvent("unknown", stream, datetime.now(UTC), 1, None, None, 0.3)
    )


def test_the_page_resumes_after_a_drop_without_losing_events(
    server: tuple[Any, str, str], tmp_path: Path
):
    app, base, monitor = server
    with launched() as browser:
        context = browser.new_context(locale="en-US")
        page = context.new_page()
        sockets: list[Any] = []

        def route(ws: Any) -> None:  # pass every socket through, but keep a handle to drop it
            sockets.append(ws)
            ws.connect_to_server()

        page.route_web_socket(re.compile(r"/ws/events"), route)
        page.goto(f"{base}/live")
        page.fill("#key", monitor)
        page.click("#login-submit")
        page.wait_for_url("**/live")
        deadline = time.monotonic() + 30
        while not sockets:
            assert time.monotonic() < deadline, "the page opened no event socket"
            page.wait_for_timeout(100)
        page.wait_for_timeout(500)  # the socket is open on the server too
        publish(app, "before-drop")
        page.locator("#events li", has_text="before-drop").wait_for(timeout=30_000)
        assert sockets[0].url.endswith("/ws/events")

        sockets[0].close()  # the connection drops; the page retries after 3 s
        publish(app, "during-drop")
        page.locator("#events li", has_text="during-drop").wait_for(timeout=30_000)
        assert len(sockets) == 2 and re.search(r"/ws/events\?after=\d+$", sockets[1].url)
        assert page.locator("#events li", has_text="before-drop").count() == 1  # not twice
        context.close()
