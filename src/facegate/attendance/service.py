"""``Attendance``: the attendance log as the rest of facegate uses it.

Joins the settings (policy, camera directions, retention, webhooks), the store and the webhook
outbox, and turns a ``RecognitionEvent`` into a logged event. Built once per process (by the
API's lifespan hook or a CLI command) over the gallery's database connection.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from facegate.attendance.hr_store import HrStore
from facegate.attendance.rules import AttendancePolicy, Direction
from facegate.attendance.site import SiteSettingsStore, SiteState, defaults_from_settings
from facegate.attendance.store import AttendanceStore, NewEvent, Recorded, retention_cutoffs
from facegate.attendance.webhooks import Outbox, WebhookWorker
from facegate.choices import one_of
from facegate.cluster.store import ClusterStore
from facegate.config import Settings
from facegate.events import EventKind, RecognitionEvent
from facegate.gallery.db import Database, utcnow

log = logging.getLogger(__name__)
DIRECTIONS: tuple[Direction, ...] = ("in", "out", "both")
DIRECTIONS_REFRESH_S = 10.0


def policy_from_settings(settings: Settings) -> AttendancePolicy:
    """The environment's policy: the site settings' defaults (``site.defaults_from_settings``);
    processes use ``SitePolicy`` so that the database's site settings win."""
    return defaults_from_settings(settings).policy(cooldown(settings))


def cooldown(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.attendance.cooldown_s)


class SitePolicy:
    """The policy of the site settings in force (re-read through the store's short cache), so
    every process judges days with the settings an administrator saved."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.site = SiteSettingsStore(db, defaults_from_settings(settings))
        self._cooldown = cooldown(settings)
        self._built: tuple[SiteState, AttendancePolicy] | None = None

    def __call__(self) -> AttendancePolicy:
        state = self.site.get()
        built = self._built
        if built is None or built[0] is not state:
            built = (state, state.settings.policy(self._cooldown))
            self._built = built
        return built[1]


def camera_directions(settings: Settings) -> dict[str, Direction]:
    """Camera/stream name -> direction: each server camera's own ``direction`` and
    ``attendance.cameras`` for other stream names (settings refuse a name in both).
    Unlisted names are ``both``."""
    found: dict[str, Direction] = {c.name: c.direction for c in settings.live.all_cameras}
    found.update(settings.attendance.cameras)
    return found


class Attendance:
    """The store, the webhook outbox and its delivery thread, and the camera directions."""

    def __init__(
        self, settings: Settings, db: Database, host_clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.settings = settings
        self.site_policy = SitePolicy(settings, db)
        self.site = self.site_policy.site
        self.hr = HrStore(db)
        self.directions = camera_directions(settings)
        self.store = AttendanceStore(
            db,
            self.site_policy,
            webhook_urls=settings.attendance.webhook_urls,
            keep_snapshots=settings.attendance.snapshots,
            host_clock=host_clock,
        )
        self.outbox = Outbox(self.store, host_clock)  # leases on the database's clock
        self._listed: dict[str, Direction] = {}
        self._directions_read = -DIRECTIONS_REFRESH_S
        secret = settings.attendance.webhook_secret
        self.webhooks = WebhookWorker(
            self.outbox,
            secret.get_secret_value() if secret is not None else None,
            timeout_s=settings.attendance.webhook_timeout_s,
            max_attempts=settings.attendance.webhook_max_attempts,
            backoff_base_s=settings.attendance.webhook_backoff_s,
        )

    @property
    def policy(self) -> AttendancePolicy:
        """The site settings in force (at most a few seconds old)."""
        return self.site_policy()

    def start(self) -> None:
        """Start delivering webhooks, also ones a previous run left in the outbox (only when
        URLs are configured: without any, undelivered rows wait for the next configuration)."""
        if self.store.webhook_urls:
            self.webhooks.start()

    def stop(self) -> None:
        self.webhooks.stop()

    def direction(self, camera: str) -> Direction:
        """``attendance_cameras``, else the camera's own direction (the cluster's camera list,
        re-read at most every ``DIRECTIONS_REFRESH_S``; cameras added with ``facegate cameras
        add`` included), else ``both``."""
        if camera in self.settings.attendance.cameras:
            return self.settings.attendance.cameras[camera]
        now = time.monotonic()
        if now - self._directions_read >= DIRECTIONS_REFRESH_S:
            self._directions_read = now
            try:
                listed = {c.name: c.direction for c in ClusterStore(self.store.db).cameras()}
                self._listed = {
                    n: d for n, d in ((n, one_of(d, DIRECTIONS)) for n, d in listed.items()) if d
                }
            except Exception as exc:  # keep the last list while the database is away
                log.warning("attendance: camera list unavailable (%s)", type(exc).__name__)
        return self._listed.get(camera) or self.directions.get(camera, "both")

    def spoolable(self, event: RecognitionEvent) -> RecognitionEvent | None:
        """The event as the spool should keep it (no snapshot unless the log keeps them), or
        None when ``record`` would not log it at all."""
        if (event.kind == "unknown" or event.person_id is None) and not (
            self.settings.attendance.log_unknown
        ):
            return None
        return event if self.store.keep_snapshots else replace(event, snapshot=None)

    def record(
        self,
        event: RecognitionEvent,
        *,
        direction: Direction | None = None,
        key: str | None = None,
    ) -> Recorded:
        """Log one recognition through the cooldown rule. Unknown faces are logged only when
        ``attendance_log_unknown`` is on; a known face's webhook is sent right after. ``key``
        (the spool's idempotency key) makes a replay of the same event a no-op."""
        kind: EventKind
        person_id: int | None
        if event.kind == "unknown" or event.person_id is None:
            if not self.settings.attendance.log_unknown:
                return Recorded(None, reason="unknown_off")
            kind, person_id = "unknown", None
        else:
            kind, person_id = event.kind, event.person_id
        outcome = self.store.record(
            NewEvent(
                kind=kind,
                camera=event.stream,
                direction=direction or self.direction(event.stream),
                at=event.at,
                score=event.score,
                person_id=person_id,
                track_id=event.track_id,
                snapshot=event.snapshot,
                key=key,
                epoch=event.epoch,
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
