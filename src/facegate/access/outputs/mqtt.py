"""MQTT: door decisions and alarms published to a broker with paho-mqtt (QoS 1).

Topics, under a door's ``topic_prefix`` (default ``facegate/doors``):

- ``{prefix}/{door}/decision``: every decision (the outbox payload, JSON);
- ``{prefix}/{door}/alarm``: every alarm (stranger, blocked, spoof);
- ``{prefix}/{door}/state``: retained, the door's last decision and its time (no person's
  name: a retained message outlives the person's deletion), so a dashboard that connects
  later sees each door's state at once.

One connection per dispatcher (one dispatcher per process), kept by paho's network thread,
which reconnects with backoff (1 s doubling to ``access_mqtt_reconnect_max_s``). A message
leaves the outbox only when the broker acknowledged it (PUBACK); while the broker is away the
rows stay pending and are not even claimed, so a dead broker never loses a message. A door
name's ``/``, ``+`` and ``#`` become ``_`` in topics (they would split or wildcard them).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from facegate.access.outputs.outbox import DELIVERED, Delivery, Outcome
from facegate.delivery import backoff_s

log = logging.getLogger(__name__)
_UNSAFE = str.maketrans({"/": "_", "+": "_", "#": "_", "\x00": "_"})


@dataclass(frozen=True, slots=True)
class Broker:
    host: str
    port: int
    tls: bool


def parse_broker(url: str) -> Broker:
    """``mqtt://host:1883`` or ``mqtts://host:8883`` (credentials come from the settings, not
    the URL, so that they never show where the URL does)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError("the MQTT broker URL must look like mqtt://host:1883")
    tls = parts.scheme == "mqtts"
    return Broker(parts.hostname, parts.port or (8883 if tls else 1883), tls)


def door_topic(prefix: str, door: str, leaf: str) -> str:
    return f"{prefix.rstrip('/')}/{door.translate(_UNSAFE)}/{leaf}"


def state_payload(payload: dict[str, Any]) -> str:
    """The retained door state: the last decision, without the person."""
    keys = ("door", "decision", "reason", "at", "event_id", "camera", "direction")
    return json.dumps({k: payload.get(k) for k in keys}, separators=(",", ":"))


class MqttLink:
    """The process's connection to the broker."""

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        client_id: str = "facegate",
        keepalive_s: int = 30,
        reconnect_max_s: float = 30.0,
    ) -> None:
        self.broker = parse_broker(url)
        self.keepalive_s = keepalive_s
        self.connected = threading.Event()
        # Unique per process: two clients with one id would throw each other off the broker.
        self.client_id = f"{client_id}-{os.getpid()}-{secrets.token_hex(3)}"
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=paho.MQTTv311
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        if self.broker.tls:
            self.client.tls_set()
        self.client.reconnect_delay_set(1, max(1, int(reconnect_max_s)))
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.reconnects = 0
        self._stopping = False

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT broker refused the connection: %s", reason)
            return
        self.connected.set()
        log.info("MQTT connected to %s:%d", self.broker.host, self.broker.port)

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if self.connected.is_set() and not self._stopping:
            self.reconnects += 1
            log.warning("MQTT broker connection lost (%s); reconnecting", reason)
        self.connected.clear()

    def start(self) -> None:
        self._stopping = False
        self.client.connect_async(self.broker.host, self.broker.port, self.keepalive_s)
        self.client.loop_start()  # paho's thread: connects, reconnects with backoff

    def stop(self) -> None:
        self._stopping = True
        self.client.disconnect()
        self.client.loop_stop()
        self.connected.clear()

    def publish(self, messages: list[tuple[str, str, bool]], timeout_s: float) -> str | None:
        """Publish ``(topic, payload, retain)`` at QoS 1 and wait for every PUBACK; None when
        all were acknowledged, else why not."""
        if any("+" in topic or "#" in topic for topic, _, _ in messages):
            raise ValueError("wildcards in a topic")
        infos = []
        for topic, payload, retain in messages:
            info = self.client.publish(topic, payload, qos=1, retain=retain)
            if info.rc != paho.MQTT_ERR_SUCCESS:
                return f"publish refused ({paho.error_string(info.rc)})"
            infos.append(info)
        end = time.monotonic() + timeout_s
        for info in infos:
            try:
                info.wait_for_publish(max(0.0, end - time.monotonic()))
            except (RuntimeError, ValueError):  # paho: not queued / failed
                return "publish failed"
            if not info.is_published():
                return f"no PUBACK within {timeout_s:g} s"
        return None


def send_mqtt(
    link: MqttLink | None,
    delivery: Delivery,
    *,
    newer_decision: bool,
    timeout_s: float,
    max_attempts: int,
    backoff_base_s: float,
) -> Outcome:
    """Publish one message (and, for a door's latest decision, its retained state)."""
    if link is None:
        return Outcome("failed", "no MQTT broker configured (FACEGATE_ACCESS_MQTT_URL)", tries=0)
    if not link.connected.is_set():
        return Outcome("defer", "broker unavailable", 1.0, tries=0)
    prefix = str(delivery.config.get("topic_prefix") or "facegate/doors")
    leaf = "alarm" if delivery.kind == "alarm" else "decision"
    messages = [(door_topic(prefix, delivery.door, leaf), delivery.payload, False)]
    if delivery.kind == "decision" and not newer_decision:
        state = state_payload(json.loads(delivery.payload))
        messages.append((door_topic(prefix, delivery.door, "state"), state, True))
    try:
        error = link.publish(messages, timeout_s)
    except ValueError:  # paho refuses wildcards in a topic: the prefix is unusable
        return Outcome("failed", "invalid topic (no + or # in a topic prefix)")
    if error is None:
        return DELIVERED
    if delivery.attempts >= max_attempts:
        return Outcome("failed", f"{error}; gave up after {delivery.attempts} attempts")
    return Outcome("retry", error, backoff_s(delivery.attempts, backoff_base_s))
