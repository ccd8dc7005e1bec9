"""``/live`` against a real ``facegate serve`` with three server cameras: one playing the dev
video, one pointing at a missing file and one at an RTSP address where nothing listens, plus
a TCP stream sent by ``facegate.stream.Client``. In English and Chinese, at desktop and phone
widths: the broken cameras show their errors (file not found, connection refused) and never
a picture, the good one is picked by default although a broken one sorts first, and the grid
shows every stream with its state. Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import httpx
import pytest

from facegate.stream import Client
from tests.browser import ARTIFACTS, launched, skip_without_chromium
from tests.serving import create_key, free_port, serving

skip_without_chromium()

BROKEN = "aaa-missing"  # sorts first: a page that took the first stream would pick it
REFUSED = "bbb-refused"
GOOD = "lobby"
TCP = "desk-client"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
TEXTS = {
    "en": {"missing": "Camera error: file not found", "refused": "Camera error: connection refused",
           "error": "error", "running": "running", "client": "client"},
    "zh": {"missing": "摄像头错误：找不到文件", "refused": "摄像头错误：连接被拒绝",
           "error": "出错", "running": "运行中", "client": "客户端"},
}  # fmt: skip


@pytest.fixture(scope="module")
def server(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    data = tmp_path_factory.mktemp("livegrid")
    admin, recognize = create_key(data, "admin"), create_key(data, "recognize")
    video = faces_dir / "videos" / "obama.mp4"
    cameras = [
        f"{GOOD}={video}",
        f"{BROKEN}={data / 'no-such-video.mp4'}",
        f"{REFUSED}=rtsp://127.0.0.1:{free_port()}/stream",
    ]
    args = [a for c in cameras for a in ("--camera", c)]
    stream_port = free_port()
    env = {"FACEGATE_INFERENCE_THREADS": "1", "FACEGATE_LIVE_IDLE_STOP_S": "2"}
    with serving(data, free_port(), "--stream-port", str(stream_port), *args, env=env) as base:
        stop = threading.Event()
        sender = threading.Thread(
            target=send_frames, args=(video, stream_port, recognize, stop), daemon=True
        )
        sender.start()
        try:
            yield {"base": base, "admin": admin}
        finally:
            stop.set()
            sender.join(30)


def send_frames(video: Path, port: int, key: str, stop: threading.Event) -> None:
    """A TCP client streaming the video (looped) until ``stop``; it reconnects when the
    connection ends (a loaded machine may drop a slow client)."""
    while not stop.is_set():
        try:
            with Client("127.0.0.1", port, key, TCP) as client:
                while not stop.is_set():
                    capture = cv2.VideoCapture(str(video))
                    while not stop.is_set():
                        ok, frame = capture.read()
                        if not ok:
                            break
                        client.send_frame(frame)  # a dropped frame gets no result:
                        with contextlib.suppress(TimeoutError):  # never wait long for one
                            client.receive(timeout=0.1)
                    capture.release()
        except Exception as error:  # reconnect after a pause, and say why in the log
            print(f"stream client: {type(error).__name__}: {error}; reconnecting")
            stop.wait(1.0)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched() as chromium:
        yield chromium


def test_a_missing_file_is_known_before_anyone_watches(server: dict[str, str]):
    r = httpx.get(f"{server['base']}/api/v1/live/streams", headers={"X-API-Key": server["admin"]})
    streams = {s["name"]: s for s in r.json()["streams"]}
    assert streams[BROKEN]["error"] == "not_found" and streams[BROKEN]["state"] == "idle"
    assert "no-such-video.mp4" in streams[BROKEN]["error_detail"]
    assert streams[GOOD]["error"] is None


def state_cell(name: str) -> str:
    return f'#streams tr[data-stream="{name}"] td:nth-child(3)'


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_broken_cameras_show_their_error_and_the_grid_shows_all(
    browser: Any, server: dict[str, str], lang: str, size: str
) -> None:
    text = TEXTS[lang]
    locale = "zh-CN" if lang == "zh" else "en-US"
    context = browser.new_context(locale=locale, viewport=VIEWPORTS[size])
    page = context.new_page()
    page.set_default_timeout(30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        page.goto(f"{server['base']}/login?next=/live")
        page.fill("#key", server["admin"])
        page.click("#login-submit")
        page.wait_for_url("**/live")
        page.goto(f"{server['base']}/lang/{lang}?next=/live")
        page.locator(f'#streams tr[data-stream="{TCP}"]').wait_for(timeout=30_000)
        # a working stream is watched by default (a running one first: the TCP client's or
        # the good camera's), never the broken camera that sorts first
        page.wait_for_function(
            "() => document.getElementById('video').naturalWidth === 854", timeout=60_000
        )
        assert page.get_attribute("#video", "data-stream") in (GOOD, TCP)
        assert page.locator("#video-error").is_hidden()
        assert page.inner_text(state_cell(BROKEN)) == text["error"]
        assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")

        # the missing file: its error, and no picture (not the good camera's last frame)
        page.locator(f'#streams tr[data-stream="{BROKEN}"] button').click()
        page.wait_for_function(
            "(t) => document.getElementById('video-error').textContent === t", arg=text["missing"]
        )
        assert page.get_attribute("#video", "data-stream") == BROKEN
        assert not page.locator("#video").is_visible()
        page.wait_for_timeout(2500)  # a refresh later: still no picture
        assert not page.locator("#video").is_visible()
        assert page.inner_text("#video-error") == text["missing"]
        page.screenshot(path=str(ARTIFACTS / f"live-broken-{size}-{lang}.png"), full_page=True)

        # nothing listens at the RTSP camera's address: "connection refused"
        page.locator(f'#streams tr[data-stream="{REFUSED}"] button').click()
        page.wait_for_function(
            "(t) => document.getElementById('video-error').textContent === t",
            arg=text["refused"],
            timeout=60_000,
        )
        assert not page.locator("#video").is_visible()

        # the grid: every stream with its state; pictures only from working streams
        page.click("#mode-grid")
        tiles = page.locator("#grid figure.tile")
        page.wait_for_function("() => document.querySelectorAll('#grid figure').length === 4")
        assert sorted(tiles.evaluate_all("ts => ts.map(t => t.dataset.stream)")) == sorted(
            [BROKEN, REFUSED, GOOD, TCP]
        )
        for name in (GOOD, TCP):
            page.wait_for_function(
                "(n) => { const i = document.querySelector(`#grid figure[data-stream='${n}'] img`);"
                " return i && i.naturalWidth > 0 && !i.hidden; }",
                arg=name,
                timeout=60_000,
            )
        tcp = page.locator(f'#grid figure[data-stream="{TCP}"]')
        assert text["client"] in tcp.inner_text() and text["running"] in tcp.inner_text()
        broken = page.locator(f'#grid figure[data-stream="{BROKEN}"]')
        assert broken.get_attribute("data-state") == "error"
        assert text["missing"] in broken.inner_text()
        assert not broken.locator("img").is_visible()
        refused = page.locator(f'#grid figure[data-stream="{REFUSED}"]')
        assert text["refused"] in refused.inner_text()
        assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
        page.screenshot(path=str(ARTIFACTS / f"live-grid-{size}-{lang}.png"), full_page=True)
    finally:
        context.close()


DOOR = "lobby-door"


@pytest.fixture(scope="module")
def door(server: dict[str, str]) -> str:
    """A door watched by the good camera and the missing file (access_door.js)."""
    cameras = [{"camera": GOOD, "direction": "in"}, {"camera": BROKEN, "direction": "out"}]
    r = httpx.post(
        f"{server['base']}/api/v1/access/doors",
        json={"name": DOOR, "cameras": cameras},
        headers={"X-API-Key": server["admin"]},
    )
    assert r.status_code == 201, r.text
    return DOOR


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_door_page_never_shows_the_previous_cameras_picture(
    browser: Any, server: dict[str, str], door: str, lang: str, size: str
) -> None:
    """Switching a door's camera makes a new picture (app.js streamPicture, as /live): the
    broken camera shows its error and no picture, not the good camera's last frame; and the
    page starts on the working camera although the broken one is listed first."""
    text = TEXTS[lang]
    context = browser.new_context(locale="zh-CN" if lang == "zh" else "en-US",
                                  viewport=VIEWPORTS[size])  # fmt: skip
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{server['base']}/login?next=/live")
        page.fill("#key", server["admin"])
        page.click("#login-submit")
        page.wait_for_url("**/live")
        # the MJPEG picture never ends loading: wait for the document, not the "load" event
        page.goto(
            f"{server['base']}/lang/{lang}?next=/access/doors/{door}",
            wait_until="domcontentloaded",
        )
        playing = "() => { const i = document.getElementById('door-video');"
        playing += " return i && i.naturalWidth === 854 && !i.hidden; }"
        assert page.locator(".door-cams .cam").first.get_attribute("data-camera") == BROKEN
        page.wait_for_function(playing, timeout=60_000)
        assert page.get_attribute("#door-video", "data-stream") == GOOD
        assert page.locator("#door-video-error").is_hidden()

        page.locator(f'.door-cams .cam[data-camera="{BROKEN}"]').click()
        page.wait_for_function(
            "(t) => document.getElementById('door-video-error').textContent === t",
            arg=text["missing"],
        )
        assert page.get_attribute("#door-video", "data-stream") == BROKEN
        assert page.locator("#door-video").count() == 1  # the old picture is gone
        assert not page.locator("#door-video").is_visible()
        page.wait_for_timeout(2500)  # a refresh later: still no picture
        assert not page.locator("#door-video").is_visible()
        assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
        page.screenshot(path=str(ARTIFACTS / f"door-broken-{size}-{lang}.png"), full_page=True)

        page.locator(f'.door-cams .cam[data-camera="{GOOD}"]').click()
        page.wait_for_function(playing, timeout=60_000)
        assert page.locator("#door-video-error").is_hidden()
    finally:
        context.close()
