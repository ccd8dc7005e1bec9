"""The live view's registry: every active stream of this process and its newest picture.

A ``Channel`` stands for one stream, a TCP client's or a server-side camera's; both feed a
``StreamPipeline`` the same way, and the channel taps that pipeline's output. It keeps:

- **Stats** over the last few seconds: results per second, latency (frame in → result
  ready, server-side) and the pipeline's drop counters.
- **The newest annotated JPEG, only while someone watches.** The first viewer switches the
  pipeline's ``annotate`` on (drawing and encoding then happen once per frame, on the
  inference thread, for all viewers together); the last one leaving switches it back off (or
  back to what the TCP client asked for), so an unwatched stream costs no drawing.
- **A per-viewer event.** Each new frame sets every viewer's ``asyncio.Event``; a viewer
  takes the newest frame when it is ready for one, so a slow viewer skips frames and never
  holds up the others. A viewer that has taken nothing for ``viewer_idle_s`` (its socket is
  stuck) is dropped at the next frame.

Everything here runs on the event loop's thread: no locks.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from facegate.stream.pipeline import FrameFailure, FrameResult, StreamPipeline
from facegate.stream.stats import percentile

WINDOW_S = 5.0
SAMPLES = 200
ChannelKind = Literal["tcp", "camera"]


class TooManyViewers(Exception):
    """This process already serves ``max_viewers`` MJPEG viewers."""


@dataclass(eq=False)
class Viewer:
    """One MJPEG connection's position in a channel."""

    event: asyncio.Event = field(default_factory=asyncio.Event)
    seq: int = 0  # the last frame taken
    last_take: float = field(default_factory=time.monotonic)
    dropped: bool = False


class Channel:
    """One live stream; see the module docstring."""

    def __init__(
        self,
        hub: LiveHub,
        name: str,
        kind: ChannelKind,
        source: str,
        pipeline: StreamPipeline,
        on_demand: Callable[[int], None] | None = None,
        details: Callable[[], dict[str, object]] | None = None,
    ) -> None:
        self.hub, self.name, self.kind, self.source = hub, name, kind, source
        self.pipeline = pipeline
        self.base_annotate = pipeline.processor.annotate  # what the TCP client asked for
        self.on_demand = on_demand  # cameras: +1 / -1 consumers
        self.details = details
        self.started = time.monotonic()
        self.jpeg: bytes | None = None
        self.seq = 0
        self.size = (0, 0)
        self.faces = 0
        self.viewers: list[Viewer] = []
        self.viewers_dropped = 0
        self._done: deque[float] = deque()
        self._latency: deque[float] = deque(maxlen=SAMPLES)
        self.closed = False
        output = pipeline.output

        def tap(outcome: FrameResult | FrameFailure) -> None:
            if isinstance(outcome, FrameResult):
                self.deliver(outcome)
            output(outcome)

        pipeline.output = tap

    # -- frames ------------------------------------------------------------------------------

    def deliver(self, result: FrameResult) -> None:
        now = time.monotonic()
        self._done.append(now)
        while self._done and now - self._done[0] > WINDOW_S:
            self._done.popleft()
        self._latency.append((result.processed - result.received) * 1000.0)
        self.size = (result.width, result.height)
        self.faces = len(result.faces)
        if result.annotated is None or not self.viewers:
            return
        self.jpeg = result.annotated
        self.seq += 1
        for viewer in list(self.viewers):
            if now - viewer.last_take > self.hub.viewer_idle_s:
                self.remove_viewer(viewer)
                viewer.dropped = True
                self.viewers_dropped += 1
            viewer.event.set()

    def add_viewer(self) -> Viewer:
        if self.hub.viewer_count() >= self.hub.max_viewers:
            raise TooManyViewers
        viewer = Viewer()
        self.viewers.append(viewer)
        if len(self.viewers) == 1:
            self.pipeline.processor.annotate = True
            if self.on_demand is not None:
                self.on_demand(+1)
        return viewer

    def remove_viewer(self, viewer: Viewer) -> None:
        if viewer not in self.viewers:
            return
        self.viewers.remove(viewer)
        if not self.viewers:
            self.pipeline.processor.annotate = self.base_annotate
            self.jpeg = None  # an old picture must not greet the next viewer
            if self.on_demand is not None:
                self.on_demand(-1)

    async def next_frame(self, viewer: Viewer, timeout: float) -> bytes | None:
        """The newest frame this viewer has not had yet; None when the channel closed, the
        viewer was dropped or nothing came within ``timeout``."""
        while not self.closed and not viewer.dropped:
            if self.jpeg is not None and self.seq != viewer.seq:
                viewer.seq = self.seq
                viewer.last_take = time.monotonic()
                return self.jpeg
            viewer.event.clear()
            try:
                await asyncio.wait_for(viewer.event.wait(), timeout)
            except TimeoutError:
                return None
        return None

    def close(self) -> None:
        self.closed = True
        for viewer in self.viewers:
            viewer.event.set()
        self.viewers.clear()

    # -- numbers -----------------------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        now = time.monotonic()
        recent = sum(1 for t in self._done if now - t <= WINDOW_S)
        span = min(WINDOW_S, now - self.started)
        latency = list(self._latency)
        p = self.pipeline
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "source": self.source,
            "fps": round(recent / span, 2) if span > 0 else 0.0,
            "latency_ms_p50": round(percentile(latency, 50), 1),
            "latency_ms_p95": round(percentile(latency, 95), 1),
            "frames_received": p.received,
            "frames_processed": p.processed,
            "dropped_replaced": p.replaced,
            "dropped_stale": p.stale,
            "width": self.size[0],
            "height": self.size[1],
            "faces": self.faces,
            "viewers": len(self.viewers),
            "viewers_dropped": self.viewers_dropped,
        }
        if self.details is not None:
            out.update(self.details())
        return out


class LiveHub:
    """The channels of this process, by unique name."""

    def __init__(self, *, viewer_idle_s: float = 20.0, max_viewers: int = 32) -> None:
        self.viewer_idle_s = viewer_idle_s
        self.max_viewers = max_viewers
        self.channels: dict[str, Channel] = {}
        self._by_key: dict[str, Channel] = {}  # TCP session id -> channel

    def open(
        self,
        name: str,
        kind: ChannelKind,
        source: str,
        pipeline: StreamPipeline,
        *,
        on_demand: Callable[[int], None] | None = None,
        details: Callable[[], dict[str, object]] | None = None,
    ) -> Channel:
        """Register a stream; a second stream under a taken name gets ``name-2``, ``-3``..."""
        unique, n = name, 1
        while unique in self.channels:
            n += 1
            unique = f"{name}-{n}"
        channel = Channel(self, unique, kind, source, pipeline, on_demand, details)
        self.channels[unique] = channel
        return channel

    def close(self, channel: Channel) -> None:
        channel.close()
        if self.channels.get(channel.name) is channel:
            del self.channels[channel.name]

    # The stream server's side (``StreamServer.live``): a TCP session comes and goes.
    def stream_attached(self, key: str, name: str, peer: str, pipeline: StreamPipeline) -> None:
        self._by_key[key] = self.open(name, "tcp", peer, pipeline)

    def stream_detached(self, key: str) -> None:
        channel = self._by_key.pop(key, None)
        if channel is not None:
            self.close(channel)

    def get(self, name: str) -> Channel | None:
        return self.channels.get(name)

    def viewer_count(self) -> int:
        return sum(len(c.viewers) for c in self.channels.values())

    def stats(self) -> list[dict[str, Any]]:
        return [c.as_dict() for c in sorted(self.channels.values(), key=lambda c: c.name)]
