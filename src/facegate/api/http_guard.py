"""Slow or numerous HTTP clients cannot hold the server: uvicorn's protocol with deadlines.

uvicorn (0.54, httptools) times out only idle keep-alive connections *after* a response: a
connection that never finishes its headers, or sends its body a byte at a time, is kept
forever, and there is no cap on open connections below the file-descriptor limit (800
slowloris connections were all held for a whole test). ``GuardedHttpProtocol`` adds:

- a **header deadline**: the request line and headers must arrive within
  ``http_header_timeout_s`` of the connection opening (or of the previous response), else
  408 and close; and at most ``http_max_header_bytes`` of them (431);
- a **body deadline** in the manner of Apache's mod_reqtimeout: ``http_body_timeout_s``, plus
  one second per ``http_body_min_rate`` bytes received; a body that falls behind is cut off
  (408 if no answer has started);
- a **connection cap** per worker (``http_max_connections``, kept below the process's file
  descriptor limit) and per client address (``http_max_connections_per_ip``): a connection
  over either answers 503 at once and is closed.

``facegate serve`` passes this class to uvicorn by name (each worker imports it) and first
raises the soft ``RLIMIT_NOFILE`` to the hard limit (``limits.raise_open_files_limit``).
Limits come from the ``FACEGATE_*`` settings, read once per process.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import Counter
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from facegate.config import Settings
from facegate.limits import FD_RESERVE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HttpLimits:
    header_timeout_s: float
    body_timeout_s: float
    body_min_rate: int
    max_header_bytes: int
    max_connections: int
    max_per_ip: int

    @classmethod
    def from_settings(cls, s: Settings) -> HttpLimits:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        cap = s.http.max_connections
        if soft != resource.RLIM_INFINITY and cap > soft - FD_RESERVE:
            cap = max(8, soft - FD_RESERVE)
            log.warning(
                "http_max_connections %d is over the file descriptor limit %d: using %d",
                s.http.max_connections, soft, cap,
            )  # fmt: skip
        return cls(
            header_timeout_s=s.http.header_timeout_s,
            body_timeout_s=s.http.body_timeout_s,
            body_min_rate=s.http.body_min_rate,
            max_header_bytes=s.http.max_header_bytes,
            max_connections=cap,
            max_per_ip=s.http.max_connections_per_ip,
        )


def limits_for(config: Any) -> HttpLimits:
    """The limits of a uvicorn ``config``: from the settings ``facegate serve`` attached to it
    (``facegate_settings``; each worker receives the config pickled, never through the
    environment), else from ``Settings()``; computed once per config."""
    cached = getattr(config, "facegate_http_limits", None)
    if isinstance(cached, HttpLimits):
        return cached
    settings = getattr(config, "facegate_settings", None)
    found = HttpLimits.from_settings(settings if isinstance(settings, Settings) else Settings())
    config.facegate_http_limits = found
    return found


_per_ip: Counter[str] = Counter()  # open connections per client address, in this process


def _plain(status: bytes, text: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"connection: close\r\ncontent-length: %d\r\n\r\n" % len(text) + text
    )


TIMEOUT_408 = _plain(b"408 Request Timeout", b"request not received in time")
TOO_MANY_503 = _plain(b"503 Service Unavailable", b"too many connections")
HEADERS_431 = _plain(b"431 Request Header Fields Too Large", b"request headers too large")


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header/body deadlines and connection caps."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits_for(self.config)
        self._timer: asyncio.TimerHandle | None = None
        self._ip: str | None = None
        self._awaiting_headers = True
        self._header_bytes = 0
        self._header_deadline = 0.0
        self._body_started: float | None = None
        self._body_bytes = 0

    # connection life
    def connection_made(  # type: ignore[override]  # uvicorn's own signature narrows it too
        self, transport: asyncio.Transport
    ) -> None:
        super().connection_made(transport)
        lim = self.limits
        ip = self.client[0] if self.client else None
        if len(self.connections) > lim.max_connections or (
            ip is not None and lim.max_per_ip and _per_ip[ip] >= lim.max_per_ip
        ):
            transport.write(TOO_MANY_503)
            transport.close()
            return
        if ip is not None:
            self._ip = ip
            _per_ip[ip] += 1
        self._expect_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        self._forget()  # the WebSocket protocol takes the connection over
        super().handle_websocket_upgrade()

    def _forget(self) -> None:
        self._cancel()
        if self._ip is not None:
            _per_ip[self._ip] -= 1
            if _per_ip[self._ip] <= 0:
                del _per_ip[self._ip]
            self._ip = None

    # parser events
    def data_received(self, data: bytes) -> None:
        was_awaiting = self._awaiting_headers
        super().data_received(data)
        if was_awaiting and self._awaiting_headers and not self.transport.is_closing():
            self._header_bytes += len(data)
            if self._header_bytes > self.limits.max_header_bytes:
                self._refuse(HEADERS_431)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._awaiting_headers:  # a pipelined or keep-alive request
            self._expect_headers()

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._cancel()
        super().on_headers_complete()
        length = next((v for k, v in self.headers if k == b"content-length"), b"0")
        chunked = any(k == b"transfer-encoding" for k, _ in self.headers)
        if chunked or length.strip() not in (b"", b"0"):
            self._body_started = self.loop.time()
            self._body_bytes = 0
            self._arm(self.limits.body_timeout_s)

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._body_started = None
        self._cancel()
        super().on_message_complete()

    # deadlines
    def _expect_headers(self) -> None:
        self._awaiting_headers = True
        self._header_bytes = 0
        self._header_deadline = self.loop.time() + self.limits.header_timeout_s
        self._arm(self.limits.header_timeout_s)

    def _arm(self, delay: float) -> None:
        self._cancel()
        self._timer = self.loop.call_later(max(0.05, delay), self._check)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        if self.transport is None or self.transport.is_closing():
            return
        now = self.loop.time()
        if self._awaiting_headers:
            if now >= self._header_deadline:
                self._refuse(TIMEOUT_408)
            else:
                self._arm(self._header_deadline - now)
        elif self._body_started is not None:
            lim = self.limits
            deadline = (
                self._body_started + lim.body_timeout_s + self._body_bytes / lim.body_min_rate
            )
            if now >= deadline:
                self._refuse(TIMEOUT_408)
            else:
                self._arm(deadline - now)

    def _refuse(self, answer: bytes) -> None:
        """Answer (when no response has started) and close the connection."""
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(answer)
        self.transport.close()  # the app's receive() now answers http.disconnect
