"""Revoking a key closes what it opened: MJPEG viewers and ``/ws/events`` sockets.

A request is authenticated once, when it starts; an MJPEG response or a WebSocket then runs
for hours. ``RevocationWatch`` (one per worker process, on ``app.state.revocations``) keeps
the ids of the keys such long-lived answers were opened with and, while there are any, asks
the key store once every ``period_s`` which of them are still active: one small indexed
query per period for the whole process, run on a worker thread, whatever the number of
viewers. When a key is revoked (or deleted) every answer opened with it sees its event set
and closes. Every worker watches its own connections against the shared database, so a
``facegate keys revoke`` reaches all of them within a period (docs/security.md).

A request made without a key (``--no-auth``) gets an event that is never set. A database
error skips one check (the next one retries) rather than closing anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

from facegate.api.keys import ApiKey, KeyStore

log = logging.getLogger(__name__)


class RevocationWatch:
    """Events set when watched keys stop being active; see the module docstring."""

    def __init__(self, keys: KeyStore, period_s: float = 1.0) -> None:
        self.keys = keys
        self.period_s = period_s
        self._watched: dict[int, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def watch(self, key: ApiKey | None) -> Iterator[asyncio.Event]:
        """An event set once ``key`` is revoked, for as long as the block runs (event loop)."""
        event = asyncio.Event()
        if key is None:
            yield event
            return
        self._watched.setdefault(key.id, set()).add(event)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            yield event
        finally:
            events = self._watched.get(key.id)
            if events is not None:
                events.discard(event)
                if not events:
                    del self._watched[key.id]

    async def _run(self) -> None:
        while self._watched:
            await asyncio.sleep(self.period_s)
            ids = sorted(self._watched)
            if not ids:
                break
            try:
                active = await asyncio.to_thread(self.keys.active_ids, ids)
            except Exception as exc:  # database away: keep serving, check again next period
                log.warning("revocation check failed: %s", type(exc).__name__)
                continue
            for key_id in ids:
                if key_id not in active:
                    for event in self._watched.get(key_id, ()):
                        event.set()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def until_set(parts: AsyncIterator[bytes], stop: asyncio.Event) -> AsyncIterator[bytes]:
    """``parts`` until ``stop`` is set (then the source is closed and iteration ends), so a
    response that waits for its next part still ends when its key is revoked.

    Each part is awaited in a task of its own; whenever this generator ends (source done,
    ``stop`` set, or the client gone and the response cancelled) that task is cancelled, which
    runs the source's own clean-up (a viewer leaving its channel) at once."""
    loop = asyncio.get_running_loop()
    stopper = loop.create_task(stop.wait())
    nxt: asyncio.Future[bytes] | None = None
    try:
        while True:
            nxt = asyncio.ensure_future(parts.__anext__())
            done, _ = await asyncio.wait({nxt, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if nxt not in done:
                return
            try:
                part = nxt.result()
            except StopAsyncIteration:
                return
            nxt = None
            yield part
    finally:
        stopper.cancel()
        if nxt is not None and not nxt.done():
            nxt.cancel()  # the source's finally runs in that task (no await needed here)
        else:
            aclose = getattr(parts, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(RuntimeError, StopAsyncIteration):
                    await aclose()
