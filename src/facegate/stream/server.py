"""The asyncio TCP stream server: many clients, one shared inference pool, fair turns.

``StreamServer`` accepts connections and gives each a ``Session`` (session.py: reading,
sending, timeouts, errors). After a valid HELLO the session gets a ``StreamPipeline``
(pipeline.py: one-frame slot, tracking, recognition) registered with the server's
``FairScheduler`` (scheduler.py), which runs frames on ``services.inference`` round robin,
one job per stream at a time. The event loop itself never runs model work.

Authentication is pluggable: the constructor takes a ``KeyVerifier`` (API key → scopes), so
the HTTP API's key store can be wired in without this package importing it; ``AllowAll`` is
for ``--no-auth`` and benchmarks. Every ``stream_key_recheck_s`` the keys of the connected
streams are verified again (off the loop), so revoking a key ends its streams within seconds.
Connections are admitted by ``Admission`` (admission.py): until its HELLO is accepted a
connection is pending, and pending connections are capped in total and per address.

Start it from ``facegate serve`` with::

    server = StreamServer(services, settings.stream.host, settings.stream.port,
                          limits_from_settings(settings), verifier=...)
    await server.start()   # on the same event loop as the HTTP server
    ...
    await server.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import Counter
from collections.abc import Callable
from typing import Protocol

from facegate import __version__
from facegate.cluster.service import ClusterNode
from facegate.config import Settings
from facegate.limits import FD_RESERVE, raise_open_files_limit
from facegate.services import Services
from facegate.stream.admission import Admission, AdmissionLimits, Ticket
from facegate.stream.pipeline import StreamPipeline, TrackObserver, stream_processor
from facegate.stream.protocol import Bye, ErrorCode, Hello, Limits, ProtocolError, Welcome, encode
from facegate.stream.scheduler import FairScheduler
from facegate.stream.session import Session
from facegate.stream.stats import StreamStats
from facegate.stream.tracker import TrackerParams

log = logging.getLogger(__name__)
STREAM_SCOPE = "recognize"  # what a key needs to open a stream


class KeyVerifier(Protocol):
    """Turns an API key into its scopes; None for an unknown or revoked key.

    Called on a worker thread (it may query a database): at HELLO, and again every
    ``stream_key_recheck_s`` for each key of a connected stream.
    """

    def verify(self, key: str) -> set[str] | None: ...


class StreamRegistry(Protocol):
    """Told when a greeted stream starts and ends (the live view lists and watches them)."""

    def stream_attached(self, key: str, name: str, peer: str, pipeline: StreamPipeline) -> None: ...

    def stream_detached(self, key: str) -> None: ...


class AllowAll:
    """Every key is accepted with every scope: for ``--no-auth``, tests and benchmarks."""

    def verify(self, key: str) -> set[str] | None:
        return {"recognize", "monitor", "checkin", "admin"}


def limits_from_settings(settings: Settings) -> Limits:
    """The protocol limits a server announces, from the ``stream_*`` settings."""
    return Limits(
        max_payload_bytes=settings.stream.max_payload_bytes,
        max_frame_width=settings.stream.max_frame_width,
        max_frame_height=settings.stream.max_frame_height,
        hello_timeout_s=settings.stream.hello_timeout_s,
        idle_timeout_s=settings.stream.idle_timeout_s,
        message_timeout_s=settings.stream.message_timeout_s,
    )


class StreamServer:
    """Serves the stream protocol (docs/protocol.md) on one TCP port."""

    def __init__(
        self,
        services: Services,
        host: str | None = None,
        port: int | None = None,
        limits: Limits | None = None,
        *,
        verifier: KeyVerifier,
        tracker_params: TrackerParams | None = None,
        reuse_port: bool = False,
        observer_for: Callable[[str], TrackObserver] | None = None,
    ) -> None:
        s: Settings = services.settings
        self.services = services
        self.host = s.stream.host if host is None else host
        self._port = s.stream.port if port is None else port
        self.limits = limits or limits_from_settings(s)
        self.verifier = verifier
        self.reuse_port = reuse_port  # several worker processes on one port
        # stream name -> what sees each frame's tracks; by default the process's registry
        # (facegate.observers: the recognition-event announcer, door watchers, ...)
        self.observer_for = observer_for  # None: the registry, with the session's prompt
        self.tracker_params = tracker_params or TrackerParams(reembed_every=s.stream.reembed_every)
        self.max_clients = s.stream.max_clients
        self.send_queue = s.stream.send_queue
        self.too_slow_drops = s.stream.too_slow_drops
        self.max_age_s = s.stream.max_frame_age_ms / 1000.0
        self.scheduler = FairScheduler(services.inference)
        self._server: asyncio.Server | None = None
        self._sessions: dict[str, Session] = {}  # greeted streams
        self._connections: set[asyncio.Task[None]] = set()
        self.errors_sent: Counter[str] = Counter()  # fatal errors by code, since start
        self.admission = Admission(
            AdmissionLimits(
                max_pending=s.stream.max_pending,
                max_pending_per_address=s.stream.max_pending_per_address,
                max_connections=s.stream.max_clients + s.stream.max_pending,
            )
        )
        self._tickets: dict[str, Ticket] = {}  # session id -> its admission, while open
        self.key_recheck_s = s.stream.key_recheck_s
        self._rechecker: asyncio.Task[None] | None = None
        self._names: asyncio.Task[None] | None = None
        self.live: StreamRegistry | None = None  # set by the live view (facegate.live)

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with port 0)."""
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    async def start(self) -> None:
        open_files = raise_open_files_limit()
        wanted = self.admission.limits.max_connections + FD_RESERVE
        if open_files < wanted:
            log.warning(
                "open files limit %d is below the %d the stream port's caps need "
                "(stream_max_clients + stream_max_pending + %d): raise it or lower them",
                open_files, wanted, FD_RESERVE,
            )  # fmt: skip
        self._server = await asyncio.start_server(
            self._accept, self.host, self._port, reuse_port=self.reuse_port or None
        )
        self._rechecker = asyncio.get_running_loop().create_task(self._recheck_keys_forever())
        self._names = asyncio.get_running_loop().create_task(self._keep_names())
        log.info("stream server listening on %s:%d", self.host, self.port)

    async def _keep_names(self) -> None:
        """Heartbeat the cluster-wide names of this process's streams (facegate.cluster): a
        name whose heartbeat stops (its host died) is free again after the node timeout."""
        cluster = self.services.cluster
        if cluster is None:
            return
        while True:
            await asyncio.sleep(cluster.timings.renew_s)
            try:
                await asyncio.to_thread(cluster.heartbeat_streams)
            except Exception as exc:
                log.warning("stream names: heartbeat failed (%s)", type(exc).__name__)

    async def stop(self) -> None:
        """Stop accepting, say BYE to every client, drop waiting frames, close."""
        if self._server is not None:
            self._server.close()
        if self._rechecker is not None:
            self._rechecker.cancel()
            self._rechecker = None
        if self._names is not None:
            self._names.cancel()
            self._names = None
        for session in list(self._sessions.values()):
            await session.close(Bye("server shutting down"))
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        await self.scheduler.close()
        cluster = self.services.cluster
        if cluster is not None:  # names of sessions cut short by the shutdown
            with contextlib.suppress(Exception):
                await asyncio.to_thread(cluster.release_all_streams)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> StreamServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- connections -------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            ticket = self.admission.admit(writer.get_extra_info("peername"))
        except ProtocolError as exc:
            self._refuse(writer, exc)
            return
        session = Session(self, reader, writer, secrets.token_hex(6))
        self._tickets[session.id] = ticket
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await session.run()
        except asyncio.CancelledError:
            await session.close()
        finally:
            self._connections.discard(task)
            self._tickets.pop(session.id, ticket).release()

    def _refuse(self, writer: asyncio.StreamWriter, exc: ProtocolError) -> None:
        """Turn a connection away at accept: one small ERROR, then close; nothing is read and
        nothing waits (the transport flushes the few bytes and closes by itself)."""
        self.errors_sent[exc.code] += 1
        with contextlib.suppress(Exception):
            writer.write(encode(exc.to_message(), self.limits))
            writer.close()

    def key_may_stream(self, api_key: str) -> bool:
        """The one rule for who may stream: a known key with the ``recognize`` scope. Blocking
        (the verifier may query a database): called on a worker thread."""
        scopes = self.verifier.verify(api_key)
        return scopes is not None and STREAM_SCOPE in scopes

    def attach(self, session: Session, hello: Hello) -> StreamPipeline:
        """A pipeline for a greeted session (``busy`` when the server is full)."""
        if len(self._sessions) >= self.max_clients:
            raise ProtocolError(ErrorCode.BUSY, f"{self.max_clients} streams already connected")
        processor = stream_processor(
            self.services,
            hello.stream,
            max_width=self.limits.max_frame_width,
            max_height=self.limits.max_frame_height,
            annotate=hello.annotate,
            tracker_params=self.tracker_params,
            observer=self.services.observers.for_stream(hello.stream, session.prompt)
            if self.observer_for is None
            else self.observer_for(hello.stream),
        )
        pipeline = StreamPipeline(processor, session.deliver, max_age_s=self.max_age_s)
        self._sessions[session.id] = session
        if (ticket := self._tickets.get(session.id)) is not None:
            ticket.greeted()  # no longer pending
        self.scheduler.add(pipeline)
        if self.live is not None:
            self.live.stream_attached(session.id, hello.stream, session.peer, pipeline)
        log.info("stream %s connected from %s (session %s)", hello.stream, session.peer, session.id)
        return pipeline

    def detach(self, session: Session) -> None:
        if self._sessions.pop(session.id, None) is not None and session.pipeline is not None:
            self.scheduler.remove(session.pipeline)
            if self.live is not None:
                self.live.stream_detached(session.id)
            log.info("stream %s disconnected (session %s)", session.stats.stream, session.id)

    def welcome(self, session_id: str) -> Welcome:
        return Welcome(session_id, __version__, self.limits, None)

    def stream_names(self) -> ClusterNode | None:
        return self.services.cluster

    # -- revocation --------------------------------------------------------------------------

    async def _recheck_keys_forever(self) -> None:
        while True:
            await asyncio.sleep(self.key_recheck_s)
            try:
                await self.recheck_keys()
            except Exception:  # a bug here must not stop later checks
                log.exception("stream key re-check failed")

    async def recheck_keys(self) -> int:
        """Verify the key of every connected stream again (each distinct key once, on a
        worker thread) and end the streams whose key is no longer allowed to stream with a
        fatal ERROR ``unauthorized``; returns how many were ended. A key whose check fails
        (e.g. the database is unreachable) keeps its streams until a later check answers."""
        by_key: dict[str, list[Session]] = {}
        for session in self._sessions.values():
            if session.hello is not None:
                by_key.setdefault(session.hello.api_key, []).append(session)
        if not by_key:
            return 0
        allowed = await asyncio.to_thread(self._still_allowed, list(by_key))
        doomed = [s for ok, group in zip(allowed, by_key.values(), strict=True) if not ok
                  for s in group]  # fmt: skip
        exc = ProtocolError(ErrorCode.UNAUTHORIZED, "API key revoked or no longer allowed")
        for session in doomed:
            log.info("stream session %s: key no longer valid, closing", session.id)
        await asyncio.gather(*(s.fail(exc) for s in doomed))
        return len(doomed)

    def _still_allowed(self, keys: list[str]) -> list[bool]:
        """On a worker thread: whether each key may still stream (True when unsure)."""
        out: list[bool] = []
        for key in keys:
            try:
                out.append(self.key_may_stream(key))
            except Exception as exc:  # never log the key itself
                log.warning("stream key re-check could not verify a key: %s", type(exc).__name__)
                out.append(True)
        return out

    # -- metrics -----------------------------------------------------------------------------

    def stats(self) -> list[StreamStats]:
        """One snapshot per connected stream (fps, latency, drops, stage means)."""
        return [s.stats.snapshot(s.pipeline) for s in self._sessions.values()]
