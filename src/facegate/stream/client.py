"""``Client``: the Python side of the stream protocol, small and symmetric.

::

    with Client("127.0.0.1", 8001, key, stream="door-1") as client:
        frame_id = client.send_frame(image)        # BGR array (JPEG-encoded here) or JPEG bytes
        message = client.receive(timeout=1.0)      # Result, Annotated, or a non-fatal Error
                                                   # (or a liveness prompt, see below)

**What blocks.** ``connect`` (entering ``with``) blocks until WELCOME or ``timeout``.
``send_frame`` blocks only while the kernel's socket buffer is full, i.e. when the network
or the server cannot take bytes as fast as they are sent; it never waits for a result, so
sending and receiving can run on two threads (one sender, one receiver: sends are locked so
the receiver's automatic PONG replies cannot interleave with a frame). ``receive`` blocks
until one message arrives or ``timeout`` passes (``TimeoutError``); ``None`` waits forever.

**What is lossy.** Everything on the wire arrives, in order. But the server is real time:
a frame it receives while the previous one still waits replaces it, a frame that waited too
long is skipped, and results a client does not read fast enough are dropped on the server
(then the client is disconnected with ``too_slow``). A dropped frame gets no result, so match
results to frames by ``frame_id``, never by position; ``Result.drops`` counts every kind.

**Liveness prompts.** When a door watching this stream requires a challenge, ``receive`` also
returns ``Challenge`` (show the person the steps: turn left / right / up), ``ChallengeStep``
(one step's result and the next step) and ``ChallengeResult`` (live or spoof); ``prompts``
keeps every one received, in order. A client that ignores them keeps working.

Fatal errors from the server raise ``StreamError`` (``code`` from the protocol); a BYE or a
closed connection raises ``StreamClosed``. Neither the API key nor images are ever logged.
"""

from __future__ import annotations

import itertools
import select
import socket
import threading
import time
from collections import deque
from types import TracebackType

import numpy as np

from facegate import __version__
from facegate.stream.jpeg import encode_jpeg
from facegate.stream.protocol import (
    SERVER_SENDS,
    Annotated,
    Bye,
    Challenge,
    ChallengeResult,
    ChallengeStep,
    Error,
    ErrorCode,
    Frame,
    Hello,
    Message,
    MessageReader,
    Ping,
    Pong,
    PromptMessage,
    ProtocolError,
    Result,
    Welcome,
    encode,
)


class StreamError(Exception):
    """The server ended the session with a fatal ERROR (or broke the protocol)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


class StreamClosed(Exception):
    """The server said BYE or the connection closed."""


class NotAStreamServer(Exception):
    """The address answered, but not with facegate's stream protocol: most often it is the
    HTTP port (an HTTP server answers the binary HELLO with ``HTTP/1.1 400``). Retrying
    cannot help; the user has to point the client at the stream port."""


class Client:
    """One stream to a facegate server over TCP (see the module docstring for semantics)."""

    def __init__(
        self,
        host: str,
        port: int,
        key: str,
        stream: str = "default",
        annotate: bool = False,
        *,
        timeout: float = 10.0,
        jpeg_quality: int = 85,
        max_fps: float | None = None,
    ) -> None:
        self.host, self.port, self.stream, self.annotate = host, port, stream, annotate
        self._key = key
        self.timeout, self.jpeg_quality, self.max_fps = timeout, jpeg_quality, max_fps
        self.welcome: Welcome | None = None
        self._sock: socket.socket | None = None
        self._reader = MessageReader()
        self._reader_raw = b""  # the first bytes received on this connection
        self._inbox: deque[Message] = deque()
        self._send_lock = threading.Lock()
        self._ids = itertools.count(1)
        self.last_rtt_ms: float | None = None  # from the latest PONG to our PING
        self.prompts: list[PromptMessage] = []  # liveness prompts received, in order

    # -- connection --------------------------------------------------------------------------

    def connect(self) -> Welcome:
        """Open the connection, send HELLO and wait for WELCOME (raises ``StreamError``)."""
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock, self._reader, self._inbox = sock, MessageReader(), deque()
        self._reader_raw = b""
        hello = Hello(
            self._key, self.stream, self.annotate, self.max_fps, f"facegate/{__version__}"
        )
        self._send(hello)
        try:
            message = self._next(self.timeout)
        except ProtocolError as exc:
            self.close()
            raw = self._reader_raw
            if raw.startswith(b"HTTP/"):
                raise NotAStreamServer(
                    f"{self.host}:{self.port} answered with HTTP ({_first_line(raw)}): that is "
                    "an HTTP port, not facegate's TCP stream port (facegate serve "
                    "--stream-port, default 8001)"
                ) from exc
            raise NotAStreamServer(
                f"{self.host}:{self.port} does not speak facegate's stream protocol "
                f"({exc}); is it the stream port of facegate serve (--stream-port)?"
            ) from exc
        if isinstance(message, Error):
            self.close()
            raise StreamError(message.code, message.message)
        if not isinstance(message, Welcome):
            self.close()
            raise StreamError(ErrorCode.UNEXPECTED_MESSAGE, f"expected WELCOME, got {message}")
        self.welcome = message
        return message

    def __enter__(self) -> Client:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self, reason: str = "") -> None:
        """Say BYE (if still connected) and close. Safe to call twice."""
        sock, self._sock = self._sock, None
        if sock is None:
            return
        try:
            with self._send_lock:
                sock.sendall(encode(Bye(reason)))
        except OSError:
            pass
        finally:
            sock.close()

    @property
    def connected(self) -> bool:
        return self._sock is not None

    # -- sending -----------------------------------------------------------------------------

    def _send(self, message: Message) -> None:
        if self._sock is None:
            raise StreamClosed("not connected")
        limits = self.welcome.limits if self.welcome is not None else None
        data = encode(message, limits)
        try:
            with self._send_lock:
                self._sock.sendall(data)
        except OSError as exc:
            raise StreamClosed(f"connection lost: {exc}") from exc

    def send_frame(
        self,
        frame: np.ndarray | bytes,
        frame_id: int | None = None,
        captured: float | None = None,
    ) -> int:
        """Send one frame (a BGR array is JPEG-encoded here); returns its ``frame_id``."""
        jpeg = encode_jpeg(frame, self.jpeg_quality) if isinstance(frame, np.ndarray) else frame
        fid = next(self._ids) if frame_id is None else frame_id
        self._send(Frame(fid, time.time() if captured is None else captured, bytes(jpeg)))
        return fid

    def ping(self, token: str = "ping") -> None:
        """Send PING; the PONG sets ``last_rtt_ms`` when ``receive`` reads it."""
        self._send(Ping(token, time.time()))

    # -- receiving ---------------------------------------------------------------------------

    def _next(self, timeout: float | None) -> Message:
        """The next message from the server, whatever it is."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._inbox:
            sock = self._sock
            if sock is None:
                raise StreamClosed("not connected")
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([sock], [], [], left)
            if not ready:
                raise TimeoutError("no message from the server in time")
            try:
                data = sock.recv(256 * 1024)
            except OSError as exc:
                raise StreamClosed(f"connection lost: {exc}") from exc
            if not data:
                raise StreamClosed("the server closed the connection")
            if len(self._reader_raw) < 64:  # the first bytes, to name what answered
                self._reader_raw += data[: 64 - len(self._reader_raw)]
            self._inbox.extend(self._reader.feed(data))
        message = self._inbox.popleft()
        if message.TYPE not in SERVER_SENDS:
            raise StreamError(ErrorCode.UNEXPECTED_MESSAGE, f"server sent {message.TYPE.name}")
        return message

    def receive(self, timeout: float | None = None) -> Result | Annotated | Error | PromptMessage:
        """The next RESULT, ANNOTATED, liveness prompt (CHALLENGE, CHALLENGE_STEP,
        CHALLENGE_RESULT), or non-fatal ERROR (e.g. ``bad_frame``).

        PINGs are answered and PONGs recorded on the way. Raises ``TimeoutError``,
        ``StreamError`` on a fatal ERROR, ``StreamClosed`` on BYE or a closed connection.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            message = self._next(left)
            if isinstance(message, Result | Annotated):
                return message
            if isinstance(message, Challenge | ChallengeStep | ChallengeResult):
                self.prompts.append(message)
                return message
            if isinstance(message, Error):
                if message.fatal:
                    self.close()
                    raise StreamError(message.code, message.message)
                return message
            if isinstance(message, Ping):
                now = time.time()
                self._send(Pong(message.token, message.sent, now, time.time()))
            elif isinstance(message, Pong):
                self.last_rtt_ms = (time.time() - message.sent) * 1000.0 - (
                    message.replied - message.received
                ) * 1000.0
            elif isinstance(message, Bye):
                self.close()
                raise StreamClosed(f"server said BYE: {message.reason}")

    def result_for(self, frame_id: int, timeout: float | None = 60.0) -> Result:
        """``receive`` until the RESULT of ``frame_id``, skipping everything else (other
        frames' results, ANNOTATED, prompts, non-fatal ERRORs); each message is waited for at
        most ``timeout`` seconds. For a sender that sends one frame and waits for its answer."""
        while True:
            message = self.receive(timeout=timeout)
            if isinstance(message, Result) and message.frame_id == frame_id:
                return message


def _first_line(raw: bytes) -> str:
    """The first line of what a non-facegate server sent, printable and short."""
    line = raw.split(b"\r\n", 1)[0].split(b"\n", 1)[0]
    return line.decode("ascii", "replace")[:40]
