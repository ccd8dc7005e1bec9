"""Attendance fixtures: every storage test runs on SQLite and on a real PostgreSQL.

PostgreSQL gets a fresh database per test (the session's throwaway cluster, tests/pg.py);
SQLite a fresh file. ``person`` enrols nobody's face: the log only needs a people row.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from facegate.attendance.service import Attendance
from facegate.config import Settings
from facegate.events import RecognitionEvent
from facegate.gallery import SqlStore, open_store
from tests.pg import create_database, drop_database

_names = itertools.count()
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def make_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A factory of Settings over one fresh database on the parametrised backend."""
    url = None
    admin_url = None
    name = f"att_{next(_names)}"
    if request.param == "postgres":
        admin_url = request.getfixturevalue("pg_admin_url")
        url = create_database(admin_url, name)

    def make(**overrides: Any) -> Settings:
        return Settings(data_dir=tmp_path, database_url=url, **overrides)

    yield make
    if admin_url is not None:
        drop_database(admin_url, name)


@pytest.fixture
def store(make_settings: Any) -> Iterator[SqlStore]:
    """The gallery store (it owns the database and runs the migrations)."""
    s = open_store(make_settings())
    yield s
    s.close()


@pytest.fixture
def attendance(make_settings: Any, store: SqlStore) -> Attendance:
    return Attendance(make_settings(attendance_timezone="Asia/Shanghai"), store.db)


def seen(
    person_id: int | None,
    at: datetime,
    camera: str = "door",
    kind: str = "confirmed",
    snapshot: bytes | None = None,
) -> RecognitionEvent:
    """A recognition event as a pipeline would publish it."""
    return RecognitionEvent(
        kind=kind,  # type: ignore[arg-type]
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
