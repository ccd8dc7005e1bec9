"""Access fixtures: every storage test runs on SQLite and on a real PostgreSQL (tests/pg.py)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from facegate.access.events import DoorEvents
from facegate.access.store import AccessStore
from facegate.gallery import SqlStore
from tests.storage import make_settings, store  # noqa: F401 (fixtures)

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def access(store: SqlStore) -> AccessStore:  # noqa: F811
    return AccessStore(store.db)


@pytest.fixture
def door_events(access: AccessStore) -> DoorEvents:
    return DoorEvents(access, SHANGHAI)
