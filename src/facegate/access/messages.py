"""``DoorMessage``: what a door decision or alarm tells the door's outputs.

The seam between the decision side (``facegate.access``: rules, door events) and the delivery
side (``facegate.access.outputs``: webhook, MQTT, HTTP relay). A message is written to the
outputs' durable outbox in the same transaction as its door event, so an event is never
recorded without its messages nor a message sent for an event that was rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from facegate.access.policy import Decision

MessageKind = Literal["decision", "alarm"]  # alarm: a stranger, a blocked person, a spoof


@dataclass(frozen=True, slots=True)
class DoorMessage:
    """One decision (or alarm) for the outputs. ``event_id`` is the door event's id;
    ``captured`` the frame's capture time (epoch seconds, the source's clock) so that the
    latency from capture to output can be measured; ``alarm`` names the alarm for alarms
    (``stranger``, ``blocked``, ``spoof``)."""

    event_id: int
    kind: MessageKind
    door: str
    camera: str
    direction: str
    at: datetime  # aware, UTC: when the decision was made
    decision: Decision
    reason: str
    person_id: int | None = None
    person_name: str | None = None
    score: float | None = None
    liveness: str | None = None
    alarm: str | None = None
    captured: float | None = None

    def as_payload(self) -> dict[str, Any]:
        """The JSON body every output sends (a delivery id is added by the outbox)."""
        return {
            "kind": self.kind,
            "event_id": self.event_id,
            "door": self.door,
            "camera": self.camera,
            "direction": self.direction,
            "at": self.at.isoformat(),
            "decision": self.decision,
            "reason": self.reason,
            "person": None
            if self.person_id is None
            else {"id": self.person_id, "name": self.person_name},
            "score": None if self.score is None else round(self.score, 4),
            "liveness": self.liveness,
            "alarm": self.alarm,
            "captured": self.captured,
        }
