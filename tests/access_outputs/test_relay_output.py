"""The HTTP relay against a real HTTP server: a pulse on granted decisions only, a timeout
recorded as a failure and never repeated, a refused connection retried within the deadline
only, and no pulse ever sent after the deadline (not even by a restarted dispatcher)."""

from __future__ import annotations

import time
from typing import Any

from facegate.access.outputs import DoorOutputs, RelayOutput, WebhookOutput
from facegate.bench.local_peers import Receiver, free_port
from facegate.gallery import SqlStore
from tests.access_outputs.conftest import message, send, states, wait_until

BODY = '{"door": "{door}", "pulse_ms": {pulse_ms}, "person": "{person_id}", "x": "{other}"}'


def relay(url: str, **kw: Any) -> DoorOutputs:
    return DoorOutputs(relay=RelayOutput(url=url, **kw))


def outcome(d: Any, event_id: int) -> Any:
    return d.statuses([event_id])[event_id][0]


def test_a_granted_decision_pulses_the_relay(
    dispatchers: Any, store: SqlStore, ann: int, receiver: Receiver
):
    d = dispatchers()
    outputs = relay(
        receiver.url + "/{door}",
        method="PUT",
        headers={"Authorization": "Bearer relay-secret"},
        body=BODY,
        pulse_ms=700,
    )
    send(d, store.db, message(ann, decision="denied"), outputs)  # no pulse for a denial
    granted = message(ann, door="lab 2")
    send(d, store.db, granted, outputs)
    receiver.wait_for(1)
    wait_until(lambda: states(d, granted.event_id) == {"relay": "delivered"})
    time.sleep(0.2)
    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    assert got["method"] == "PUT" and got["path"] == "/hook/lab%202"
    assert {k.lower(): v for k, v in got["headers"].items()}[
        "authorization"
    ] == "Bearer relay-secret"
    assert got["body"].decode() == (
        f'{{"door": "lab 2", "pulse_ms": 700, "person": "{ann}", "x": "{{other}}"}}'
    )


def test_a_timeout_is_a_failure_and_is_not_repeated(dispatchers: Any, store: SqlStore, ann: int):
    hanging = Receiver(delay_s=2.0)
    try:
        d = dispatchers(access_relay_deadline_s=3.0)
        msg = message(ann)
        send(d, store.db, msg, relay(hanging.url, timeout_s=0.3))
        wait_until(lambda: states(d, msg.event_id) == {"relay": "failed"})
        time.sleep(3.2)  # past the deadline: any repeat would have come by now
        status = outcome(d, msg.event_id)
    finally:
        hanging.close()
    assert status.last_error == "ReadTimeout" and status.attempts == 1
    assert len(hanging.requests) == 1


def test_a_refused_connection_is_retried_within_the_deadline(
    dispatchers: Any, store: SqlStore, ann: int
):
    port = free_port()
    d = dispatchers(access_relay_deadline_s=6.0)
    msg = message(ann)
    send(d, store.db, msg, relay(f"http://127.0.0.1:{port}/pulse"))
    time.sleep(0.5)  # refused meanwhile; then the relay comes up
    late = Receiver(port=port)
    try:
        late.wait_for(1)
        wait_until(lambda: states(d, msg.event_id) == {"relay": "delivered"})
    finally:
        late.close()
    assert outcome(d, msg.event_id).attempts > 1
    assert len(late.requests) == 1


def test_no_pulse_after_the_deadline(dispatchers: Any, store: SqlStore, ann: int):
    port = free_port()
    d = dispatchers(access_relay_deadline_s=2.0)
    msg = message(ann)
    send(d, store.db, msg, relay(f"http://127.0.0.1:{port}/pulse"))
    wait_until(lambda: states(d, msg.event_id) == {"relay": "failed"})
    status = outcome(d, msg.event_id)
    late = Receiver(port=port)  # the relay is reachable again, too late
    try:
        time.sleep(1.0)
        assert late.requests == []
    finally:
        late.close()
    assert status.last_error == "ConnectError; deadline passed" and status.attempts >= 2


def test_a_restarted_dispatcher_never_sends_an_expired_pulse(
    dispatchers: Any, store: SqlStore, ann: int, receiver: Receiver
):
    down = dispatchers(start=False, access_relay_deadline_s=0.3)  # enqueues, never delivers
    msg = message(ann)
    send(down, store.db, msg, relay(receiver.url))
    time.sleep(0.5)
    d = dispatchers(access_relay_deadline_s=0.3)
    wait_until(lambda: states(d, msg.event_id) == {"relay": "failed"})
    assert outcome(d, msg.event_id).last_error == "expired: not sent after the deadline"
    assert outcome(d, msg.event_id).attempts == 0
    assert receiver.requests == []


def test_a_webhook_backlog_does_not_hold_up_the_relay(
    dispatchers: Any, store: SqlStore, ann: int, receiver: Receiver
):
    slow = Receiver(delay_s=0.3)  # answers, slowly
    try:
        d = dispatchers(start=False, access_output_threads=1)  # one thread for every receiver
        backlog = DoorOutputs(webhooks=[WebhookOutput(url=slow.url)])
        for _ in range(20):
            send(d, store.db, message(ann, door="back", decision="denied"), backlog)
        d.start()
        slow.wait_for(1)
        granted = message(ann, door="front")
        send(d, store.db, granted, relay(receiver.url))
        receiver.wait_for(1)
        assert len(slow.requests) < 20  # the pulse went out before the backlog was through
        wait_until(lambda: d.outbox.counts()["delivered"] == 21, timeout=30)
    finally:
        slow.close()
