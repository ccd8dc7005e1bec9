"""Rename and merge on the person page, and the enrolment warnings on the enrol page, in a
real browser, in English and Chinese, at phone (390 px) and desktop widths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_pages_browser import browser, live  # noqa: F401 (module fixtures)
from tests.browser import ARTIFACTS, skip_without_chromium

skip_without_chromium()

TEXTS = {
    "en": {"locale": "en-US", "renamed": "Renamed.", "same": "already exists"},
    "zh": {"locale": "zh-CN", "renamed": "已改名。", "same": "已有名为"},
}
WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1200, "height": 900}}


def enrol(base: str, key: str, name: str, photo: Path) -> dict[str, Any]:
    headers = {"X-API-Key": key}
    person: dict[str, Any] = httpx.post(
        f"{base}/api/v1/people", json={"name": name}, headers=headers
    ).json()
    files = [("images", (photo.name, photo.read_bytes(), "image/jpeg"))]
    done = httpx.post(
        f"{base}/api/v1/people/{person['id']}/faces", files=files, headers=headers, timeout=60
    )
    assert done.status_code == 200 and done.json()["accepted"] == 1, done.text
    return person


def forget(base: str, key: str, query: str) -> None:
    """Delete the people this test made (the next case must not match their faces)."""
    headers = {"X-API-Key": key}
    found = httpx.get(f"{base}/api/v1/people", params={"q": query}, headers=headers).json()
    for person in found["people"]:
        httpx.delete(f"{base}/api/v1/people/{person['id']}", headers=headers)


def overflowing(page: Any) -> list[str]:
    """Elements of the page's main content that stick out to the right of the window."""
    return list(
        page.evaluate(
            "() => [...document.querySelectorAll('main *')]"
            ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)"
            ".map(e => e.tagName + '#' + e.id + '.' + e.className)"
        )
    )


@pytest.mark.parametrize("width", ["phone", "desktop"])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_rename_and_merge_on_the_person_page(
    live: tuple[str, str],  # noqa: F811
    browser: Any,  # noqa: F811
    faces_dir: Path,
    lang: str,
    width: str,
) -> None:
    base, key = live
    obama = faces_dir / "people" / "Barack_Obama"
    a = enrol(base, key, f"Obama {lang} {width}", obama / "fr_obama.jpg")
    b = enrol(base, key, f"Dup {lang} {width}", obama / "fr_obama2.jpg")
    texts = TEXTS[lang]
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(locale=texts["locale"], viewport=WIDTHS[width])
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{base}/login")
        page.fill("#key", key)
        page.click("#login-submit")
        page.wait_for_url(f"{base}/people")

        page.goto(f"{base}/people/{b['id']}")
        page.fill("#new-name", f"Renamed {lang} {width}")
        page.click("#rename-submit")
        page.wait_for_function(
            "t => document.getElementById('notice').textContent.startsWith(t)",
            arg=texts["renamed"],
        )
        assert page.inner_text("#person-name") == f"Renamed {lang} {width}"
        assert overflowing(page) == []
        page.screenshot(path=str(ARTIFACTS / f"person-manage-{lang}-{width}.png"), full_page=True)

        # Cancelling the confirmation merges nothing.
        page.fill("#merge-into", str(a["id"]))
        asked: list[str] = []

        def dismiss(dialog: Any) -> None:
            asked.append(dialog.message)
            dialog.dismiss()

        page.once("dialog", dismiss)
        page.click("#merge-submit")
        page.wait_for_function("() => true")
        for _ in range(50):
            if asked:
                break
            page.wait_for_timeout(100)
        assert asked and a["name"] in asked[0] and f"Renamed {lang} {width}" in asked[0]
        assert httpx.get(f"{base}/api/v1/people/{b['id']}", headers={"X-API-Key": key}).is_success

        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#merge-submit")
        page.wait_for_url(f"{base}/people/{a['id']}")
        assert page.locator(".faces img").count() == 2
        gone = httpx.get(f"{base}/api/v1/people/{b['id']}", headers={"X-API-Key": key})
        assert gone.status_code == 404
    finally:
        context.close()
        forget(base, key, f"{lang} {width}")


@pytest.mark.parametrize("width", ["phone", "desktop"])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_enrol_page_shows_the_warnings(
    live: tuple[str, str],  # noqa: F811
    browser: Any,  # noqa: F811
    faces_dir: Path,
    lang: str,
    width: str,
) -> None:
    base, key = live
    gul = faces_dir / "people" / "Abdullah_Gul"
    first = enrol(base, key, f"Gul {lang} {width}", gul / "Abdullah_Gul_0001.jpg")
    texts = TEXTS[lang]
    context = browser.new_context(locale=texts["locale"], viewport=WIDTHS[width])
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{base}/login")
        page.fill("#key", key)
        page.click("#login-submit")
        page.wait_for_url(f"{base}/people")
        page.goto(f"{base}/enrol")
        page.fill("#name", first["name"])
        page.set_input_files("#photos", str(gul / "Abdullah_Gul_0002.jpg"))
        page.click("#enrol-submit")
        page.locator("#warnings li[data-code=same_name]").wait_for()
        assert texts["same"] in page.inner_text("#warnings")
        assert str(first["id"]) in page.inner_text("#warnings")
        match = page.locator("#results .warn[data-code=matches_other]")
        match.wait_for()
        assert first["name"] in match.inner_text()
        assert overflowing(page) == []
        page.screenshot(path=str(ARTIFACTS / f"enrol-warnings-{lang}-{width}.png"), full_page=True)
    finally:
        context.close()
        forget(base, key, f"{lang} {width}")


def test_a_failed_upload_leaves_no_person_without_a_face(
    live: tuple[str, str],  # noqa: F811
    browser: Any,  # noqa: F811
    faces_dir: Path,
    tmp_path: Path,
) -> None:
    """21 photos (one more than a request may carry) fail the upload after the page created
    the person: the page removes that person again."""
    base, key = live
    photo = faces_dir / "people" / "Barack_Obama" / "fr_obama.jpg"
    copies = []
    for i in range(21):
        copies.append(tmp_path / f"copy{i}.jpg")
        copies[-1].write_bytes(photo.read_bytes())
    context = browser.new_context(locale="en-US", viewport=WIDTHS["desktop"])
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{base}/login")
        page.fill("#key", key)
        page.click("#login-submit")
        page.wait_for_url(f"{base}/people")
        page.goto(f"{base}/enrol")
        page.fill("#name", "Upload Fails")
        page.set_input_files("#photos", [str(p) for p in copies])
        page.click("#enrol-submit")
        page.wait_for_function(
            "() => document.getElementById('status').textContent.startsWith('Error')"
        )
        found = httpx.get(
            f"{base}/api/v1/people", params={"q": "Upload Fails"}, headers={"X-API-Key": key}
        ).json()
        assert found["total"] == 0
    finally:
        context.close()
