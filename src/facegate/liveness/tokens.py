"""Challenge tokens for the HTTP liveness check: signed, expiring, single use, stateless.

``POST /api/v1/liveness/challenge`` answers a token; ``POST /api/v1/liveness/verify`` brings
it back with the frames. With ``facegate serve --workers N`` the two requests may reach
different worker processes, so nothing is kept in a worker's memory: the token itself
carries the challenge (a random nonce, the steps, the issue and expiry times) and an
HMAC-SHA256 over it, keyed by a secret that every worker reads from the database (made by the
first worker that needs it). The verifier checks the signature (``invalid_token``), the
expiry (``token_expired``) and then spends the nonce by inserting it into
``liveness_tokens_used``, whose primary key makes a second use fail (``token_used``) even
when two workers race. Spent nonces are pruned once their tokens have expired.

Token format: ``base64url(JSON claims) "." base64url(HMAC)``; the claims hold nothing
secret and nothing about a person.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from facegate.errors import InvalidToken, TokenExpired, TokenUsed
from facegate.gallery.db import Database
from facegate.liveness.challenge import DIRECTIONS, Direction

_MAX_TOKEN_CHARS = 1024


@dataclass(frozen=True, slots=True)
class Claims:
    """What a token promises: this nonce's challenge is ``steps``, issued and expiring at
    these Unix times; ``timeout_s`` is the time the person has for the steps."""

    nonce: str
    steps: tuple[Direction, ...]
    issued: float
    expires: float
    timeout_s: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ChallengeTokens:
    """Issues and redeems tokens against one database (both dialects)."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self._clock = clock
        self._secret: bytes | None = None
        self._lock = threading.Lock()

    def _now(self) -> float:
        return float(self._clock())

    def _key(self) -> bytes:
        with self._lock:
            if self._secret is None:
                with self.db.write() as tx:
                    tx.execute(
                        "INSERT INTO liveness_secret (id, secret) VALUES (1, ?) "
                        "ON CONFLICT (id) DO NOTHING",
                        (secrets.token_hex(32),),
                    )
                    row = tx.execute("SELECT secret FROM liveness_secret WHERE id = 1")
                self._secret = bytes.fromhex(row[0][0])
            return self._secret

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._key(), body, hashlib.sha256).digest()

    def issue(
        self, steps: tuple[Direction, ...], timeout_s: float, grace_s: float
    ) -> tuple[str, Claims]:
        """A token for ``steps``; it expires ``timeout_s + grace_s`` from now (the grace
        covers uploading the frames)."""
        now = self._now()
        claims = Claims(secrets.token_hex(16), steps, now, now + timeout_s + grace_s, timeout_s)
        body = json.dumps(
            {
                "n": claims.nonce,
                "s": list(steps),
                "i": round(now, 3),
                "e": round(claims.expires, 3),
                "t": timeout_s,
            },
            separators=(",", ":"),
        ).encode()
        return f"{_b64(body)}.{_b64(self._sign(body))}", claims

    def check(self, token: object) -> Claims:
        """The claims of a genuine, unexpired token (not spent yet: see ``redeem``)."""
        if not isinstance(token, str) or not 0 < len(token) <= _MAX_TOKEN_CHARS:
            raise InvalidToken("token must be the string from POST /api/v1/liveness/challenge")
        try:
            body_text, mac_text = token.split(".")
            body, mac = _unb64(body_text), _unb64(mac_text)
        except (ValueError, binascii.Error):
            raise InvalidToken("malformed challenge token") from None
        if not hmac.compare_digest(mac, self._sign(body)):
            raise InvalidToken("challenge token signature does not match")
        try:
            raw = json.loads(body)
            steps = tuple(raw["s"])
            claims = Claims(str(raw["n"]), steps, float(raw["i"]), float(raw["e"]), float(raw["t"]))
        except (ValueError, KeyError, TypeError):
            raise InvalidToken("malformed challenge token") from None
        if not steps or any(s not in DIRECTIONS for s in steps):
            raise InvalidToken("malformed challenge token")
        if self._now() > claims.expires:
            raise TokenExpired("the challenge expired; ask for a new one")
        return claims

    def redeem(self, token: object) -> Claims:
        """Check ``token`` and spend it: a second redeem of the same token fails."""
        claims = self.check(token)
        now = datetime.fromtimestamp(self._now(), UTC)
        expires = datetime.fromtimestamp(claims.expires, UTC)
        try:
            with self.db.write() as tx:
                tx.execute(
                    "DELETE FROM liveness_tokens_used WHERE expires_at < ?",
                    (self.db.to_db_time(now),),
                )
                tx.execute(
                    "INSERT INTO liveness_tokens_used (nonce, expires_at, used_at) "
                    "VALUES (?, ?, ?)",
                    (claims.nonce, self.db.to_db_time(expires), self.db.to_db_time(now)),
                )
        except Exception as error:
            if self.db.is_unique_violation(error):
                raise TokenUsed("this challenge token was already used") from None
            raise
        return claims
