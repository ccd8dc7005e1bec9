"""Storage fixtures shared by the packages whose every storage test runs twice: on SQLite and
on a real PostgreSQL (a fresh database per test on the session's cluster, tests/pg.py).

A package's conftest imports them (``from tests.storage import make_settings, store``);
``in_threads`` runs workers racing on one database.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from facegate.config import Settings
from facegate.gallery import SqlStore, open_store
from tests.pg import create_database, drop_database

_names = itertools.count()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def make_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A factory of Settings over one fresh database on the parametrised backend."""
    url = None
    admin_url = None
    package = request.module.__name__.split(".")[-2]  # tests.access.test_store -> access
    name = f"{package}_{next(_names)}"
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


def in_threads(target: Callable[..., object], calls: Iterable[tuple[Any, ...]]) -> None:
    """``target(*args)`` for each ``args`` on its own thread, all started before any is
    joined; returns when every one has finished."""
    threads = [threading.Thread(target=target, args=args) for args in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
