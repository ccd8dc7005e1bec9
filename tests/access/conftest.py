"""Access fixtures: every storage test runs on SQLite and on a real PostgreSQL (tests/pg.py)."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest

from facegate.access.events import Attempt, DoorEvents
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


def recorder(attempts: list[Attempt]) -> Callable[[Attempt], bool]:
    """A DoorWatcher ``submit`` that keeps every attempt in ``attempts`` and accepts it."""

    def submit(attempt: Attempt) -> bool:
        attempts.append(attempt)
        return True

    return submit
