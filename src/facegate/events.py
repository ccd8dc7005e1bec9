"""Recognition events: what the pipelines tell the rest of facegate.

A stream or camera pipeline publishes an event when a track's identity is *confirmed* (a known
person after enough agreeing frames) or a new face is confirmed *unknown*. Subscribers (the
live event log behind ``/ws/events``, the attendance log, webhooks) each get their own bounded
queue, so a slow subscriber loses its own oldest events and never slows recognition or another
subscriber.

``publish`` is safe from any thread (pipelines run on inference threads); each subscriber
consumes on a thread of its own (``get``), never on the event loop.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

EventKind = Literal["confirmed", "unknown", "checkin"]


@dataclass(frozen=True)
class RecognitionEvent:
    """One confirmed recognition (or a newly confirmed unknown face) on a stream or camera.

    ``snapshot`` is an optional small JPEG of the face, kept only where a consumer's retention
    settings allow; it is never logged.
    """

    kind: EventKind
    stream: str
    at: datetime  # aware, UTC
    track_id: int | None
    person_id: int | None
    person_name: str | None
    score: float
    box: tuple[float, float, float, float] | None = None
    snapshot: bytes | None = field(default=None, repr=False)
    # A server camera's lease epoch (facegate.cluster): the log refuses the event once another
    # host owns the camera with a newer one. None for TCP streams and check-ins.
    epoch: int | None = None

    def as_dict(self) -> dict[str, object]:
        """The JSON shape sent to browsers and webhooks (no snapshot bytes)."""
        return {
            "kind": self.kind,
            "stream": self.stream,
            "at": self.at.isoformat(),
            "track_id": self.track_id,
            "person": None
            if self.person_id is None
            else {"id": self.person_id, "name": self.person_name},
            "similarity": round(self.score, 4),
            "box": None if self.box is None else [round(v, 1) for v in self.box],
        }


class Subscription:
    """One subscriber's bounded queue; when full the oldest event is dropped and counted."""

    def __init__(self, bus: EventBus, maxsize: int) -> None:
        self._bus = bus
        self._queue: queue.Queue[RecognitionEvent] = queue.Queue(maxsize)
        self.dropped = 0

    def _offer(self, event: RecognitionEvent) -> None:
        while True:
            try:
                self._queue.put_nowait(event)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def get(self, timeout: float | None = None) -> RecognitionEvent | None:
        """The next event, waiting up to ``timeout`` seconds (None when none came)."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._bus._unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    """Fan-out of recognition events to every current subscriber (one per process)."""

    def __init__(self, subscriber_queue: int = 256) -> None:
        self._subscriber_queue = subscriber_queue
        self._subscribers: list[Subscription] = []
        self._lock = threading.Lock()
        self.published = 0

    def subscribe(self, maxsize: int | None = None) -> Subscription:
        sub = Subscription(self, maxsize or self._subscriber_queue)
        with self._lock:
            self._subscribers.append(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subscribers:
                self._subscribers.remove(sub)

    def publish(self, event: RecognitionEvent) -> None:
        """Hand the event to every subscriber; never blocks."""
        with self._lock:
            subscribers = list(self._subscribers)
            self.published += 1
        for sub in subscribers:
            sub._offer(event)
