"""Review and train from recognition events: the recent recognitions of server cameras and
streams (the attendance log's events and snapshots, ``facegate.attendance.store``) with what
a reviewer said about each, stored in ``review_marks`` (migration 12).

- **One row per unknown track.** A face nobody knows is logged again and again while it
  stays in view (each confirmation of ``unknown``): the list keeps the newest event of a
  (camera, track) run and counts the others, so a reviewer sees each stranger once. A run
  ends when the same track id has not been seen for ``TRACK_GAP_S`` (track ids restart when a
  camera reopens).
- **Assign** an unknown face to a person: its snapshot is enrolled through the same
  ``RecognitionService.enrol`` a photo upload uses (face found, quality checked, duplicate
  refused), and the mark remembers the template it made.
- **Wrong name**: the mark is stored and shown, and the event no longer counts for
  attendance (daily records, reports, summaries and exports skip it:
  ``facegate.attendance.store.COUNTED``); this list still shows it with its mark.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from facegate.attendance.store import AttendanceEvent, AttendanceStore
from facegate.gallery.db import Database, utcnow

Verdict = Literal["assigned", "wrong_name"]
TRACK_GAP_S = 600.0
SCAN_FACTOR = 5  # events read per row shown, so deduplicated runs still fill a page
MAX_SCAN = 100_000  # events one review page may read (bounds a deep offset's cost)


@dataclass(frozen=True)
class Mark:
    verdict: Verdict
    person_id: int | None
    person_name: str | None
    template_id: int | None
    marked_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "person": None
            if self.person_id is None
            else {"id": self.person_id, "name": self.person_name},
            "template_id": self.template_id,
            "marked_at": self.marked_at.isoformat(),
        }


@dataclass(frozen=True)
class ReviewRow:
    """An event to review; ``repeats`` more events of the same unknown track were folded."""

    event: AttendanceEvent
    repeats: int
    mark: Mark | None

    def as_dict(self) -> dict[str, Any]:
        out = self.event.as_dict()
        out["repeats"] = self.repeats
        out["mark"] = None if self.mark is None else self.mark.as_dict()
        out["snapshot_url"] = (
            f"/api/v1/attendance/events/{self.event.id}/snapshot"
            if self.event.has_snapshot
            else None
        )
        return out


def fold_tracks(events: list[AttendanceEvent]) -> list[tuple[AttendanceEvent, int]]:
    """Newest first in, newest first out: each run of one unknown track becomes its newest
    event and the number of older ones folded into it."""
    rows: list[tuple[AttendanceEvent, int]] = []
    last: dict[tuple[str, int], tuple[int, datetime]] = {}  # track -> (row index, oldest at)
    for event in events:
        if event.kind != "unknown" or event.track_id is None:
            rows.append((event, 0))
            continue
        key = (event.camera, event.track_id)
        seen = last.get(key)
        if seen is not None and (seen[1] - event.at).total_seconds() <= TRACK_GAP_S:
            index = seen[0]
            rows[index] = (rows[index][0], rows[index][1] + 1)
            last[key] = (index, event.at)
            continue
        last[key] = (len(rows), event.at)
        rows.append((event, 0))
    return rows


class ReviewStore:
    """The review list and its marks over the gallery's database."""

    def __init__(self, db: Database, events: AttendanceStore) -> None:
        self.db, self.events = db, events

    def recent(
        self,
        *,
        camera: str | None = None,
        person_id: int | None = None,
        unknown: bool = False,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[ReviewRow]:
        """Rows ``offset`` .. ``offset + limit`` of the folded list, newest first (the scan
        reads ``SCAN_FACTOR`` events per row wanted, at most ``MAX_SCAN``: rows past that
        are not reached and the page is empty)."""
        kinds = ["unknown"] if unknown else ["confirmed", "unknown"]
        page = self.events.events(
            person_id=person_id,
            camera=camera,
            since=since,
            until=until,
            kinds=kinds,
            limit=min((offset + limit) * SCAN_FACTOR, MAX_SCAN),
        )
        folded = fold_tracks(page.items)[offset : offset + limit]
        marks = self.marks([event.id for event, _ in folded])
        return [ReviewRow(event, repeats, marks.get(event.id)) for event, repeats in folded]

    def marks(self, event_ids: list[int]) -> dict[int, Mark]:
        if not event_ids:
            return {}
        holes = ", ".join("?" for _ in event_ids)
        with self.db.read() as tx:
            rows = tx.execute(
                "SELECT m.event_id, m.verdict, m.person_id, p.name, m.template_id, m.marked_at "
                "FROM review_marks m LEFT JOIN people p ON p.id = m.person_id "
                f"WHERE m.event_id IN ({holes})",
                event_ids,
            )
        return {
            int(r[0]): Mark(
                r[1],
                None if r[2] is None else int(r[2]),
                r[3],
                None if r[4] is None else int(r[4]),
                self.db.from_db_time(r[5]),
            )
            for r in rows
        }

    def mark(
        self,
        event_id: int,
        verdict: Verdict,
        person_id: int | None = None,
        template_id: int | None = None,
    ) -> Mark:
        """Store (or replace) the reviewer's mark on an event."""
        now = utcnow()
        with self.db.write() as tx:
            tx.execute("DELETE FROM review_marks WHERE event_id = ?", (event_id,))
            tx.execute(
                "INSERT INTO review_marks (event_id, verdict, person_id, template_id, marked_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (event_id, verdict, person_id, template_id, self.db.to_db_time(now)),
            )
        return self.marks([event_id])[event_id]
