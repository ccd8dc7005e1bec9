"""Numbered schema migrations, one list per SQL dialect, applied in order at start-up.

They live in Python rather than ``.sql`` files so that they ship inside any wheel without
package-data configuration. A migration is never edited once released: add the next number.
Applied versions are recorded in ``schema_migrations``; start-up applies the missing ones
under a write lock, so several processes starting at once migrate exactly once.

Design points shared by both dialects:

- ids are never reused (SQLite ``AUTOINCREMENT``, PostgreSQL identity): template ids are the
  vector index's ids, and a stale worker must never confuse a new template with a deleted one.
- ``templates.person_id`` cascades on delete: deleting a person erases templates and
  thumbnails in the same transaction (privacy).
- ``UNIQUE (person_id, source_sha256)``: the same photo is enrolled once per person, which
  makes enrolment resumable. NULL hashes are not compared (several are allowed).
- ``gallery_meta`` is a single row: the revision every index compares against, the pinned
  model, and ``log_floor`` (changes at or below it may have been pruned from the log).
- ``gallery_changes`` is the change log that lets an index catch up incrementally.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Dialect = Literal["sqlite", "postgres"]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


_SQLITE_0001 = """
CREATE TABLE people (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    external_id TEXT UNIQUE,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE templates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    embedding BLOB NOT NULL,
    model_id TEXT NOT NULL,
    model_sha256 TEXT NOT NULL,
    quality TEXT NOT NULL DEFAULT '{}',
    source_sha256 TEXT,
    thumbnail BLOB,
    created_at TEXT NOT NULL,
    UNIQUE (person_id, source_sha256)
);
CREATE INDEX templates_source ON templates(source_sha256);
CREATE TABLE gallery_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL,
    model_id TEXT,
    model_sha256 TEXT,
    log_floor INTEGER NOT NULL DEFAULT 0
);
INSERT INTO gallery_meta (id, revision) VALUES (1, 0);
CREATE TABLE gallery_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    revision INTEGER NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('add', 'remove', 'move')),
    template_id INTEGER NOT NULL,
    person_id INTEGER NOT NULL
);
CREATE INDEX gallery_changes_revision ON gallery_changes(revision);
"""

_POSTGRES_0001 = """
CREATE TABLE people (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL,
    external_id TEXT UNIQUE,
    metadata JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE templates (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    embedding BYTEA NOT NULL,
    model_id TEXT NOT NULL,
    model_sha256 TEXT NOT NULL,
    quality JSONB NOT NULL DEFAULT '{}',
    source_sha256 TEXT,
    thumbnail BYTEA,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (person_id, source_sha256)
);
CREATE INDEX templates_source ON templates(source_sha256);
CREATE TABLE gallery_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL,
    model_id TEXT,
    model_sha256 TEXT,
    log_floor BIGINT NOT NULL DEFAULT 0
);
INSERT INTO gallery_meta (id, revision) VALUES (1, 0);
CREATE TABLE gallery_changes (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    revision BIGINT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('add', 'remove', 'move')),
    template_id BIGINT NOT NULL,
    person_id BIGINT NOT NULL
);
CREATE INDEX gallery_changes_revision ON gallery_changes(revision);
"""

# 0002: API keys for the HTTP API (facegate.api.keys). Only the SHA-256 of a key is stored;
# ``prefix`` (the key's first characters) lets an administrator tell keys apart in listings.
# Revoked keys are kept (``revoked_at``) so a listing shows what was revoked and when.
_SQLITE_0002 = """
CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL DEFAULT '',
    scope TEXT NOT NULL CHECK (scope IN ('admin', 'recognize')),
    prefix TEXT NOT NULL,
    key_sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
"""

_POSTGRES_0002 = """
CREATE TABLE api_keys (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    scope TEXT NOT NULL CHECK (scope IN ('admin', 'recognize')),
    prefix TEXT NOT NULL,
    key_sha256 TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
"""

# 0003: attendance (facegate.attendance). Events cascade with their person (deleting a person
# erases their attendance, privacy); unknown faces have no person. ``direction`` is the
# camera's direction when the event was logged, so later config changes never rewrite
# history. ``attendance_webhooks`` is the outbox: a webhook is committed with its event and
# survives a restart until delivered or given up.
_SQLITE_0003 = """
CREATE TABLE attendance_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('confirmed', 'unknown', 'checkin')),
    camera TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out', 'both')),
    at TEXT NOT NULL,
    score REAL NOT NULL,
    track_id INTEGER,
    snapshot BLOB,
    created_at TEXT NOT NULL
);
CREATE INDEX attendance_events_person ON attendance_events(person_id, camera, at);
CREATE INDEX attendance_events_at ON attendance_events(at);
CREATE TABLE attendance_webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id INTEGER NOT NULL REFERENCES attendance_events(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    gave_up_at TEXT
);
CREATE INDEX attendance_webhooks_due ON attendance_webhooks(next_attempt_at);
"""

_POSTGRES_0003 = """
CREATE TABLE attendance_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id BIGINT REFERENCES people(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('confirmed', 'unknown', 'checkin')),
    camera TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out', 'both')),
    at TIMESTAMPTZ NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    track_id BIGINT,
    snapshot BYTEA,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX attendance_events_person ON attendance_events(person_id, camera, at);
CREATE INDEX attendance_events_at ON attendance_events(at);
CREATE TABLE attendance_webhooks (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id BIGINT NOT NULL REFERENCES attendance_events(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error TEXT,
    gave_up_at TIMESTAMPTZ
);
CREATE INDEX attendance_webhooks_due ON attendance_webhooks(next_attempt_at);
"""

# 0006: liveness challenges over HTTP (facegate.liveness.tokens). Challenge tokens are
# HMAC-signed by a secret shared by every worker through this one-row table (made on first
# use), and each token is spent once: its nonce is recorded until it expires. Neither table
# refers to people. (Versions 4 and 5 belong to other parts of issue 10; migrations apply by
# missing version, not by position, so the gap is harmless.)
_SQLITE_0006 = """
CREATE TABLE liveness_secret (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    secret TEXT NOT NULL
);
CREATE TABLE liveness_tokens_used (
    nonce TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL,
    used_at TEXT NOT NULL
);
CREATE INDEX liveness_tokens_used_expiry ON liveness_tokens_used(expires_at);
"""

_POSTGRES_0006 = """
CREATE TABLE liveness_secret (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    secret TEXT NOT NULL
);
CREATE TABLE liveness_tokens_used (
    nonce TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX liveness_tokens_used_expiry ON liveness_tokens_used(expires_at);
"""

MIGRATIONS: dict[Dialect, tuple[Migration, ...]] = {
    "sqlite": (
        Migration(1, "init", _SQLITE_0001),
        Migration(2, "api_keys", _SQLITE_0002),
        Migration(3, "attendance", _SQLITE_0003),
        Migration(6, "liveness_tokens", _SQLITE_0006),
    ),
    "postgres": (
        Migration(1, "init", _POSTGRES_0001),
        Migration(2, "api_keys", _POSTGRES_0002),
        Migration(3, "attendance", _POSTGRES_0003),
        Migration(6, "liveness_tokens", _POSTGRES_0006),
    ),
}


def statements(sql: str) -> list[str]:
    """Split a migration into statements (our migrations contain no ``;`` inside literals)."""
    return [part.strip() for part in sql.split(";") if part.strip()]
