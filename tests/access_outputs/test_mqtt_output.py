"""MQTT door messages through a real Mosquitto broker (Debian's, started by the test on a free
port), on SQLite and PostgreSQL: decision and alarm topics, the retained door state, and a
broker restart that loses nothing."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from facegate.access.outputs import DoorOutputs, MqttOutput
from facegate.bench.local_peers import BrokerUnavailable, Mosquitto, Subscriber
from facegate.gallery import SqlStore
from tests.access_outputs.conftest import message, send, states, wait_until

MQTT = DoorOutputs(mqtt=MqttOutput(topic_prefix="site/doors"))


def test_decisions_and_alarms_on_their_topics(
    dispatchers: Any, store: SqlStore, ann: int, broker: Mosquitto
):
    sub = Subscriber(broker.port, "site/doors/#")
    try:
        d = dispatchers(access_mqtt_url=broker.url)
        wait_until(d.mqtt.connected.is_set, what="the dispatcher's connection")
        granted = message(ann, door="front")
        alarm = message(None, kind="alarm", decision="denied", alarm="stranger", door="front")
        send(d, store.db, granted, MQTT)
        send(d, store.db, alarm, MQTT)
        decisions = sub.wait_for("site/doors/front/decision", 1)
        alarms = sub.wait_for("site/doors/front/alarm", 1)
        wait_until(lambda: states(d, alarm.event_id) == {"mqtt": "delivered"})
    finally:
        sub.close()
    got = json.loads(decisions[0])
    assert got["event_id"] == granted.event_id and got["decision"] == "granted"
    assert got["person"] == {"id": ann, "name": "Ann"} and got["delivery_id"]
    assert json.loads(alarms[0])["alarm"] == "stranger"
    assert states(d, granted.event_id) == {"mqtt": "delivered"}


def test_a_late_subscriber_sees_the_retained_door_state(
    dispatchers: Any, store: SqlStore, ann: int, broker: Mosquitto
):
    d = dispatchers(access_mqtt_url=broker.url)
    first, last = message(ann, door="lab"), message(ann, door="lab", decision="denied")
    send(d, store.db, first, MQTT)
    send(d, store.db, last, MQTT)
    wait_until(lambda: states(d, last.event_id) == {"mqtt": "delivered"})
    wait_until(lambda: states(d, first.event_id) == {"mqtt": "delivered"})
    late = Subscriber(broker.port, "site/doors/+/state")  # connects after both were sent
    try:
        got = late.wait_for("site/doors/lab/state", 1)
        time.sleep(0.2)  # a second (stale) retained state would arrive now
        retained = [m for m in late.messages if m[0] == "site/doors/lab/state"]
    finally:
        late.close()
    assert len(retained) == 1 and retained[0][2] is True  # the retain flag
    state = json.loads(got[0])
    assert state["event_id"] == last.event_id and state["decision"] == "denied"
    assert state["door"] == "lab" and state["at"] == last.at.isoformat()
    assert "person" not in state  # a retained message outlives a person's deletion


def test_a_broker_restart_loses_nothing(
    dispatchers: Any, store: SqlStore, ann: int, broker: Mosquitto
):
    # A persistent session: the broker keeps what is published while the subscriber is away.
    sub = Subscriber(broker.port, "site/doors/#", session="facegate-test-sub")
    sub.close()
    d = dispatchers(access_mqtt_url=broker.url, access_mqtt_reconnect_max_s=1)
    wait_until(d.mqtt.connected.is_set, what="the dispatcher's connection")
    broker.stop()
    wait_until(lambda: not d.mqtt.connected.is_set(), what="the disconnect")
    sent = [message(ann, door="gate") for _ in range(5)]
    for msg in sent:
        send(d, store.db, msg, MQTT)
    time.sleep(0.5)  # several polls while the broker is down
    assert {states(d, m.event_id)["mqtt"] for m in sent} == {"pending"}
    broker.start()
    wait_until(
        lambda: all(states(d, m.event_id)["mqtt"] == "delivered" for m in sent),
        what="delivery after the broker came back",
    )
    sub = Subscriber(broker.port, "site/doors/#", session="facegate-test-sub")
    try:
        got = sub.wait_for("site/doors/gate/decision", 5)
    finally:
        sub.close()
    assert {json.loads(p)["event_id"] for p in got} == {m.event_id for m in sent}
    assert d.mqtt.reconnects >= 1


def test_without_a_broker_the_message_fails_with_the_reason(
    dispatchers: Any, store: SqlStore, ann: int
):
    d = dispatchers()  # no access_mqtt_url
    msg = message(ann)
    send(d, store.db, msg, MQTT)
    wait_until(lambda: states(d, msg.event_id) == {"mqtt": "failed"})
    error = d.statuses([msg.event_id])[msg.event_id][0].last_error
    assert error == "no MQTT broker configured (FACEGATE_ACCESS_MQTT_URL)"


def test_broker_credentials_are_used_and_never_logged(
    dispatchers: Any, store: SqlStore, ann: int, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    try:
        broker = Mosquitto(users={"door": "mqtt-pass-123"}).start()
    except BrokerUnavailable as error:
        pytest.skip(str(error))
    try:
        wrong = dispatchers(
            access_mqtt_url=broker.url, access_mqtt_username="door", access_mqtt_password="nope"
        )
        msg = message(ann, door="vault")
        send(wrong, store.db, msg, MQTT)
        time.sleep(1.0)
        assert not wrong.mqtt.connected.is_set()  # refused: the message waits
        assert states(wrong, msg.event_id) == {"mqtt": "pending"}
        wrong.stop()
        right = dispatchers(
            access_mqtt_url=broker.url,
            access_mqtt_username="door",
            access_mqtt_password="mqtt-pass-123",
        )
        wait_until(lambda: states(right, msg.event_id) == {"mqtt": "delivered"})
    finally:
        broker.remove()
    assert "mqtt-pass-123" not in caplog.text and "nope" not in caplog.text
    assert "refused the connection" in caplog.text
