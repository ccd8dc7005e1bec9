"""Site settings: the time zone, working hours and days and the graces, in the database.

Why the database and not the environment: every process (each HTTP worker, ``facegate
attendance report`` from cron on another machine) must agree on which working day it is and on
who was late or left early. Environment variables (``FACEGATE_ATTENDANCE_TIMEZONE`` ...) are
only the *defaults* used until an administrator first saves the settings (``PUT
/api/v1/settings/site`` or the ``/settings`` page); from then on the ``site_settings`` row wins.

The row carries a ``revision``. A process keeps what it read for ``ttl_s`` seconds (5 by
default), so a change reaches every other worker within that time without a database read on
every request; the process that saved it sees it at once.
"""

from __future__ import annotations

import json
import threading
import time as clock
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from facegate.attendance.rules import AttendancePolicy
from facegate.config import Settings
from facegate.delivery import stored_time
from facegate.errors import InvalidInput
from facegate.gallery.db import Database, utcnow

CACHE_TTL_S = 5.0


class SiteSettings(BaseModel):
    """What an administrator edits on ``/settings`` (validated on every write)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str = "UTC"
    day_start: time = time(4, 0)
    work_start: time = time(9, 0)
    work_end: time = time(18, 0)
    working_days: tuple[int, ...] = (1, 2, 3, 4, 5)
    late_grace_minutes: float = Field(5.0, ge=0, le=240)
    early_grace_minutes: float = Field(5.0, ge=0, le=240)
    leave_margin_minutes: float = Field(30.0, ge=0, le=1440)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (an IANA name like Asia/Shanghai)"
            ) from None
        return value

    @field_validator("working_days")
    @classmethod
    def _days(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(d < 1 or d > 7 for d in value):
            raise ValueError("working days are ISO weekdays 1 (Monday) to 7 (Sunday)")
        return tuple(sorted(set(value)))

    @field_validator("day_start", "work_start", "work_end")
    @classmethod
    def _minute(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("times are local wall-clock times without an offset")
        return value.replace(second=0, microsecond=0)

    def policy(self, cooldown: timedelta) -> AttendancePolicy:
        return AttendancePolicy(
            timezone=ZoneInfo(self.timezone),
            day_start=self.day_start,
            cooldown=cooldown,
            work_start=self.work_start,
            work_end=self.work_end,
            grace=timedelta(minutes=self.late_grace_minutes),
            working_days=frozenset(self.working_days),
            early_grace=timedelta(minutes=self.early_grace_minutes),
            leave_margin=timedelta(minutes=self.leave_margin_minutes),
        )


def defaults_from_settings(settings: Settings) -> SiteSettings:
    """The environment's values: the site settings until the row is first saved."""
    return SiteSettings(
        timezone=settings.attendance.timezone,
        day_start=settings.attendance.day_start,
        work_start=settings.attendance.work_start,
        work_end=settings.attendance.work_end,
        working_days=tuple(settings.attendance.working_days),
        late_grace_minutes=settings.attendance.grace_minutes,
        early_grace_minutes=settings.attendance.grace_minutes,
        leave_margin_minutes=settings.attendance.leave_margin_minutes,
    )


def parse_site_settings(data: Any, base: SiteSettings) -> SiteSettings:
    """``data`` (a JSON object, possibly partial) over ``base``; a clear InvalidInput on error."""
    if not isinstance(data, dict):
        raise InvalidInput("site settings must be a JSON object")
    try:
        return SiteSettings.model_validate({**base.model_dump(), **data})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        raise InvalidInput(f"{where}: {first.get('msg', 'invalid')}") from None


@dataclass(frozen=True)
class SiteState:
    """The settings in force with their revision (0: never saved, the defaults)."""

    settings: SiteSettings
    revision: int
    updated_at: datetime | None
    updated_by: str

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.settings.model_dump(mode="json"),
            "revision": self.revision,
            "updated_at": None if self.updated_at is None else self.updated_at.isoformat(),
            "updated_by": self.updated_by,
        }


class SiteSettingsStore:
    """The ``site_settings`` row with a short per-process cache (see the module docstring)."""

    def __init__(self, db: Database, defaults: SiteSettings, *, ttl_s: float = CACHE_TTL_S):
        self.db = db
        self.defaults = defaults
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._cached: SiteState | None = None
        self._read_at = 0.0

    def get(self) -> SiteState:
        """The settings in force (at most ``ttl_s`` old)."""
        with self._lock:
            if self._cached is not None and clock.monotonic() - self._read_at < self.ttl_s:
                return self._cached
        state = self._load()
        with self._lock:
            self._cached, self._read_at = state, clock.monotonic()
        return state

    def _load(self) -> SiteState:
        with self.db.read() as tx:
            rows = tx.execute(
                "SELECT revision, settings, updated_at, updated_by FROM site_settings WHERE id = 1"
            )
        if not rows:
            return SiteState(self.defaults, 0, None, "")
        revision, raw, updated_at, updated_by = rows[0]
        try:
            stored = SiteSettings.model_validate({**self.defaults.model_dump(), **json.loads(raw)})
        except (ValueError, ValidationError):
            stored = self.defaults  # a row no longer valid (a zone removed): keep working
        return SiteState(stored, int(revision), self.db.from_db_time(updated_at), updated_by)

    def put(self, settings: SiteSettings, by: str) -> SiteState:
        """Save ``settings`` (a new revision) and use them in this process at once."""
        now = utcnow()
        body = settings.model_dump_json()
        with self.db.write() as tx:
            rows = tx.execute(
                "UPDATE site_settings SET revision = revision + 1, settings = ?, updated_at = ?, "
                "updated_by = ? WHERE id = 1 RETURNING revision",
                (body, stored_time(self.db, now), by[:200]),
            )
            if not rows:
                rows = tx.execute(
                    "INSERT INTO site_settings (id, revision, settings, updated_at, updated_by) "
                    "VALUES (1, 1, ?, ?, ?) RETURNING revision",
                    (body, stored_time(self.db, now), by[:200]),
                )
        state = SiteState(settings, int(rows[0][0]), now, by[:200])
        with self._lock:
            self._cached, self._read_at = state, clock.monotonic()
        return state
