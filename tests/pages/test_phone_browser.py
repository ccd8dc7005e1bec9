"""The pages on a phone (390x844) and a desktop (1280x800), in English and Chinese, in a real
headless Chromium: no page scrolls sideways, the menu collapses behind a button and sign-out
stays on screen, long names (60 Latin characters without a space, a long Chinese name) fit;
the site's own error page for page paths (JSON for the API); server messages in the page's
language; confirmations before removing; times in the browser's zone. Screenshots go to
``test-artifacts/``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from facegate.api import create_app
from facegate.attendance.store import NewEvent
from facegate.config import Settings
from facegate.engine.thumbnail import face_snapshot
from tests.browser import ARTIFACTS, launched, skip_without_chromium
from tests.inprocess import served

skip_without_chromium()

LONG_LATIN = "Wolfeschlegelsteinhausenbergerdorffvoralternwarengewissenhaf"  # 60, no space
LONG_CHINESE = "爱新觉罗·胤禵多罗恂勤郡王抚远大将军王康熙皇帝第十四子"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
LOCALES = {"en": "en-US", "zh": "zh-CN"}


@dataclass
class Site:
    base: str
    admin: str
    recognize: str
    latin_id: int
    chinese_id: int
    app: Any


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, faces_dir: Path) -> Iterator[Site]:
    assert len(LONG_LATIN) == 60
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("phone")))
    with served(app) as base:
        services = app.state.services
        ids: list[int] = []
        for name, folder in ((LONG_LATIN, "Barack_Obama"), (LONG_CHINESE, "Kit_Harington")):
            person = services.gallery.create_person(name, external_id=f"EMP-{len(ids)}-" + "9" * 40)
            photos = sorted((faces_dir / "people" / folder).iterdir())[:2]
            reports = services.recognition.enrol(
                person.id, [(p.name, p.read_bytes()) for p in photos], enforce_quality=False
            )
            assert any(r.accepted for r in reports)
            ids.append(person.id)
        record_events(app, faces_dir, ids[0])
        _, admin = app.state.keys.create("admin", "phone tests")
        _, recognize = app.state.keys.create("recognize", "phone tests")
        yield Site(base, admin, recognize, ids[0], ids[1], app)


REVIEW_CAMERA = "front-door"


def record_events(app: Any, faces_dir: Path, known: int) -> None:
    """What a camera would have logged: a stranger (Rose Leslie, not enrolled) seen three
    times on one track, and a recognition of the long-named person."""
    services = app.state.services
    photo = sorted((faces_dir / "people" / "Rose_Leslie").iterdir())[0]
    image = services.engine.load(photo.read_bytes())
    snapshot = face_snapshot(image, services.engine.main_face(image).box)
    store = app.state.attendance_hook.attendance.store
    now = datetime.now(UTC)
    for i in range(3):
        at = now - timedelta(seconds=30 - i)
        store.record(NewEvent("unknown", REVIEW_CAMERA, "in", at, 0.1, track_id=3,
                              snapshot=snapshot))  # fmt: skip
    store.record(NewEvent("confirmed", REVIEW_CAMERA, "in", now, 0.8, person_id=known,
                          track_id=4, snapshot=snapshot))  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched() as chromium:
        yield chromium


def signed_in(browser: Any, site: Site, lang: str, **options: Any) -> Any:
    context = browser.new_context(locale=LOCALES[lang], **options)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{site.base}/login")
    assert page.locator("#sign-out").count() == 0  # never on the sign-in page
    page.fill("#key", site.admin)
    page.click("#login-submit")
    page.wait_for_url(f"{site.base}/people")
    page.goto(f"{site.base}/lang/{lang}?next=/people")
    return context, page


def fits(page: Any) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


WIDER = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
  .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id)"""


def inside(page: Any, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    width = page.evaluate("() => window.innerWidth")
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_no_page_scrolls_sideways_and_the_menu_works(
    browser: Any, site: Site, lang: str, size: str
) -> None:
    context, page = signed_in(browser, site, lang, viewport=VIEWPORTS[size])
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        paths = [
            "/people",
            f"/people/{site.latin_id}",
            f"/people/{site.chinese_id}",
            "/enrol",
            "/identify",
            "/live",
            "/attendance",
            f"/attendance/people/{site.latin_id}",
            "/access",
            "/review",
            "/no-such-page",
        ]
        for path in paths:
            page.goto(site.base + path)
            page.wait_for_load_state("load")
            name = path.strip("/").replace("/", "-") or "root"
            page.screenshot(path=str(ARTIFACTS / f"pages-{size}-{lang}-{name}.png"), full_page=True)
            assert fits(page), f"{path} scrolls sideways at {size} ({lang}): {page.evaluate(WIDER)}"
            assert page.locator("#sign-out").is_visible(), path
            assert inside(page, "#sign-out"), f"sign-out off screen on {path} ({size}, {lang})"
        page.goto(site.base + "/people")
        nav = page.locator("header nav")
        if size == "phone":
            assert not nav.is_visible()  # collapsed behind the menu button
            page.click("#menu-toggle")
        assert nav.is_visible()
        for link in nav.locator("a").all():
            assert link.is_visible()
            box = link.bounding_box()
            assert box is not None and box["x"] + box["width"] <= VIEWPORTS[size]["width"]
        page.screenshot(path=str(ARTIFACTS / f"pages-{size}-{lang}-menu.png"))
        nav.locator('a[href="/enrol"]').click()
        page.wait_for_url(f"{site.base}/enrol")
        # long names: inside their card on the people page and inside the page on their own
        page.goto(site.base + "/people")
        for name in (LONG_LATIN, LONG_CHINESE):
            card = page.locator(".person-card", has_text=name[:10])
            card_box = card.bounding_box()
            name_box = card.locator(".name").bounding_box()
            assert card_box and name_box
            assert name_box["x"] >= card_box["x"] - 0.5
            assert name_box["x"] + name_box["width"] <= card_box["x"] + card_box["width"] + 0.5
        page.goto(f"{site.base}/people/{site.latin_id}")
        assert inside(page, "#person-name")
    finally:
        context.close()


def test_the_login_page_has_no_menu_and_refuses_a_device_key(browser: Any, site: Site):
    reasons = (("en", "device key (scope recognize)"), ("zh", "设备密钥（权限 recognize）"))
    for lang, reason in reasons:
        context = browser.new_context(locale=LOCALES[lang], viewport=VIEWPORTS["phone"])
        page = context.new_page()
        try:
            page.goto(f"{site.base}/login")
            assert page.locator("#sign-out").count() == 0
            assert page.locator("header nav").count() == 0
            assert fits(page)
            page.fill("#key", site.recognize)
            page.click("#login-submit")
            assert reason in page.inner_text("#login-error")
            assert page.locator("#sign-out").count() == 0
            assert fits(page)
        finally:
            context.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_site_error_page_for_pages_and_json_for_the_api(browser: Any, site: Site, lang: str):
    texts = {
        "en": ("There is nothing at this address.", "This person does not exist"),
        "zh": ("此地址没有内容。", "此人不存在"),
    }[lang]
    context, page = signed_in(browser, site, lang, viewport=VIEWPORTS["phone"])
    try:
        answer = page.goto(f"{site.base}/no-such-page")
        assert answer is not None and answer.status == 404
        assert page.inner_text("#error-message") == texts[0]
        assert page.locator("#sign-out").is_visible()
        page.click("#error-home")
        page.wait_for_url(f"{site.base}/people")
        answer = page.goto(f"{site.base}/people/999999")
        assert answer is not None and answer.status == 404
        assert texts[1] in page.inner_text("#error-message")
        answer = page.goto(f"{site.base}/people/not-a-number")
        assert answer is not None and answer.status == 422
        assert page.locator("#error-page").count() == 1
        page.screenshot(path=str(ARTIFACTS / f"pages-error-{lang}.png"))
    finally:
        context.close()
    # the API keeps its JSON, whatever the client accepts
    html = {"Accept": "text/html", "X-API-Key": site.admin}
    r = httpx.get(f"{site.base}/api/v1/people/999999", headers=html)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_person"
    r = httpx.get(f"{site.base}/no-such-page", headers={"Accept": "application/json"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_server_messages_in_chinese_and_confirmations(browser: Any, site: Site, tmp_path: Path):
    context, page = signed_in(browser, site, "zh", viewport=VIEWPORTS["phone"])
    try:
        page.goto(f"{site.base}/identify")
        page.click("#identify-submit")  # no file: the page says so
        assert page.inner_text("#status") == "请先选择照片或拍照。"
        # the server's answer without a file, through the page's api(): in Chinese
        said = page.evaluate(
            "() => api('/api/v1/identify', {method: 'POST', body: new FormData()})"
            ".then(() => 'ok', (e) => e.code + '|' + e.message)"
        )
        code, message = said.split("|", 1)
        assert code == "invalid_input" and message.startswith("请求中缺少内容或内容有误。")
        assert "image" in message  # the server's detail follows
        not_an_image = tmp_path / "notes.jpg"
        not_an_image.write_bytes(b"this is text, not a picture")
        page.set_input_files("#photo", str(not_an_image))
        page.click("#identify-submit")
        page.wait_for_function(
            "() => document.getElementById('status').textContent.includes('不是可读取的图片')"
        )
        assert page.inner_text("#status") == "错误: 该文件不是可读取的图片。"
        page.screenshot(path=str(ARTIFACTS / "pages-identify-error-zh.png"))

        # removing a face asks first: cancel keeps it, accept removes it
        page.goto(f"{site.base}/people/{site.chinese_id}")
        faces = page.locator(".faces li")
        before = faces.count()
        assert before >= 1
        asked: list[str] = []

        def answer(accept: bool) -> Any:
            def handle(dialog: Any) -> None:
                asked.append(dialog.message)
                dialog.accept() if accept else dialog.dismiss()

            return handle

        page.once("dialog", answer(False))
        page.locator(".remove-face").first.click()
        page.wait_for_timeout(300)
        assert asked == ["确定从此人中移除这张人脸吗？"] and faces.count() == before
        page.once("dialog", answer(True))
        page.locator(".remove-face").first.click()
        page.wait_for_function("(n) => document.querySelectorAll('.faces li').length === n - 1",
                               arg=before)  # fmt: skip
        assert len(asked) == 2
    finally:
        context.close()


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York"])
def test_times_in_the_browser_zone(browser: Any, site: Site, zone: str):
    created = site.app.state.services.gallery.get_person(site.latin_id).created_at
    context, page = signed_in(browser, site, "en", timezone_id=zone)
    try:
        page.goto(f"{site.base}/people/{site.latin_id}")
        shown = page.inner_text("#person-created")
        local = created.astimezone(ZoneInfo(zone))
        assert local.strftime("%H:%M:%S") in shown, (shown, local)
        assert "UTC" not in shown
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_review_assign_a_stranger_and_mark_a_wrong_name(
    browser: Any, site: Site, lang: str, size: str
) -> None:
    texts = {
        "en": {"unknown": "Unknown", "repeats": "3 events of this track", "wrong": "Wrong name",
               "added": "Added to " + LONG_CHINESE},
        "zh": {"unknown": "陌生人", "repeats": "此轨迹共 3 条记录", "wrong": "姓名错误",
               "added": "已添加到 " + LONG_CHINESE},
    }[lang]  # fmt: skip
    context, page = signed_in(browser, site, lang, viewport=VIEWPORTS[size])
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        page.goto(f"{site.base}/review?camera={REVIEW_CAMERA}")
        rows = page.locator("#rev-list li.rev-row")
        assert rows.count() == 2  # the stranger's three events are one row
        stranger = page.locator("#rev-list li.rev-row.unknown")
        assert texts["unknown"] in stranger.inner_text()
        assert texts["repeats"] in stranger.inner_text()
        page.wait_for_function(
            "() => [...document.querySelectorAll('.rev-row img.snap')]"
            ".every(i => i.complete && i.naturalWidth > 0)"
        )
        page.screenshot(path=str(ARTIFACTS / f"review-{size}-{lang}.png"), full_page=True)
        assert fits(page), page.evaluate(WIDER)
        named = page.locator("#rev-list li.rev-row.confirmed")
        named.locator(".wrong-name").click()
        named.locator(".mark .chip.bad").wait_for()
        assert named.locator(".mark").inner_text() == texts["wrong"]
        if lang == "en" and size == "phone":  # assign once: the face joins the Chinese name
            stranger.locator(".assign-to").select_option(str(site.chinese_id))
            stranger.locator(".assign").click()
            stranger.locator(".mark .chip.ok").wait_for()
            assert stranger.locator(".mark").inner_text() == texts["added"]
        page.reload()  # stored: shown again after a reload
        assert named.locator(".mark").inner_text() == texts["wrong"]
        assert page.locator("#rev-list li.rev-row.unknown .mark").inner_text() != ""
        page.goto(f"{site.base}/review?camera={REVIEW_CAMERA}&unknown=true")
        assert page.locator("#rev-list li.rev-row").count() == 1
    finally:
        context.close()
