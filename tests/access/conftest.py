"""Access fixtures: every storage test runs on SQLite and on a real PostgreSQL (tests/pg.py)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from facegate.access.events import DoorEvents
from facegate.access.store import AccessStore
from facegate.config import Settings
from facegate.gallery import SqlStore, open_store
from tests.pg import create_database, drop_database

_names = itertools.count()
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def make_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A factory of Settings over one fresh database on the parametrised backend."""
    url = None
    admin_url = None
    name = f"acc_{next(_names)}"
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
def access(store: SqlStore) -> AccessStore:
    return AccessStore(store.db)


@pytest.fixture
def door_events(access: AccessStore) -> DoorEvents:
    return DoorEvents(access, SHANGHAI)
