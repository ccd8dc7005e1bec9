"""Who sees each stream's tracked faces: one registry per process, for cameras and TCP streams.

Every video pipeline (a server camera in ``facegate.live``, a TCP client in
``facegate.stream``) hands each processed frame's tracked faces and pixels to one observer,
on the inference thread. Several parts of facegate want to see them: the recognition-event
announcer, the door watchers of access control, liveness. Rather than each transport knowing
that list (it used to be built in two places), a part registers an ``ObserverFactory`` here,
and the transports ask ``for_stream(name, prompt)`` once per stream.

The returned ``StreamObservers`` picks up factories registered *after* the stream started
(a camera owned before the access hook started still gets its door watcher), and isolates
observers from each other: one that raises is logged and the others still run.

``prompt`` is how an observer can ask the person in front of the stream's device to do
something (a liveness challenge): the TCP session passes a sink that sends a message to its
client; server cameras have nobody to prompt and pass None.

``epoch`` is a server camera's lease epoch (facegate.cluster): while the observers of a frame
run, ``current_epoch()`` returns it, so whatever they write about that frame (recognition
events, door attempts) carries it and the database refuses it once another host owns the
camera with a newer epoch. TCP streams have none (None: never fenced).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# Sends one JSON-able message to the stream's client (see docs/protocol.md, CHALLENGE).
PromptSink = Callable[[Mapping[str, Any]], None]
# Called with a frame's tracked faces (``facegate.stream.pipeline.TrackedFace``) and its pixels.
TrackObserver = Callable[[Sequence[Any], np.ndarray], None]
# (stream name, prompt sink or None) -> an observer for that stream, or None if not interested.
ObserverFactory = Callable[[str, PromptSink | None], TrackObserver | None]

_EPOCH: ContextVar[int | None] = ContextVar("facegate_lease_epoch", default=None)


def current_epoch() -> int | None:
    """The lease epoch of the camera whose frame is being observed (None: a TCP stream, or
    outside an observer call)."""
    return _EPOCH.get()


class TrackObservers:
    """The process's observer factories, in registration order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._factories: list[ObserverFactory] = []
        self.version = 0

    def register(self, factory: ObserverFactory) -> Callable[[], None]:
        """Add a factory; returns a function that removes it again."""
        with self._lock:
            self._factories.append(factory)
            self.version += 1

        def unregister() -> None:
            with self._lock:
                if factory in self._factories:
                    self._factories.remove(factory)
                    self.version += 1

        return unregister

    def factories(self) -> tuple[int, list[ObserverFactory]]:
        with self._lock:
            return self.version, list(self._factories)

    def for_stream(
        self, stream: str, prompt: PromptSink | None = None, *, epoch: int | None = None
    ) -> StreamObservers:
        return StreamObservers(self, stream, prompt, epoch)


class StreamObservers:
    """One stream's observers, made lazily from the registry and kept in step with it."""

    def __init__(
        self,
        registry: TrackObservers,
        stream: str,
        prompt: PromptSink | None,
        epoch: int | None = None,
    ) -> None:
        self.registry, self.stream, self.prompt, self.epoch = registry, stream, prompt, epoch
        self._version = -1
        self._made: dict[int, TrackObserver | None] = {}  # id(factory) -> its observer
        self._order: list[TrackObserver] = []

    def _refresh(self) -> None:
        version, factories = self.registry.factories()
        if version == self._version:
            return
        made: dict[int, TrackObserver | None] = {}
        for factory in factories:
            key = id(factory)
            if key in self._made:
                made[key] = self._made[key]
                continue
            try:
                made[key] = factory(self.stream, self.prompt)
            except Exception:
                log.exception("stream %s: an observer factory failed", self.stream)
                made[key] = None
        self._made, self._version = made, version
        self._order = [obs for obs in made.values() if obs is not None]

    @property
    def wants_every_frame(self) -> bool:
        """Whether any observer of the stream asks for every frame to be detected (an
        observer may say so with a ``wants_every_frame`` attribute: a door checking liveness
        does); the pipeline then carries no frame forward (``stream.detect_every``)."""
        self._refresh()
        return any(getattr(obs, "wants_every_frame", False) for obs in self._order)

    def __call__(self, faces: Sequence[Any], image: np.ndarray) -> None:
        self._refresh()
        token = _EPOCH.set(self.epoch)
        try:
            for observer in self._order:
                try:
                    observer(faces, image)
                except Exception:  # one observer's bug must not starve the others
                    log.exception("stream %s: a track observer failed", self.stream)
        finally:
            _EPOCH.reset(token)
