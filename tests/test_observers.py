"""The track-observer registry: late factories reach running streams, failures stay isolated."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from facegate.observers import TrackObservers

PIXELS = np.zeros((4, 4, 3), np.uint8)


def test_factory_registered_after_the_stream_started_is_picked_up() -> None:
    registry = TrackObservers()
    seen: list[tuple[str, str]] = []
    registry.register(lambda stream, prompt: lambda faces, image: seen.append(("a", stream)))
    observers = registry.for_stream("door")
    observers([], PIXELS)
    unregister = registry.register(
        lambda stream, prompt: lambda faces, image: seen.append(("b", stream))
    )
    observers([], PIXELS)
    unregister()
    observers([], PIXELS)
    assert seen == [("a", "door"), ("a", "door"), ("b", "door"), ("a", "door")]


def test_factories_are_called_once_per_stream_with_the_prompt_sink() -> None:
    registry = TrackObservers()
    made: list[tuple[str, object]] = []

    def factory(stream, prompt):
        made.append((stream, prompt))
        return lambda faces, image: None

    def sink(message: Mapping[str, Any]) -> None:
        pass

    registry.register(factory)
    observers = registry.for_stream("kiosk", sink)
    for _ in range(3):
        observers([], PIXELS)
    assert made == [("kiosk", sink)]


def test_a_failing_observer_or_factory_does_not_stop_the_others() -> None:
    registry = TrackObservers()
    seen: list[int] = []

    def broken_factory(stream, prompt):
        raise RuntimeError("factory bug")

    def broken(faces, image):
        raise RuntimeError("observer bug")

    registry.register(broken_factory)
    registry.register(lambda stream, prompt: broken)
    registry.register(lambda stream, prompt: lambda faces, image: seen.append(len(faces)))
    registry.register(lambda stream, prompt: None)  # not interested in this stream
    registry.for_stream("gate")([object(), object()], PIXELS)
    assert seen == [2]


def test_a_stream_wants_every_frame_while_one_of_its_observers_does() -> None:
    """How a door checking liveness turns the detector's frame skipping off for its camera."""

    class Liveness:
        wants_every_frame = True

        def __call__(self, faces: Any, image: np.ndarray) -> None:
            pass

    registry = TrackObservers()
    registry.register(lambda stream, prompt: lambda faces, image: None)
    observers = registry.for_stream("kiosk")
    assert not observers.wants_every_frame
    unregister = registry.register(lambda stream, prompt: Liveness() if stream == "kiosk" else None)
    assert observers.wants_every_frame
    assert not registry.for_stream("lobby").wants_every_frame
    unregister()
    assert not observers.wants_every_frame
