"""Sending messages to receivers outside facegate, shared by every outbox that does it.

The attendance webhooks (``facegate.attendance.webhooks``) and the door outputs
(``facegate.access.outputs``) both keep a durable outbox in the database and deliver it from
threads; one place holds what they must do alike, so a receiver verifies both the same way:

- the signature: ``X-Facegate-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>``, with
  ``X-Facegate-Timestamp`` (send time, Unix seconds) and ``X-Facegate-Delivery`` (the delivery
  id: the same on every retry of one message, so a receiver can de-duplicate);
- the retry delay (doubling, capped);
- how an outbox time is stored (sortable text on SQLite) and how due rows are locked;
- what an error is reported as: a short kind (``HTTP 503``, ``ConnectError``), never a URL,
  a header or a body, which may carry secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from facegate.gallery.db import Database

SIGNATURE_HEADER = "X-Facegate-Signature"
TIMESTAMP_HEADER = "X-Facegate-Timestamp"
DELIVERY_HEADER = "X-Facegate-Delivery"
USER_AGENT = "facegate-webhook/1"
MAX_BACKOFF_S = 600.0
MAX_ERROR_CHARS = 200


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does (constant-time compare); used by the tests and the docs."""
    return hmac.compare_digest(sign(secret, body), header)


def backoff_s(attempts: int, base_s: float) -> float:
    """Delay before the next try after ``attempts`` failed ones (doubling, capped)."""
    return float(min(base_s * 2 ** max(attempts - 1, 0), MAX_BACKOFF_S))


def signed_headers(body: bytes, secret: str | None, delivery_id: str) -> dict[str, str]:
    """The headers of a signed JSON POST (unsigned when there is no secret)."""
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(int(time.time())),
        DELIVERY_HEADER: delivery_id,
        "User-Agent": USER_AGENT,
    }
    if secret is not None:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    return headers


def post_signed(
    client: httpx.Client, url: str, body: bytes, secret: str | None, delivery_id: str
) -> str | None:
    """POST ``body`` signed; None when the receiver answered 2xx, else the error's kind."""
    try:
        response = client.post(url, content=body, headers=signed_headers(body, secret, delivery_id))
    except httpx.HTTPError as exc:
        return error_kind(exc)
    return None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"


def error_kind(exc: BaseException) -> str:
    """An exception as a short, secret-free text: its class name only (httpx messages can
    contain the URL, and a URL can carry a token)."""
    return type(exc).__name__[:MAX_ERROR_CHARS]


def quiet_http_logs() -> None:
    """httpx logs every request's URL at INFO; URLs can carry tokens. Keep it to warnings:
    the outboxes log row and event ids themselves."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)


def stored_time(db: Database, value: datetime) -> Any:
    """A datetime as an outbox stores it: on SQLite fixed-width UTC text, so that text order is
    time order; on PostgreSQL the aware datetime."""
    if value.tzinfo is None:
        raise ValueError("outbox times must be timezone-aware")
    utc = value.astimezone(UTC)
    if db.dialect == "sqlite":
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    return utc


def skip_locked(db: Database) -> str:
    """The clause that lets several processes claim due rows at once without waiting on each
    other (PostgreSQL); SQLite's write transactions are serialised anyway."""
    return " FOR UPDATE SKIP LOCKED" if db.dialect == "postgres" else ""
