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
def obama_video(faces_dir: Path) -> Path:
    """The dev set's shortest clip (one face, a podium), for tests that run a video bench."""
    path = faces_dir / "videos" / "obama.mp4"
    if not path.is_file():
        pytest.skip(f"dev video missing: {path}")
    return path


_ENGINES: dict[str, FaceEngine] = {}
# Modules that build an engine for an app or a CLI command run in this process.
_ENGINE_USERS = ("facegate.services", "facegate.cli.faces", "facegate.cli.eval_cmds")


def shared_engine(settings: Settings | None = None, *, pool_size: int | None = None) -> FaceEngine:
    """The real engine, built once per distinct configuration for the whole test process.

    A server builds one engine per process and the engine is thread-safe; tests build dozens
    of apps and CLI runs in one process, and compiling the models for each (4-9 s) was most of
    the fast tier's time. Keyed by everything the engine reads (``engine``, ``inference``,
    ``limits``, ``quality`` settings and the pool size), so an app configured differently
    still gets an engine of its own. Tests about building an engine construct ``FaceEngine``
    directly and are not affected."""
    s = settings or Settings()
    key = "|".join(
        [
            s.engine.model_dump_json(),
            s.inference.model_dump_json(),
            s.limits.model_dump_json(),
            s.quality.model_dump_json(),
            str(pool_size),
        ]
    )
    if key not in _ENGINES:
        _ENGINES[key] = FaceEngine(s, pool_size=pool_size)
    return _ENGINES[key]


@pytest.fixture(scope="session", autouse=True)
def _one_engine_per_configuration() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for module in _ENGINE_USERS:
            patch.setattr(f"{module}.FaceEngine", shared_engine)
        yield


@pytest.fixture(scope="session")
def engine() -> FaceEngine:
    """The real engine with the real models, shared by the whole session."""
    return shared_engine(Settings())


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
