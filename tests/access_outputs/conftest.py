"""Door-output fixtures: the outbox on SQLite and on a real PostgreSQL (the attendance tests'
``make_settings``/``store``), real HTTP receivers and a real Mosquitto broker on loopback.

``dispatchers`` builds dispatchers (each over its own database connection, like separate
worker processes) with short polls and backoffs, and stops them after the test.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from facegate.access.messages import DoorMessage, MessageKind
from facegate.access.outputs import DoorOutputs
from facegate.access.outputs.worker import OutboxDispatcher
from facegate.access.policy import Decision
from facegate.bench.local_peers import BrokerUnavailable, Mosquitto, Receiver
from facegate.gallery import SqlStore, open_store
from facegate.gallery.db import Database
from tests.storage import make_settings, store

__all__ = ["make_settings", "store"]  # the fixtures, parametrised over SQLite and PostgreSQL

SECRET = "door-s3cret-for-tests"
_events = itertools.count(1)


def message(
    person_id: int | None = None,
    *,
    kind: MessageKind = "decision",
    decision: Decision = "granted",
    door: str = "front",
    name: str | None = "Ann",
    alarm: str | None = None,
    event_id: int | None = None,
) -> DoorMessage:
    """A decision (or alarm) as the access side makes it."""
    return DoorMessage(
        event_id=next(_events) if event_id is None else event_id,
        kind=kind,
        door=door,
        camera="cam-1",
        direction="in",
        at=datetime.now(UTC),
        decision=decision,
        reason="allowed" if decision == "granted" else "not_in_group",
        person_id=person_id,
        person_name=name if person_id is not None else None,
        score=0.71234,
        liveness="passed",
        alarm=alarm,
        captured=time.time(),
    )


def send(dispatcher: Any, db: Database, msg: DoorMessage, outputs: DoorOutputs) -> None:
    """What the access side does: enqueue inside its write transaction, wake after commit."""
    with db.write() as tx:
        dispatcher.enqueue(tx, msg, outputs)
    dispatcher.wake()


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what or predicate}")


@pytest.fixture
def ann(store: SqlStore) -> int:
    return store.create_person("Ann").id


@pytest.fixture
def dispatchers(make_settings: Any) -> Iterator[Callable[..., OutboxDispatcher]]:
    """A factory: ``dispatchers(start=True, **settings)``; each one has its own connection."""
    made: list[tuple[OutboxDispatcher, SqlStore]] = []

    def make(start: bool = True, **overrides: Any) -> OutboxDispatcher:
        settings = make_settings(
            **{
                "access_outbox_poll_s": 0.05,
                "access_output_backoff_s": 0.05,
                "access_output_timeout_s": 2.0,
                **overrides,
            }
        )
        own = open_store(settings)
        dispatcher = OutboxDispatcher(settings, own.db)
        made.append((dispatcher, own))
        if start:
            dispatcher.start()
        return dispatcher

    yield make
    for dispatcher, own in made:
        dispatcher.stop()
        own.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def broker() -> Iterator[Mosquitto]:
    """A real Mosquitto on a free port (skips, with the reason, where it cannot run)."""
    try:
        b = Mosquitto().start()
    except BrokerUnavailable as error:
        pytest.skip(str(error))
    yield b
    b.remove()


def states(dispatcher: OutboxDispatcher, event_id: int) -> dict[str, str]:
    return {s.key or s.output: s.state for s in dispatcher.statuses([event_id]).get(event_id, [])}
