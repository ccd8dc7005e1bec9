"""Webhooks delivered to a real HTTP receiver on 127.0.0.1: signed, retried, durable."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from facegate.attendance.service import Attendance
from facegate.attendance.webhooks import backoff_s, verify
from facegate.bench.local_peers import Receiver
from facegate.gallery import SqlStore
from tests.attendance.conftest import T0, seen

SECRET = "s3cret-for-tests"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first=1)
    yield r
    r.close()


def hooked(make_settings: Any, store: SqlStore, url: str) -> Attendance:
    att = Attendance(
        make_settings(
            attendance_webhook_urls=[url],
            attendance_webhook_secret=SECRET,
            attendance_webhook_backoff_s=0.05,
            attendance_timezone="Asia/Shanghai",
        ),
        store.db,
    )
    att.webhooks.poll_s = 0.05
    return att


def test_signed_webhook_retried_after_a_failure(
    make_settings: Any, store: SqlStore, receiver: Receiver
):
    ann = store.create_person("Ann", external_id="E-7").id
    att = hooked(make_settings, store, receiver.url)
    att.start()
    try:
        event = att.record(seen(ann, T0)).event
        assert event is not None
        receiver.wait_for(2)
        deadline = time.monotonic() + 10
        while att.outbox.counts()["pending"] and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        att.stop()
    first, second = receiver.requests[:2]
    assert first["body"] == second["body"]  # the retry sends the same signed body
    body = second["body"]
    headers = {k.lower(): v for k, v in second["headers"].items()}
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["x-facegate-signature"] == expected
    assert verify(SECRET, body, headers["x-facegate-signature"])
    assert not verify("wrong-secret", body, headers["x-facegate-signature"])
    assert abs(int(headers["x-facegate-timestamp"]) - time.time()) < 3600
    assert headers["content-type"] == "application/json"
    payload = json.loads(body)
    assert payload["type"] == "attendance.event"
    assert payload["event"]["id"] == event.id
    assert payload["event"]["person"] == {"id": ann, "name": "Ann", "external_id": "E-7"}
    assert payload["event"]["working_day"] == "2026-03-02"
    assert payload["event"]["at"] == "2026-03-02T01:00:00+00:00"
    assert att.outbox.counts() == {"pending": 0, "given_up": 0}  # delivered rows are deleted
    assert att.webhooks.failures == 1 and att.webhooks.delivered == 1


def test_undelivered_webhooks_survive_a_restart(make_settings: Any, store: SqlStore):
    ann = store.create_person("Ann").id
    gone = Receiver()
    port, url = gone.server.server_address[1], gone.url
    gone.close()  # nobody listens: the first process cannot deliver
    first = hooked(make_settings, store, url)
    first.start()
    first.record(seen(ann, T0))
    deadline = time.monotonic() + 10
    while first.webhooks.failures == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    first.stop()
    assert first.webhooks.failures >= 1 and first.webhooks.delivered == 0
    assert first.outbox.counts()["pending"] == 1
    # the receiver is back on its port; a new process on the same database delivers it
    back = Receiver(port=port)
    try:
        second = hooked(make_settings, store, url)
        second.start()
        back.wait_for(1)
        second.stop()
    finally:
        back.close()
    assert json.loads(back.requests[0]["body"])["event"]["person"]["id"] == ann


def test_backoff_doubles_and_is_capped():
    assert [backoff_s(n, 2.0) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert backoff_s(30, 2.0) == 600.0
