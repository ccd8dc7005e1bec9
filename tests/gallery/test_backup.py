"""``facegate backup`` / ``restore`` on SQLite and PostgreSQL: round trips that keep every row,
a backup taken while a writer enrols is consistent, a non-empty target is refused, a backup of
an older schema is migrated forward, and a SQLite backup restores into PostgreSQL."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from facegate.cli import app
from facegate.config import Settings
from facegate.errors import Conflict, InvalidInput
from facegate.gallery import SqlStore, introspect, open_store
from facegate.gallery.backup import backup, encode, read_manifest, restore
from facegate.gallery.db import SqliteDatabase, open_database, utcnow
from facegate.gallery.schema import MIGRATIONS
from facegate.gallery.store import apply_migrations
from tests.gallery.conftest import template, unit_vectors
from tests.pg import create_database, drop_database
from tests.storage import make_settings, store  # noqa: F401

_targets = itertools.count()


def populate(source: SqlStore) -> None:
    """People with faces and thumbnails, attendance, a door with a group member and an event,
    an API key hash: a bit of every area."""
    vectors = unit_vectors(6, seed=3)
    ids = []
    for i, name in enumerate(["Ana", "张伟", "Bo"]):
        person, _ = source.create_person_with_templates(
            name,
            [
                template(vectors[2 * i], f"s{i}a", thumbnail=b"\xff\xd8jpeg" + bytes([i])),
                template(vectors[2 * i + 1], f"s{i}b"),
            ],
            external_id=f"E{i}",
            metadata={"team": "x", "n": i},
        )
        ids.append(person.id)
    source.delete_person(ids[2])  # an id counter ahead of the largest id
    db = source.db
    now = db.to_db_time(utcnow())
    with db.write() as tx:
        tx.execute(
            "INSERT INTO attendance_events (person_id, kind, camera, direction, at, score, "
            "snapshot, created_at) VALUES (?, 'confirmed', 'front', 'in', ?, 0.8, ?, ?)",
            (ids[0], now, b"snap", now),
        )
        door = tx.execute(
            "INSERT INTO access_doors (name, created_at, updated_at) VALUES ('main', ?, ?) "
            "RETURNING id",
            (now, now),
        )[0][0]
        group = tx.execute(
            "INSERT INTO access_groups (name, created_at) VALUES ('staff', ?) RETURNING id",
            (now,),
        )[0][0]
        tx.execute(
            "INSERT INTO access_group_members (group_id, person_id) VALUES (?, ?)",
            (group, ids[1]),
        )
        tx.execute(
            "INSERT INTO access_rules (door_id, group_id, created_at) VALUES (?, ?, ?)",
            (door, group, now),
        )
        tx.execute(
            "INSERT INTO access_events (at, door, camera, direction, person_id, decision, "
            "reason) VALUES (?, 'main', 'cam', 'in', ?, 'granted', 'rule')",
            (now, ids[1]),
        )
        tx.execute(
            "INSERT INTO api_keys (name, scope, prefix, key_sha256, created_at) "
            "VALUES ('ops', 'admin', 'fg_ab', ?, ?)",
            ("cd" * 32, now),
        )


def dump(db: Any) -> dict[str, list[list[Any]]]:
    """Every data table's rows, encoded the way a backup writes them, sorted."""
    out: dict[str, list[list[Any]]] = {}
    with db.read() as tx:
        for table in introspect.tables(tx, db):
            names = [c.name for c in introspect.columns(tx, db, table)]
            rows = tx.execute(f"SELECT {', '.join(names)} FROM {table}")
            out[table] = sorted(
                ([normal(encode(v)) for v in r] for r in rows), key=lambda r: json.dumps(r)
            )
    return out


def normal(value: Any) -> Any:
    """SQLite keeps JSON as text and booleans as 0/1: compare them as values."""
    if isinstance(value, dict) and "$j" in value:
        return value["$j"]
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, bool):
        return int(value)
    return value


@pytest.fixture
def target(make_settings: Any, request: pytest.FixtureRequest, tmp_path: Path) -> Any:  # noqa: F811
    """A second, empty database on the same backend as ``store``."""
    made: list[tuple[str, str]] = []

    def make() -> Any:
        url = make_settings().storage.database_url
        if url is None:
            return SqliteDatabase(tmp_path / f"restored{next(_targets)}" / "facegate.db")
        admin = request.getfixturevalue("pg_admin_url")
        name = f"restore_{next(_targets)}"
        made.append((admin, name))
        return open_database(tmp_path, create_database(admin, name))

    yield make
    for admin, name in made:
        drop_database(admin, name)


def test_round_trip_keeps_every_row(store: SqlStore, target: Any, tmp_path: Path) -> None:  # noqa: F811
    populate(store)
    before = dump(store.db)
    summary = backup(store.db, tmp_path / "site.fgbackup")
    assert (tmp_path / "site.fgbackup").stat().st_mode & 0o777 == 0o600
    assert summary.rows["people"] == 2 and summary.rows["templates"] == 4
    assert summary.model_id == "test-model"
    db = target()
    restore(db, tmp_path / "site.fgbackup")
    assert dump(db) == before
    restored = SqlStore(db)
    # Ids are never reused: the deleted third person's id stays spent.
    new = restored.create_person("Cy")
    assert new.id > max(p.id for p in store.list_people().items) + 1
    assert restored.model_pin() == store.model_pin()
    restored.close()


def test_restore_refuses_a_database_with_data(store: SqlStore, tmp_path: Path) -> None:  # noqa: F811
    populate(store)
    backup(store.db, tmp_path / "b.fgbackup")
    with pytest.raises(Conflict, match="not empty"):
        restore(store.db, tmp_path / "b.fgbackup")
    assert store.list_people().total == 2  # untouched


def test_restore_refuses_files_that_are_not_backups(tmp_path: Path) -> None:
    (tmp_path / "x.fgbackup").write_bytes(b"not gzip")
    db = SqliteDatabase(tmp_path / "t" / "facegate.db")
    with pytest.raises(InvalidInput, match="not a facegate backup"):
        restore(db, tmp_path / "x.fgbackup")
    with pytest.raises(InvalidInput, match="no backup file"):
        restore(db, tmp_path / "missing.fgbackup")


def test_a_truncated_backup_is_refused_and_leaves_nothing(
    store: SqlStore,  # noqa: F811
    target: Any,
    tmp_path: Path,
) -> None:
    import gzip

    populate(store)
    backup(store.db, tmp_path / "b.fgbackup")
    lines = gzip.decompress((tmp_path / "b.fgbackup").read_bytes()).splitlines(keepends=True)
    (tmp_path / "cut.fgbackup").write_bytes(gzip.compress(b"".join(lines[:-3])))
    db = target()
    with pytest.raises(InvalidInput, match="truncated"):
        restore(db, tmp_path / "cut.fgbackup")
    with db.read() as tx:
        assert introspect.all_tables(tx, db) == []  # checked before anything was written


def test_backup_while_a_writer_enrols_is_consistent(
    store: SqlStore,  # noqa: F811
    make_settings: Any,  # noqa: F811
    target: Any,
    tmp_path: Path,
) -> None:
    """A writer creates people with two faces each (one transaction per person) and deletes
    some, while backups are taken: every backup restores to a gallery where every person has
    exactly two faces and the revision log covers every template."""
    stop = threading.Event()
    vectors = unit_vectors(2, seed=9)
    written = [0]

    def writer() -> None:
        i = 0
        while not stop.is_set():
            person, _ = store.create_person_with_templates(
                f"p{i}", [template(vectors[0], f"{i}a"), template(vectors[1], f"{i}b")]
            )
            if i % 3 == 0:
                store.delete_person(person.id)
            i += 1
            written[0] = i

    thread = threading.Thread(target=writer)
    thread.start()
    files = []
    seen = []
    settings = make_settings()
    try:
        for n in range(4):
            while written[0] < 5 * (n + 1):
                stop.wait(0.01)
            # Its own connection, as `facegate backup` is its own process.
            db = open_database(settings.storage.data_dir, settings.storage.database_url)
            files.append(tmp_path / f"live{n}.fgbackup")
            # the change log only grows (people do not: every third is deleted again)
            seen.append(backup(db, files[-1]).rows["gallery_changes"])
            db.close()
    finally:
        stop.set()
        thread.join()
    assert seen == sorted(seen) and seen[0] < seen[-1]  # taken while the writer moved on
    for path in files:
        db = target()
        restore(db, path)
        with db.read() as tx:
            orphans = tx.execute(
                "SELECT COUNT(*) FROM templates t LEFT JOIN people p ON p.id = t.person_id "
                "WHERE p.id IS NULL"
            )[0][0]
            per_person = tx.execute(
                "SELECT p.id, COUNT(t.id) FROM people p LEFT JOIN templates t "
                "ON t.person_id = p.id GROUP BY p.id"
            )
            templates = tx.execute("SELECT COUNT(*) FROM templates")[0][0]
            logged = tx.execute(
                "SELECT COUNT(*) FROM gallery_changes c WHERE c.op = 'add' AND EXISTS "
                "(SELECT 1 FROM templates t WHERE t.id = c.template_id)"
            )[0][0]
        assert orphans == 0
        assert all(count == 2 for _, count in per_person)
        assert logged == templates
        db.close()


def test_an_older_schema_is_migrated_forward_on_restore(tmp_path: Path) -> None:
    old = SqliteDatabase(tmp_path / "old" / "facegate.db")
    apply_migrations(old, up_to=3)
    now = utcnow().isoformat()
    with old.write() as tx:
        tx.execute(
            "INSERT INTO people (name, metadata, created_at, updated_at) "
            "VALUES ('Ana', '{}', ?, ?)",
            (now, now),
        )
    assert backup(old, tmp_path / "old.fgbackup").schema_version == 3
    assert read_manifest(tmp_path / "old.fgbackup")["schema_version"] == 3
    new = SqliteDatabase(tmp_path / "new" / "facegate.db")
    restore(new, tmp_path / "old.fgbackup")
    with new.read() as tx:
        versions = {r[0] for r in tx.execute("SELECT version FROM schema_migrations")}
        assert tx.execute("SELECT name FROM people")[0][0] == "Ana"
    assert versions == {m.version for m in MIGRATIONS["sqlite"]}


@pytest.mark.postgres
def test_a_sqlite_backup_restores_into_postgresql(tmp_path: Path, pg_admin_url: str) -> None:
    source = open_store(Settings(data_dir=tmp_path / "lite"))
    populate(source)
    before = dump(source.db)
    backup(source.db, tmp_path / "lite.fgbackup")
    url = create_database(pg_admin_url, "from_sqlite")
    try:
        db = open_database(tmp_path, url)
        restore(db, tmp_path / "lite.fgbackup")
        after = dump(db)
        for table in ("people", "templates", "attendance_events", "access_group_members"):
            assert len(after[table]) == len(before[table]), table
        pg = SqlStore(db)
        assert [p.name for p in pg.list_people().items] == ["Ana", "张伟"]
        ana = pg.list_people("Ana").items[0]
        assert ana.metadata == {"team": "x", "n": 0}
        first = pg.list_templates(ana.id)[0]
        assert pg.thumbnail(first.id) == b"\xff\xd8jpeg\x00"
        assert pg.snapshot().vectors.shape == (4, 128)
        pg.close()
    finally:
        drop_database(pg_admin_url, "from_sqlite")
    source.close()


def test_cli_backup_and_restore(tmp_path: Path) -> None:
    source = open_store(Settings(data_dir=tmp_path / "site"))
    populate(source)
    source.close()
    runner = CliRunner()
    out = tmp_path / "cli.fgbackup"
    done = runner.invoke(app, ["backup", "--out", str(out), "--data-dir", str(tmp_path / "site")])
    assert done.exit_code == 0, done.output
    assert "people: 2" in done.output
    again = runner.invoke(app, ["restore", str(out), "--data-dir", str(tmp_path / "site")])
    assert again.exit_code == 2 and "not empty" in again.output
    fresh = runner.invoke(app, ["restore", str(out), "--data-dir", str(tmp_path / "new"), "--json"])
    assert fresh.exit_code == 0, fresh.output
    assert json.loads(fresh.output)["rows"]["templates"] == 4
    missing = runner.invoke(app, ["backup", "--out", str(out), "--data-dir", str(tmp_path / "no")])
    assert missing.exit_code == 2 and "no gallery database" in missing.output
