"""Door webhooks: the message's JSON POSTed, signed and retried like the attendance webhooks.

The body is the outbox row's payload, byte for byte on every retry (so the signature and the
``delivery_id`` inside it stay the same); ``webhook-id`` (Standard Webhooks) and the
deprecated ``X-Facegate-Delivery`` header repeat the delivery id. Signature, headers and
backoff are ``facegate.delivery``'s, shared with the attendance webhooks, so a receiver
verifies both alike.
"""

from __future__ import annotations

import httpx

from facegate.access.outputs.outbox import DELIVERED, Delivery, Outcome
from facegate.delivery import backoff_s, post_signed


def send_webhook(
    client: httpx.Client, delivery: Delivery, *, max_attempts: int, backoff_base_s: float
) -> Outcome:
    """POST one delivery; a failure is retried with backoff until ``max_attempts``."""
    secret = delivery.config.get("secret")
    error = post_signed(
        client,
        str(delivery.config["url"]),
        delivery.payload.encode(),
        None if secret is None else str(secret),
        delivery.delivery_id,
    )
    if error is None:
        return DELIVERED
    if delivery.attempts >= max_attempts:
        return Outcome("failed", f"{error}; gave up after {delivery.attempts} attempts")
    return Outcome("retry", error, backoff_s(delivery.attempts, backoff_base_s))
