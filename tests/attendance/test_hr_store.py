"""Site settings, calendar, shifts, corrections, the monthly summary and the Excel exports on
SQLite and on PostgreSQL (the ``store`` fixture runs each test on both)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from facegate.access.store import AccessStore
from facegate.attendance.export import BOM, excel_csv, xlsx
from facegate.attendance.hr_store import HrNotFound
from facegate.attendance.reports import DAILY_HEADER, daily_cells, daily_report
from facegate.attendance.service import Attendance
from facegate.attendance.site import SiteSettings, SiteSettingsStore, parse_site_settings
from facegate.attendance.summary import SUMMARY_HEADER, month_summary, parse_month
from facegate.errors import InvalidInput
from facegate.gallery import SqlStore
from tests.attendance.conftest import seen

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(d: date, hh: int, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, hh, mm, ss, us, tzinfo=SHANGHAI)


def test_site_settings_are_shared_by_every_process(make_settings: Any, store: SqlStore):
    env = make_settings(attendance_timezone="UTC", attendance_work_start=time(8, 30))
    worker = Attendance(env, store.db)
    assert worker.site.get().revision == 0  # never saved: the environment's defaults
    assert worker.policy.timezone.key == "UTC" and worker.policy.work_start == time(8, 30)
    # 23:30 UTC on Nov 1 is Nov 2 07:30 in Shanghai: the working day depends on the setting
    moment = datetime(2026, 11, 1, 23, 30, tzinfo=UTC)
    assert worker.policy.working_day(moment) == date(2026, 11, 1)
    saved = worker.site.put(
        parse_site_settings({"timezone": "Asia/Shanghai", "working_days": [1, 2, 3, 4, 5, 6]},
                            worker.site.get().settings),
        "hr",
    )  # fmt: skip
    assert saved.revision == 1 and saved.updated_by == "hr"
    assert worker.policy.working_day(moment) == date(2026, 11, 2)  # this process: at once
    # another process (the CLI, another worker) built from the same environment reads the row
    cli = Attendance(env, store.db)
    assert cli.policy.timezone.key == "Asia/Shanghai"
    assert cli.policy.working_days == frozenset({1, 2, 3, 4, 5, 6})
    assert cli.policy.work_start == time(8, 30)  # fields not given kept their value
    # a worker that read before the change keeps it for its cache's few seconds, then follows
    stale = SiteSettingsStore(store.db, SiteSettings(), ttl_s=3600)
    stale.get()
    worker.site.put(worker.site.get().settings.model_copy(update={"timezone": "UTC"}), "hr")
    assert stale.get().settings.timezone == "Asia/Shanghai"
    fresh = SiteSettingsStore(store.db, SiteSettings(), ttl_s=0)
    assert fresh.get().settings.timezone == "UTC" and fresh.get().revision == 2


def test_bad_site_settings_are_refused_clearly():
    base = SiteSettings()
    for bad, field in (
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"working_days": [0, 8]}, "working_days"),
        ({"late_grace_minutes": -1}, "late_grace_minutes"),
        ({"work_start": "25:00"}, "work_start"),
        ({"surprise": 1}, "surprise"),
    ):
        with pytest.raises(InvalidInput, match=field):
            parse_site_settings(bad, base)
    with pytest.raises(InvalidInput):
        parse_site_settings(["not", "an", "object"], base)


def test_calendar_shifts_and_corrections(make_settings: Any, store: SqlStore):
    att = Attendance(make_settings(attendance_timezone="Asia/Shanghai"), store.db)
    hr = att.hr
    ann, bob, cat = (store.create_person(n).id for n in ("Ann", "Bob", "Cat"))
    hr.set_day(date(2026, 10, 1), "holiday", "国庆节")
    hr.set_day(date(2026, 10, 10), "workday", "调休")
    hr.set_day(date(2026, 10, 1), "holiday", "National Day")  # replaces
    days = hr.calendar(date(2026, 10, 1), date(2026, 10, 31))
    assert [(d.day, d.kind, d.name) for d in days] == [
        (date(2026, 10, 1), "holiday", "National Day"),
        (date(2026, 10, 10), "workday", "调休"),
    ]
    hr.remove_day(date(2026, 10, 10))
    with pytest.raises(HrNotFound):
        hr.remove_day(date(2026, 10, 10))
    night = hr.add_shift("night", time(22), time(6), frozenset({1, 2, 3, 4, 5}))
    early = hr.add_shift("early", time(7), time(15), frozenset({1, 2, 3, 4, 5, 6}))
    with pytest.raises(InvalidInput):
        hr.add_shift("night", time(1), time(2), frozenset({1}))
    access = AccessStore(store.db)
    access.add_group("guards")
    access.add_member("guards", ann)
    access.add_member("guards", bob)
    hr.assign(int(night.id or 0), group="guards")
    hr.assign(int(early.id or 0), person_id=bob)  # a person's own shift beats the group's
    shifts = hr.person_shifts()
    assert shifts[ann].name == "night" and shifts[bob].name == "early" and cat not in shifts
    with pytest.raises(HrNotFound):
        hr.assign(int(night.id or 0), group="nobody")
    rows = {r.shift.name: r for r in hr.shifts()}
    assert rows["night"].groups == ("guards",) and rows["early"].people == (bob,)
    fix = hr.add_correction(
        cat, date(2026, 11, 2), "in", local(date(2026, 11, 2), 8, 58), "forgot badge", "admin"
    )
    assert fix.id is not None and fix.by == "admin" and fix.created_at is not None
    with pytest.raises(InvalidInput):
        hr.add_correction(cat, date(2026, 11, 2), "out", local(date(2026, 11, 2), 18), " ", "x")
    found = hr.corrections(date(2026, 11, 1), date(2026, 11, 30))
    assert [c.reason for c in found[(cat, date(2026, 11, 2))]] == ["forgot badge"]
    # deleting a person erases their corrections and assignment (cascade)
    store.delete_person(cat)
    store.delete_person(bob)
    assert hr.corrections(date(2026, 11, 1), date(2026, 11, 30)) == {}
    assert "early" in {r.shift.name for r in hr.shifts()} and bob not in hr.person_shifts()


def test_month_summary_with_holiday_make_up_day_shift_and_correction(
    make_settings: Any, store: SqlStore
):
    att = Attendance(make_settings(attendance_timezone="Asia/Shanghai"), store.db)
    hr = att.hr
    att.directions.update({"in": "in", "out": "out", "gate": "both"})
    ann = store.create_person("安娜").id  # site hours 09:00-18:00, Mon-Fri
    ned = store.create_person("Ned").id  # night shift 22:00-06:00
    hr.assign(int(hr.add_shift("night", time(22), time(6), frozenset({1, 2})).id or 0),
              person_id=ned)  # fmt: skip
    mon, tue, wed = date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4)
    sat = date(2026, 11, 7)
    hr.set_day(wed, "holiday", "holiday")
    hr.set_day(sat, "workday", "make-up")
    # Ann: Monday late, left early; Tuesday on time with a corrected out; Saturday present
    for moment, camera in (
        (local(mon, 9, 20), "in"),
        (local(mon, 16), "out"),
        (local(tue, 8, 50), "in"),
        (local(sat, 9), "in"),
        (local(sat, 18, 30), "out"),
    ):
        assert att.record(seen(ann, moment.astimezone(UTC), camera=camera)).event is not None
    hr.add_correction(ann, tue, "out", local(tue, 18, 5), "exit camera was off", "hr")
    # Ned: Monday's night shift, from 22:02 to Tuesday 06:01
    att.record(seen(ned, local(mon, 22, 2).astimezone(UTC), camera="gate"))
    att.record(seen(ned, local(tue, 6, 1).astimezone(UTC), camera="gate"))
    now = local(date(2026, 11, 9), 12)
    rows = {r.name: r for r in month_summary(att.store, "2026-11", hr=hr, now=now)}
    a = rows["安娜"]
    # working days in November for Ann: 21 weekdays - 1 holiday + 1 make-up Saturday = 21
    assert a.working_days == 21
    assert (a.present, a.late, a.left_early, a.corrected_days) == (3, 1, 1, 1)
    # over by the 9th (noon): Nov 2-6 without the holiday (4) + Sat 7 + none more = 5 working
    # days, of which Ann was present 3 (Mon, Tue, Sat): Thu 5 and Fri 6 absent
    assert a.absent == 2
    assert a.hours == pytest.approx(6 + 40 / 60 + 9 + 15 / 60 + 9.5, abs=0.01)
    n = rows["Ned"]
    assert n.present == 1 and n.hours == pytest.approx(7 + 59 / 60, abs=0.01)
    assert not n.late and not n.left_early
    # Ned works Mondays and Tuesdays (9 in November) and, like everybody, the make-up
    # Saturday: Nov 2 present, Nov 3 and Sat 7 absent, Nov 9's night shift still to come
    assert n.working_days == 10 and n.absent == 2
    with pytest.raises(InvalidInput):
        parse_month("2026-13")
    assert parse_month("2026-12") == (date(2026, 12, 1), date(2026, 12, 31))


def test_exports_open_in_excel_with_chinese_names(make_settings: Any, store: SqlStore):
    from openpyxl import load_workbook

    att = Attendance(make_settings(attendance_timezone="Asia/Shanghai"), store.db)
    li = store.create_person("李伟").id
    store.create_person("=HYPERLINK(1)")
    day = date(2026, 11, 2)
    att.record(seen(li, local(day, 8, 51, 12, 345678).astimezone(UTC), camera="door"))
    rows = daily_report(att.store, day, hr=att.hr, now=local(day, 12))
    cells = list(daily_cells(day, rows, att.policy))
    data = excel_csv(DAILY_HEADER, cells)
    assert data.startswith(BOM.encode("utf-8"))
    text = data.decode("utf-8-sig")
    assert "李伟" in text and "2026-11-02T08:51:12+08:00" in text and ".345" not in text
    assert "'=HYPERLINK(1)" in text
    book = load_workbook(io.BytesIO(xlsx(DAILY_HEADER, cells, "day")))
    sheet = book.active
    assert sheet is not None
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == list(DAILY_HEADER)
    by_name = {row[2]: row for row in values[1:]}
    assert by_name["李伟"][5] == "2026-11-02T08:51:12+08:00"
    assert by_name["=HYPERLINK(1)"][4] == "missing"  # stored as text, not as a formula
    formula_cell = next(c for row in sheet.iter_rows() for c in row if c.value == "=HYPERLINK(1)")
    assert formula_cell.data_type == "s"
    month = xlsx(SUMMARY_HEADER, [r.cells("2026-11") for r in month_summary(
        att.store, "2026-11", hr=att.hr, now=local(day, 12))], "2026-11")  # fmt: skip
    summary = load_workbook(io.BytesIO(month)).active
    assert summary is not None and summary.cell(2, 3).value in ("李伟", "=HYPERLINK(1)")


def test_the_board_judges_leaving_with_the_clock(make_settings: Any, store: SqlStore):
    """With one both-way camera, someone seen at lunch is not 'left early' at 12:10."""
    att = Attendance(make_settings(attendance_timezone="Asia/Shanghai"), store.db)
    li = store.create_person("李伟").id
    day = date(2026, 11, 2)
    att.record(seen(li, local(day, 8, 55).astimezone(UTC), camera="hall"))
    att.record(seen(li, local(day, 12).astimezone(UTC), camera="hall"))
    [row] = daily_report(att.store, day, hr=att.hr, now=local(day, 12, 10))
    assert row.record.last_out == local(day, 12) and not row.record.left_early and row.inside
    [row] = daily_report(att.store, day, hr=att.hr, now=local(day, 13))
    assert row.record.left_early  # gone for the 30-minute margin
    [row] = daily_report(att.store, day, hr=att.hr, now=local(day + timedelta(days=1), 12))
    assert row.record.left_early and row.record.leave_judged


def test_a_shift_is_edited_in_place(make_settings: Any, store: SqlStore):
    """update_shift (the schedule page's edit): same id, its people keep it, the rules of a
    new shift apply, on SQLite and PostgreSQL."""
    hr = Attendance(make_settings(attendance_timezone="Asia/Shanghai"), store.db).hr
    ann = store.create_person("Ann").id
    night = hr.add_shift("night", time(22), time(6), frozenset({1, 2, 3}))
    hr.add_shift("early", time(6), time(14), frozenset({1}))
    shift_id = int(night.id or 0)
    hr.assign(shift_id, person_id=ann)
    late = hr.update_shift(shift_id, "late", time(12, 0, 30), time(20, 30), frozenset({2, 4}))
    assert (late.id, late.start, late.overnight) == (shift_id, time(12), False)
    assert hr.person_shifts()[ann] == late
    hr.update_shift(shift_id, "late", time(12), time(21), frozenset({2, 4}))  # its own name
    with pytest.raises(InvalidInput, match="exists"):
        hr.update_shift(shift_id, "early", time(12), time(20), frozenset({2}))
    with pytest.raises(InvalidInput):
        hr.update_shift(shift_id, "late", time(12), time(12), frozenset({2}))
    with pytest.raises(HrNotFound):
        hr.update_shift(shift_id + 100, "other", time(9), time(17), frozenset({1}))
