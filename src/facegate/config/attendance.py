"""``[attendance]``: recognitions become an attendance log (facegate.attendance;
docs/attendance.md)."""

from __future__ import annotations

from datetime import time
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator

from facegate.config.base import SECRET_URL, Section
from facegate.config.zones import known_zone


class AttendanceSettings(Section):
    """The site's working day and the webhook that receives each attendance event."""

    ENV_PREFIX: ClassVar[str] = "attendance_"
    ENV_NAMES: ClassVar[dict[str, str]] = {"spool_max_events": "spool_max_events"}

    enabled: bool = Field(True, description="log recognitions from streams/cameras")
    timezone: str = Field("UTC", description="IANA zone of the site's clock")
    day_start: time = Field(time(4, 0), description="local time a working day starts")
    work_start: time = Field(time(9, 0), description="arriving after this (+ grace) is late")
    work_end: time = Field(time(18, 0), description="leaving before this (- grace) is early")
    grace_minutes: float = Field(5.0, ge=0, description="late/early tolerance")
    cooldown_s: float = Field(
        300.0, ge=0, description="a person seen again on a camera within this is not re-logged"
    )
    cameras: dict[str, Literal["in", "out", "both"]] = Field(
        default_factory=dict,
        description="stream name -> direction, for streams that are not [[live.cameras]] "
        "(a camera's own direction is set on the camera); unlisted: both",
    )
    snapshots: bool = Field(True, description="keep a small face JPEG per event")
    snapshot_retention_days: float = Field(30.0, gt=0, description="snapshots kept this long")
    log_unknown: bool = Field(False, description="log faces that match nobody")
    unknown_retention_days: float = Field(7.0, gt=0, description="unknown faces kept this long")
    webhook_urls: list[str] = Field(
        default_factory=list,
        description="each event is POSTed here (http:// or https://)",
        json_schema_extra=SECRET_URL,
    )
    webhook_secret: SecretStr | None = Field(None, description="HMAC-SHA256 key of the webhook")
    webhook_timeout_s: float = Field(5.0, gt=0, description="wait for a webhook's answer")
    webhook_max_attempts: int = Field(8, ge=1, description="tries before an event is failed")
    webhook_backoff_s: float = Field(
        2.0, gt=0, description="first retry delay; doubles per attempt, capped at 10 minutes"
    )
    # Events go to a local SQLite spool first (data_dir/spool.db) and are drained into the
    # database with an idempotency key; the spool keeps at most this many.
    spool_max_events: int = Field(100_000, ge=100, description="events kept while undrained")
    # Only the defaults of the site settings stored in the database (site_settings; docs/
    # attendance.md "Site settings"), used until first saved there.
    working_days: list[int] = Field(
        default_factory=lambda: [1, 2, 3, 4, 5], description="ISO weekdays (1 = Monday)"
    )
    leave_margin_minutes: float = Field(
        30.0, ge=0, le=1440, description="judge 'left early' this long after a last-out"
    )

    @field_validator("webhook_urls")
    @classmethod
    def _http_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("http://", "https://")):
                raise ValueError("webhook URLs must start with http:// or https://")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return known_zone(value)
