"""The recorder thread: retries a failed write, logs only ids, never blocks the publisher."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from facegate.attendance.recorder import Recorder
from facegate.attendance.store import Recorded
from facegate.events import EventBus, RecognitionEvent
from tests.attendance.conftest import T0


class FlakyLog:
    """Stands in for ``Attendance``: the first ``failures`` writes raise."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.written: list[RecognitionEvent] = []

    def record(self, event: RecognitionEvent) -> Recorded:
        if self.failures:
            self.failures -= 1
            raise OSError("database is locked")
        self.written.append(event)
        return Recorded(None, reason="test")

    def purge(self) -> tuple[int, int]:
        return 0, 0


def event(person_id: int) -> RecognitionEvent:
    return RecognitionEvent("confirmed", "door", T0, 5, person_id, "Secret Name", 0.93)


def run(log: FlakyLog, *events: RecognitionEvent, expect: int | None = None) -> Recorder:
    """Publish ``events`` and wait until ``expect`` of them (default all) were handled."""
    bus = EventBus()
    recorder = Recorder(log, bus)  # type: ignore[arg-type]
    recorder.start()
    for e in events:
        bus.publish(e)  # returns at once whatever the recorder is doing
    deadline = time.monotonic() + 20
    wanted = len(events) if expect is None else expect
    while len(log.written) + recorder.failed < wanted and time.monotonic() < deadline:
        time.sleep(0.02)
    recorder.stop()
    return recorder


def test_a_failed_write_is_retried():
    log = FlakyLog(failures=1)
    recorder = run(log, event(7))
    assert [e.person_id for e in log.written] == [7]
    assert recorder.failed == 0


def test_a_write_that_keeps_failing_is_logged_by_id_only(caplog: pytest.LogCaptureFixture):
    log = FlakyLog(failures=10)
    with caplog.at_level(logging.ERROR, logger="facegate.attendance.recorder"):
        recorder = run(log, event(42))
    assert recorder.failed == 1 and log.written == []
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "42" in text and "OSError" in text
    assert "Secret Name" not in text and "0.93" not in text and "locked" not in text


def test_check_ins_on_the_bus_are_left_to_their_endpoint():
    log = FlakyLog(failures=0)
    checkin: Any = RecognitionEvent("checkin", "kiosk", T0, None, 3, "A", 0.8)
    run(log, checkin, event(4), expect=1)  # the check-in comes first: handled before 4
    assert [e.person_id for e in log.written] == [4]
