"""Streaming a dev video to a stream server frame by frame, as a door terminal would."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import numpy as np

from facegate.stream import Client
from facegate.stream.messages import Result
from tests.serving import fresh


def stream_video(
    port: int, key: str, stream: str, frames: Sequence[np.ndarray], host: str = "127.0.0.1"
) -> list[Result]:
    """Send every frame and wait for its result (none is dropped); the results in order."""
    with Client(host, port, key, stream=stream) as client:
        return [client.result_for(client.send_frame(image)) for image in frames]


def wait_for_events(
    get: Callable[..., httpx.Response], door: str, count: int, timeout: float = 30.0
) -> list[dict[str, Any]]:
    """``GET /api/v1/access/events?door=...`` until it lists ``count`` events."""
    deadline = time.monotonic() + timeout
    while True:
        answer = get("/api/v1/access/events", params={"door": door})
        assert answer.status_code == 200, answer.text
        events: list[dict[str, Any]] = answer.json()["events"]
        if len(events) >= count or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


def events(served: dict[str, Any], door: str) -> list[dict[str, Any]]:
    """A running server's door events (``served``: its base URL and admin headers)."""
    with fresh(served["base"]) as http:
        answer = http.get("/api/v1/access/events", params={"door": door}, headers=served["admin"])
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["events"]
    return found
