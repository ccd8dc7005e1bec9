"""Cluster fixtures: every store test runs on SQLite and on a real PostgreSQL (tests/pg.py)."""

from __future__ import annotations

from tests.storage import make_settings, store  # noqa: F401 (fixtures)
