"""Door outputs: where a door's decisions and alarms go (webhook, MQTT, HTTP relay).

``DoorOutputs`` is a door's output configuration (stored as JSON with the door). A
``Dispatcher`` takes ``DoorMessage``s into a durable outbox inside the caller's write
transaction (``enqueue``) and delivers them on its own threads, so an output never blocks
recognition and a slow or dead receiver never loses a message. ``dispatcher_for`` builds the
process's dispatcher.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from facegate.access.messages import DoorMessage

if TYPE_CHECKING:
    from facegate.config import Settings
    from facegate.gallery.db import Database, Tx


class WebhookOutput(BaseModel):
    """POST every message as JSON, signed like the attendance webhooks, with a delivery id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^https?://")
    secret: SecretStr | None = Field(None, description="HMAC-SHA256 key; never shown")
    on: Literal["all", "granted", "denied", "alarm"] = "all"


class MqttOutput(BaseModel):
    """Publish to the broker of the settings (``access_mqtt_url``), under
    ``{topic_prefix}/{door}/...``: decisions, alarms, and the retained door state."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topic_prefix: str = Field("facegate/doors", min_length=1, max_length=200)


class RelayOutput(BaseModel):
    """Call a URL to pulse a door relay when access is granted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^https?://")
    method: Literal["POST", "PUT", "GET"] = "POST"
    headers: dict[str, SecretStr] = Field(default_factory=dict, description="never shown")
    body: str | None = Field(None, max_length=4096)
    pulse_ms: int = Field(1000, ge=50, le=60_000)
    timeout_s: float = Field(2.0, gt=0, le=30)


class DoorOutputs(BaseModel):
    """A door's outputs; every part optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhooks: list[WebhookOutput] = Field(default_factory=list, max_length=8)
    mqtt: MqttOutput | None = None
    relay: RelayOutput | None = None

    @property
    def empty(self) -> bool:
        return not self.webhooks and self.mqtt is None and self.relay is None

    def stored_json(self) -> str:
        """The JSON to store with the door, secrets in clear; read it back with
        ``DoorOutputs.model_validate_json``. (pydantic's own JSON dump writes a secret as
        ``**********``, which would lose it.)"""
        return json.dumps(revealed(self), separators=(",", ":"))

    def public(self) -> dict[str, Any]:
        """For API answers and pages: every secret masked."""
        return self.model_dump(mode="json")


def revealed(model: BaseModel) -> dict[str, Any]:
    """A model's fields as JSON-able values with secrets revealed (for storage only)."""

    def plain(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        if isinstance(value, BaseModel):
            return revealed(value)
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    return {name: plain(getattr(model, name)) for name in type(model).model_fields}


@dataclass(frozen=True, slots=True)
class OutputStatus:
    """How one output fared with one door event (for the events API and page)."""

    output: str  # "webhook", "mqtt", "relay"
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    last_error: str | None = None
    delivered_at: datetime | None = None
    key: str | None = None  # which of the door's outputs: "webhook:0", "mqtt", "relay"


class Dispatcher(Protocol):
    def enqueue(self, tx: Tx, message: DoorMessage, outputs: DoorOutputs) -> None:
        """Write the message for each of ``outputs`` into the outbox, inside ``tx``."""

    def wake(self) -> None:
        """Deliver what was just enqueued (after the transaction committed)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def statuses(self, event_ids: Sequence[int]) -> dict[int, list[OutputStatus]]:
        """Per door event, how each of its outputs fared."""


class NoOutputs:
    """A dispatcher for a process that delivers nothing (e.g. a CLI command)."""

    def enqueue(self, tx: Tx, message: DoorMessage, outputs: DoorOutputs) -> None:
        return None

    def wake(self) -> None:
        return None

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def statuses(self, event_ids: Sequence[int]) -> dict[int, list[OutputStatus]]:
        return {}


def dispatcher_for(settings: Settings, db: Database) -> Dispatcher:
    """The process's dispatcher: the ``access_outbox`` table and its delivery threads
    (``worker.OutboxDispatcher``; nothing runs until ``start()``). Build one per process: it
    holds the process's MQTT connection. A process that only records (a CLI command) may
    enqueue through it without starting it; a running server delivers the rows."""
    from facegate.access.outputs.worker import OutboxDispatcher  # paho and httpx load here

    return OutboxDispatcher(settings, db)
