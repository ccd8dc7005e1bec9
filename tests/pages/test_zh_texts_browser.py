"""No English left in the Chinese pages (issue 12): a photo's quality reasons on the enrol
page (mapped from their codes, app.js ``reasonText``), the 503 page of attendance / access
control when they are not running, and the "no such person" page of attendance. Real
servers, real models, a real headless Chromium, in English and Chinese at phone and desktop
widths. Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from facegate.api import create_app
from facegate.config import Settings
from tests.browser import ARTIFACTS, launched, skip_without_chromium
from tests.inprocess import served

skip_without_chromium()

VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
# What the server used to show in English whatever the language (never in the Chinese pages)
ENGLISH = ("too_small", "blurry", "face is", "sharpness", "need ", "not running",
           "no person", "attendance is", "access control is", "YYYY-MM-DD")  # fmt: skip
TEXTS = {
    "en": {"small": "face too small", "sharp": "blurry (sharpness", "outcome": "low quality",
           "attendance": "Attendance is not running", "access": "Access control is not running",
           "person": "This person does not exist"},
    "zh": {"small": "人脸太小", "sharp": "照片模糊", "outcome": "质量太低",
           "attendance": "未启用考勤", "access": "未启用门禁", "person": "此人不存在"},
}  # fmt: skip


@dataclass
class Sites:
    strict: str  # every photo fails the quality check (too small and blurry)
    off: str  # attendance and access control not running
    admin_strict: str
    admin_off: str


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    strict = create_app(
        Settings(
            data_dir=tmp_path_factory.mktemp("strict"),
            quality_min_face_px=4000,
            quality_min_sharpness=1e9,
        )
    )
    off = create_app(Settings(data_dir=tmp_path_factory.mktemp("off")))
    # Pages find attendance and access control through these hooks; without them (a server
    # built without those parts) the pages answer 503. The hooks still run in the lifespan.
    off.state.attendance_hook = None
    off.state.access_hook = None
    with served(strict) as strict_base, served(off) as off_base:
        _, admin_strict = strict.state.keys.create("admin", "zh texts")
        _, admin_off = off.state.keys.create("admin", "zh texts")
        yield Sites(strict_base, off_base, admin_strict, admin_off)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched() as chromium:
        yield chromium


def signed_in(browser: Any, base: str, key: str, lang: str, size: str) -> tuple[Any, Any]:
    context = browser.new_context(
        locale="zh-CN" if lang == "zh" else "en-US", viewport=VIEWPORTS[size]
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{base}/login")
    page.fill("#key", key)
    page.click("#login-submit")
    page.wait_for_url(f"{base}/people")
    page.goto(f"{base}/lang/{lang}?next=/people")
    return context, page


def no_english(text: str) -> list[str]:
    return [s for s in ENGLISH if s in text]


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_photo_reasons_are_in_the_pages_language(
    browser: Any, sites: Sites, faces_dir: Path, lang: str, size: str
) -> None:
    text = TEXTS[lang]
    photo = sorted((faces_dir / "people" / "Barack_Obama").iterdir())[0]
    context, page = signed_in(browser, sites.strict, sites.admin_strict, lang, size)
    try:
        page.goto(f"{sites.strict}/enrol")
        page.fill("#name", f"Quality {lang} {size}")
        page.set_input_files("#photos", str(photo))
        page.click("#enrol-submit")
        row = page.locator("#results tbody tr").first
        row.wait_for(timeout=60_000)
        cells = row.locator("td").all_inner_texts()
        assert cells[1] == text["outcome"]
        assert text["small"] in cells[2] and text["sharp"] in cells[2], cells
        assert "4000" in cells[2]  # the numbers come along
        if lang == "zh":
            assert no_english(page.inner_text("main")) == []
        assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"enrol-reasons-{size}-{lang}.png"), full_page=True)
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_not_running_and_no_person_pages_are_translated(
    browser: Any, sites: Sites, lang: str, size: str
) -> None:
    text = TEXTS[lang]
    context, page = signed_in(browser, sites.off, sites.admin_off, lang, size)
    try:
        for path, expected, status in (
            ("/attendance", text["attendance"], "503"),
            ("/attendance/summary", text["attendance"], "503"),
            ("/settings", text["attendance"], "503"),
            ("/attendance/schedule", text["attendance"], "503"),
            ("/access", text["access"], "503"),
            ("/access/doors/front", text["access"], "503"),
        ):
            page.goto(sites.off + path)
            assert page.get_attribute("#error-page", "data-status") == status, path
            message = page.inner_text("#error-message")
            assert expected in message, (path, message)
            if lang == "zh":
                assert no_english(page.inner_text("main")) == [], path
        assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
        page.screenshot(path=str(ARTIFACTS / f"not-running-{size}-{lang}.png"), full_page=True)
    finally:
        context.close()
    context, page = signed_in(browser, sites.strict, sites.admin_strict, lang, size)
    try:
        page.goto(f"{sites.strict}/attendance/people/987654")
        assert page.get_attribute("#error-page", "data-status") == "404"
        assert text["person"] in page.inner_text("#error-message")
        if lang == "zh":
            assert no_english(page.inner_text("main")) == []
        page.goto(f"{sites.strict}/attendance/summary?month=2026-13")
        assert page.get_attribute("#error-page", "data-status") == "422"
        if lang == "zh":
            assert no_english(page.inner_text("main")) == []
    finally:
        context.close()
