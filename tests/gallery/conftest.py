"""Gallery fixtures: every store test runs against SQLite and against a real PostgreSQL.

PostgreSQL is the session's throwaway cluster (tests/pg.py) unless
``FACEGATE_TEST_DATABASE_URL`` names one; each test gets an empty schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from facegate.config import Settings
from facegate.gallery import Gallery, NewTemplate

MODEL_ID = "test-model"
MODEL_SHA = "ab" * 32
DIM = 128


def _reset_schema(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings for an empty gallery on the parametrised backend."""
    url = None
    if backend == "postgres":
        url = request.getfixturevalue("pg_admin_url")
        _reset_schema(url)
    return Settings(data_dir=tmp_path, database_url=url, gallery_poll_interval_s=0.2)


@pytest.fixture
def gallery(settings: Settings) -> Iterator[Gallery]:
    with Gallery(settings) as g:
        yield g


def unit_vectors(n: int, seed: int = 0, dim: int = DIM) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, dim)).astype(np.float32)
    unit: np.ndarray = v / np.linalg.norm(v, axis=1, keepdims=True)
    return unit


def template(vector: np.ndarray, source: str | None = None, **kw: Any) -> NewTemplate:
    return NewTemplate(vector, MODEL_ID, MODEL_SHA, source_sha256=source, **kw)


@pytest.fixture
def make_template() -> Callable[..., NewTemplate]:
    return template
