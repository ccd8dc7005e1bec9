"""A door watcher waits for a challenge as long as the challenge itself lasts.

The challenge tells the person how long they have (``CHALLENGE.timeout_s``,
``FACEGATE_LIVENESS_CHALLENGE_TIMEOUT_S``, 12 s by default); the watcher's own wait for a
verdict (``FACEGATE_ACCESS_LIVENESS_TIMEOUT_S``, 8 s) must not cut it short, or a person who
answers the last step in the 9th second is denied as ``undecided (challenge, timed out)``.
Tracker states are fed directly and the liveness check is a stand-in that answers at a given
time (isolating the watcher); the door directory is the real one over SQLite/PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from facegate.access.directory import DoorDirectory
from facegate.access.events import Attempt
from facegate.access.store import AccessStore, DoorCamera
from facegate.access.watcher import DoorWatcher
from facegate.config import Settings
from facegate.engine.types import Box
from facegate.liveness import LivenessMode, LivenessVerdict, VerdictState
from facegate.stream.pipeline import TrackedFace
from tests.access.conftest import recorder


class AnswersAt:
    """A liveness check whose verdict is ``pending`` until ``at`` on the clock, then ``state``."""

    def __init__(self, clock: list[float], at: float, state: VerdictState) -> None:
        self.clock, self.at, self.state = clock, at, state

    def observe(self, faces: Sequence[Any], image: np.ndarray) -> None:
        return None

    def request(self, track_id: int) -> None:
        return None

    def verdict(self, track_id: int) -> LivenessVerdict:
        if self.clock[0] < self.at:
            return LivenessVerdict("pending", "challenge", "waiting")
        return LivenessVerdict(self.state, "challenge", "answered")


def walk(access: AccessStore, mode: LivenessMode, answer_at: float, until: float) -> list[Attempt]:
    """A confirmed person at a ``mode`` door for ``until`` seconds (15 fps) whose liveness
    check answers ``live`` after ``answer_at`` seconds; the attempts made."""
    access.add_door("kiosk", [DoorCamera("kiosk-cam", "in")], liveness=mode)
    directory = DoorDirectory(access)
    directory.refresh()
    settings = Settings()
    clock = [1000.0]
    check = AnswersAt(clock, 1000.0 + answer_at, "live")
    attempts: list[Attempt] = []
    watcher = DoorWatcher(
        "kiosk-cam", directory, recorder(attempts),
        liveness_timeout_s=settings.access.liveness_timeout_s, settings=settings,
        liveness_factory=lambda mode, **kw: check, clock=lambda: clock[0],
    )  # fmt: skip
    image = np.zeros((480, 640, 3), np.uint8)
    face = TrackedFace(Box(100, 100, 120, 120), 1, 7, "Ann", 0.8, True)
    while clock[0] < 1000.0 + until and not attempts:
        watcher([face], image)
        clock[0] += 1 / 15
    return attempts


def test_a_challenge_answered_after_the_access_timeout_still_counts(access: AccessStore) -> None:
    settings = Settings()
    assert settings.access.liveness_timeout_s < settings.liveness.challenge.timeout_s
    answer_at = settings.access.liveness_timeout_s + 1.0  # within the challenge's 12 s
    attempts = walk(access, "challenge", answer_at, settings.liveness.challenge.timeout_s + 3)
    assert [(a.liveness, a.liveness_note) for a in attempts] == [("live", "live (challenge)")]


def test_a_challenge_nobody_answers_ends_after_its_own_time_limit(access: AccessStore) -> None:
    settings = Settings()
    attempts = walk(access, "challenge", 1e9, settings.liveness.challenge.timeout_s + 3)
    assert [a.liveness for a in attempts] == ["undecided"]
    assert attempts[0].liveness_note == "undecided (challenge, timed out)"


def test_other_modes_keep_the_access_timeout(access: AccessStore) -> None:
    settings = Settings()
    answer_at = settings.access.liveness_timeout_s + 1.0
    attempts = walk(access, "passive", answer_at, settings.liveness.challenge.timeout_s + 3)
    assert [a.liveness_note for a in attempts] == ["undecided (challenge, timed out)"]
