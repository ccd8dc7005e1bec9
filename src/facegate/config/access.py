"""``[access]`` and ``[access.mqtt]``: door decisions and door outputs (facegate.access;
docs/access.md, docs/access-outputs.md). Doors, groups and rules live in the database
(``facegate doors/groups/rules ...``); these are the process-level knobs."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, field_validator

from facegate.config.base import SECRET_URL, Section
from facegate.config.zones import known_zone


class MqttSettings(Section):
    """The MQTT broker of doors with an mqtt output."""

    ENV_PREFIX: ClassVar[str] = "access_mqtt_"

    url: str | None = Field(
        None,
        description="broker: mqtt://host:1883 or mqtts://host:8883 (unset: no MQTT)",
        json_schema_extra=SECRET_URL,
    )
    username: str | None = Field(None, description="broker user name")
    password: SecretStr | None = Field(None, description="broker password; never logged or shown")
    client_id: str = Field(
        "facegate",
        min_length=1,
        max_length=40,
        description="prefix; pid and a random suffix follow",
    )
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keep-alive interval")
    reconnect_max_s: float = Field(
        30.0, ge=1, description="longest wait between reconnects to the broker"
    )

    @field_validator("url")
    @classmethod
    def _mqtt_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("mqtt://", "mqtts://")):
            raise ValueError("access_mqtt_url must look like mqtt://host:1883 or mqtts://host:8883")
        return value


class AccessSettings(Section):
    """Decisions at door cameras, their snapshots, and the outbox that delivers door outputs."""

    ENV_PREFIX: ClassVar[str] = "access_"

    enabled: bool = Field(True, description="decide at door cameras in facegate serve")
    timezone: str | None = Field(
        None, description="IANA zone of the rules' hours and holidays (unset: attendance's)"
    )
    snapshots: bool = Field(True, description="keep a small face JPEG per door event")
    snapshot_retention_days: float = Field(30.0, gt=0, description="snapshots kept this long")
    queue_size: int = Field(256, ge=1, description="attempts waiting for a decision")
    refresh_s: float = Field(2.0, gt=0, description="door list re-read from the database")
    liveness_timeout_s: float = Field(
        8.0, gt=0, description="a liveness verdict still pending this long counts as undecided"
    )
    unconfirmed_after_s: float = Field(
        2.0, gt=0, description="a face at a door this long that never confirms: not_confirmed"
    )
    output_threads: int = Field(
        4, ge=1, le=64, description="receivers served at once (each one in order, one at a time)"
    )
    output_timeout_s: float = Field(
        5.0, gt=0, description="webhook answer / broker acknowledgement wait"
    )
    output_max_attempts: int = Field(8, ge=1, description="webhook/MQTT tries, then failed")
    output_backoff_s: float = Field(
        1.0, gt=0, description="first retry delay; doubles per attempt, capped at 10 minutes"
    )
    relay_deadline_s: float = Field(
        3.0,
        gt=0,
        le=60,
        description="a relay pulse is never sent later than this after the decision",
    )
    outbox_poll_s: float = Field(
        1.0,
        gt=0,
        description="how often the outbox is checked for retries and other processes' rows",
    )
    outbox_retention_days: float = Field(
        7.0, gt=0, description="delivered/failed rows are kept this long (for the events' status)"
    )
    mqtt: MqttSettings = Field(default_factory=MqttSettings, description="the MQTT broker")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else known_zone(value)
