"""Shared fixtures: the dev data set, one engine per test session (models load once), and a
PostgreSQL server for the tests that run on both database backends (gallery, API)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from facegate.config import Settings
from facegate.engine import FaceEngine
from tests.pg import PostgresCluster, PostgresUnavailable

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "faces"


def dev_data_dir() -> Path | None:
    """The dev face set: $FACEGATE_TEST_DATA, else ../shared/data/faces; None if absent."""
    path = Path(os.environ.get("FACEGATE_TEST_DATA", DEFAULT_DATA))
    return path if (path / "people").is_dir() else None


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    """The dev data set; tests that need it skip (with the reason) where it is absent."""
    path = dev_data_dir()
    if path is None:
        pytest.skip(
            "dev face data not found: set FACEGATE_TEST_DATA or place it at ../shared/data/faces"
        )
    return path


@pytest.fixture(scope="session")
def engine() -> FaceEngine:
    """The real engine with the real models, shared by the whole session."""
    return FaceEngine(Settings())


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A PostgreSQL superuser URL: $FACEGATE_TEST_DATABASE_URL, else a cluster of our own."""
    external = os.environ.get("FACEGATE_TEST_DATABASE_URL")
    if external:
        yield external
        return
    try:
        cluster = PostgresCluster().start()
    except PostgresUnavailable as error:
        pytest.skip(f"PostgreSQL cannot be started: {error}")
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def pg_own_cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL server for one module alone, which its tests may stop and start
    (``halt()``/``resume()``) without disturbing the session's server."""
    try:
        cluster = PostgresCluster().start()
    except PostgresUnavailable as error:
        pytest.skip(f"PostgreSQL cannot be started: {error}")
    try:
        yield cluster
    finally:
        cluster.stop()


# Test tiers. `make test` and CI run everything; `make test-fast` (the edit loop) leaves out
# the tests marked slow (a full dev-set file), postgres (a server of its own) and processes:
# every test of a module that starts real `facegate serve` processes or a browser is marked
# here from its imports, so a new such module joins the heavy tier without anyone remembering.
_PROCESS_MODULES = ("tests.serving", "tests.browser")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    heavy: dict[str, bool] = {}
    for item in items:
        path = Path(str(item.fspath))
        if str(path) not in heavy:
            source = path.read_text(encoding="utf-8") if path.suffix == ".py" else ""
            heavy[str(path)] = any(
                f"from {m} import" in source or f"import {m}" in source for m in _PROCESS_MODULES
            )
        if heavy[str(path)]:
            item.add_marker(pytest.mark.processes)
