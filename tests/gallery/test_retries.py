"""``with_retries``: the one retry loop of the background database writers (attendance
recorder, door decisions)."""

from __future__ import annotations

import pytest

from facegate.gallery.db import WRITE_ATTEMPTS, with_retries


def test_a_write_that_fails_briefly_is_tried_again_until_it_succeeds():
    calls: list[int] = []

    def write() -> str:
        calls.append(1)
        if len(calls) < WRITE_ATTEMPTS:
            raise OSError("database is locked")
        return "written"

    assert with_retries(write) == "written"
    assert len(calls) == WRITE_ATTEMPTS


def test_a_write_that_keeps_failing_raises_its_last_error_after_every_attempt():
    calls: list[int] = []

    def write() -> None:
        calls.append(1)
        raise OSError(f"failure {len(calls)}")

    with pytest.raises(OSError, match=f"failure {WRITE_ATTEMPTS}"):
        with_retries(write)
    assert len(calls) == WRITE_ATTEMPTS
