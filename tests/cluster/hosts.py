"""What the multi-host tests share: polling with a generous bound (the machine is shared, so
times are printed, never asserted) and whether extra loopback addresses can be bound."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import httpx


def eventually(check: Callable[[], Any], what: str, within_s: float, every_s: float = 0.5) -> Any:
    """Poll ``check`` (a transport error counts as not yet) until it returns something truthy;
    that value. Fails naming ``what`` after ``within_s``."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            found = check()
        except httpx.TransportError:
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every_s)


def bindable(address: str) -> bool:
    """Whether this machine lets a socket bind ``address`` (127.0.0.2 and up on Linux)."""
    with socket.socket() as sock:
        try:
            sock.bind((address, 0))
        except OSError:
            return False
    return True
