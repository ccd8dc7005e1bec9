"""Who may hold a connection to the stream port, decided at accept time before any reading.

A connection that has not been greeted (no accepted HELLO yet) is *pending*: it has proved
nothing, so pending connections are capped in total and per source address, and the whole
port is capped at ``max_connections`` (greeted streams are capped separately by
``stream_max_clients``). A connection over a cap is refused at once: one small ERROR
``busy`` written and the socket closed, no session, no buffer, no timer. With these caps an
unauthenticated peer holds at most ``max_pending_per_address`` connections, each reading at
most a small HELLO (``protocol.MAX_HELLO_JSON_BYTES``) within ``hello_timeout_s``.

Everything here runs on the server's event loop, so the counters need no lock. IPv6 peers
are grouped by their /64 network, which is what one host usually gets; IPv4-mapped IPv6
addresses count as the IPv4 address.
"""

from __future__ import annotations

import ipaddress
import logging
from collections import Counter
from dataclasses import dataclass

from facegate.stream.protocol import ErrorCode, ProtocolError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AdmissionLimits:
    max_pending: int  # connections without an accepted HELLO, in total
    max_pending_per_address: int  # the same, from one source address (IPv6: one /64)
    max_connections: int  # every open connection of the port, greeted or not


def address_key(peername: object) -> str:
    """The source a connection counts against: its IP address (an IPv6 peer's /64)."""
    host = peername[0] if isinstance(peername, tuple) and peername else peername
    try:
        ip = ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return str(host)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class Ticket:
    """One admitted connection's place in the counts: ``greeted()`` once its HELLO is
    accepted, ``release()`` when it closes (both idempotent)."""

    __slots__ = ("_admission", "address", "counted", "pending")

    def __init__(self, admission: Admission, address: str) -> None:
        self._admission, self.address = admission, address
        self.pending, self.counted = True, True

    def greeted(self) -> None:
        if self.pending:
            self.pending = False
            self._admission._unpend(self.address)

    def release(self) -> None:
        self.greeted()
        if self.counted:
            self.counted = False
            self._admission.connections -= 1


class Admission:
    """The counts of one server's connections, and the decision to admit another."""

    def __init__(self, limits: AdmissionLimits) -> None:
        self.limits = limits
        self.connections = 0
        self.pending = 0
        self._pending_by_address: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()  # by cap: connections, pending, per_address

    def admit(self, peername: object) -> Ticket:
        """A ticket for a new connection, or ``ProtocolError(busy)`` when a cap is reached."""
        address = address_key(peername)
        lim = self.limits
        if self.connections >= lim.max_connections:
            cap, text = "connections", f"{lim.max_connections} connections already open"
        elif self.pending >= lim.max_pending:
            cap, text = "pending", f"{lim.max_pending} connections already waiting for HELLO"
        elif self._pending_by_address[address] >= lim.max_pending_per_address:
            cap, text = "per_address", "too many connections waiting for HELLO from this address"
        else:
            self.connections += 1
            self.pending += 1
            self._pending_by_address[address] += 1
            return Ticket(self, address)
        self.refused[cap] += 1
        raise ProtocolError(ErrorCode.BUSY, text)

    def pending_from(self, peername: object) -> int:
        return self._pending_by_address[address_key(peername)]

    def _unpend(self, address: str) -> None:
        self.pending -= 1
        left = self._pending_by_address[address] - 1
        if left > 0:
            self._pending_by_address[address] = left
        else:
            del self._pending_by_address[address]
