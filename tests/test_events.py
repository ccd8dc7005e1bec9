"""The event bus: fan-out, bounded per-subscriber queues, thread and asyncio consumers."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

from facegate.events import EventBus, RecognitionEvent


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


def test_every_subscriber_gets_every_event():
    bus = EventBus()
    with bus.subscribe() as a, bus.subscribe() as b:
        bus.publish(event(1))
        assert a.get(1).track_id == 1
        assert b.get(1).track_id == 1
    bus.publish(event(2))  # nobody left: nothing blocks
    assert bus.published == 2


def test_a_slow_subscriber_loses_its_oldest_events_only():
    bus = EventBus()
    slow = bus.subscribe(maxsize=2)
    fast = bus.subscribe(maxsize=10)
    for n in range(5):
        bus.publish(event(n))
    assert [slow.get(0).track_id, slow.get(0).track_id] == [3, 4]
    assert slow.dropped == 3
    assert [fast.get(0).track_id for _ in range(5)] == [0, 1, 2, 3, 4]


def test_async_consumer_and_publisher_thread():
    bus = EventBus()
    sub = bus.subscribe()

    async def consume() -> int | None:
        threading.Thread(target=bus.publish, args=(event(9),)).start()
        got = await asyncio.wait_for(sub.next(poll_s=0.01), 5)
        return got.track_id

    assert asyncio.run(consume()) == 9


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
