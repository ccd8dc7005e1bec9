"""The HTTP relay: a request that pulses a door's lock when access is granted.

A late door opening is worse than none: the person has gone and the door opens for whoever is
there. So a relay message carries a deadline (``expires_at``: ``access_relay_deadline_s``
after the decision was recorded) and is never sent after it, not even a first time (a
dispatcher that was down finds it expired). Within the deadline a request is repeated only when
it surely never reached the relay: the connection was refused or could not be made
(``ConnectError``, ``ConnectTimeout``). Anything else (a read timeout, a broken answer, an HTTP
error) may have pulsed the door already and is recorded as failed, never repeated.

The body (and the URL) may use placeholders, replaced by the message's values: ``{door}``,
``{camera}``, ``{direction}``, ``{person_id}``, ``{person_name}``, ``{event_id}``,
``{decision}``, ``{reason}``, ``{at}``, ``{delivery_id}`` and ``{pulse_ms}``; in the URL the
values are percent-encoded. Other ``{...}`` text is left as it is.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from facegate.access.outputs import RelayOutput
from facegate.access.outputs.outbox import DELIVERED, Delivery, Outcome
from facegate.delivery import backoff_s, error_kind
from facegate.gallery.db import utcnow

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
FIRST_RETRY_S = 0.1  # then 0.2, 0.4, ... while the deadline allows
_SAFE_TO_REPEAT = (httpx.ConnectError, httpx.ConnectTimeout)


def relay_values(payload: dict[str, Any], pulse_ms: int) -> dict[str, str]:
    """The placeholder values of one message."""
    person = payload.get("person") or {}
    raw = {
        "door": payload.get("door"),
        "camera": payload.get("camera"),
        "direction": payload.get("direction"),
        "person_id": person.get("id"),
        "person_name": person.get("name"),
        "event_id": payload.get("event_id"),
        "decision": payload.get("decision"),
        "reason": payload.get("reason"),
        "at": payload.get("at"),
        "delivery_id": payload.get("delivery_id"),
        "pulse_ms": pulse_ms,
    }
    return {k: "" if v is None else str(v) for k, v in raw.items()}


def render(template: str, values: dict[str, str], *, encode: bool = False) -> str:
    """``template`` with its known placeholders replaced (nothing else is evaluated)."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        return quote(values[name], safe="") if encode else values[name]

    return _PLACEHOLDER.sub(one, template)


def send_relay(
    client: httpx.Client,
    delivery: Delivery,
    *,
    now: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Pulse the relay once, repeating only a request that cannot have arrived, and only
    before the deadline. Never returns ``retry``: a relay message is settled by this call."""
    config = RelayOutput.model_validate(delivery.config)
    deadline = delivery.expires_at
    if deadline is None:  # not written by this outbox: refuse rather than risk a late pulse
        return Outcome("failed", "relay message without a deadline", tries=0)
    values = relay_values(json.loads(delivery.payload), config.pulse_ms)
    url = render(config.url, values, encode=True)
    body = None if config.body is None else render(config.body, values).encode()
    headers = {name: value.get_secret_value() for name, value in config.headers.items()}
    tries = 0
    error = ""
    while True:
        left = (deadline - now()).total_seconds()
        if left <= 0:
            why = f"{error}; deadline passed" if tries else "expired: not sent after the deadline"
            return Outcome("failed", why, tries=tries)
        tries += 1
        timeout = httpx.Timeout(config.timeout_s, connect=min(config.timeout_s, left))
        try:
            response = client.request(
                config.method, url, content=body, headers=headers, timeout=timeout
            )
        except _SAFE_TO_REPEAT as exc:  # nothing reached the relay: may try again in time
            error = error_kind(exc)
            delay = backoff_s(tries, FIRST_RETRY_S)
            if (deadline - now()).total_seconds() <= delay:
                return Outcome("failed", f"{error}; deadline passed", tries=tries)
            sleep(delay)
            continue
        except httpx.HTTPError as exc:  # it may have pulsed: never repeated
            return Outcome("failed", error_kind(exc), tries=tries)
        if 200 <= response.status_code < 300:
            return Outcome(DELIVERED.state, tries=tries)
        return Outcome("failed", f"HTTP {response.status_code}", tries=tries)
