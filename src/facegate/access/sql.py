"""What the access stores share: stored times, name and date rules, person lookup."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from facegate.errors import Conflict, FacegateError, InvalidInput, UnknownPerson
from facegate.gallery.db import Database, Tx

NAME_MAX = 64


class AccessNotFound(FacegateError):
    """A door, group, rule or holiday that does not exist."""

    code = "not_found"


def clean_name(value: str, what: str) -> str:
    """A door, group or camera name: printable, 1..64 characters, no surrounding spaces and
    no ``/`` (names are path segments of the API and the pages)."""
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > NAME_MAX or not name.isprintable() or "/" in name:
        raise InvalidInput(f"{what} name must be 1 to {NAME_MAX} printable characters, no '/'")
    return name


class SqlBase:
    """The database, times as stored, and people by id or name."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- time ---------------------------------------------------------------------------------

    def t(self, value: datetime) -> Any:
        """A datetime as stored: on SQLite fixed-width UTC text, so text order is time order."""
        if value.tzinfo is None:
            raise ValueError("access times must be timezone-aware")
        utc = value.astimezone(UTC)
        if self.db.dialect == "sqlite":
            return utc.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
        return utc

    def from_t(self, value: Any) -> datetime | None:
        return None if value is None else self.db.from_db_time(value).astimezone(UTC)

    # -- lookups ------------------------------------------------------------------------------

    def person_id(self, tx: Tx, ref: str | int) -> int:
        """A person by id (a number) or exact name (which must be unambiguous)."""
        text = str(ref).strip()
        if text.isdigit() and tx.execute("SELECT 1 FROM people WHERE id = ?", (int(text),)):
            return int(text)
        rows = tx.execute("SELECT id FROM people WHERE name = ? ORDER BY id LIMIT 2", (text,))
        if len(rows) > 1:
            raise Conflict(f"several people are named {text!r}: give the id")
        if not rows:
            raise UnknownPerson(f"no person {text!r}")
        return int(rows[0][0])
