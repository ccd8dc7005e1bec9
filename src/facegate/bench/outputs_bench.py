"""``facegate bench outputs``: how long a door message takes from the decision to each output.

One door with all three outputs (a webhook, MQTT, an HTTP relay) pointed at real receivers on
loopback (``local_peers``: an HTTP server, Debian's Mosquitto and a subscriber). Messages are
sent one at a time, as the access side does (insert into the outbox in a write transaction,
``wake()`` after the commit), and each is timed from the start of that transaction to its
arrival at every receiver; ``enqueue_ms`` is the part recognition itself pays (the
transaction). No load: this is the latency floor of the delivery path, not a throughput test.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from facegate.access.messages import DoorMessage
from facegate.access.outputs import (
    DoorOutputs,
    MqttOutput,
    RelayOutput,
    WebhookOutput,
    dispatcher_for,
)
from facegate.bench.local_peers import BrokerUnavailable, Mosquitto, Receiver, Subscriber
from facegate.config import Settings
from facegate.gallery import open_store

PREFIX = "bench/doors"


def _stats(values_ms: list[float]) -> dict[str, float]:
    ordered = sorted(values_ms)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 2)

    return {"p50": pct(0.5), "p95": pct(0.95), "max": round(ordered[-1], 2), "n": len(ordered)}


def _arrival(get: Any, n: int, timeout: float = 10.0) -> float:
    """The arrival time of the ``n``-th item (1-based) once it is there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = get()
        if len(items) >= n:
            return float(items[n - 1])
        time.sleep(0.0005)
    raise TimeoutError(f"message {n} did not arrive within {timeout} s")


def _received(subscriber: Subscriber) -> list[float]:
    """Arrival times of the decisions the subscriber got."""
    topic = f"{PREFIX}/bench/decision"
    return [at for t, _, _, at in subscriber.messages if t == topic]


def run_outputs_bench(
    *, messages: int = 50, database_url: str | None = None, data_dir: Path | None = None
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="facegate-outputs-bench-"))
    broker: Mosquitto | None = None
    mqtt_note = None
    try:
        broker = Mosquitto().start()
    except BrokerUnavailable as error:
        mqtt_note = f"skipped: {error}"
    webhook, relay = Receiver(), Receiver()
    subscriber = Subscriber(broker.port, f"{PREFIX}/#") if broker else None
    settings = Settings(
        data_dir=data_dir or work,
        database_url=database_url,
        access_mqtt_url=broker.url if broker else None,
    )
    store = open_store(settings)
    dispatcher = dispatcher_for(settings, store.db)
    outputs = DoorOutputs(
        webhooks=[WebhookOutput(url=webhook.url, secret=SecretStr("bench-secret"))],
        mqtt=MqttOutput(topic_prefix=PREFIX) if broker else None,
        relay=RelayOutput(url=relay.url, body='{"door": "{door}", "pulse_ms": {pulse_ms}}'),
    )
    person = store.create_person("Bench").id
    enqueue_ms: list[float] = []
    latency: dict[str, list[float]] = {"webhook": [], "relay": [], "mqtt": []}
    try:
        dispatcher.start()
        if broker is not None:
            link: Any = getattr(dispatcher, "mqtt", None)
            if link is not None:
                link.connected.wait(10)
        for i in range(1, messages + 1):
            message = DoorMessage(
                event_id=i,
                kind="decision",
                door="bench",
                camera="cam",
                direction="in",
                at=datetime.now(UTC),
                decision="granted",
                reason="allowed",
                person_id=person,
                person_name="Bench",
                score=0.7,
            )
            t0 = time.time()
            with store.db.write() as tx:
                dispatcher.enqueue(tx, message, outputs)
            enqueue_ms.append((time.time() - t0) * 1000)
            dispatcher.wake()
            latency["webhook"].append(
                (_arrival(lambda: [r["at"] for r in webhook.requests], i) - t0) * 1000
            )
            latency["relay"].append(
                (_arrival(lambda: [r["at"] for r in relay.requests], i) - t0) * 1000
            )
            if subscriber is not None:
                latency["mqtt"].append((_arrival(partial(_received, subscriber), i) - t0) * 1000)
    finally:
        dispatcher.stop()
        store.close()
        webhook.close()
        relay.close()
        if subscriber is not None:
            subscriber.close()
        if broker is not None:
            broker.remove()
    report: dict[str, Any] = {
        "messages": messages,
        "database": "postgres" if database_url else "sqlite",
        "enqueue_ms": _stats(enqueue_ms),
        "latency_ms": {k: _stats(v) for k, v in latency.items() if v},
        "measured": "from the start of the enqueue transaction to arrival at the receiver "
        "(loopback receivers, one message at a time)",
    }
    if mqtt_note:
        report["latency_ms"]["mqtt"] = mqtt_note
    return report
