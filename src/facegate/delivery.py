"""Sending messages to receivers outside facegate, shared by every outbox that does it.

The attendance webhooks (``facegate.attendance.webhooks``) and the door outputs
(``facegate.access.outputs``) both keep a durable outbox in the database and deliver it from
threads; one place holds what they must do alike, so a receiver verifies both the same way:

- the signature, per Standard Webhooks (https://www.standardwebhooks.com):
  ``webhook-id`` (the message id: the same on every retry, so a receiver can de-duplicate),
  ``webhook-timestamp`` (send time, Unix seconds) and
  ``webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>``, where the key
  is the base64-decoded rest of a ``whsec_``-prefixed secret, else the secret's UTF-8 bytes;
- deprecated, kept for receivers written before (docs/cluster.md): ``X-Facegate-Signature:
  sha256=<hex HMAC-SHA256(secret, raw body)>`` (the timestamp is *not* signed),
  ``X-Facegate-Timestamp`` and ``X-Facegate-Delivery`` (the delivery id);
- the retry delay (doubling, capped);
- how an outbox time is stored (sortable text on SQLite) and how due rows are locked;
- which clock decides: the database's (:class:`DbClock`), never a host's own, so a host whose
  clock runs ahead cannot take over a row another host has leased (a double send);
- what an error is reported as: a short kind (``HTTP 503``, ``ConnectError``), never a URL,
  a header or a body, which may carry secrets.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from facegate.gallery.db import Database, Tx, db_now, utcnow

WEBHOOK_ID_HEADER = "webhook-id"
WEBHOOK_TIMESTAMP_HEADER = "webhook-timestamp"
WEBHOOK_SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"
# Deprecated (the body is signed but not the timestamp): kept for existing receivers.
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


def secret_key(secret: str) -> bytes:
    """The HMAC key of a secret: ``whsec_<base64>`` decodes to its bytes (Standard Webhooks),
    anything else is used as UTF-8 text."""
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
        except (binascii.Error, ValueError):
            pass  # not base64 after all: the text itself is the key
    return secret.encode()


def sign_v1(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256(key, id.timestamp.body)>``."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_v1(
    secret: str,
    headers: dict[str, str],
    body: bytes,
    *,
    tolerance_s: float = 300.0,
    now: Callable[[], float] = time.time,
) -> bool:
    """What a Standard Webhooks receiver does: a ``v1`` signature over id, timestamp and body
    matches (constant time) and the timestamp is within ``tolerance_s`` (replay guard)."""
    lower = {k.lower(): v for k, v in headers.items()}
    webhook_id = lower.get(WEBHOOK_ID_HEADER)
    stamp = lower.get(WEBHOOK_TIMESTAMP_HEADER, "")
    if webhook_id is None or not stamp.isdigit():
        return False
    if abs(now() - int(stamp)) > tolerance_s:
        return False
    expected = sign_v1(secret, webhook_id, int(stamp), body)
    return any(
        hmac.compare_digest(expected, candidate)
        for candidate in lower.get(WEBHOOK_SIGNATURE_HEADER, "").split(" ")
    )


def backoff_s(attempts: int, base_s: float) -> float:
    """Delay before the next try after ``attempts`` failed ones (doubling, capped)."""
    return float(min(base_s * 2 ** max(attempts - 1, 0), MAX_BACKOFF_S))


def signed_headers(
    body: bytes,
    secret: str | None,
    delivery_id: str,
    webhook_id: str | None = None,
    *,
    timestamp: int | None = None,
) -> dict[str, str]:
    """The headers of a signed JSON POST (unsigned when there is no secret). ``webhook_id``
    (default: the delivery id) must be the same on every retry of one message."""
    stamp = int(time.time()) if timestamp is None else timestamp
    message_id = webhook_id or delivery_id
    headers = {
        "Content-Type": "application/json",
        WEBHOOK_ID_HEADER: message_id,
        WEBHOOK_TIMESTAMP_HEADER: str(stamp),
        TIMESTAMP_HEADER: str(stamp),
        DELIVERY_HEADER: delivery_id,
        "User-Agent": USER_AGENT,
    }
    if secret is not None:
        headers[WEBHOOK_SIGNATURE_HEADER] = sign_v1(secret, message_id, stamp, body)
        headers[SIGNATURE_HEADER] = sign(secret, body)
    return headers


def post_signed(
    client: httpx.Client,
    url: str,
    body: bytes,
    secret: str | None,
    delivery_id: str,
    webhook_id: str | None = None,
) -> str | None:
    """POST ``body`` signed; None when the receiver answered 2xx, else the error's kind."""
    headers = signed_headers(body, secret, delivery_id, webhook_id)
    try:
        response = client.post(url, content=body, headers=headers)
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


class DbClock:
    """The database's clock as this host sees it, for every lease and due-time decision.

    ``sync(tx)`` reads the database's ``now()`` inside a transaction that runs anyway (the
    claim) and remembers its offset from the host clock; ``now()`` applies that offset to the
    host clock in between, without a round trip. ``host`` is injectable (tests skew it)."""

    def __init__(self, db: Database, host: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.host = host
        self.offset = timedelta(0)

    def sync(self, tx: Tx) -> datetime:
        """The database's time now (inside ``tx``), remembering the host clock's offset."""
        if self.db.dialect == "sqlite":
            return self.now()  # one host, one clock
        now = db_now(self.db, tx)
        self.offset = now - self.host()
        return now

    def now(self) -> datetime:
        return self.host() + self.offset
