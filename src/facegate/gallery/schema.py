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

# 0007: API key scopes ``monitor`` (live view, live events) and ``checkin`` (attendance
# check-in kiosks) beside ``admin`` and ``recognize`` (facegate.api.keys; docs/security.md).
# SQLite cannot alter a CHECK constraint: the table is rebuilt (nothing references it).
_SQLITE_0007 = """
CREATE TABLE api_keys_0007 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL DEFAULT '',
    scope TEXT NOT NULL CHECK (scope IN ('admin', 'recognize', 'monitor', 'checkin')),
    prefix TEXT NOT NULL,
    key_sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
INSERT INTO api_keys_0007 (id, name, scope, prefix, key_sha256, created_at, revoked_at)
    SELECT id, name, scope, prefix, key_sha256, created_at, revoked_at FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_0007 RENAME TO api_keys
"""

_POSTGRES_0007 = """
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scope_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scope_check
    CHECK (scope IN ('admin', 'recognize', 'monitor', 'checkin'))
"""

# 0004: access control (facegate.access; docs/access.md). A camera watches at most one door
# (``camera`` unique). Rules name a door and a group; ``weekdays`` is a bit mask (bit 0 Monday
# ... bit 6 Sunday), ``from_minute``/``to_minute`` local minutes of the day (to < from spans
# midnight), optional ``date_from``/``date_to`` (ISO dates, inclusive) bound a rule's season.
# ``access_holidays``: a date (site time) that is ``closed`` (no rule grants) or open (a make-up
# working day: weekday limits ignored, hours still apply), for one door or all (door NULL).
# Per-person passes, memberships, anti-passback state and door events cascade with the person
# (deleting a person erases their door events and snapshots). Events keep the door and camera
# by name, so removing a door never rewrites history. ``box`` is the face box and frame size
# as JSON (the door page draws decisions over the live view).
_SQLITE_0004 = """
CREATE TABLE access_doors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    liveness TEXT NOT NULL DEFAULT 'off' CHECK (liveness IN ('off', 'challenge', 'passive')),
    undecided TEXT NOT NULL DEFAULT 'deny' CHECK (undecided IN ('deny', 'allow')),
    anti_passback INTEGER NOT NULL DEFAULT 0,
    outputs TEXT NOT NULL DEFAULT '{}',
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE access_door_cameras (
    door_id INTEGER NOT NULL REFERENCES access_doors(id) ON DELETE CASCADE,
    camera TEXT NOT NULL UNIQUE,
    direction TEXT NOT NULL DEFAULT 'in' CHECK (direction IN ('in', 'out')),
    PRIMARY KEY (door_id, camera)
);
CREATE TABLE access_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE access_group_members (
    group_id INTEGER NOT NULL REFERENCES access_groups(id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, person_id)
);
CREATE INDEX access_group_members_person ON access_group_members(person_id);
CREATE TABLE access_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    door_id INTEGER NOT NULL REFERENCES access_doors(id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES access_groups(id) ON DELETE CASCADE,
    weekdays INTEGER NOT NULL DEFAULT 127 CHECK (weekdays BETWEEN 1 AND 127),
    from_minute INTEGER NOT NULL DEFAULT 0 CHECK (from_minute BETWEEN 0 AND 1440),
    to_minute INTEGER NOT NULL DEFAULT 1440 CHECK (to_minute BETWEEN 0 AND 1440),
    date_from TEXT,
    date_to TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX access_rules_door ON access_rules(door_id);
CREATE TABLE access_holidays (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    day TEXT NOT NULL,
    door_id INTEGER REFERENCES access_doors(id) ON DELETE CASCADE,
    closed INTEGER NOT NULL DEFAULT 1,
    name TEXT NOT NULL DEFAULT ''
);
CREATE INDEX access_holidays_day ON access_holidays(day);
CREATE TABLE access_people (
    person_id INTEGER PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    valid_from TEXT,
    valid_until TEXT,
    blocked INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);
CREATE TABLE access_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    door TEXT NOT NULL,
    camera TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    person_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
    decision TEXT NOT NULL CHECK (decision IN ('granted', 'denied')),
    reason TEXT NOT NULL,
    alarm TEXT,
    score REAL,
    liveness TEXT,
    track_id INTEGER,
    box TEXT,
    snapshot BLOB,
    captured REAL,
    latency_ms REAL
);
CREATE INDEX access_events_door_at ON access_events(door, at);
CREATE INDEX access_events_at ON access_events(at);
CREATE INDEX access_events_person ON access_events(person_id, at);
CREATE TABLE access_passback (
    door_id INTEGER NOT NULL REFERENCES access_doors(id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    inside INTEGER NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (door_id, person_id)
);
CREATE INDEX access_passback_person ON access_passback(person_id)
"""

_POSTGRES_0004 = """
CREATE TABLE access_doors (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    liveness TEXT NOT NULL DEFAULT 'off' CHECK (liveness IN ('off', 'challenge', 'passive')),
    undecided TEXT NOT NULL DEFAULT 'deny' CHECK (undecided IN ('deny', 'allow')),
    anti_passback BOOLEAN NOT NULL DEFAULT FALSE,
    outputs JSONB NOT NULL DEFAULT '{}',
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE access_door_cameras (
    door_id BIGINT NOT NULL REFERENCES access_doors(id) ON DELETE CASCADE,
    camera TEXT NOT NULL UNIQUE,
    direction TEXT NOT NULL DEFAULT 'in' CHECK (direction IN ('in', 'out')),
    PRIMARY KEY (door_id, camera)
);
CREATE TABLE access_groups (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE access_group_members (
    group_id BIGINT NOT NULL REFERENCES access_groups(id) ON DELETE CASCADE,
    person_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, person_id)
);
CREATE INDEX access_group_members_person ON access_group_members(person_id);
CREATE TABLE access_rules (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    door_id BIGINT NOT NULL REFERENCES access_doors(id) ON DELETE CASCADE,
    group_id BIGINT NOT NULL REFERENCES access_groups(id) ON DELETE CASCADE,
    weekdays INTEGER NOT NULL DEFAULT 127 CHECK (weekdays BETWEEN 1 AND 127),
    from_minute INTEGER NOT NULL DEFAULT 0 CHECK (from_minute BETWEEN 0 AND 1440),
    to_minute INTEGER NOT NULL DEFAULT 1440 CHECK (to_minute BETWEEN 0 AND 1440),
    date_from DATE,
    date_to DATE,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX access_rules_door ON access_rules(door_id);
CREATE TABLE access_holidays (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    day DATE NOT NULL,
    door_id BIGINT REFERENCES access_doors(id) ON DELETE CASCADE,
    closed BOOLEAN NOT NULL DEFAULT TRUE,
    name TEXT NOT NULL DEFAULT ''
);
CREATE INDEX access_holidays_day ON access_holidays(day);
CREATE TABLE access_people (
    person_id BIGINT PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    valid_from TIMESTAMPTZ,
    valid_until TIMESTAMPTZ,
    blocked BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE access_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL,
    door TEXT NOT NULL,
    camera TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    person_id BIGINT REFERENCES people(id) ON DELETE CASCADE,
    decision TEXT NOT NULL CHECK (decision IN ('granted', 'denied')),
    reason TEXT NOT NULL,
    alarm TEXT,
    score DOUBLE PRECISION,
    liveness TEXT,
    track_id BIGINT,
    box TEXT,
    snapshot BYTEA,
    captured DOUBLE PRECISION,
    latency_ms DOUBLE PRECISION
);
CREATE INDEX access_events_door_at ON access_events(door, at);
CREATE INDEX access_events_at ON access_events(at);
CREATE INDEX access_events_person ON access_events(person_id, at);
CREATE TABLE access_passback (
    door_id BIGINT NOT NULL REFERENCES access_doors(id) ON DELETE CASCADE,
    person_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    inside BOOLEAN NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (door_id, person_id)
);
CREATE INDEX access_passback_person ON access_passback(person_id)
"""

# 0005: the door outputs' outbox (facegate.access.outputs). One row per message per output;
# ``event_id`` names the door event (``access_events``, version 4) without a foreign key, so the
# outbox's own retention decides when a settled row goes; ``person_id`` cascades, since payloads
# carry the person's name. ``config`` is the output's configuration at decision time (with its
# secret) and is cleared once the row is delivered or failed. ``delivery_id`` is what a receiver de-
# duplicates on. A worker claims a row by setting ``lease_owner``/``lease_until``; ``lane`` names
# the receiver (output kind and a hash of its URL) so that a worker can leave a busy receiver's rows
# unclaimed for the others; ``expires_at`` (relays) is the moment after which the message must never
# be sent. Final rows are kept (delivered_at or failed_at) so the events page can show how each
# output fared, and swept after a retention period.
_SQLITE_0005 = """
CREATE TABLE access_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id INTEGER NOT NULL,
    person_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
    door TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('decision', 'alarm')),
    output TEXT NOT NULL CHECK (output IN ('webhook', 'mqtt', 'relay')),
    output_key TEXT NOT NULL,
    lane TEXT NOT NULL,
    config TEXT,
    payload TEXT NOT NULL,
    delivery_id TEXT NOT NULL UNIQUE,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    expires_at TEXT,
    lease_owner TEXT,
    lease_until TEXT,
    delivered_at TEXT,
    failed_at TEXT,
    last_error TEXT
);
CREATE INDEX access_outbox_due ON access_outbox(next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX access_outbox_event ON access_outbox(event_id);
CREATE INDEX access_outbox_person ON access_outbox(person_id);
"""

_POSTGRES_0005 = """
CREATE TABLE access_outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id BIGINT NOT NULL,
    person_id BIGINT REFERENCES people(id) ON DELETE CASCADE,
    door TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('decision', 'alarm')),
    output TEXT NOT NULL CHECK (output IN ('webhook', 'mqtt', 'relay')),
    output_key TEXT NOT NULL,
    lane TEXT NOT NULL,
    config TEXT,
    payload TEXT NOT NULL,
    delivery_id TEXT NOT NULL UNIQUE,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ,
    lease_owner TEXT,
    lease_until TIMESTAMPTZ,
    delivered_at TIMESTAMPTZ,
    failed_at TIMESTAMPTZ,
    last_error TEXT
);
CREATE INDEX access_outbox_due ON access_outbox(next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX access_outbox_event ON access_outbox(event_id);
CREATE INDEX access_outbox_person ON access_outbox(person_id);
"""

# 0006: liveness challenges over HTTP (facegate.liveness.tokens). Challenge tokens are
# HMAC-signed by a secret shared by every worker through this one-row table (made on first
# use), and each token is spent once: its nonce is recorded until it expires. Neither table
# refers to people. (Migrations apply by missing version, not by position.)
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

# Version 9 (issue 13): an attendance event drained from a host's local spool carries the
# spool's idempotency key, so a replay after a crash or an outage is committed once. NULL for
# events written directly (several NULLs are allowed by a UNIQUE index in both dialects).
_SQLITE_0009 = """
ALTER TABLE attendance_events ADD COLUMN idem_key TEXT;
CREATE UNIQUE INDEX attendance_events_idem_key ON attendance_events(idem_key)
"""

_POSTGRES_0009 = """
ALTER TABLE attendance_events ADD COLUMN idem_key TEXT;
CREATE UNIQUE INDEX attendance_events_idem_key ON attendance_events(idem_key)
"""

# 0010: enrolment photos kept encrypted at rest (facegate.photos; off by default). One row per
# template, erased with it (and so with the person: templates cascade from people). Only
# ciphertext is stored: AES-256-GCM with a 12-byte nonce; ``key_id`` names the key (a hash
# prefix) so a wrong key file is reported as such rather than as damaged data.
_SQLITE_0010 = """
CREATE TABLE enrolment_photos (
    template_id INTEGER PRIMARY KEY REFERENCES templates(id) ON DELETE CASCADE,
    nonce BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    key_id TEXT NOT NULL,
    created_at TEXT NOT NULL
)
"""

_POSTGRES_0010 = """
CREATE TABLE enrolment_photos (
    template_id BIGINT PRIMARY KEY REFERENCES templates(id) ON DELETE CASCADE,
    nonce BYTEA NOT NULL,
    ciphertext BYTEA NOT NULL,
    key_id TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
)
"""

# 0011: attendance that HR can use (facegate.attendance.site / hr_store). ``site_settings`` is
# one row of JSON (time zone, working hours and days, graces) that every process reads, with a
# ``revision`` bumped on each change; environment variables are only its defaults until it is
# first saved. ``attendance_calendar``: public holidays and make-up working days (site time).
# ``attendance_shifts``: working hours on ISO weekdays (``days`` like "1,2,3,4,5"), assigned to
# one person or one access group; ``attendance_corrections``: manual clock-ins/outs with who,
# when and why (never deleted by an edit: the day record shows them all). Both cascade with the
# person (and the assignment with the group).
_SQLITE_0011 = """
CREATE TABLE site_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL,
    settings TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL DEFAULT ''
);
CREATE TABLE attendance_calendar (
    day TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('holiday', 'workday')),
    name TEXT NOT NULL DEFAULT ''
);
CREATE TABLE attendance_shifts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    start_time TEXT NOT NULL,
    end_time TEXT NOT NULL,
    days TEXT NOT NULL
);
CREATE TABLE attendance_shift_assignments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    shift_id INTEGER NOT NULL REFERENCES attendance_shifts(id) ON DELETE CASCADE,
    person_id INTEGER UNIQUE REFERENCES people(id) ON DELETE CASCADE,
    group_id INTEGER UNIQUE REFERENCES access_groups(id) ON DELETE CASCADE,
    CHECK ((person_id IS NULL) <> (group_id IS NULL))
);
CREATE TABLE attendance_corrections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('in', 'out')),
    at TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX attendance_corrections_day ON attendance_corrections(day, person_id);
CREATE INDEX attendance_corrections_person ON attendance_corrections(person_id, day);
"""

_POSTGRES_0011 = """
CREATE TABLE site_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL,
    settings TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    updated_by TEXT NOT NULL DEFAULT ''
);
CREATE TABLE attendance_calendar (
    day DATE PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('holiday', 'workday')),
    name TEXT NOT NULL DEFAULT ''
);
CREATE TABLE attendance_shifts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    start_time TEXT NOT NULL,
    end_time TEXT NOT NULL,
    days TEXT NOT NULL
);
CREATE TABLE attendance_shift_assignments (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shift_id BIGINT NOT NULL REFERENCES attendance_shifts(id) ON DELETE CASCADE,
    person_id BIGINT UNIQUE REFERENCES people(id) ON DELETE CASCADE,
    group_id BIGINT UNIQUE REFERENCES access_groups(id) ON DELETE CASCADE,
    CHECK ((person_id IS NULL) <> (group_id IS NULL))
);
CREATE TABLE attendance_corrections (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    day DATE NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('in', 'out')),
    at TIMESTAMPTZ NOT NULL,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX attendance_corrections_day ON attendance_corrections(day, person_id);
CREATE INDEX attendance_corrections_person ON attendance_corrections(person_id, day);
"""

# 0008: many hosts on one database (facegate.cluster; docs/cluster.md). ``cameras`` is the
# camera list (the environment / --camera list only seeds it); ``nodes`` is one row per host
# (its data dir's node id) with a heartbeat on the database clock; ``camera_leases`` says which
# node owns a camera until when, with a fencing ``epoch`` that grows on every change of owner;
# attendance and door events written from a camera carry the epoch they were captured under
# (NULL for TCP streams, never fenced). ``streams`` makes TCP stream names unique cluster-wide.
# Times that decide leases are the database's own: on SQLite (one host) unix seconds as REAL.
_SQLITE_0008 = """
CREATE TABLE cameras (
    name TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    direction TEXT NOT NULL DEFAULT 'both' CHECK (direction IN ('in', 'out', 'both')),
    options TEXT NOT NULL DEFAULT '{}',
    pinned_node TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL
);
CREATE TABLE camera_leases (
    camera TEXT PRIMARY KEY,
    node TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE streams (
    name TEXT PRIMARY KEY,
    node TEXT NOT NULL,
    token TEXT NOT NULL,
    connected_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL
);
ALTER TABLE attendance_events ADD COLUMN epoch INTEGER;
ALTER TABLE access_events ADD COLUMN epoch INTEGER
"""

_POSTGRES_0008 = """
CREATE TABLE cameras (
    name TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    direction TEXT NOT NULL DEFAULT 'both' CHECK (direction IN ('in', 'out', 'both')),
    options TEXT NOT NULL DEFAULT '{}',
    pinned_node TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    heartbeat_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE camera_leases (
    camera TEXT PRIMARY KEY,
    node TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE streams (
    name TEXT PRIMARY KEY,
    node TEXT NOT NULL,
    token TEXT NOT NULL,
    connected_at TIMESTAMPTZ NOT NULL,
    heartbeat_at TIMESTAMPTZ NOT NULL
);
ALTER TABLE attendance_events ADD COLUMN epoch BIGINT;
ALTER TABLE access_events ADD COLUMN epoch BIGINT
"""

# 0012: review of recognition events (facegate.review). One mark per attendance event: an
# unknown face *assigned* to a person (the template made from its snapshot) or a name marked
# *wrong_name*. Marks go with their event (retention, person deletion) and with the assigned
# person (ON DELETE CASCADE).
_SQLITE_0012 = """
CREATE TABLE review_marks (
    event_id INTEGER PRIMARY KEY REFERENCES attendance_events(id) ON DELETE CASCADE,
    verdict TEXT NOT NULL CHECK (verdict IN ('assigned', 'wrong_name')),
    person_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
    template_id INTEGER,
    marked_at TEXT NOT NULL
);
CREATE INDEX review_marks_person ON review_marks(person_id);
"""

_POSTGRES_0012 = """
CREATE TABLE review_marks (
    event_id BIGINT PRIMARY KEY REFERENCES attendance_events(id) ON DELETE CASCADE,
    verdict TEXT NOT NULL CHECK (verdict IN ('assigned', 'wrong_name')),
    person_id BIGINT REFERENCES people(id) ON DELETE CASCADE,
    template_id BIGINT,
    marked_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX review_marks_person ON review_marks(person_id);
"""

# 0013: the cluster secret (facegate.cluster.auth). One row, made on first use by whichever
# node comes first; it signs the short-lived node tokens with which hosts call each other's
# internal live endpoints. Never logged, never in an API answer, not in a backup.
_SQLITE_0013 = """
CREATE TABLE cluster_secret (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    secret TEXT NOT NULL
)
"""

_POSTGRES_0013 = _SQLITE_0013

# 0014: the live event log (facegate.live.event_log): one row per recognition event published
# on any host, so every host's ``/ws/events`` serves every host's events and a listener resumes
# from an id cursor. Short-lived view rows (``live.events_keep_minutes``), never images or
# embeddings; the name is read from ``people`` (a rename shows at once) and a person's rows go
# with them (ON DELETE CASCADE). ``logged_at`` is the database's clock (retention), ``at`` the
# publisher's event time.
_SQLITE_0014 = """
CREATE TABLE live_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    logged_at REAL NOT NULL,
    at TEXT NOT NULL,
    stream TEXT NOT NULL,
    node TEXT,
    kind TEXT NOT NULL,
    track_id INTEGER,
    person_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
    score REAL NOT NULL,
    box TEXT,
    epoch INTEGER
);
CREATE INDEX live_events_logged ON live_events(logged_at);
CREATE INDEX live_events_person ON live_events(person_id)
"""

_POSTGRES_0014 = """
CREATE TABLE live_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    logged_at TIMESTAMPTZ NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    stream TEXT NOT NULL,
    node TEXT,
    kind TEXT NOT NULL,
    track_id BIGINT,
    person_id BIGINT REFERENCES people(id) ON DELETE CASCADE,
    score DOUBLE PRECISION NOT NULL,
    box TEXT,
    epoch BIGINT
);
CREATE INDEX live_events_logged ON live_events(logged_at);
CREATE INDEX live_events_person ON live_events(person_id)
"""

# 0015: when each camera lease epoch began (facegate.cluster.fencing), on the database's clock,
# written in the transaction that bumps the epoch. An event under epoch E is accepted when it
# was captured before E+1 began, so events spooled during an outage still count after the lease
# moved on. Pruned by the cluster housekeeping; a removed camera's rows go with it. SQLite
# times are unix seconds (REAL) like the other cluster tables.
_SQLITE_0015 = """
CREATE TABLE camera_epochs (
    camera TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    started_at REAL NOT NULL,
    PRIMARY KEY (camera, epoch)
);
CREATE INDEX camera_epochs_started ON camera_epochs(started_at)
"""

_POSTGRES_0015 = """
CREATE TABLE camera_epochs (
    camera TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (camera, epoch)
);
CREATE INDEX camera_epochs_started ON camera_epochs(started_at)
"""

MIGRATIONS: dict[Dialect, tuple[Migration, ...]] = {
    "sqlite": (
        Migration(1, "init", _SQLITE_0001),
        Migration(2, "api_keys", _SQLITE_0002),
        Migration(3, "attendance", _SQLITE_0003),
        Migration(4, "access", _SQLITE_0004),
        Migration(5, "access_outbox", _SQLITE_0005),
        Migration(6, "liveness_tokens", _SQLITE_0006),
        Migration(7, "api_key_scopes", _SQLITE_0007),
        Migration(8, "cluster", _SQLITE_0008),
        Migration(9, "attendance_idempotency", _SQLITE_0009),
        Migration(10, "enrolment_photos", _SQLITE_0010),
        Migration(11, "attendance_hr", _SQLITE_0011),
        Migration(12, "review_marks", _SQLITE_0012),
        Migration(13, "cluster_secret", _SQLITE_0013),
        Migration(14, "live_events", _SQLITE_0014),
        Migration(15, "camera_epochs", _SQLITE_0015),
    ),
    "postgres": (
        Migration(1, "init", _POSTGRES_0001),
        Migration(2, "api_keys", _POSTGRES_0002),
        Migration(3, "attendance", _POSTGRES_0003),
        Migration(4, "access", _POSTGRES_0004),
        Migration(5, "access_outbox", _POSTGRES_0005),
        Migration(6, "liveness_tokens", _POSTGRES_0006),
        Migration(7, "api_key_scopes", _POSTGRES_0007),
        Migration(8, "cluster", _POSTGRES_0008),
        Migration(9, "attendance_idempotency", _POSTGRES_0009),
        Migration(10, "enrolment_photos", _POSTGRES_0010),
        Migration(11, "attendance_hr", _POSTGRES_0011),
        Migration(12, "review_marks", _POSTGRES_0012),
        Migration(13, "cluster_secret", _POSTGRES_0013),
        Migration(14, "live_events", _POSTGRES_0014),
        Migration(15, "camera_epochs", _POSTGRES_0015),
    ),
}


def statements(sql: str) -> list[str]:
    """Split a migration into statements (our migrations contain no ``;`` inside literals)."""
    return [part.strip() for part in sql.split(";") if part.strip()]
