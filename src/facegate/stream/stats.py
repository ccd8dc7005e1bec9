"""Per-stream live numbers for ``/metrics`` and the live page: rates, latency, drops, stages.

Kept on the event loop's thread (no locks) over a short sliding window, so a snapshot is
cheap and says how a stream is doing *now*, not since it connected.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from facegate.stream.pipeline import PIPELINE_STAGES, FrameResult, StreamPipeline

WINDOW_S = 5.0  # rates are over the last few seconds
SAMPLES = 300  # latency and stage percentiles over the last this many results
STAGES = (*PIPELINE_STAGES, "send")  # = the wire's Timings fields (checked by the tests)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank-with-interpolation percentile (``q`` in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass(frozen=True, slots=True)
class StreamStats:
    """A snapshot of one connected stream.

    ``fps`` is results sent per second over the last ``WINDOW_S``; ``latency_ms_*`` is server
    latency (FRAME fully received → RESULT handed to the socket); ``stages_ms`` the mean of
    each stage over the last ``SAMPLES`` results.
    """

    session: str
    stream: str
    peer: str
    connected_s: float
    frames_received: int
    frames_processed: int
    results_sent: int
    fps: float
    latency_ms_p50: float
    latency_ms_p95: float
    dropped_replaced: int
    dropped_stale: int
    dropped_results: int
    failed: int
    stages_ms: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SessionStats:
    """Accumulates what ``StreamStats`` reports; owned by one session."""

    def __init__(self, session: str, peer: str) -> None:
        self.session, self.peer, self.stream = session, peer, ""
        self.started = time.monotonic()
        self.processed = 0
        self.results_sent = 0
        self.results_dropped = 0
        self._sent_at: deque[float] = deque()
        self._latency: deque[float] = deque(maxlen=SAMPLES)
        self._stages: deque[tuple[float, ...]] = deque(maxlen=SAMPLES)

    def on_processed(self) -> None:
        self.processed += 1

    def on_sent(self, result: FrameResult, sent: float, send_ms: float) -> None:
        now = time.monotonic()
        self.results_sent += 1
        self._sent_at.append(now)
        while self._sent_at and now - self._sent_at[0] > WINDOW_S:
            self._sent_at.popleft()
        self._latency.append((sent - result.received) * 1000.0)
        t = result.timings_ms
        self._stages.append((*(getattr(t, name) for name in PIPELINE_STAGES), send_ms))

    def snapshot(self, pipeline: StreamPipeline | None) -> StreamStats:
        now = time.monotonic()
        recent = [t for t in self._sent_at if now - t <= WINDOW_S]
        span = min(WINDOW_S, now - self.started)
        latency = list(self._latency)
        stages = list(self._stages)
        means = {
            name: round(sum(s[i] for s in stages) / len(stages), 2) if stages else 0.0
            for i, name in enumerate(STAGES)
        }
        return StreamStats(
            session=self.session,
            stream=self.stream,
            peer=self.peer,
            connected_s=round(now - self.started, 1),
            frames_received=pipeline.received if pipeline else 0,
            frames_processed=self.processed,
            results_sent=self.results_sent,
            fps=round(len(recent) / span, 2) if span > 0 else 0.0,
            latency_ms_p50=round(percentile(latency, 50), 2),
            latency_ms_p95=round(percentile(latency, 95), 2),
            dropped_replaced=pipeline.replaced if pipeline else 0,
            dropped_stale=pipeline.stale if pipeline else 0,
            dropped_results=self.results_dropped,
            failed=pipeline.failed if pipeline else 0,
            stages_ms=means,
        )
