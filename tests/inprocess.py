"""An ASGI app under a real uvicorn server on a thread of the test process (no browser, no
``facegate serve`` process: modules using it stay in the fast tier)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.serving import free_port


@contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` under uvicorn on a free port, on a thread of this process; yields the base URL
    once it serves (its lifespan has run), stops it afterwards."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
