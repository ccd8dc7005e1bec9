"""The pages in a real browser: Playwright driving Debian's Chromium (``make chromium``).

Enrol a person from two photos, identify a third photo and see the name on the page, in
English and in Simplified Chinese. The webcam path runs on Chromium's fake camera. Screenshots
go to ``test-artifacts/`` for a human to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypedDict

import pytest

from facegate.api import create_app
from facegate.config import Settings
from tests.browser import ARTIFACTS, FAKE_CAMERA, launched, skip_without_chromium
from tests.inprocess import served

skip_without_chromium()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The app under uvicorn on a free port (a thread of this process): (base URL, admin key)."""
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("pages")))
    with served(app) as base:
        _, key = app.state.keys.create("admin", "browser tests")
        yield base, key


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched(*FAKE_CAMERA) as chromium:
        yield chromium


class Case(TypedDict):
    """One language's run: its locale, the person's folder and name, and the page texts."""

    locale: str
    folder: str
    name: str
    enrol: list[str]
    probe: str
    done: str
    nav: str


CASES: dict[str, Case] = {
    "en": {
        "locale": "en-US",
        "folder": "Barack_Obama",
        "name": "Barack Obama",
        "enrol": ["fr_obama.jpg", "fr_obama1.jpg"],
        "probe": "fr_obama2.jpg",
        "done": "Enrolled 2 of 2 photo(s).",
        "nav": "People",
    },
    "zh": {
        "locale": "zh-CN",
        "folder": "Kit_Harington",
        "name": "基特·哈灵顿",
        "enrol": ["fr_john1.jpeg", "fr_john2.jpeg"],
        "probe": "fr_johnsnow_test1.jpg",
        "done": "已录入 2 张照片中的 2 张。",
        "nav": "人员",
    },
}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_enrol_two_photos_then_identify_a_third(live, browser, faces_dir: Path, lang: str):
    base, key = live
    case = CASES[lang]
    folder = faces_dir / "people" / case["folder"]
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(locale=case["locale"], viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{base}/people")
        assert "/login" in page.url  # no session yet
        page.fill("#key", key)
        page.click("#login-submit")
        page.wait_for_url(f"{base}/people")
        assert case["nav"] in page.inner_text("header nav")

        page.goto(f"{base}/enrol")
        page.fill("#name", case["name"])
        page.set_input_files("#photos", [str(folder / f) for f in case["enrol"]])
        page.click("#enrol-submit")
        page.wait_for_function(
            "text => document.getElementById('status').textContent === text", arg=case["done"]
        )
        page.screenshot(path=str(ARTIFACTS / f"enrol-{lang}.png"), full_page=True)

        page.goto(f"{base}/identify")
        page.set_input_files("#photo", str(folder / case["probe"]))
        page.click("#identify-submit")
        known = page.locator("#faces li.known strong")
        known.first.wait_for()
        assert known.all_inner_texts() == [case["name"]]
        assert page.evaluate("document.getElementById('annotated').naturalWidth") > 0
        page.screenshot(path=str(ARTIFACTS / f"identify-{lang}.png"), full_page=True)

        page.goto(f"{base}/people")
        card = page.locator(".person-card", has_text=case["name"])
        assert card.count() == 1
        card.locator("img").wait_for()
        page.wait_for_function(
            "() => [...document.querySelectorAll('.person-card img')]"
            ".every(i => i.complete && i.naturalWidth > 0)"
        )
        page.screenshot(path=str(ARTIFACTS / f"people-{lang}.png"), full_page=True)
        card.locator("a").click()
        page.wait_for_selector("#person-name")
        assert page.inner_text("#person-name") == case["name"]
        assert page.locator(".faces img").count() == 2
        page.screenshot(path=str(ARTIFACTS / f"person-{lang}.png"), full_page=True)
    finally:
        context.close()


def test_switch_language_webcam_snapshot_and_delete(live, browser, faces_dir: Path):
    base, key = live
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{base}/login")
        page.fill("#key", key)
        page.click("#login-submit")
        page.wait_for_url(f"{base}/people")
        page.click("#lang-zh")
        page.wait_for_url(f"{base}/people")
        assert "人员" in page.inner_text("header nav")
        page.click("#lang-en")
        assert "People" in page.inner_text("header nav")

        # a fake-camera snapshot (a test pattern, no face) plus one real photo
        page.goto(f"{base}/enrol")
        page.fill("#name", "Snapshot Test")
        page.click("[data-camera-start]")
        page.locator("[data-camera-snap]").wait_for(state="visible")
        page.wait_for_function("() => document.querySelector('video').videoWidth > 0")
        page.click("[data-camera-snap]")
        page.locator("#snapshots img").wait_for()
        page.click("[data-camera-stop]")
        photo = faces_dir / "people" / "Rose_Leslie" / "fr_img1.jpg"
        page.set_input_files("#photos", str(photo))
        page.click("#enrol-submit")
        page.locator("#results tr").nth(1).wait_for()
        outcomes = page.locator("#results td.ok, #results td.bad").all_inner_texts()
        assert outcomes == ["accepted", "no face"]
        page.click("#person-link")
        page.wait_for_selector("#person-name")
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#delete-person")
        page.wait_for_url(f"{base}/people")
        assert page.locator(".person-card", has_text="Snapshot Test").count() == 0
    finally:
        context.close()
