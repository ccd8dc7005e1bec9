"""The pure access decision as a table: every reason, weekday/hour edges in Shanghai time,
holidays, passes, blocking, liveness and anti-passback."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from facegate.access.policy import (
    ALL_DAYS,
    Holiday,
    Pass,
    Rule,
    Situation,
    decide,
    format_days,
    format_minute,
    parse_days,
    parse_minute,
)

SH = ZoneInfo("Asia/Shanghai")
STAFF, CLEANERS = 1, 2
# Monday 2026-03-02, 09:00 in Shanghai (01:00 UTC)
MON_0900 = datetime(2026, 3, 2, 9, 0, tzinfo=SH)
OFFICE = Rule(STAFF, parse_days("mon-fri"), parse_minute("08:00"), parse_minute("18:00"))
NIGHT = Rule(CLEANERS, ALL_DAYS, parse_minute("22:00"), parse_minute("06:00"))
BASE = Situation(
    now=MON_0900.astimezone(UTC),
    timezone=SH,
    confirmed=True,
    person_id=7,
    groups=frozenset({STAFF}),
    rules=(OFFICE, NIGHT),
)


def at(local: datetime) -> Situation:
    return replace(BASE, now=local.astimezone(UTC))


CASES = [
    ("granted in hours", BASE, ("granted", "rule", None)),
    ("not confirmed", replace(BASE, confirmed=False), ("denied", "not_confirmed", None)),
    (
        "stranger",
        replace(BASE, person_id=None),
        ("denied", "unknown_person", "stranger"),
    ),
    ("blocked", replace(BASE, person_pass=Pass(blocked=True)), ("denied", "blocked", "blocked")),
    ("spoof", replace(BASE, liveness="spoof"), ("denied", "liveness_failed", "spoof")),
    (
        "undecided, door denies",
        replace(BASE, liveness="undecided"),
        ("denied", "liveness_failed", None),
    ),
    (
        "undecided, door allows",
        replace(BASE, liveness="undecided", undecided="allow"),
        ("granted", "rule", None),
    ),
    (
        "left before the liveness verdict, even where undecided is allowed",
        replace(BASE, liveness="left", undecided="allow"),
        ("denied", "liveness_failed", None),
    ),
    (
        "spoof even when undecided is allowed",
        replace(BASE, liveness="spoof", undecided="allow"),
        ("denied", "liveness_failed", "spoof"),
    ),
    ("no group", replace(BASE, groups=frozenset()), ("denied", "not_in_group", None)),
    (
        "group without rule here",
        replace(BASE, groups=frozenset({99})),
        ("denied", "not_in_group", None),
    ),
    ("08:00 is in", at(MON_0900.replace(hour=8)), ("granted", "rule", None)),
    ("07:59 is out", at(MON_0900.replace(hour=7, minute=59)), ("denied", "outside_hours", None)),
    ("17:59 is in", at(MON_0900.replace(hour=17, minute=59)), ("granted", "rule", None)),
    (
        "18:00 is out (end exclusive)",
        at(MON_0900.replace(hour=18)),
        ("denied", "outside_hours", None),
    ),
    ("Saturday", at(MON_0900 + timedelta(days=5)), ("denied", "outside_hours", None)),
    ("Friday", at(MON_0900 + timedelta(days=4)), ("granted", "rule", None)),
    # 01:00 UTC on Sunday is 09:00 Sunday in Shanghai but Saturday 17:00 in... UTC it is Sunday too;
    # 20:00 UTC Sunday is 04:00 Monday in Shanghai: a weekday by the site's clock
    (
        "Sunday 20:00 UTC is Monday 04:00 site time: still outside hours",
        replace(BASE, now=datetime(2026, 3, 1, 20, 0, tzinfo=UTC)),
        ("denied", "outside_hours", None),
    ),
    (
        "Monday 00:30 UTC is 08:30 in Shanghai: in hours",
        replace(BASE, now=datetime(2026, 3, 2, 0, 30, tzinfo=UTC)),
        ("granted", "rule", None),
    ),
    (
        "Friday 10:30 UTC is 18:30 Friday in Shanghai: out",
        replace(BASE, now=datetime(2026, 3, 6, 10, 30, tzinfo=UTC)),
        ("denied", "outside_hours", None),
    ),
    (
        "overnight rule at 23:00",
        replace(at(MON_0900.replace(hour=23)), groups=frozenset({CLEANERS})),
        ("granted", "rule", None),
    ),
    (
        "overnight rule at 05:59",
        replace(at(MON_0900.replace(hour=5, minute=59)), groups=frozenset({CLEANERS})),
        ("granted", "rule", None),
    ),
    (
        "overnight rule at 06:00",
        replace(at(MON_0900.replace(hour=6)), groups=frozenset({CLEANERS})),
        ("denied", "outside_hours", None),
    ),
    (
        "closed holiday",
        replace(BASE, holidays=(Holiday(date(2026, 3, 2)),)),
        ("denied", "outside_hours", None),
    ),
    (
        "holiday on another date",
        replace(BASE, holidays=(Holiday(date(2026, 3, 3)),)),
        ("granted", "rule", None),
    ),
    (
        "make-up working Saturday: weekdays ignored",
        replace(
            at(MON_0900 + timedelta(days=5)), holidays=(Holiday(date(2026, 3, 7), closed=False),)
        ),
        ("granted", "rule", None),
    ),
    (
        "make-up working Saturday: hours still apply",
        replace(
            at((MON_0900 + timedelta(days=5)).replace(hour=19)),
            holidays=(Holiday(date(2026, 3, 7), closed=False),),
        ),
        ("denied", "outside_hours", None),
    ),
    (
        "rule season not started",
        replace(BASE, rules=(replace(OFFICE, date_from=date(2026, 3, 3)),)),
        ("denied", "outside_hours", None),
    ),
    (
        "rule season last day",
        replace(BASE, rules=(replace(OFFICE, date_to=date(2026, 3, 2)),)),
        ("granted", "rule", None),
    ),
    (
        "pass not yet valid",
        replace(BASE, person_pass=Pass(valid_from=MON_0900 + timedelta(seconds=1))),
        ("denied", "pass_expired", None),
    ),
    (
        "pass valid from now",
        replace(BASE, person_pass=Pass(valid_from=MON_0900)),
        ("granted", "rule", None),
    ),
    (
        "pass expired (until exclusive)",
        replace(BASE, person_pass=Pass(valid_until=MON_0900)),
        ("denied", "pass_expired", None),
    ),
    (
        "pass valid a second longer",
        replace(BASE, person_pass=Pass(valid_until=MON_0900 + timedelta(seconds=1))),
        ("granted", "rule", None),
    ),
    (
        "anti-passback: inside already",
        replace(BASE, anti_passback=True, inside=True),
        ("denied", "anti_passback", None),
    ),
    (
        "anti-passback: exit is allowed",
        replace(BASE, anti_passback=True, inside=True, direction="out"),
        ("granted", "rule", None),
    ),
    (
        "anti-passback off: re-entry allowed",
        replace(BASE, anti_passback=False, inside=True),
        ("granted", "rule", None),
    ),
    (
        "blocked beats everything after confirmation",
        replace(BASE, person_pass=Pass(blocked=True), liveness="spoof", groups=frozenset()),
        ("denied", "blocked", "blocked"),
    ),
]


@pytest.mark.parametrize(
    ("situation", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_decision_table(situation: Situation, expected: tuple[str, str, str | None]):
    verdict = decide(situation)
    assert (verdict.decision, verdict.reason, verdict.alarm) == expected


def test_every_reason_is_reachable():
    reasons = {decide(c[1]).reason for c in CASES}
    assert reasons == {
        "rule",
        "not_confirmed",
        "unknown_person",
        "blocked",
        "liveness_failed",
        "pass_expired",
        "not_in_group",
        "outside_hours",
        "anti_passback",
    }


def test_day_and_time_notation():
    assert parse_days("all") == ALL_DAYS
    assert parse_days("mon,tue") == 0b11
    assert parse_days("mon-fri") == parse_days("weekdays") == 0b11111
    assert parse_days("Sat, sun") == parse_days("weekend")
    assert format_days(parse_days("mon,wed,sun")) == "mon,wed,sun"
    for bad in ("monday", "fri-mon", "mon-tue-wed", "mon,,tue"):
        with pytest.raises(ValueError):
            parse_days(bad)
    assert parse_minute("08:30") == 510
    assert parse_minute("24:00", end=True) == 1440
    assert format_minute(1440) == "24:00"
    for bad in ("24:00", "8", "12:60", "-1:00", "ab:cd"):
        with pytest.raises(ValueError):
            parse_minute(bad)
