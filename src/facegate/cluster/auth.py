"""Node-to-node authentication: short-lived node tokens signed with the cluster secret.

Hosts of one cluster call each other's internal live endpoints (a host proxies another
host's MJPEG and events). They share nothing but the database, so the secret lives there:
one row of ``cluster_secret`` (migration 13), made on first use by whichever node comes
first (``INSERT ... ON CONFLICT DO NOTHING`` then read back, so every node ends up with the
same one). It is never logged, never in an API answer and not in a backup.

A node token is ``<node id>.<expiry unix seconds>.<hex HMAC-SHA256(secret, "node.expiry")>``,
sent in the ``X-Facegate-Node`` header. It lives ``TOKEN_TTL_S`` (a minute: hosts must keep
their clocks within that of each other, which NTP does by far); the caller makes a fresh one
per request, so a leaked token is worthless a minute later. The internal endpoints accept a
valid node token *or* an ordinary API key with the route's scope.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable

from facegate.gallery.db import Database

HEADER = "X-Facegate-Node"
TOKEN_TTL_S = 60.0
_MAX_TOKEN = 512


class NodeTokens:
    """Issue and check node tokens with the cluster secret (read once per process)."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self._clock = clock
        self._secret: bytes | None = None
        self._lock = threading.Lock()

    def _key(self) -> bytes:
        """The cluster secret (blocking on first use: a database round trip)."""
        with self._lock:
            if self._secret is None:
                with self.db.write() as tx:
                    tx.execute(
                        "INSERT INTO cluster_secret (id, secret) VALUES (1, ?) "
                        "ON CONFLICT (id) DO NOTHING",
                        (secrets.token_hex(32),),
                    )
                    row = tx.execute("SELECT secret FROM cluster_secret WHERE id = 1")
                self._secret = bytes.fromhex(row[0][0])
            return self._secret

    def _mac(self, body: str) -> str:
        return hmac.new(self._key(), body.encode(), hashlib.sha256).hexdigest()

    def issue(self, node: str, ttl_s: float = TOKEN_TTL_S) -> str:
        """A token naming ``node`` that expires ``ttl_s`` from now."""
        body = f"{node}.{int(self._clock() + ttl_s)}"
        return f"{body}.{self._mac(body)}"

    def verify(self, token: str | None) -> str | None:
        """The node a valid, unexpired token names; None otherwise."""
        if not token or len(token) > _MAX_TOKEN:
            return None
        body, _, mac = token.rpartition(".")
        node, _, expiry = body.rpartition(".")
        if not node or not expiry.isdigit():
            return None
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        if int(expiry) < self._clock() or int(expiry) > self._clock() + 2 * TOKEN_TTL_S:
            return None
        return node
