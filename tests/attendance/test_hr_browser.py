"""The board and the settings page in a real browser (Debian's Chromium via Playwright), at
phone (390 px) and desktop widths, in English and Simplified Chinese.

300 people are enrolled (no faces needed: the log only needs people rows) and 120 of them
arrive today: the board must stay a bounded page (50 rows) that pages and filters, where it
used to list everyone. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from facegate.api import create_app
from facegate.config import Settings
from facegate.gallery.db import utcnow
from tests.attendance.conftest import seen
from tests.browser import ARTIFACTS, launched, skip_without_chromium
from tests.inprocess import served

skip_without_chromium()

PEOPLE = 300
ARRIVED = 120
WIDTHS = {"phone": 390, "desktop": 1280}
TEXT = {
    "en": {"saved": "Saved (revision", "error": "Not saved:", "title": "Settings"},
    "zh": {"saved": "已保存（版本", "error": "未保存：", "title": "设置"},
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The app under uvicorn (a thread of this process) with 300 people: (base URL, key)."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("hr-pages"),
        attendance_timezone="Asia/Shanghai",
        attendance_cameras={"front": "in"},
    )
    app = create_app(settings)
    with served(app) as base:
        _, key = app.state.keys.create("admin", "hr browser tests")
        store = app.state.services.gallery.store
        att = app.state.attendance_hook.attendance
        now = utcnow() - timedelta(minutes=1)
        for i in range(PEOPLE):
            name = f"Person {i:03d}" if i % 3 else f"王芳 {i:03d}"
            person = store.create_person(name)
            if i < ARRIVED:
                att.record(seen(person.id, now, camera="front"))
        yield base, key


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched() as chromium:
        yield chromium


def open_page(browser: Any, base: str, key: str, lang: str, width: int) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": width, "height": 900})
    host = base.split("//", 1)[1].split(":")[0]
    context.add_cookies(
        [
            {"name": "facegate_session", "value": key, "domain": host, "path": "/"},
            {"name": "facegate_lang", "value": lang, "domain": host, "path": "/"},
        ]
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    return context, page


def fits(page: Any, selector: str, width: int) -> bool:
    right = page.eval_on_selector(selector, "el => el.getBoundingClientRect().right")
    return bool(right <= width + 1)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_the_board_is_paged_and_filtered(live, browser, lang: str, device: str):
    base, key = live
    width = WIDTHS[device]
    context, page = open_page(browser, base, key, lang, width)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        page.goto(f"{base}/attendance")
        rows = page.locator("#att-table tbody tr")
        assert rows.count() == 50
        assert page.inner_text("#att-enrolled") == str(PEOPLE)
        assert page.inner_text("#att-present") == str(ARRIVED)
        height = page.evaluate("() => document.documentElement.scrollHeight")
        # 300 people used to make a 300-row table (and two 300-name lists); a page of 50 rows
        # stays the same height whatever the number of people
        assert height < 7000, height
        assert fits(page, "#att-board", width) and fits(page, "#att-filter", width)
        page.screenshot(path=str(ARTIFACTS / f"att-board-{device}-{lang}.png"), full_page=True)
        # page 2 of 6
        page.click("#att-page-next")
        page.wait_for_function(
            "() => document.getElementById('att-count').textContent.includes('2')"
        )
        assert rows.count() == 50 and "page=2" in page.url
        # name search (Chinese names too)
        page.fill("#att-q", "王芳 123")
        page.click("#att-filter button[type=submit]")
        page.wait_for_function(
            "() => document.querySelectorAll('#att-table tbody tr').length === 1"
        )
        assert "王芳 123" in page.inner_text("#att-table tbody")
        # status filter: who is missing (nobody after the first 120)
        page.fill("#att-q", "")
        page.select_option("#att-status", "missing")
        page.click("#att-filter button[type=submit]")
        page.wait_for_function(
            "() => document.getElementById('att-count').textContent.includes('180')"
        )
        names = page.locator("#att-table tbody td.name a").all_inner_texts()
        assert len(names) == 50 and all(int(n.split()[-1]) >= ARRIVED for n in names)
        page.select_option("#att-status", "late")
        page.click("#att-filter button[type=submit]")
        page.wait_for_selector("#att-table tbody td.empty, #att-table tbody td.name")
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_the_settings_page_saves_and_refuses_bad_input(live, browser, lang: str, device: str):
    base, key = live
    width = WIDTHS[device]
    context, page = open_page(browser, base, key, lang, width)
    text = TEXT[lang]
    minute = {"en": 40, "zh": 45}[lang] + (1 if device == "phone" else 0)
    try:
        page.goto(f"{base}/settings")
        assert page.inner_text("h1") == text["title"]
        assert page.locator("#set-cameras td", has_text="front").count() == 1
        assert fits(page, "#set-form", width)
        page.fill("#set-work-start", f"08:{minute}")
        page.click("#set-save")
        page.wait_for_function(
            "t => document.getElementById('set-status').textContent.startsWith(t)",
            arg=text["saved"],
        )
        page.screenshot(path=str(ARTIFACTS / f"settings-{device}-{lang}.png"), full_page=True)
        page.reload()
        assert page.input_value("#set-work-start") == f"08:{minute}"
        page.fill("#set-timezone", "Mars/Olympus")
        page.click("#set-save")
        page.wait_for_function(
            "t => document.getElementById('set-status').textContent.startsWith(t)",
            arg=text["error"],
        )
        assert "Mars/Olympus" in page.inner_text("#set-status")
        page.reload()
        assert page.input_value("#set-timezone") == "Asia/Shanghai"  # nothing was saved
    finally:
        context.close()


@pytest.mark.parametrize(("lang", "device"), [("en", "desktop"), ("zh", "phone")])
def test_a_correction_from_the_person_page_shows_in_the_day(live, browser, lang: str, device: str):
    base, key = live
    width = WIDTHS[device]
    context, page = open_page(browser, base, key, lang, width)
    name = {"en": "Person 001", "zh": "Person 002"}[lang]
    try:
        page.goto(f"{base}/attendance?q={name.replace(' ', '+')}")
        page.click(f"#att-table a:text-is('{name}')")
        page.wait_for_selector("#corr-form")
        assert fits(page, "#corr-form", width)
        page.click("#corr-save")  # no reason: refused on the page
        page.wait_for_function(
            "() => document.getElementById('corr-status').className.includes('bad')"
        )
        page.select_option("#corr-kind", "out")
        page.fill("#corr-time", "18:30")
        page.fill("#corr-reason", "出口摄像头故障")
        page.click("#corr-save")
        page.wait_for_selector(".att-correction")
        line = page.inner_text(".att-correction")
        assert "出口摄像头故障" in line and "18:30" in line and "hr browser tests" in line
        first_row = page.locator("#att-history tbody tr").first
        assert "18:30:00" in first_row.inner_text()  # the corrected last-out
        page.screenshot(path=str(ARTIFACTS / f"att-person-{device}-{lang}.png"), full_page=True)
    finally:
        context.close()


SCHEDULE = {
    "en": {"title": "Schedule", "holiday": "Public holiday", "overnight": "overnight",
           "save": "Save shift", "both": "Give a person id or a group, not both."},
    "zh": {"title": "排班", "holiday": "法定节假日", "overnight": "跨夜",
           "save": "保存班次", "both": "请填写人员编号或分组，二者选一。"},
}  # fmt: skip


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_the_schedule_page_edits_the_calendar_and_shifts(live, browser, lang: str, device: str):
    """/attendance/schedule: add and remove a holiday, add a shift, edit it (same id), give it
    to a person and to a group, and remove it, through the page; the API sees each change."""
    import httpx

    base, key = live
    width = WIDTHS[device]
    text = SCHEDULE[lang]
    api = {"X-API-Key": key}
    group = f"夜班组 {lang} {device}"
    assert httpx.post(f"{base}/api/v1/access/groups", json={"name": group}, headers=api).is_success
    context, page = open_page(browser, base, key, lang, width)
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        page.goto(f"{base}/attendance")
        page.click("#att-schedule")
        page.wait_for_url("**/attendance/schedule")
        assert page.inner_text("h1") == text["title"]
        year = int(page.get_attribute("#sch-calendar", "data-year") or 0)
        day = f"{year}-10-0{1 + list(SCHEDULE).index(lang) * 2 + list(WIDTHS).index(device)}"
        # a public holiday
        page.fill("#sch-day-date", day)
        page.select_option("#sch-day-kind", "holiday")
        page.fill("#sch-day-name", f"国庆节 {device}")
        page.click("#sch-day-add")
        row = page.locator(f'#sch-days tr[data-date="{day}"]')
        row.wait_for()
        assert text["holiday"] in row.inner_text() and f"国庆节 {device}" in row.inner_text()
        listed = httpx.get(f"{base}/api/v1/attendance/calendar?year={year}", headers=api).json()
        assert {"date": day, "kind": "holiday", "name": f"国庆节 {device}"} in listed["days"]
        assert fits(page, "#sch-calendar", width)
        # a night shift, then edited in place
        name = f"Night {lang} {device}"
        page.fill("#sch-shift-name", name)
        page.fill("#sch-shift-start", "22:00")
        page.fill("#sch-shift-end", "06:00")
        page.click("#sch-shift-save")
        shift = page.locator("#sch-shifts tr", has_text=name)
        shift.wait_for()
        assert text["overnight"] in shift.inner_text()
        shift_id = shift.get_attribute("data-id")
        shift.locator(".sch-edit").click()
        assert page.input_value("#sch-shift-name") == name
        assert page.inner_text("#sch-shift-save") == text["save"]
        page.fill("#sch-shift-name", name + " 2")
        page.fill("#sch-shift-end", "23:30")
        page.uncheck('#sch-shift-days input[value="5"]')
        page.click("#sch-shift-save")
        edited = page.locator(f'#sch-shifts tr[data-id="{shift_id}"][data-name="{name} 2"]')
        edited.wait_for()
        assert edited.get_attribute("data-end") == "23:30"
        assert edited.get_attribute("data-days") == "1,2,3,4"
        assert text["overnight"] not in edited.inner_text()
        # given to a person, then to a group (both, one at a time)
        page.select_option("#sch-assign-shift", shift_id)
        page.fill("#sch-assign-person", "1")
        page.fill("#sch-assign-group", group)
        page.click("#sch-assign-submit")
        page.wait_for_function(
            "(t) => document.getElementById('sch-status').textContent === t", arg=text["both"]
        )
        page.fill("#sch-assign-group", "")
        page.click("#sch-assign-submit")
        page.locator(
            f'#sch-shifts tr[data-id="{shift_id}"] .sch-who a[href="/attendance/people/1"]'
        ).wait_for()
        page.select_option("#sch-assign-shift", shift_id)
        page.fill("#sch-assign-group", group)
        page.click("#sch-assign-submit")
        page.locator(f'#sch-shifts tr[data-id="{shift_id}"] .sch-group', has_text=group).wait_for()
        shifts = httpx.get(f"{base}/api/v1/attendance/shifts", headers=api).json()["shifts"]
        mine = next(s for s in shifts if str(s["id"]) == shift_id)
        assert mine["people"] == [1] and mine["groups"] == [group]
        assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"att-schedule-{device}-{lang}.png"), full_page=True)
        # removed again
        page.locator(f'#sch-shifts tr[data-id="{shift_id}"] .sch-remove-shift').click()
        page.locator(f'#sch-shifts tr[data-id="{shift_id}"]').wait_for(state="detached")
        page.locator(f'#sch-days tr[data-date="{day}"] .sch-remove-day').click()
        page.locator(f'#sch-days tr[data-date="{day}"]').wait_for(state="detached")
        listed = httpx.get(f"{base}/api/v1/attendance/calendar?year={year}", headers=api).json()
        assert day not in {d["date"] for d in listed["days"]}
    finally:
        context.close()
