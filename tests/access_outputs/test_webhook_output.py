"""Door webhooks to a real HTTP receiver on 127.0.0.1, on SQLite and PostgreSQL: signed like
the attendance webhooks, one delivery id per message kept across retries, durable across a
dead receiver and a restart, each message delivered once by two dispatchers."""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from typing import Any

import pytest
from pydantic import SecretStr

from facegate.access.messages import DoorMessage
from facegate.access.outputs import DoorOutputs, WebhookOutput
from facegate.access.outputs.worker import OutboxDispatcher
from facegate.bench.local_peers import Receiver
from facegate.delivery import sign, verify
from facegate.gallery import SqlStore
from tests.access_outputs.conftest import SECRET, message, send, states, wait_until
from tests.attendance.test_webhooks_standard import SECRET as WHSEC
from tests.attendance.test_webhooks_standard import spec_verify


def hooks(url: str, secret: str | None = SECRET) -> DoorOutputs:
    key = None if secret is None else SecretStr(secret)
    return DoorOutputs(webhooks=[WebhookOutput(url=url, secret=key)])


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def test_signed_with_a_delivery_id_and_retried_with_the_same_body(
    dispatchers: Any, store: SqlStore, ann: int
):
    receiver = Receiver(fail_first=1)
    try:
        d = dispatchers()
        msg = message(ann)
        send(d, store.db, msg, hooks(receiver.url))
        receiver.wait_for(2)
        wait_until(lambda: states(d, msg.event_id) == {"webhook:0": "delivered"})
    finally:
        receiver.close()
    first, second = receiver.requests[:2]
    assert first["body"] == second["body"]  # the retry is the same signed message
    h1, h2 = lower(first["headers"]), lower(second["headers"])
    assert h1["x-facegate-delivery"] == h2["x-facegate-delivery"]
    body = second["body"]
    assert h2["x-facegate-signature"] == sign(SECRET, body)
    assert verify(SECRET, body, h2["x-facegate-signature"])
    assert not verify("another-secret", body, h2["x-facegate-signature"])
    assert h2["content-type"] == "application/json"
    payload = json.loads(body)
    assert payload["delivery_id"] == h2["x-facegate-delivery"]
    assert payload["event_id"] == msg.event_id and payload["kind"] == "decision"
    assert payload["person"] == {"id": ann, "name": "Ann"}
    status = d.statuses([msg.event_id])[msg.event_id][0]
    assert status.attempts == 2 and status.delivered_at is not None


def test_given_up_after_max_attempts_is_failed(dispatchers: Any, store: SqlStore, ann: int):
    receiver = Receiver(fail_first=100)
    try:
        d = dispatchers(access_output_max_attempts=3)
        msg = message(ann)
        send(d, store.db, msg, hooks(receiver.url))
        wait_until(lambda: states(d, msg.event_id) == {"webhook:0": "failed"})
        status = d.statuses([msg.event_id])[msg.event_id][0]
    finally:
        receiver.close()
    assert len(receiver.requests) == 3 and status.attempts == 3
    assert status.last_error == "HTTP 500; gave up after 3 attempts"


def test_a_dead_receiver_loses_nothing_and_a_restart_delivers(
    dispatchers: Any, store: SqlStore, ann: int
):
    gone = Receiver()
    port, url = gone.port, gone.url
    gone.close()  # nobody listens
    first = dispatchers()
    sent = [message(ann) for _ in range(5)]
    for msg in sent:
        send(first, store.db, msg, hooks(url))
    wait_until(lambda: first.failures >= 1, what="a failed try")
    first.stop()  # the process ends with its messages undelivered
    assert first.outbox.counts()["pending"] == 5
    back = Receiver(port=port)
    try:
        dispatchers()  # the next process on the same database
        back.wait_for(5)
        got = Counter(json.loads(r["body"])["event_id"] for r in back.requests)
    finally:
        back.close()
    assert got == Counter(m.event_id for m in sent)


def test_two_dispatchers_deliver_each_message_once(
    dispatchers: Any, store: SqlStore, ann: int, receiver: Receiver
):
    a, b = dispatchers(), dispatchers()
    sent = [message(ann) for _ in range(30)]

    def send_all(part: list[DoorMessage], d: OutboxDispatcher) -> None:
        for m in part:
            send(d, d.outbox.db, m, hooks(receiver.url))

    threads = [
        threading.Thread(target=send_all, args=(part, d))
        for part, d in ((sent[:15], a), (sent[15:], b))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_until(lambda: a.outbox.counts()["delivered"] == 30, what="30 delivered")
    ids = [lower(r["headers"])["x-facegate-delivery"] for r in receiver.requests]
    assert len(ids) == 30 and len(set(ids)) == 30
    assert a.delivered + b.delivered == 30


def test_a_hanging_receiver_does_not_hold_another_doors_webhook(
    dispatchers: Any, store: SqlStore, ann: int, receiver: Receiver
):
    hanging = Receiver(delay_s=3.0)
    try:
        d = dispatchers(access_output_timeout_s=2.0)
        stuck = message(ann, door="back")
        send(d, store.db, stuck, hooks(hanging.url))
        hanging.wait_for(1)  # its request is now waiting for an answer
        quick = message(ann, door="front")
        send(d, store.db, quick, hooks(receiver.url))
        receiver.wait_for(1)
        assert d.failures == 0  # the hanging request had not even timed out yet
        assert states(d, stuck.event_id) == {"webhook:0": "pending"}
        wait_until(lambda: states(d, quick.event_id) == {"webhook:0": "delivered"})
    finally:
        hanging.close()


def test_secrets_stay_out_of_logs_and_statuses(
    dispatchers: Any, store: SqlStore, ann: int, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    gone = Receiver()
    url = gone.url + "?token=url-token-123"
    gone.close()
    d = dispatchers(access_output_max_attempts=2)
    msg = message(ann)
    send(d, store.db, msg, hooks(url))
    wait_until(lambda: states(d, msg.event_id) == {"webhook:0": "failed"})
    status = d.statuses([msg.event_id])[msg.event_id][0]
    assert status.last_error == "ConnectError; gave up after 2 attempts"
    # the failure is logged, by ids (just after the state is committed: waited for)
    wait_until(lambda: "failed after 2 attempt(s)" in caplog.text)
    text = caplog.text + repr(status)
    assert SECRET not in text and "url-token-123" not in text and "127.0.0.1:" not in text


def test_door_webhook_carries_standard_webhooks_headers(
    dispatchers: Any, store: SqlStore, ann: int
):
    receiver = Receiver()
    try:
        d = dispatchers()
        msg = message(ann)
        send(
            d,
            store.db,
            msg,
            DoorOutputs(webhooks=[WebhookOutput(url=receiver.url, secret=SecretStr(WHSEC))]),
        )
        receiver.wait_for(1)
        wait_until(lambda: states(d, msg.event_id) == {"webhook:0": "delivered"})
    finally:
        receiver.close()
    request = receiver.requests[0]
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["webhook-id"] == json.loads(request["body"])["delivery_id"]
    assert spec_verify(headers, request["body"])
