"""The ``access_outbox`` table on SQLite and PostgreSQL: rows written in the caller's
transaction, leases that give a row to one worker, privacy (cascade, secrets cleared)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from facegate.access.outputs import (
    DoorOutputs,
    MqttOutput,
    RelayOutput,
    WebhookOutput,
    dispatcher_for,
)
from facegate.access.outputs.outbox import OutboxStore
from facegate.access.outputs.worker import OutboxDispatcher
from facegate.gallery import SqlStore, open_store
from facegate.gallery.db import utcnow
from tests.access_outputs.conftest import SECRET, message

LEASE = timedelta(seconds=60)
OUTPUTS = DoorOutputs(
    webhooks=[
        WebhookOutput(url="http://127.0.0.1:9/all", secret=SecretStr(SECRET)),
        WebhookOutput(url="http://127.0.0.1:9/alarms", on="alarm"),
    ],
    mqtt=MqttOutput(),
    relay=RelayOutput(
        url="http://127.0.0.1:9/relay", headers={"Authorization": SecretStr("Bearer relay-tok")}
    ),
)


def rows(store: SqlStore) -> list[tuple[Any, ...]]:
    with store.db.read() as tx:
        found: list[tuple[Any, ...]] = tx.execute(
            "SELECT event_id, output, output_key, kind, person_id, config, delivered_at "
            "FROM access_outbox ORDER BY id"
        )
    return found


def enqueue(store: SqlStore, msg: Any, outputs: DoorOutputs = OUTPUTS) -> None:
    with store.db.write() as tx:
        OutboxStore(store.db).enqueue(tx, msg, outputs, relay_deadline=timedelta(seconds=3))


def test_dispatcher_for_returns_the_outbox_dispatcher(make_settings: Any, store: SqlStore):
    assert isinstance(dispatcher_for(make_settings(), store.db), OutboxDispatcher)


def test_one_row_per_output_that_takes_the_message(store: SqlStore, ann: int):
    granted, denied = message(ann), message(ann, decision="denied")
    alarm = message(None, kind="alarm", decision="denied", alarm="stranger")
    for msg in (granted, denied, alarm):
        enqueue(store, msg)
    by_event: dict[int, list[str]] = {}
    for event_id, _output, key, *_ in rows(store):
        by_event.setdefault(event_id, []).append(key)
    # the relay only for a granted decision; the second webhook only for alarms
    assert by_event[granted.event_id] == ["webhook:0", "mqtt", "relay"]
    assert by_event[denied.event_id] == ["webhook:0", "mqtt"]
    assert by_event[alarm.event_id] == ["webhook:0", "webhook:1", "mqtt"]
    enqueue(store, message(ann), DoorOutputs())  # no outputs: no rows
    assert len(rows(store)) == 8


def test_rows_roll_back_with_the_callers_transaction(store: SqlStore, ann: int):
    with pytest.raises(RuntimeError), store.db.write() as tx:
        OutboxStore(store.db).enqueue(tx, message(ann), OUTPUTS, relay_deadline=LEASE)
        raise RuntimeError("the door event could not be written")
    assert rows(store) == []


def test_payload_carries_the_message_and_a_unique_delivery_id(store: SqlStore, ann: int):
    msg = message(ann)
    enqueue(store, msg)
    with store.db.read() as tx:
        found = tx.execute("SELECT payload, delivery_id FROM access_outbox ORDER BY id")
    payloads = [json.loads(p) for p, _ in found]
    assert [p["delivery_id"] for p in payloads] == [d for _, d in found]
    assert len({d for _, d in found}) == 3
    first = payloads[0]
    assert first["event_id"] == msg.event_id and first["door"] == "front"
    assert first["person"] == {"id": ann, "name": "Ann"}
    assert first["decision"] == "granted" and first["score"] == 0.7123


def test_a_lease_gives_each_row_to_one_worker(make_settings: Any, store: SqlStore, ann: int):
    for _ in range(12):
        enqueue(store, message(ann))
    # two workers, each with its own connection (as two processes), claim at once
    stores = [open_store(make_settings()) for _ in range(2)]
    claimed: list[list[int]] = [[], []]
    start = threading.Barrier(2)

    def work(i: int) -> None:
        start.wait()
        outbox = OutboxStore(stores[i].db)
        while batch := outbox.claim(f"w{i}", utcnow(), LEASE, 5):
            claimed[i].extend(d.id for d in batch)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert not set(claimed[0]) & set(claimed[1])
    assert len(claimed[0]) + len(claimed[1]) == 36
    outbox = OutboxStore(store.db)
    assert outbox.claim("w3", utcnow(), LEASE, 50) == []  # leased
    again = outbox.claim("w3", utcnow() + LEASE + timedelta(seconds=1), LEASE, 50)
    assert len(again) == 36  # a dead worker's lease runs out: the rows are sent again
    assert {d.attempts for d in again} == {2}
    assert [d.output for d in again[:12]] == ["relay"] * 12  # relays first


def test_settling_needs_the_lease_and_clears_the_config(store: SqlStore, ann: int):
    enqueue(store, message(ann))
    outbox = OutboxStore(store.db)
    batch = outbox.claim("me", utcnow(), LEASE, 10)
    relay = next(d for d in batch if d.output == "relay")
    assert relay.config["headers"] == {"Authorization": "Bearer relay-tok"}  # for any process
    webhook = next(d for d in batch if d.output == "webhook")
    assert webhook.config["secret"] == SECRET
    outbox.delivered(relay, "someone-else")  # not the lease holder: no effect
    outbox.delivered(relay, "me")
    outbox.failed(webhook, "me", "HTTP 500")
    outbox.retry(next(d for d in batch if d.output == "mqtt"), "me", utcnow(), "x", counted=False)
    configs = {key: (config, delivered) for _, _, key, _, _, config, delivered in rows(store)}
    assert configs["relay"][0] is None and configs["relay"][1] is not None
    assert configs["webhook:0"][0] is None  # final: the secret is gone from the row
    assert configs["mqtt"][0] is not None  # pending: still needed
    statuses = outbox.statuses([batch[0].event_id])[batch[0].event_id]
    assert [(s.key, s.state, s.attempts) for s in statuses] == [
        ("webhook:0", "failed", 1),
        ("mqtt", "pending", 0),
        ("relay", "delivered", 1),
    ]
    assert statuses[0].last_error == "HTTP 500"
    assert SECRET not in repr(statuses) and "relay-tok" not in repr(statuses)


def test_deleting_a_person_erases_their_outbox_rows(store: SqlStore, ann: int):
    bob = store.create_person("Bob").id
    enqueue(store, message(ann))
    enqueue(store, message(bob, name="Bob"))
    enqueue(store, message(None, kind="alarm", decision="denied", alarm="stranger"))
    store.delete_person(ann)
    left = rows(store)
    assert {r[4] for r in left} == {bob, None}
    with store.db.read() as tx:
        payloads = [p for (p,) in tx.execute("SELECT payload FROM access_outbox")]
    assert not any('"Ann"' in p for p in payloads)


def test_sweep_removes_settled_rows_after_retention(store: SqlStore, ann: int):
    enqueue(store, message(ann))
    outbox = OutboxStore(store.db)
    batch = outbox.claim("me", utcnow(), LEASE, 10)
    outbox.delivered(batch[0], "me")
    outbox.failed(batch[1], "me", "HTTP 400")
    assert outbox.sweep(utcnow() - timedelta(days=1)) == 0
    assert outbox.sweep(utcnow() + timedelta(seconds=1)) == 2
    assert outbox.counts() == {"pending": 1, "delivered": 0, "failed": 0}


def test_released_rows_keep_their_place_and_attempts(store: SqlStore, ann: int):
    only_hooks = DoorOutputs(webhooks=OUTPUTS.webhooks[:1])
    for _ in range(3):
        enqueue(store, message(ann), only_hooks)
    outbox = OutboxStore(store.db)
    first = outbox.claim("me", utcnow(), LEASE, 10)
    outbox.release(first[1:], "me")
    again = outbox.claim("other", utcnow(), LEASE, 10)
    assert [d.id for d in again] == [d.id for d in first[1:]]
    assert [d.attempts for d in again] == [1, 1]  # given back untried: not counted


def test_door_outputs_stored_with_secrets_and_shown_without():
    stored = OUTPUTS.stored_json()
    back = DoorOutputs.model_validate_json(stored)
    assert back == OUTPUTS
    assert back.webhooks[0].secret is not None
    assert back.webhooks[0].secret.get_secret_value() == SECRET
    assert back.relay is not None
    assert back.relay.headers["Authorization"].get_secret_value() == "Bearer relay-tok"
    shown = json.dumps(OUTPUTS.public())
    assert SECRET not in shown and "relay-tok" not in shown and "**********" in shown
