"""The event bus: fan-out, bounded per-subscriber queues, publishers on other threads."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from facegate.events import EventBus, RecognitionEvent, Subscription


def event(n: int) -> RecognitionEvent:
    return RecognitionEvent(
        kind="confirmed",
        stream="door",
        at=datetime(2026, 1, 1, tzinfo=UTC),
        track_id=n,
        person_id=7,
        person_name="Ada",
        score=0.8,
    )


def track_of(sub: Subscription, timeout: float) -> int | None:
    """The next event's track id; fails when none arrives within the timeout."""
    got = sub.get(timeout)
    assert got is not None, "no event arrived"
    return got.track_id


def test_every_subscriber_gets_every_event():
    bus = EventBus()
    with bus.subscribe() as a, bus.subscribe() as b:
        bus.publish(event(1))
        assert track_of(a, 1) == 1
        assert track_of(b, 1) == 1
    bus.publish(event(2))  # nobody left: nothing blocks
    assert bus.published == 2


def test_a_slow_subscriber_loses_its_oldest_events_only():
    bus = EventBus()
    slow = bus.subscribe(maxsize=2)
    fast = bus.subscribe(maxsize=10)
    for n in range(5):
        bus.publish(event(n))
    assert [track_of(slow, 0), track_of(slow, 0)] == [3, 4]
    assert slow.dropped == 3
    assert [track_of(fast, 0) for _ in range(5)] == [0, 1, 2, 3, 4]


def test_an_event_published_on_another_thread_reaches_a_waiting_subscriber():
    bus = EventBus()
    sub = bus.subscribe()
    threading.Thread(target=bus.publish, args=(event(9),)).start()
    got = sub.get(timeout=5)
    assert got is not None and got.track_id == 9


def test_json_shape_has_no_snapshot():
    shaped = RecognitionEvent(
        kind="unknown",
        stream="door",
        at=datetime(2026, 1, 1, tzinfo=UTC),
        track_id=3,
        person_id=None,
        person_name=None,
        score=0.2,
        snapshot=b"jpeg",
    ).as_dict()
    assert shaped["person"] is None and "snapshot" not in shaped
