"""Live view across ``facegate serve --workers N``: each worker answers its peers on loopback.

The browser's requests land on any worker (the kernel spreads connections over the shared
port), but a camera runs in exactly one of them and a TCP client's stream lives in the
worker that accepted it. So each worker runs a tiny relay server on ``127.0.0.1:<any port>``
and announces it in ``<data_dir>/live/peers/<pid>.json`` (port and a random token; mode
0600, so only the account running facegate can use it). A worker answering the browser asks
its peers for what it does not have itself:

- ``stats``: the peer's channels (the ``/live`` list shows every worker's streams);
- ``mjpeg <name>``: the peer registers a viewer on its channel (which starts its camera
  and its annotation) and sends each new frame as a 4-byte length and the JPEG; the asking
  worker relays them to the browser as MJPEG, so frames are still encoded once, by the
  owner, however many workers and viewers there are.

Recognition events are not relayed: every worker reads every worker's (and every host's) from
the live event log (facegate.live.event_log).

A request is one JSON line ``{"token", "op", "name"}``; the answer starts with a JSON line
``{"ok": true|false}``. Peer files of processes that are gone are removed by whoever finds
them. This keeps the workers independent (no shared memory, no broker) and makes a worker's
death cost only the streams it owned, which other workers then take over.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import struct
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

from facegate.live.hub import LiveHub, TooManyViewers

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 2.0
MAX_LINE = 4096
MAX_FRAME = 32 * 1024 * 1024
_LEN = struct.Struct(">I")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Relay:
    """This worker's relay server and its client side towards the peers."""

    def __init__(self, directory: Path, hub: LiveHub, frame_wait_s: float):
        self.directory = directory
        self.hub = hub
        self.frame_wait_s = frame_wait_s
        self.token = secrets.token_urlsafe(24)
        self.pid = os.getpid()
        self._server: asyncio.Server | None = None
        self._file = directory / f"{self.pid}.json"
        self._handlers: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"pid": self.pid, "port": port, "token": self.token}, f)
        log.info("live relay of process %d on 127.0.0.1:%d", self.pid, port)

    async def stop(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._file.unlink()
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)

    # -- serving peers -----------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            line = await asyncio.wait_for(reader.readline(), CONNECT_TIMEOUT_S)
            request = json.loads(line[:MAX_LINE] or b"{}")
            if not secrets.compare_digest(str(request.get("token", "")), self.token):
                return
            op = request.get("op")
            if op == "stats":
                writer.write(json.dumps({"ok": True, "streams": self._stats()}).encode() + b"\n")
            elif op == "mjpeg":
                await self._send_frames(str(request.get("name", "")), reader, writer)
            await writer.drain()
        except (ConnectionError, TimeoutError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            if task is not None:
                self._handlers.discard(task)

    def _stats(self) -> list[dict[str, Any]]:
        return [dict(s, worker=self.pid) for s in self.hub.stats()]

    async def _send_frames(
        self, name: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        channel = self.hub.get(name)
        try:
            viewer = channel.add_viewer() if channel is not None else None
        except TooManyViewers:
            viewer = None
        writer.write(json.dumps({"ok": viewer is not None}).encode() + b"\n")
        if channel is None or viewer is None:
            return
        gone = asyncio.get_running_loop().create_task(reader.read(1))  # EOF: the peer left
        try:
            while not gone.done():
                jpeg = await channel.next_frame(viewer, self.frame_wait_s)
                if jpeg is None:
                    if channel.closed or viewer.dropped:
                        return
                    continue
                writer.write(_LEN.pack(len(jpeg)) + jpeg)
                await writer.drain()
        finally:
            gone.cancel()
            channel.remove_viewer(viewer)

    # -- asking peers ------------------------------------------------------------------------

    def peers(self) -> list[dict[str, Any]]:
        """The other live workers' relay addresses (stale files are removed)."""
        found = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                info = json.loads(path.read_text())
                pid = int(info["pid"])
            except (OSError, ValueError, KeyError):
                continue
            if pid == self.pid:
                continue
            if not _alive(pid):
                with contextlib.suppress(OSError):
                    path.unlink()
                continue
            found.append(info)
        return found

    async def _open(
        self, peer: dict[str, Any], op: str, name: str = ""
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, dict[str, Any]]:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", int(peer["port"])), CONNECT_TIMEOUT_S
        )
        request = {"token": peer["token"], "op": op, "name": name}
        writer.write(json.dumps(request).encode() + b"\n")
        await writer.drain()
        head = json.loads(await asyncio.wait_for(reader.readline(), CONNECT_TIMEOUT_S) or b"{}")
        return reader, writer, head

    async def peer_stats(self) -> list[dict[str, Any]]:
        async def one(peer: dict[str, Any]) -> list[dict[str, Any]]:
            try:
                _, writer, head = await self._open(peer, "stats")
                writer.close()
                return list(head.get("streams", []))
            except (OSError, TimeoutError, ValueError):
                return []

        results = await asyncio.gather(*(one(p) for p in self.peers()))
        return [s for streams in results for s in streams]

    async def peer_frames(self, name: str) -> AsyncGenerator[bytes, None] | None:
        """Frames of ``name`` from whichever peer has it; None when none does."""
        for peer in self.peers():
            try:
                reader, writer, head = await self._open(peer, "mjpeg", name)
            except (OSError, TimeoutError, ValueError):
                continue
            if head.get("ok"):
                return _frames(reader, writer)
            writer.close()
        return None


async def _frames(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> AsyncGenerator[bytes, None]:
    try:
        while True:
            (length,) = _LEN.unpack(await reader.readexactly(_LEN.size))
            if length > MAX_FRAME:
                return
            yield await reader.readexactly(length)
    except (asyncio.IncompleteReadError, ConnectionError):
        return
    finally:
        writer.close()
