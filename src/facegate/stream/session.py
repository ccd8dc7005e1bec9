"""One client connection of the stream server: read, authenticate, feed the pipeline, send.

Reading and sending are two coroutines per connection so neither can hold up the other,
and the sending side can never hold up the server:

- **Reading** takes the 16 fixed bytes, validates them against the limits and the session
  state (before WELCOME only a small HELLO may follow), and only then reads (allocates) the
  announced body. The first byte of a message must come within the idle timeout (hello
  timeout before HELLO), the rest within the message timeout: a deadline per message, not
  per read, so trickling bytes buys no time.
- **Sending** drains a bounded per-client queue. Results that find it full are dropped and
  counted (``drops.results``); after ``too_slow_drops`` in a row the client is cut off with
  ERROR ``too_slow``. A client that never reads therefore costs one stuck coroutine and a
  socket buffer, never a growing queue, and nobody else waits for it.
- A fatal protocol error is answered with ERROR straight on the transport (bypassing the
  queue, which may be stuck) and the connection is closed; nothing more is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from facegate.stream.pipeline import (
    PIPELINE_STAGES,
    FrameFailure,
    FrameIn,
    FrameResult,
    StreamPipeline,
)
from facegate.stream.protocol import (
    HEADER_SIZE,
    PROMPTS_SINCE_MINOR,
    Annotated,
    Bye,
    Drops,
    Error,
    ErrorCode,
    FaceResult,
    Frame,
    Hello,
    Limits,
    Message,
    PersonRef,
    Ping,
    Pong,
    ProtocolError,
    Result,
    Timestamps,
    Timings,
    Welcome,
    check_client_header,
    check_client_message,
    decode_body,
    encode,
    parse_fixed_header,
    prompt_message,
)
from facegate.stream.stats import SessionStats

log = logging.getLogger(__name__)
CLOSE_GRACE_S = 1.0


class StreamNames(Protocol):
    """The cluster-wide register of live stream names (``facegate.cluster.ClusterNode``)."""

    def claim_stream(self, name: str) -> str | None:
        """A token when ``name`` was free (blocking: it writes the database), else None."""
        ...

    def release_stream(self, name: str, token: str) -> None: ...


class SessionHost(Protocol):
    """What a session needs from the server that accepted it (``StreamServer``), and no
    more: the session never sees the server's other sessions, admission or scheduler, and
    this module does not import server.py."""

    limits: Limits
    send_queue: int  # outgoing messages queued per client before results are dropped
    too_slow_drops: int  # results dropped in a row before ERROR too_slow
    errors_sent: Counter[str]  # fatal errors sent, by code

    def key_may_stream(self, api_key: str) -> bool:
        """Whether this key may stream (blocking: it may query a database)."""
        ...

    def attach(self, session: Session, hello: Hello) -> StreamPipeline:
        """A pipeline for a greeted session (raises ``busy`` when the server is full)."""
        ...

    def detach(self, session: Session) -> None: ...

    def welcome(self, session_id: str) -> Welcome: ...

    def stream_names(self) -> StreamNames | None:
        """The cluster's register of stream names, or None (no cluster node)."""
        ...


@dataclass(slots=True)
class _Ready:
    """A result waiting in the send queue; serialised when its turn comes."""

    result: FrameResult
    ready: float  # time.time() when the pipeline delivered it


def to_result(r: FrameResult, drops: Drops, sent: float, send_ms: float) -> Result:
    """The protocol's RESULT for a pipeline result (pixels to 0.1, milliseconds to 0.001)."""
    t = r.timings_ms
    ms = {name: round(getattr(t, name), 3) for name in PIPELINE_STAGES}
    return Result(
        frame_id=r.frame_id,
        timestamps=Timestamps(r.captured, r.received, r.processed, sent),
        timings_ms=Timings(**ms, send=round(send_ms, 3)),
        faces=tuple(
            FaceResult(
                box=f.box.as_tuple(),
                track_id=f.track_id,
                person=None if f.person_id is None else PersonRef(f.person_id, f.person_name or ""),
                score=round(f.score, 4),
                confirmed=f.confirmed,
                landmarks=None
                if f.landmarks is None
                else tuple((round(x, 1), round(y, 1)) for x, y in f.landmarks),
            )
            for f in r.faces
        ),
        drops=drops,
    )


class Session:
    """The state of one connection; ``run`` lives as long as it does."""

    def __init__(
        self,
        server: SessionHost,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        session_id: str,
    ) -> None:
        self.server, self.reader, self.writer, self.id = server, reader, writer, session_id
        self.limits = server.limits
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.hello: Hello | None = None
        self._name_token: tuple[StreamNames, str, str] | None = None  # (cluster node, name, token)
        self.pipeline: StreamPipeline | None = None
        self.stats = SessionStats(session_id, self.peer)
        self._queue: deque[Message | _Ready] = deque()
        self._wake = asyncio.Event()
        self._dropped_in_row = 0
        self._closing = False
        self._sender: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.peer_minor = 0  # minor protocol version of the client's latest message

    # -- reading -----------------------------------------------------------------------------

    async def _read_message(self, wait_s: float) -> tuple[Message, float, float] | None:
        """The next message, its first-byte time and its last-byte time (perf_counter);
        None on a clean close between messages."""
        try:
            first = await asyncio.wait_for(self.reader.readexactly(1), wait_s)
        except asyncio.IncompleteReadError:
            return None
        except TimeoutError:
            raise ProtocolError(ErrorCode.IDLE_TIMEOUT, "no message in time") from None
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.limits.message_timeout_s):
                head = parse_fixed_header(
                    first + await self.reader.readexactly(HEADER_SIZE - 1), self.limits
                )
                check_client_header(head, greeted=self.hello is not None)
                body = await self.reader.readexactly(head.body_length)  # bounded by limits
                self.peer_minor = head.minor
        except asyncio.IncompleteReadError:
            raise ProtocolError(ErrorCode.TRUNCATED, "connection closed mid-message") from None
        except TimeoutError:
            raise ProtocolError(ErrorCode.IDLE_TIMEOUT, "message not completed in time") from None
        message = decode_body(head, body[: head.json_length], body[head.json_length :])
        return message, started, time.perf_counter()

    async def run(self) -> None:
        """Serve the connection until BYE, EOF, a fatal error or the server stops."""
        try:
            try:
                async with asyncio.timeout(self.limits.hello_timeout_s):  # connect → HELLO
                    got = await self._read_message(self.limits.hello_timeout_s)
            except TimeoutError:
                raise ProtocolError(ErrorCode.IDLE_TIMEOUT, "no HELLO in time") from None
            if got is None:
                return
            check_client_message(got[0], greeted=False)
            assert isinstance(got[0], Hello)
            await self._greet(got[0])
            while not self._closing:
                got = await self._read_message(self.limits.idle_timeout_s)
                if got is None:
                    return
                check_client_message(got[0], greeted=True)
                if not self._handle(*got):
                    return
        except ProtocolError as exc:
            if exc.code not in (ErrorCode.TRUNCATED,):
                log.info("stream session %s: %s", self.id, exc.code)
            await self.fail(exc)
        except (ConnectionError, OSError):
            pass
        except Exception:  # a bug: end this connection, never the server
            log.exception("stream session %s failed", self.id)
            await self.fail(ProtocolError(ErrorCode.INTERNAL, "server error", fatal=True))
        finally:
            await self._finish()

    async def _greet(self, hello: Hello) -> None:
        try:
            allowed = await asyncio.to_thread(self.server.key_may_stream, hello.api_key)
        except Exception:  # e.g. the key database is unreachable: refuse, say why in the log
            log.exception("stream session %s: API key check failed", self.id)
            raise ProtocolError(
                ErrorCode.INTERNAL, "the API key could not be checked", fatal=True
            ) from None
        if not allowed:
            raise ProtocolError(ErrorCode.UNAUTHORIZED, "API key unknown or without recognize")
        await self._claim_name(hello.stream)
        self.hello = hello
        self._loop = asyncio.get_running_loop()
        self.pipeline = self.server.attach(self, hello)  # raises busy when full
        self.stats.stream = hello.stream
        self._sender = asyncio.get_running_loop().create_task(self._send_loop())
        self._enqueue(self.server.welcome(self.id))

    async def _claim_name(self, name: str) -> None:
        """Register the stream's name cluster-wide (facegate.cluster): a second live stream
        with the same name on any host, or a camera's name, is refused."""
        cluster = self.server.stream_names()
        if cluster is None:
            return
        try:
            token = await asyncio.to_thread(cluster.claim_stream, name)
        except Exception as exc:
            log.warning("stream session %s: name check failed (%s)", self.id, type(exc).__name__)
            raise ProtocolError(
                ErrorCode.INTERNAL, "the stream name could not be registered", fatal=True
            ) from None
        if token is None:
            raise ProtocolError(
                ErrorCode.NAME_TAKEN,
                f"stream name {name!r} is in use by another live stream or camera",
            )
        self._name_token = (cluster, name, token)

    def _handle(self, message: Message, started: float, ended: float) -> bool:
        """Act on one message after HELLO; False ends the session."""
        if isinstance(message, Frame):
            assert self.pipeline is not None
            self.pipeline.submit(
                FrameIn(
                    message.frame_id,
                    message.captured,
                    time.time(),
                    (ended - started) * 1000.0,
                    jpeg=message.jpeg,
                )
            )
        elif isinstance(message, Ping):
            now = time.time()
            self._enqueue(Pong(message.token, message.sent, now, now))
        elif isinstance(message, Bye):
            return False
        elif isinstance(message, Error):
            return not message.fatal
        return True  # PONG: nothing to do

    # -- sending -----------------------------------------------------------------------------

    def prompt(self, mapping: Mapping[str, Any]) -> None:
        """The stream's ``PromptSink`` (facegate.observers): send a liveness prompt
        (CHALLENGE, CHALLENGE_STEP, CHALLENGE_RESULT) to this client. Called from any thread
        (observers run on the inference pool); validated here, queued on the loop. Clients
        older than protocol 1.1 do not know these types and are not sent them."""
        message = prompt_message(mapping)  # a bad prompt is the caller's bug: raise there
        loop = self._loop
        if loop is None or self._closing or self.peer_minor < PROMPTS_SINCE_MINOR:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed: the session is over
            loop.call_soon_threadsafe(self._enqueue, message)

    def _enqueue(self, item: Message | _Ready) -> bool:
        """Queue an outgoing message; False (and nothing queued) when the queue is full."""
        if self._closing or len(self._queue) >= self.server.send_queue:
            return False
        self._queue.append(item)
        self._wake.set()
        return True

    def deliver(self, outcome: FrameResult | FrameFailure) -> None:
        """Pipeline output (on the loop): queue the RESULT or the non-fatal ERROR."""
        if isinstance(outcome, FrameFailure):
            err = ProtocolError(outcome.code, outcome.message)
            self._enqueue(err.to_message(outcome.frame_id))
            return
        self.stats.on_processed()
        if self._enqueue(_Ready(outcome, time.time())):
            self._dropped_in_row = 0
            return
        self.stats.results_dropped += 1
        self._dropped_in_row += 1
        if self._dropped_in_row >= self.server.too_slow_drops and not self._closing:
            exc = ProtocolError(ErrorCode.TOO_SLOW, "results were not read for too long")
            asyncio.get_running_loop().create_task(self.fail(exc))

    def _serialise(self, item: Message | _Ready) -> bytes:
        if not isinstance(item, _Ready):
            return encode(item, self.limits)
        r, pipeline = item.result, self.pipeline
        now = time.time()
        send_ms = (now - item.ready) * 1000.0
        replaced, stale = (pipeline.replaced, pipeline.stale) if pipeline else (0, 0)
        drops = Drops(replaced, stale, self.stats.results_dropped)
        data = encode(to_result(r, drops, now, send_ms))
        if self.hello is not None and self.hello.annotate and r.annotated:
            data += encode(Annotated(r.frame_id, r.annotated))
        self.stats.on_sent(r, now, send_ms)
        return data

    async def _send_loop(self) -> None:
        try:
            while True:
                while not self._queue:
                    self._wake.clear()
                    await self._wake.wait()
                self.writer.write(self._serialise(self._queue.popleft()))
                await self.writer.drain()
        except (ConnectionError, OSError):
            self._closing = True

    # -- ending ------------------------------------------------------------------------------

    async def fail(self, exc: ProtocolError) -> None:
        """Send ERROR (fatal) directly on the transport and close the connection."""
        if self._closing:
            return
        self.server.errors_sent[exc.code] += 1
        await self.close(exc.to_message())

    async def close(self, last: Message | None = None) -> None:
        """Write ``last`` (ERROR or BYE) past the queue and close; abort if it will not flush."""
        if self._closing:
            return
        self._closing = True
        if self._sender is not None:
            self._sender.cancel()
        transport = self.writer.transport
        with contextlib.suppress(Exception):
            if last is not None and not transport.is_closing():
                self.writer.write(encode(last, self.limits))
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), CLOSE_GRACE_S)
        if not transport.is_closing() or transport.get_write_buffer_size():
            transport.abort()

    async def _finish(self) -> None:
        await self.close()
        self.server.detach(self)
        if self._name_token is not None:
            cluster, name, token = self._name_token
            self._name_token = None
            try:
                await asyncio.to_thread(cluster.release_stream, name, token)
            except Exception as exc:  # the entry expires with its heartbeat anyway
                log.warning("stream %s: name not released (%s)", name, type(exc).__name__)
