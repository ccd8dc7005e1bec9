"""Key scopes in the database (SQLite and PostgreSQL): migration 0007 keeps existing keys and
admits ``monitor`` and ``checkin``; the database itself refuses any other scope; the
revocation watch's query sees revoked keys go."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from facegate.api.keys import SCOPES, KeyStore
from facegate.config import Settings
from facegate.gallery import open_store, schema
from facegate.gallery.db import utcnow
from facegate.gallery.store import SqlStore
from tests.pg import create_database, drop_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "sqlite":
        yield Settings(data_dir=tmp_path)
        return
    admin_url = request.getfixturevalue("pg_admin_url")
    url = create_database(admin_url, "key_scopes")
    try:
        yield Settings(data_dir=tmp_path, database_url=url)
    finally:
        drop_database(admin_url, "key_scopes")


def test_migration_keeps_keys_and_admits_the_new_scopes(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    released = {d: tuple(m for m in ms if m.version < 7) for d, ms in schema.MIGRATIONS.items()}
    with monkeypatch.context() as patched:
        patched.setattr(schema, "MIGRATIONS", released)
        patched.setattr("facegate.gallery.store.MIGRATIONS", released)
        old = open_store(settings)
        before = KeyStore(old.db)
        admin, admin_secret = before.create("admin", "kept")
        revoked, _ = before.create("recognize", "revoked")
        before.revoke(revoked.id)
        with pytest.raises(Exception):  # noqa: B017 (the driver's own integrity error)
            _insert_scope(old, "monitor")  # not yet a scope before 0007
        old.close()
    store = open_store(settings)  # applies 0007
    try:
        keys = KeyStore(store.db)
        listed = {k.id: k for k in keys.list()}
        assert listed[admin.id].scope == "admin" and listed[admin.id].active
        assert not listed[revoked.id].active
        assert keys.authenticate(admin_secret) == listed[admin.id]
        made = {scope: keys.create(scope, scope)[0] for scope in SCOPES}
        assert {k.scope for k in made.values()} == set(SCOPES)
        with pytest.raises(Exception):  # noqa: B017
            _insert_scope(store, "superuser")
        ids = [admin.id, revoked.id, made["monitor"].id]
        assert keys.active_ids(ids) == {admin.id, made["monitor"].id}
        keys.revoke(made["monitor"].id)
        assert keys.active_ids(ids) == {admin.id}
        assert keys.active_ids([]) == set()
    finally:
        store.close()


def _insert_scope(store: SqlStore, scope: str) -> None:
    """A row written around KeyStore's own check: only the database's CHECK can refuse it."""
    with store.db.write() as tx:
        tx.execute(
            "INSERT INTO api_keys (name, scope, prefix, key_sha256, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            ("raw", scope, "fg_raw", f"raw-{scope}", store.db.to_db_time(utcnow())),
        )
