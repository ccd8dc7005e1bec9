"""The liveness check on the enrol and identify pages in a real browser: Chromium's fake
webcam plays a printed-photo attack (a dev photo tilted left, right and up, written as a
Y4M video here), the page prompts the steps, records, and shows the server's verdict: not
live. In English and Simplified Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import pytest

from tests.api.test_pages_browser import live  # noqa: F401  (the app under uvicorn)
from tests.browser import ARTIFACTS, FAKE_CAMERA, launched, skip_without_chromium
from tests.images import read_image

skip_without_chromium()


def write_y4m(path: Path, frames: list[Any], fps: int = 15) -> Path:
    """Frames (BGR, even sizes) as an uncompressed Y4M video, Chromium's fake-camera format."""
    h, w = frames[0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            out.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


@pytest.fixture(scope="module")
def attack_camera(tmp_path_factory: pytest.TempPathFactory, faces_dir: Path) -> Path:
    from facegate.bench.liveness_synth import face_print, photo_attack
    from facegate.engine import FaceEngine

    photo = read_image(faces_dir / "people" / "Barack_Obama" / "fr_obama.jpg")
    box = max(FaceEngine().detect(photo), key=lambda d: d.box.area).box
    printed = face_print(photo, (box.x, box.y, box.w, box.h))
    frames = list(photo_attack(printed, "tilt", 90, 2))
    return write_y4m(tmp_path_factory.mktemp("camera") / "attack.y4m", frames)


@pytest.fixture(scope="module")
def browser(attack_camera: Path) -> Iterator[Any]:
    with launched(*FAKE_CAMERA, f"--use-file-for-fake-video-capture={attack_camera}") as chromium:
        yield chromium


@pytest.mark.parametrize(
    ("lang", "page_path", "button", "prompt_word", "verdict_word"),
    [
        ("en", "/identify", "Liveness check", "YOUR", "Not confirmed as a live person"),
        ("zh", "/enrol", "活体检测", "请", "未能确认为活体"),
    ],
)
def test_a_photo_held_to_the_webcam_fails_the_liveness_check(
    live,  # noqa: F811
    browser,
    lang,
    page_path,
    button,
    prompt_word,
    verdict_word,
):
    base, key = live
    context = browser.new_context(locale="zh-CN" if lang == "zh" else "en-US")
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(f"{base}/login")
        page.fill("#key", key)
        page.click("#login-submit")
        page.wait_for_url(f"{base}/people")
        page.goto(f"{base}{page_path}")
        start = page.locator("[data-liveness-start]")
        assert start.inner_text() == button
        start.click()  # camera off: the page says so, nothing is sent
        assert page.inner_text("#status") != ""
        page.click("[data-camera-start]")
        page.wait_for_function("() => document.querySelector('video').videoWidth > 0")
        start.click()
        prompt = page.locator("[data-liveness-prompt]")
        prompt.wait_for(state="visible")
        page.wait_for_function(
            "word => document.querySelector('[data-liveness-prompt]').textContent.includes(word)",
            arg=prompt_word,
        )
        page.wait_for_function(
            "() => document.querySelector('[data-camera]').dataset.liveness !== undefined",
            timeout=60_000,
        )
        assert page.evaluate("document.querySelector('[data-camera]').dataset.liveness") == "spoof"
        assert verdict_word in prompt.inner_text()
        steps = page.locator("[data-liveness-steps] li")
        assert steps.count() == 3 and page.locator("[data-liveness-steps] li.passed").count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"liveness-{lang}.png"), full_page=True)
    finally:
        context.close()
