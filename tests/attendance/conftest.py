"""Attendance fixtures: every storage test runs on SQLite and on a real PostgreSQL.

PostgreSQL gets a fresh database per test (the session's throwaway cluster, tests/pg.py);
SQLite a fresh file. ``person`` enrols nobody's face: the log only needs a people row.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from facegate.attendance.service import Attendance
from facegate.events import EventKind, RecognitionEvent
from facegate.gallery import SqlStore
from tests.storage import make_settings, store  # noqa: F401 (fixtures)

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


@pytest.fixture
def attendance(make_settings: Any, store: SqlStore) -> Attendance:  # noqa: F811
    return Attendance(make_settings(attendance_timezone="Asia/Shanghai"), store.db)


def seen(
    person_id: int | None,
    at: datetime,
    camera: str = "door",
    kind: EventKind = "confirmed",
    snapshot: bytes | None = None,
) -> RecognitionEvent:
    """A recognition event as a pipeline would publish it."""
    return RecognitionEvent(
        kind=kind,
        stream=camera,
        at=at,
        track_id=1,
        person_id=person_id,
        person_name=None,
        score=0.7,
        snapshot=snapshot,
    )


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
