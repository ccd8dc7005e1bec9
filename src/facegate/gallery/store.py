"""The gallery's source of truth: people and templates in SQLite or PostgreSQL.

One implementation (:class:`SqlStore`) over two backends (``db.py``). Every change to the set
of templates happens in one transaction that also bumps ``gallery_meta.revision`` and appends
to ``gallery_changes``; an in-memory index anywhere compares its revision with the stored one
and replays the log to catch up (``changes_since``), or rebuilds from ``snapshot``.

The store takes vectors, never images, and never logs embeddings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from facegate.errors import Conflict, InvalidInput, UnknownPerson, UnknownTemplate
from facegate.gallery.db import Database, Row, Tx, utcnow
from facegate.gallery.merge import move_person_rows
from facegate.gallery.photo_rows import insert_photo
from facegate.gallery.revisions import RevisionLog
from facegate.gallery.schema import MIGRATIONS, statements
from facegate.gallery.types import (
    JsonObject,
    NewTemplate,
    Person,
    PersonPage,
    Template,
    embedding_from_bytes,
    embedding_to_bytes,
)

_PERSON_COLUMNS = (
    "p.id, p.name, p.external_id, p.metadata, p.created_at, p.updated_at, "
    "(SELECT COUNT(*) FROM templates t WHERE t.person_id = p.id)"
)
_TEMPLATE_COLUMNS = (
    "id, person_id, embedding, model_id, model_sha256, quality, source_sha256, "
    "thumbnail IS NOT NULL, created_at"
)
# Marks "not given" where None is a meaningful value (clearing an external id).
UNSET: Any = object()
# Change-log entries older than this many revisions are pruned; a worker further behind
# rebuilds from a snapshot instead of replaying.
DEFAULT_KEEP_REVISIONS = 10_000


def _json_load(value: Any) -> dict[str, Any]:
    # SQLite stores JSON as text; psycopg already decodes jsonb.
    if isinstance(value, str | bytes):
        text = value.decode() if isinstance(value, bytes) else value
        loaded: dict[str, Any] = json.loads(text)
        # A row written before lone surrogates ("\\ud800") were refused must not make every
        # listing fail: such a character cannot be encoded, so it reads back as U+FFFD.
        return _repair_surrogates(loaded) if "\\u" in text else loaded
    return dict(value or {})


def _repair_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        if value.isascii():
            return value
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in value)
    if isinstance(value, dict):
        return {_repair_surrogates(k): _repair_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_repair_surrogates(v) for v in value]
    return value


def _like_pattern(query: str) -> str:
    escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _unit(embedding: np.ndarray) -> np.ndarray:
    vector = np.asarray(embedding, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(vector)) if vector.size else 0.0
    if not np.isfinite(norm) or norm < 1e-6:
        raise InvalidInput("an embedding must be a finite, non-zero vector")
    return vector / norm


class SqlStore(RevisionLog):
    """People, templates, the model pin, the revision and the change log.

    Thread-safe (the backend serialises access to its connection). Unknown ids raise
    ``UnknownPerson``, a duplicate external id ``Conflict``, a template from another model than
    the gallery's ``ModelMismatch``.
    """

    def __init__(
        self,
        db: Database,
        *,
        store_thumbnails: bool = True,
        keep_revisions: int = DEFAULT_KEEP_REVISIONS,
    ) -> None:
        self.db = db
        self.store_thumbnails = store_thumbnails
        self.keep_revisions = keep_revisions
        self.migrate()

    @property
    def dialect(self) -> str:
        return self.db.dialect

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ---------------------------------------------------------------------------

    def migrate(self) -> list[int]:
        """Apply missing migrations in order; returns the versions applied now."""
        return apply_migrations(self.db)

    # -- people ---------------------------------------------------------------------------

    def _person(self, row: Row) -> Person:
        return Person(
            id=int(row[0]),
            name=row[1],
            external_id=row[2],
            metadata=_json_load(row[3]),
            created_at=self.db.from_db_time(row[4]),
            updated_at=self.db.from_db_time(row[5]),
            template_count=int(row[6]),
        )

    def _get_person(self, tx: Tx, person_id: int) -> Person:
        rows = tx.execute(f"SELECT {_PERSON_COLUMNS} FROM people p WHERE p.id = ?", (person_id,))
        if not rows:
            raise UnknownPerson(f"no person with id {person_id}")
        return self._person(rows[0])

    def create_person(
        self, name: str, *, external_id: str | None = None, metadata: JsonObject | None = None
    ) -> Person:
        name = _clean_name(name)
        now = self.db.to_db_time(utcnow())
        try:
            with self.db.write() as tx:
                rows = tx.execute(
                    "INSERT INTO people (name, external_id, metadata, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?) RETURNING id",
                    (name, external_id, json.dumps(dict(metadata or {})), now, now),
                )
                return self._get_person(tx, int(rows[0][0]))
        except Exception as error:
            if self.db.is_unique_violation(error):
                raise Conflict(f"external id {external_id!r} is already in use") from error
            raise

    def get_person(self, person_id: int) -> Person:
        with self.db.read() as tx:
            return self._get_person(tx, person_id)

    def get_people(self, person_ids: Iterable[int]) -> dict[int, Person]:
        """The people with these ids (unknown ids are simply absent)."""
        ids = sorted({int(i) for i in person_ids})
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        with self.db.read() as tx:
            rows = tx.execute(
                f"SELECT {_PERSON_COLUMNS} FROM people p WHERE p.id IN ({marks})", ids
            )
        return {int(row[0]): self._person(row) for row in rows}

    def find_by_external_id(self, external_id: str) -> Person | None:
        with self.db.read() as tx:
            rows = tx.execute(
                f"SELECT {_PERSON_COLUMNS} FROM people p WHERE p.external_id = ?", (external_id,)
            )
        return self._person(rows[0]) if rows else None

    def list_people(
        self, query: str | None = None, *, limit: int = 50, offset: int = 0
    ) -> PersonPage:
        """People ordered by name; ``query`` matches a substring of the name or external id
        (case-insensitive)."""
        if limit < 1 or offset < 0:
            raise InvalidInput("limit must be >= 1 and offset >= 0")
        where, params = "", []
        if query:
            where = (
                "WHERE lower(p.name) LIKE ? ESCAPE '\\' OR lower(p.external_id) LIKE ? ESCAPE '\\'"
            )
            params = [_like_pattern(query)] * 2
        with self.db.read() as tx:
            total = int(tx.execute(f"SELECT COUNT(*) FROM people p {where}", params)[0][0])
            rows = tx.execute(
                f"SELECT {_PERSON_COLUMNS} FROM people p {where} "
                "ORDER BY lower(p.name), p.id LIMIT ? OFFSET ?",
                [*params, limit, offset],
            )
        return PersonPage(tuple(self._person(r) for r in rows), total, limit, offset)

    def update_person(
        self,
        person_id: int,
        *,
        name: str = UNSET,
        external_id: str | None = UNSET,
        metadata: JsonObject = UNSET,
    ) -> Person:
        """Change any of name, external id (None clears it) and metadata (replaced whole)."""
        sets: list[str] = []
        params: list[Any] = []
        if name is not UNSET:
            sets.append("name = ?")
            params.append(_clean_name(name))
        if external_id is not UNSET:
            sets.append("external_id = ?")
            params.append(external_id)
        if metadata is not UNSET:
            sets.append("metadata = ?")
            params.append(json.dumps(dict(metadata)))
        sets.append("updated_at = ?")
        params.append(self.db.to_db_time(utcnow()))
        try:
            with self.db.write() as tx:
                rows = tx.execute(
                    f"UPDATE people SET {', '.join(sets)} WHERE id = ? RETURNING id",
                    [*params, person_id],
                )
                if not rows:
                    raise UnknownPerson(f"no person with id {person_id}")
                # A new revision (with nothing to replay) tells every worker's name cache.
                self._bump(tx)
                return self._get_person(tx, person_id)
        except Exception as error:
            if self.db.is_unique_violation(error):
                raise Conflict(f"external id {external_id!r} is already in use") from error
            raise

    def rename_person(self, person_id: int, name: str) -> Person:
        return self.update_person(person_id, name=name)

    def delete_person(self, person_id: int) -> int:
        """Delete a person with every template and thumbnail; returns the templates erased."""
        with self.db.write() as tx:
            template_ids = [
                r[0]
                for r in tx.execute("SELECT id FROM templates WHERE person_id = ?", (person_id,))
            ]
            if not tx.execute("DELETE FROM people WHERE id = ? RETURNING id", (person_id,)):
                raise UnknownPerson(f"no person with id {person_id}")
            # ON DELETE CASCADE has erased the templates; say so explicitly if it did not.
            if tx.execute("SELECT 1 FROM templates WHERE person_id = ? LIMIT 1", (person_id,)):
                raise RuntimeError("foreign-key cascade is not active; refusing to orphan data")
            if template_ids:
                revision = self._bump(tx)
                self._log(tx, revision, "remove", [(t, person_id) for t in template_ids])
        self.db.after_erase()
        return len(template_ids)

    def merge_people(self, source_id: int, target_id: int) -> Person:
        """Move every template of ``source_id`` to ``target_id`` and delete ``source_id``.

        Templates whose source photo the target already has are dropped (same photo twice).
        The target keeps its name, external id and metadata; attendance, door events and
        group memberships move with the templates (``merge.py``).
        """
        if source_id == target_id:
            raise InvalidInput("cannot merge a person into themselves")
        with self.db.write() as tx:
            self._get_person(tx, source_id)
            self._get_person(tx, target_id)
            rows = tx.execute(
                "SELECT s.id, EXISTS (SELECT 1 FROM templates t WHERE t.person_id = ? "
                "AND t.source_sha256 = s.source_sha256) FROM templates s WHERE s.person_id = ?",
                (target_id, source_id),
            )
            moved = [int(r[0]) for r in rows if not r[1]]
            dropped = [int(r[0]) for r in rows if r[1]]
            if moved:
                marks = ", ".join("?" * len(moved))
                tx.execute(
                    f"UPDATE templates SET person_id = ? WHERE id IN ({marks})",
                    [target_id, *moved],
                )
            # Both were one person all along: their attendance, door events and group
            # memberships move too (the cascade on delete would otherwise erase them).
            move_person_rows(tx, source_id, target_id)
            tx.execute("DELETE FROM people WHERE id = ?", (source_id,))
            tx.execute(
                "UPDATE people SET updated_at = ? WHERE id = ?",
                (self.db.to_db_time(utcnow()), target_id),
            )
            if rows:
                revision = self._bump(tx)
                self._log(tx, revision, "move", [(t, target_id) for t in moved])
                self._log(tx, revision, "remove", [(t, source_id) for t in dropped])
            merged = self._get_person(tx, target_id)
        self.db.after_erase()  # the source person's row and any dropped duplicate templates
        return merged

    # -- templates ------------------------------------------------------------------------

    def _template(self, row: Row) -> Template:
        return Template(
            id=int(row[0]),
            person_id=int(row[1]),
            embedding=embedding_from_bytes(bytes(row[2])),
            model_id=row[3],
            model_sha256=row[4],
            quality=_json_load(row[5]),
            source_sha256=row[6],
            has_thumbnail=bool(row[7]),
            created_at=self.db.from_db_time(row[8]),
        )

    def add_templates(
        self, person_id: int, templates: Sequence[NewTemplate]
    ) -> list[Template | None]:
        """Add templates to a person in one transaction (all or nothing).

        Returns one entry per input: the stored template, or None where the person already had
        a template from the same source photo (``source_sha256``), which makes a re-run of an
        interrupted enrolment skip what is done. Raises ``ModelMismatch`` if any template comes
        from another model than the one the gallery is pinned to (the first template pins it).
        """
        if not templates:
            return []
        with self.db.write() as tx:
            self._get_person(tx, person_id)
            return self._insert_templates(tx, person_id, templates)

    def create_person_with_templates(
        self,
        name: str,
        templates: Sequence[NewTemplate],
        *,
        external_id: str | None = None,
        metadata: JsonObject | None = None,
    ) -> tuple[Person, list[Template | None]]:
        """Create a person and their first templates in ONE transaction: a failed enrolment
        (no face, bad file, another model) never leaves a person without a face."""
        if not templates:
            raise InvalidInput("a new person needs at least one face template")
        name = _clean_name(name)
        now = self.db.to_db_time(utcnow())
        try:
            with self.db.write() as tx:
                rows = tx.execute(
                    "INSERT INTO people (name, external_id, metadata, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?) RETURNING id",
                    (name, external_id, json.dumps(dict(metadata or {})), now, now),
                )
                person_id = int(rows[0][0])
                stored = self._insert_templates(tx, person_id, templates)
                return self._get_person(tx, person_id), stored
        except Exception as error:
            if self.db.is_unique_violation(error):
                raise Conflict(f"external id {external_id!r} is already in use") from error
            raise

    def _insert_templates(
        self, tx: Tx, person_id: int, templates: Sequence[NewTemplate]
    ) -> list[Template | None]:
        vectors = [_unit(t.embedding) for t in templates]
        now = self.db.to_db_time(utcnow())
        self._pin(tx, templates)
        results: list[Template | None] = []
        added: list[tuple[int, int]] = []
        for new, vector in zip(templates, vectors, strict=True):
            thumbnail = new.thumbnail if self.store_thumbnails else None
            rows = tx.execute(
                "INSERT INTO templates (person_id, embedding, model_id, model_sha256, quality,"
                " source_sha256, thumbnail, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (person_id, source_sha256) DO NOTHING "
                f"RETURNING {_TEMPLATE_COLUMNS}",
                (
                    person_id,
                    embedding_to_bytes(vector),
                    new.model_id,
                    new.model_sha256,
                    json.dumps(dict(new.quality)),
                    new.source_sha256,
                    thumbnail,
                    now,
                ),
            )
            template = self._template(rows[0]) if rows else None
            results.append(template)
            if template is not None:
                added.append((template.id, person_id))
                if new.photo is not None:
                    insert_photo(tx, template.id, new.photo, now)
        if added:
            self._log(tx, self._bump(tx), "add", added)
        return results

    def delete_template(self, template_id: int, person_id: int | None = None) -> None:
        """Erase one template; with ``person_id`` only if it is that person's.

        One statement decides (no check-then-act): nothing deleted raises ``UnknownPerson``
        when the person does not exist, else ``UnknownTemplate``.
        """
        with self.db.write() as tx:
            if person_id is None:
                rows = tx.execute(
                    "DELETE FROM templates WHERE id = ? RETURNING person_id", (template_id,)
                )
            else:
                rows = tx.execute(
                    "DELETE FROM templates WHERE id = ? AND person_id = ? RETURNING person_id",
                    (template_id, person_id),
                )
            if not rows:
                if person_id is not None:
                    self._get_person(tx, person_id)  # raises UnknownPerson
                    raise UnknownTemplate(f"person {person_id} has no face template {template_id}")
                raise UnknownTemplate(f"no face template with id {template_id}")
            self._log(tx, self._bump(tx), "remove", [(template_id, int(rows[0][0]))])
        # The embedding and thumbnail must not outlive the deletion in the WAL.
        self.db.after_erase()

    def list_templates(self, person_id: int) -> list[Template]:
        with self.db.read() as tx:
            self._get_person(tx, person_id)
            rows = tx.execute(
                f"SELECT {_TEMPLATE_COLUMNS} FROM templates WHERE person_id = ? ORDER BY id",
                (person_id,),
            )
        return [self._template(r) for r in rows]

    def thumbnail(self, template_id: int) -> bytes | None:
        with self.db.read() as tx:
            rows = tx.execute("SELECT thumbnail FROM templates WHERE id = ?", (template_id,))
        return bytes(rows[0][0]) if rows and rows[0][0] is not None else None

    def sources(self, person_id: int) -> set[str]:
        """The source-photo hashes of a person's templates (one query for a whole folder)."""
        with self.db.read() as tx:
            rows = tx.execute(
                "SELECT source_sha256 FROM templates WHERE person_id = ? "
                "AND source_sha256 IS NOT NULL",
                (person_id,),
            )
        return {r[0] for r in rows}

    def count_templates(self) -> int:
        with self.db.read() as tx:
            return int(tx.execute("SELECT COUNT(*) FROM templates")[0][0])


def apply_migrations(db: Database, up_to: int | None = None) -> list[int]:
    """Apply the missing migrations (those up to ``up_to`` if given) in order, in one write
    transaction; returns the versions applied now. ``facegate restore`` stops at a backup's
    version, loads its rows, then applies the rest."""
    applied_now: list[int] = []
    with db.write() as tx:
        if db.dialect == "postgres":
            # Serialise concurrent start-ups; DDL is transactional in PostgreSQL.
            tx.execute("SELECT pg_advisory_xact_lock(7265720)")
            # A migration on a big table may take longer than pg_statement_timeout_ms.
            tx.execute("SET LOCAL statement_timeout = 0")
        tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        done = {row[0] for row in tx.execute("SELECT version FROM schema_migrations")}
        for migration in MIGRATIONS[db.dialect]:
            if migration.version in done or (up_to is not None and migration.version > up_to):
                continue
            for statement in statements(migration.sql):
                tx.execute(statement)
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, utcnow().isoformat()),
            )
            applied_now.append(migration.version)
    return applied_now


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("a person's name must be 1 to 200 characters")
    return name
