"""API key look-ups that never block the event loop and hit the database at most once a second.

Every authenticated request looks its key up in the gallery database; done on the event loop
that stalls every other client for the length of a query (and far longer when SQLite is busy
or PostgreSQL is far away). ``CachedKeyStore`` is the ``KeyStore`` with two additions:

- ``authenticate_async`` runs the look-up on a worker thread;
- answers (including "unknown key") are remembered for ``ttl_s`` (1 s) under the key's
  SHA-256, never the secret itself, so a burst of requests costs one query. A revocation, even
  by another process (``facegate keys revoke``), is therefore seen within ``ttl_s``.

The cache holds at most ``max_entries``; when full it is emptied (a flood of random keys
costs queries, never memory).

While the database is unreachable (``DatabaseUnavailable``) an answer up to ``outage_grace_s``
old is still used (the gallery's ``gallery_max_staleness_s``: recognition from memory must
not be refused at the door of the API first); older, the request is refused with 503. A
revocation cannot be written during an outage anyway (docs/cluster.md).
"""

from __future__ import annotations

import threading
import time

import anyio.to_thread

from facegate.api.keys import ApiKey, KeyStore, hash_key
from facegate.errors import DatabaseUnavailable
from facegate.gallery.db import Database


class CachedKeyStore(KeyStore):
    """A ``KeyStore`` whose ``authenticate`` answers from a short-lived cache."""

    def __init__(
        self,
        db: Database,
        *,
        ttl_s: float = 1.0,
        max_entries: int = 4096,
        outage_grace_s: float = 10.0,
    ) -> None:
        super().__init__(db)
        self.ttl_s = ttl_s
        self.outage_grace_s = outage_grace_s
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}

    def _cached(self, digest: str, max_age_s: float | None = None) -> tuple[bool, ApiKey | None]:
        with self._lock:
            hit = self._cache.get(digest)
        limit = self.ttl_s if max_age_s is None else max_age_s
        if hit is None or time.monotonic() - hit[0] > limit:
            return False, None
        return True, hit[1]

    def _remember(self, digest: str, key: ApiKey | None) -> None:
        with self._lock:
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
            self._cache[digest] = (time.monotonic(), key)

    def authenticate(self, secret: str) -> ApiKey | None:
        """As ``KeyStore.authenticate``, answered from the cache when it is fresh (blocking:
        call it from a thread, or use ``authenticate_async``)."""
        digest = hash_key(secret)
        found, key = self._cached(digest)
        if found:
            return key
        try:
            key = super().authenticate(secret)
        except DatabaseUnavailable:
            found, key = self._cached(digest, self.outage_grace_s)
            if found:
                return key
            raise
        self._remember(digest, key)
        return key

    async def authenticate_async(self, secret: str) -> ApiKey | None:
        """``authenticate`` for async code: a fresh cache entry answers at once, otherwise
        the database is asked on a worker thread."""
        found, key = self._cached(hash_key(secret))
        if found:
            return key
        return await anyio.to_thread.run_sync(self.authenticate, secret)

    def revoke(self, key_id: int) -> ApiKey:
        """Revoke and forget every cached answer, so this process sees it at once."""
        key = super().revoke(key_id)
        with self._lock:
            self._cache.clear()
        return key
