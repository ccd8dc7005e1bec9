"""``Attendance``: the attendance log as the rest of facegate uses it.

Joins the settings (policy, camera directions, retention, webhooks), the store and the webhook
outbox, and turns a ``RecognitionEvent`` into a logged event. Built once per process (by the
API's lifespan hook or a CLI command) over the gallery's database connection.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from facegate.attendance.rules import AttendancePolicy, Direction
from facegate.attendance.store import AttendanceStore, NewEvent, Recorded, retention_cutoffs
from facegate.attendance.webhooks import Outbox, WebhookWorker
from facegate.config import Settings
from facegate.events import RecognitionEvent
from facegate.gallery.db import Database, utcnow

log = logging.getLogger(__name__)
DIRECTIONS: tuple[Direction, ...] = ("in", "out", "both")


def policy_from_settings(settings: Settings) -> AttendancePolicy:
    return AttendancePolicy(
        timezone=ZoneInfo(settings.attendance.timezone),
        day_start=settings.attendance.day_start,
        cooldown=timedelta(seconds=settings.attendance.cooldown_s),
        work_start=settings.attendance.work_start,
        work_end=settings.attendance.work_end,
        grace=timedelta(minutes=settings.attendance.grace_minutes),
    )


def camera_directions(settings: Settings) -> dict[str, Direction]:
    """Camera/stream name -> direction: each server camera's own ``direction`` and
    ``attendance.cameras`` for other stream names (settings refuse a name in both).
    Unlisted names are ``both``."""
    found: dict[str, Direction] = {c.name: c.direction for c in settings.live.all_cameras}
    found.update(settings.attendance.cameras)
    return found


class Attendance:
    """The store, the webhook outbox and its delivery thread, and the camera directions."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.policy = policy_from_settings(settings)
        self.directions = camera_directions(settings)
        self.store = AttendanceStore(
            db,
            self.policy,
            webhook_urls=settings.attendance.webhook_urls,
            keep_snapshots=settings.attendance.snapshots,
        )
        self.outbox = Outbox(self.store)
        secret = settings.attendance.webhook_secret
        self.webhooks = WebhookWorker(
            self.outbox,
            secret.get_secret_value() if secret is not None else None,
            timeout_s=settings.attendance.webhook_timeout_s,
            max_attempts=settings.attendance.webhook_max_attempts,
            backoff_base_s=settings.attendance.webhook_backoff_s,
        )

    def start(self) -> None:
        """Start delivering webhooks, also ones a previous run left in the outbox (only when
        URLs are configured: without any, undelivered rows wait for the next configuration)."""
        if self.store.webhook_urls:
            self.webhooks.start()

    def stop(self) -> None:
        self.webhooks.stop()

    def direction(self, camera: str) -> Direction:
        return self.directions.get(camera, "both")

    def record(self, event: RecognitionEvent, *, direction: Direction | None = None) -> Recorded:
        """Log one recognition through the cooldown rule. Unknown faces are logged only when
        ``attendance_log_unknown`` is on; a known face's webhook is sent right after."""
        if event.kind == "unknown" or event.person_id is None:
            if not self.settings.attendance.log_unknown:
                return Recorded(None, reason="unknown_off")
            kind, person_id = "unknown", None
        else:
            kind, person_id = event.kind, event.person_id
        outcome = self.store.record(
            NewEvent(
                kind=kind,  # type: ignore[arg-type]
                camera=event.stream,
                direction=direction or self.direction(event.stream),
                at=event.at,
                score=event.score,
                person_id=person_id,
                track_id=event.track_id,
                snapshot=event.snapshot,
            )
        )
        if outcome.event is not None and person_id is not None and self.store.webhook_urls:
            self.webhooks.wake()
        return outcome

    def purge(self, now: datetime | None = None) -> tuple[int, int]:
        """Apply the retention periods now."""
        cutoffs = retention_cutoffs(
            now or utcnow(),
            self.settings.attendance.snapshot_retention_days,
            self.settings.attendance.unknown_retention_days,
        )
        return self.store.purge(**cutoffs)
