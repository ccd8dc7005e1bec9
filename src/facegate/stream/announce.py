"""Recognition events from a stream's tracks: one per confirmation, never one per frame.

The tracker says, frame after frame, that track 7 is confirmed as person 12. Consumers (the
attendance log, the live page's event list, webhooks) want to hear it once: when the track's
identity is first confirmed, and again only if the confirmed identity changes (a later, fuller
vote overturned it). A track confirmed *unknown* is announced once as ``kind="unknown"``.

``Announcer`` remembers what it last announced per track and forgets tracks that are gone, so
its memory is bounded by the faces on screen. It runs on the inference thread right after the
tracker, where the frame's pixels are still at hand for a small face snapshot; the
``EventBus`` it publishes to is thread-safe and never blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

import numpy as np

from facegate.engine.thumbnail import face_snapshot
from facegate.engine.types import Box
from facegate.events import EventBus, RecognitionEvent
from facegate.observers import ObserverFactory, PromptSink, TrackObserver, current_epoch


class Confirmable(Protocol):
    @property
    def box(self) -> Box: ...
    @property
    def track_id(self) -> int: ...
    @property
    def person_id(self) -> int | None: ...
    @property
    def person_name(self) -> str | None: ...
    @property
    def score(self) -> float: ...
    @property
    def confirmed(self) -> bool: ...


class Announcer:
    """Turns per-frame track states of one stream into ``RecognitionEvent``s on a bus."""

    def __init__(self, bus: EventBus, stream: str, *, snapshots: bool = True) -> None:
        self.bus, self.stream, self.snapshots = bus, stream, snapshots
        self._announced: dict[int, int | None] = {}  # track id -> person id (None: unknown)
        self.published = 0

    def observe(self, faces: Sequence[Confirmable], image: np.ndarray | None) -> None:
        """Publish what changed in this frame's confirmed identities; forget gone tracks."""
        present = set()
        for face in faces:
            present.add(face.track_id)
            if not face.confirmed:
                continue
            identity = face.person_id
            if face.track_id in self._announced and self._announced[face.track_id] == identity:
                continue
            self._announced[face.track_id] = identity
            box = face.box
            snapshot = face_snapshot(image, box) if self.snapshots and image is not None else None
            self.bus.publish(
                RecognitionEvent(
                    kind="confirmed" if identity is not None else "unknown",
                    stream=self.stream,
                    at=datetime.now(UTC),
                    track_id=face.track_id,
                    person_id=identity,
                    person_name=face.person_name if identity is not None else None,
                    score=float(face.score),
                    box=(float(box.x), float(box.y), float(box.w), float(box.h)),
                    snapshot=snapshot,
                    epoch=current_epoch(),
                )
            )
            self.published += 1
        for gone in self._announced.keys() - present:
            del self._announced[gone]


def announcer_factory(bus: EventBus, *, snapshots: bool = True) -> ObserverFactory:
    """The registry factory (``facegate.observers``): an ``Announcer`` per stream."""

    def make(stream: str, prompt: PromptSink | None) -> TrackObserver:
        return Announcer(bus, stream, snapshots=snapshots).observe

    return make
