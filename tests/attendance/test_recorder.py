"""The recorder thread: spools every event, retries a failed write until it succeeds, logs
only ids, never blocks the publisher."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest

from facegate.attendance.recorder import Recorder
from facegate.attendance.spool import Spool
from facegate.attendance.store import Recorded
from facegate.events import EventBus, RecognitionEvent
from tests.attendance.conftest import T0


class FlakyLog:
    """Stands in for ``Attendance``: the first ``failures`` writes raise."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.written: list[RecognitionEvent] = []

    def spoolable(self, event: RecognitionEvent) -> RecognitionEvent:
        return event

    def record(self, event: RecognitionEvent, *, key: str | None = None) -> Recorded:
        if self.failures:
            self.failures -= 1
            raise OSError("database is locked")
        self.written.append(event)
        return Recorded(None, reason="test")

    def purge(self) -> tuple[int, int]:
        return 0, 0


def event(person_id: int) -> RecognitionEvent:
    return RecognitionEvent("confirmed", "door", T0, 5, person_id, "Secret Name", 0.93)


def run(log: FlakyLog, tmp: Path, *events: RecognitionEvent, expect: int | None = None) -> Recorder:
    """Publish ``events`` and wait until ``expect`` of them (default all) were handled."""
    bus = EventBus()
    # FlakyLog stands in for Attendance (a test double of the one method the recorder calls)
    recorder = Recorder(log, bus, spool=Spool(tmp / "spool.db"))  # type: ignore[arg-type]
    recorder.start()
    for e in events:
        bus.publish(e)  # returns at once whatever the recorder is doing
    deadline = time.monotonic() + 20
    wanted = len(events) if expect is None else expect
    while len(log.written) + recorder.failed < wanted and time.monotonic() < deadline:
        time.sleep(0.02)
    recorder.stop()
    return recorder


def test_a_failed_write_is_retried(tmp_path: Path):
    log = FlakyLog(failures=1)
    recorder = run(log, tmp_path, event(7))
    assert [e.person_id for e in log.written] == [7]
    assert recorder.failed == 0 and recorder.retries == 1


def test_a_write_that_keeps_failing_waits_in_the_spool_and_is_logged_by_id_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    log = FlakyLog(failures=5)  # more than the old in-memory retries (3)
    with caplog.at_level(logging.WARNING, logger="facegate.attendance.recorder"):
        recorder = run(log, tmp_path, event(42), event(43))
    assert [e.person_id for e in log.written] == [42, 43]  # nothing dropped, order kept
    assert recorder.failed == 0 and recorder.retries == 5
    assert len(Spool(tmp_path / "spool.db")) == 0
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "42" in text and "OSError" in text
    assert "Secret Name" not in text and "0.93" not in text and "locked" not in text


def test_check_ins_on_the_bus_are_left_to_their_endpoint(tmp_path: Path):
    log = FlakyLog(failures=0)
    checkin: Any = RecognitionEvent("checkin", "kiosk", T0, None, 3, "A", 0.8)
    run(log, tmp_path, checkin, event(4), expect=1)  # the check-in comes first: handled before 4
    assert [e.person_id for e in log.written] == [4]
