"""API keys: created once, shown once, stored only as a SHA-256 hash, revocable.

A key is ``fg_`` followed by 32 random bytes (URL-safe base64). With that much entropy a plain
SHA-256 is as good as a slow password hash: nobody can guess a preimage, so the database alone
never lets anyone call the API. Keys live in the gallery's database (migration 0002), so every
worker process and every machine sharing a PostgreSQL gallery sees a revocation at once.

Scopes (docs/security.md has the full table; ``facegate.api.access`` the per-route rule):

- ``recognize`` (cameras, door kiosks): identify, verify and detect photos, stream over TCP.
  It never sees candidate names, the live view or the events of other devices.
- ``monitor`` (a guard's screen): the live view (stream list, MJPEG, ``/ws/events``).
- ``checkin`` (an attendance kiosk): ``POST /api/v1/attendance/checkin`` on configured
  cameras only.
- ``admin``: everything, including managing people, enrolments and the attendance log.

A key has exactly one scope; a device that needs two gets two keys.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from facegate.choices import one_of
from facegate.errors import InvalidInput
from facegate.gallery.db import Database, Row, utcnow

Scope = Literal["admin", "recognize", "monitor", "checkin"]
SCOPES: tuple[Scope, ...] = ("admin", "recognize", "monitor", "checkin")
# Who may sign in to the pages: devices' keys (recognize, checkin) have no page to see.
PAGE_SCOPES: tuple[Scope, ...] = ("admin", "monitor")
KEY_PREFIX = "fg_"
_SHOWN_CHARS = 10  # "fg_" + 7 characters: enough to tell keys apart, useless to an attacker


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key (never the secret itself)."""

    id: int
    name: str
    scope: Scope
    prefix: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: Scope) -> bool:
        """``admin`` includes every other scope; the others include nothing but themselves."""
        return self.active and (self.scope == "admin" or self.scope == scope)

    def scopes(self) -> frozenset[Scope]:
        """Every scope this key allows (all of them for ``admin``)."""
        return frozenset(SCOPES) if self.scope == "admin" else frozenset((self.scope,))

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "scope": self.scope,
            "prefix": self.prefix,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def stored_scope(value: object) -> Scope:
    """A scope as read from the database (one of ``SCOPES``; anything else is corruption)."""
    scope = one_of(value, SCOPES)
    if scope is None:
        raise ValueError(f"api_keys holds an unknown scope {value!r}")
    return scope


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


_COLUMNS = "id, name, scope, prefix, created_at, revoked_at"


class KeyStore:
    """The ``api_keys`` table of a gallery database (already migrated by ``SqlStore``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _key(self, row: Row) -> ApiKey:
        return ApiKey(
            id=int(row[0]),
            name=str(row[1]),
            scope=stored_scope(row[2]),
            prefix=str(row[3]),
            created_at=self.db.from_db_time(row[4]),
            revoked_at=self.db.from_db_time(row[5]) if row[5] is not None else None,
        )

    def create(self, scope: str, name: str = "") -> tuple[ApiKey, str]:
        """A new key and its secret; the secret is not stored and cannot be shown again."""
        if scope not in SCOPES:
            raise InvalidInput(f"scope must be one of {', '.join(SCOPES)}")
        if len(name) > 200:
            raise InvalidInput("a key's name must be at most 200 characters")
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        with self.db.write() as tx:
            rows = tx.execute(
                "INSERT INTO api_keys (name, scope, prefix, key_sha256, created_at) "
                f"VALUES (?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
                (
                    name,
                    scope,
                    secret[:_SHOWN_CHARS],
                    hash_key(secret),
                    self.db.to_db_time(utcnow()),
                ),
            )
        return self._key(rows[0]), secret

    def list(self) -> list[ApiKey]:
        with self.db.read() as tx:
            rows = tx.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY id")
        return [self._key(r) for r in rows]

    def revoke(self, key_id: int) -> ApiKey:
        """Revoke a key (idempotent); raises ``InvalidInput`` for an unknown id."""
        with self.db.write() as tx:
            tx.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (self.db.to_db_time(utcnow()), key_id),
            )
            rows = tx.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", (key_id,))
        if not rows:
            raise InvalidInput(f"no API key with id {key_id}")
        return self._key(rows[0])

    def active_ids(self, key_ids: Sequence[int]) -> set[int]:
        """Which of ``key_ids`` are still active (not revoked, not gone): what the revocation
        watch (facegate.api.revocation) asks once a second for every key in use."""
        if not key_ids:
            return set()
        marks = ", ".join("?" for _ in key_ids)
        with self.db.read() as tx:
            rows = tx.execute(
                f"SELECT id FROM api_keys WHERE revoked_at IS NULL AND id IN ({marks})",
                tuple(key_ids),
            )
        return {int(r[0]) for r in rows}

    def authenticate(self, secret: str) -> ApiKey | None:
        """The active key whose secret this is, or None.

        Looked up by hash (an index hit), then compared in constant time, so the answer's
        timing says nothing about how close a guess was.
        """
        if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
            return None
        digest = hash_key(secret)
        with self.db.read() as tx:
            rows = tx.execute(
                f"SELECT {_COLUMNS}, key_sha256 FROM api_keys WHERE key_sha256 = ?", (digest,)
            )
        if not rows or not hmac.compare_digest(str(rows[0][6]), digest):
            return None
        key = self._key(rows[0][:6])
        return key if key.active else None
