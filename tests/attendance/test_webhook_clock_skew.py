"""A host whose clock runs ahead must not take over a webhook another host is sending.

Two delivery workers share one PostgreSQL, each over its own connection like two hosts; the
second one's host clock is injected 2 minutes ahead (longer than any lease). The receiver
holds the first request for a few seconds, so the first worker's lease is live while the
skewed one polls. With leases on the host clock the skewed worker would judge the row due and
send it again; on the database's clock it waits. SQLite is one host with one clock: skipped.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from facegate.access.outputs import DoorOutputs, WebhookOutput
from facegate.access.outputs.worker import OutboxDispatcher
from facegate.attendance.service import Attendance
from facegate.bench.local_peers import Receiver
from facegate.gallery import SqlStore, open_store
from facegate.gallery.db import utcnow
from tests.access_outputs.conftest import message, send, states, wait_until
from tests.attendance.conftest import T0, seen

SKEW = timedelta(minutes=2)


def ahead() -> datetime:
    return utcnow() + SKEW


def only_postgres(store: SqlStore) -> None:
    if store.dialect != "postgres":
        pytest.skip("SQLite runs on one host: there is no other clock to disagree with")


def test_a_host_ahead_does_not_resend_an_attendance_webhook(make_settings: Any, store: SqlStore):
    only_postgres(store)
    ann = store.create_person("Ann").id
    receiver = Receiver(delay_s=3.0)
    settings = make_settings(attendance_webhook_urls=[receiver.url], attendance_webhook_timeout_s=6)
    other = open_store(settings)
    first = Attendance(settings, store.db)
    skewed = Attendance(settings, other.db, host_clock=ahead)
    for att in (first, skewed):
        att.webhooks.poll_s = 0.05
    first.start()
    try:
        assert first.record(seen(ann, T0)).event is not None
        receiver.wait_for(1)  # the first host holds the lease and waits for the answer
        skewed.start()
        time.sleep(1.0)  # the skewed host polls ~20 times while the lease is live
        wait_until(lambda: first.outbox.counts()["pending"] == 0, what="delivery")
        time.sleep(0.3)
    finally:
        first.stop()
        skewed.stop()
        other.close()
        receiver.close()
    assert len(receiver.requests) == 1
    assert skewed.outbox.clock.offset < -SKEW + timedelta(seconds=5)  # it measured its skew


def test_a_host_ahead_does_not_resend_a_door_webhook(make_settings: Any, store: SqlStore):
    only_postgres(store)
    ann = store.create_person("Ann").id
    receiver = Receiver(delay_s=3.0)
    settings = make_settings(
        access_outbox_poll_s=0.05, access_output_timeout_s=6.0, access_output_max_attempts=1
    )
    other = open_store(settings)
    first = OutboxDispatcher(settings, store.db)
    skewed = OutboxDispatcher(settings, other.db, host_clock=ahead)
    first.start()
    try:
        msg = message(ann)
        send(first, store.db, msg, DoorOutputs(webhooks=[WebhookOutput(url=receiver.url)]))
        receiver.wait_for(1)
        skewed.start()
        time.sleep(1.0)
        wait_until(lambda: states(first, msg.event_id) == {"webhook:0": "delivered"})
    finally:
        first.stop()
        skewed.stop()
        other.close()
        receiver.close()
    assert len(receiver.requests) == 1


def test_a_host_ahead_keeps_the_cooldown(make_settings: Any, store: SqlStore):
    """Camera ``door`` fails over from a host with a good clock to one 2 minutes ahead: the
    second host sees Ann 5 s after the first did, stamped by its own clock. On the host
    clock the two events are 125 s apart (two check-ins); on the database's clock, 5 s (one)."""
    only_postgres(store)
    ann = store.create_person("Ann").id
    settings = make_settings(attendance_cooldown_s=60)
    other = open_store(settings)
    try:
        first = Attendance(settings, store.db)
        skewed = Attendance(settings, other.db, host_clock=ahead)
        now = utcnow()
        assert first.record(seen(ann, now)).event is not None
        later = skewed.record(seen(ann, ahead() + timedelta(seconds=5)))
        assert later.event is None and later.reason == "cooldown"
        much_later = skewed.record(seen(ann, ahead() + timedelta(seconds=90)))
        assert much_later.event is not None  # past the cooldown on the database's clock
        assert abs((much_later.event.at - now).total_seconds() - 90) < 5
    finally:
        other.close()
