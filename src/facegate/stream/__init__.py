"""Video streams: wire protocol, tracking, pipeline, fair scheduler, server, client, sources.

``protocol`` and ``tracker`` do no I/O and are tested on their own; ``pipeline`` knows no
sockets, so server-side cameras can feed it too. docs/streaming.md describes the whole.
``facegate.stream.Client`` and ``facegate.stream.StreamServer`` are imported lazily so that
importing the protocol alone stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Client", "StreamServer"]


def __getattr__(name: str) -> Any:
    if name == "Client":
        from facegate.stream.client import Client

        return Client
    if name == "StreamServer":
        from facegate.stream.server import StreamServer

        return StreamServer
    raise AttributeError(name)
