"""``DoorWatcher``: a stream's tracked faces turned into decision attempts at a door.

Registered for every stream (``facegate.observers``); it runs on the inference thread for
every frame, so it does no I/O: the door comes from the in-memory ``DoorDirectory`` (a stream
that watches no door costs one dict lookup), and an attempt is handed to the decision thread
through a bounded queue (``submit`` never blocks).

Per track at a door:

- when the track's identity is confirmed (a person, or confirmed unknown), the door's
  liveness check is asked once (``TrackLiveness.request``) and fed every frame; the attempt
  is made when its verdict is no longer ``pending`` or after ``liveness_timeout_s`` (then
  ``undecided``; a challenge is given its own time limit if that is longer). A confirmed
  face that leaves while its verdict is pending is decided with liveness ``left`` (denied,
  ``liveness_failed``, whatever the door's ``undecided`` policy). At most one
  decision per track and identity: a track whose confirmed identity changes (re-verified
  after a box jump) is decided again for the new identity.
- a face at the door for ``unconfirmed_after_s``, at least ``unconfirmed_min_px`` across
  (a person at the door, not a face far away in the scene), that leaves (absent for
  ``GONE_AFTER_FRAMES`` frames) without ever being confirmed becomes a ``not_confirmed``
  attempt (with a snapshot taken while it was there).

``seen`` on an attempt is ``time.time()`` when the deciding frame reached the watcher; the
decision thread stores the latency from there to the decision. ``captured`` is that frame's
capture time (``TrackedFace.captured``), the event's and the outputs' ``captured``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from facegate.access.directory import DoorDirectory, DoorView
from facegate.access.events import Attempt
from facegate.access.policy import LivenessState
from facegate.config import AccessSettings, ChallengeSettings, QualitySettings, Settings
from facegate.engine.thumbnail import face_snapshot
from facegate.liveness import LivenessMode, LivenessVerdict, TrackLiveness, track_liveness
from facegate.observers import PromptSink, current_epoch

log = logging.getLogger(__name__)
LivenessFactory = Callable[..., TrackLiveness]


class _Unavailable:
    """Liveness for a mode this build cannot check: every verdict is ``undecided``, and the
    door's ``undecided`` policy decides."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def observe(self, faces: Sequence[Any], image: np.ndarray) -> None:
        return None

    def request(self, track_id: int) -> None:
        return None

    def verdict(self, track_id: int) -> LivenessVerdict:
        return LivenessVerdict("undecided", self.mode, "not available")


@dataclass
class _Track:
    first_seen: float
    ever_confirmed: bool = False
    decided: set[int | None] = field(default_factory=set)  # identities already decided
    requested: float | None = None  # when liveness was asked
    snapshot: bytes | None = None  # taken once the face stayed long enough unconfirmed
    box: tuple[float, float, float, float, int, int] | None = None
    missing: int = 0  # frames in a row without this track
    pending: Attempt | None = None  # what to decide if the face leaves before liveness answers


# Frames a track may be absent before it counts as gone. Longer than the tracker's coasting
# (``TrackerParams.max_missed``, 10 frames, carried ones included): a face the detector
# misses for a frame or two is still the same track and must not be decided again when it
# reappears.
GONE_AFTER_FRAMES = 12
# Waited past a challenge's own time limit for its verdict (the frames of its last moment).
CHALLENGE_GRACE_S = 1.0


_ACCESS, _QUALITY = AccessSettings(), QualitySettings()  # defaults: the settings'


class DoorWatcher:
    """One stream's door watcher (call it with each frame's tracked faces and pixels)."""

    def __init__(
        self,
        stream: str,
        directory: DoorDirectory,
        submit: Callable[[Attempt], bool],
        *,
        prompt: PromptSink | None = None,
        liveness_timeout_s: float = _ACCESS.liveness_timeout_s,
        unconfirmed_after_s: float = _ACCESS.unconfirmed_after_s,
        unconfirmed_min_px: float = _QUALITY.min_face_px,
        snapshots: bool = _ACCESS.snapshots,
        settings: Settings | None = None,
        liveness_factory: LivenessFactory = track_liveness,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.stream, self.directory, self.submit = stream, directory, submit
        self.prompt, self.settings = prompt, settings
        self.liveness_timeout_s = liveness_timeout_s
        self.unconfirmed_after_s = unconfirmed_after_s
        self.unconfirmed_min_px = unconfirmed_min_px
        self.snapshots = snapshots
        self.liveness_factory, self.clock = liveness_factory, clock
        self._tracks: dict[int, _Track] = {}
        self._door: str | None = None
        self._mode: str | None = None
        self._liveness: TrackLiveness | None = None
        self.attempts = 0

    @property
    def wants_every_frame(self) -> bool:
        """Whether the stream should detect every frame (``stream.detect_every`` off): while
        its door checks liveness, which reads the landmarks of every frame (a carried frame
        has none: the passive check would see half the frames, a challenge's head turn
        half its samples)."""
        return self._mode in ("passive", "challenge")

    def _liveness_for(self, mode: LivenessMode) -> TrackLiveness:
        if self._liveness is None or mode != self._mode:
            try:
                self._liveness = self.liveness_factory(
                    mode, prompt=self.prompt, settings=self.settings
                )
            except NotImplementedError:
                self._liveness = _Unavailable(mode)
            self._mode = mode
        return self._liveness

    def _snap(self, image: np.ndarray, face: Any) -> bytes | None:
        return face_snapshot(image, face.box) if self.snapshots else None

    def _box(self, image: np.ndarray, face: Any) -> tuple[float, float, float, float, int, int]:
        b = face.box
        height, width = image.shape[:2]
        return (float(b.x), float(b.y), float(b.w), float(b.h), int(width), int(height))

    def __call__(self, faces: Sequence[Any], image: np.ndarray) -> None:
        view = self.directory.lookup(self.stream)
        if view is None:
            if self._tracks or self._liveness is not None:
                self._tracks.clear()
                self._liveness = self._door = self._mode = None
            return
        if view.door.name != self._door:  # the camera now watches another door
            self._tracks.clear()
            self._door = view.door.name
        now = self.clock()
        liveness = self._liveness_for(view.door.liveness)
        liveness.observe(faces, image)
        present: set[int] = set()
        for face in faces:
            present.add(face.track_id)
            track = self._tracks.get(face.track_id)
            if track is None:
                track = self._tracks[face.track_id] = _Track(first_seen=now)
            track.missing = 0
            if face.confirmed:
                track.ever_confirmed = True
                self._confirmed(view, track, face, image, liveness, now)
            elif (
                not track.ever_confirmed
                and track.snapshot is None
                and now - track.first_seen >= self.unconfirmed_after_s
                and face.box.w * face.box.h >= self.unconfirmed_min_px**2
            ):
                track.box = self._box(image, face)
                track.snapshot = self._snap(image, face) or b""
        for gone in self._tracks.keys() - present:
            track = self._tracks[gone]
            track.missing += 1
            if track.missing <= GONE_AFTER_FRAMES:
                continue
            del self._tracks[gone]
            if track.pending is not None:  # confirmed, then gone before liveness answered
                self._emit(track.pending)
            elif not track.ever_confirmed and track.snapshot is not None:
                self._emit(
                    Attempt(
                        door=view.door.name,
                        camera=self.stream,
                        direction=view.direction,
                        confirmed=False,
                        person_id=None,
                        score=None,
                        track_id=gone,
                        seen=now,
                        liveness="undecided",
                        liveness_note="not checked",
                        box=track.box,
                        snapshot=track.snapshot or None,
                        epoch=current_epoch(),
                    )
                )

    def _confirmed(
        self,
        view: DoorView,
        track: _Track,
        face: Any,
        image: np.ndarray,
        liveness: TrackLiveness,
        now: float,
    ) -> None:
        identity = face.person_id
        if identity in track.decided:
            return
        if identity is None:  # a stranger is denied whatever liveness says: never prompted
            track.decided.add(identity)
            self._emit(self._attempt(view, face, image, now, "undecided", "not checked"))
            return
        if track.requested is None:
            liveness.request(face.track_id)
            track.requested = now
        verdict = liveness.verdict(face.track_id)
        state, method = verdict.state, verdict.method
        if state == "pending":
            if now - track.requested < self._wait_s(view.door.liveness):
                if track.pending is None:
                    # Should the face leave before the verdict (a photo pulled away when the
                    # challenge appears), this is what is decided: denied, never granted.
                    track.pending = self._attempt(
                        view, face, image, now, "left", f"left ({method}, before a verdict)"
                    )
                return
            state, method = "undecided", f"{method}, timed out"
        track.decided.add(identity)
        track.pending = None
        self._emit(self._attempt(view, face, image, now, state, f"{state} ({method})"))

    def _wait_s(self, mode: str) -> float:
        """How long a pending verdict is waited for. A challenge told the person how long
        they have (``liveness.challenge.timeout_s``) and ends by itself with live or spoof:
        it is not cut short (a second more for its last frames), whatever the access
        timeout."""
        if mode == "challenge":
            rules = self.settings.liveness.challenge if self.settings else ChallengeSettings()
            return max(self.liveness_timeout_s, rules.timeout_s + CHALLENGE_GRACE_S)
        return self.liveness_timeout_s

    def _attempt(
        self,
        view: DoorView,
        face: Any,
        image: np.ndarray,
        now: float,
        state: LivenessState,
        note: str,
    ) -> Attempt:
        return Attempt(
            door=view.door.name,
            camera=self.stream,
            direction=view.direction,
            confirmed=True,
            person_id=face.person_id,
            score=float(face.score),
            track_id=face.track_id,
            seen=now,
            liveness=state,
            liveness_note=note,
            box=self._box(image, face),
            snapshot=self._snap(image, face),
            captured=getattr(face, "captured", None),
            epoch=current_epoch(),
        )

    def _emit(self, attempt: Attempt) -> None:
        self.attempts += 1
        self.submit(attempt)
