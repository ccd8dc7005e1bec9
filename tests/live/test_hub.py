"""The live registry without models: annotation only while watched, per-viewer pace,
idle viewers dropped, unique names, camera demand."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest

from facegate.live.hub import LiveHub, TooManyViewers
from facegate.stream.pipeline import DropCounts, FrameResult, StageTimings


def fake_pipeline(annotate: bool = False) -> Any:
    outputs: list[Any] = []
    return SimpleNamespace(
        processor=SimpleNamespace(annotate=annotate),
        output=outputs.append,
        outputs=outputs,
        received=0, processed=0, replaced=0, stale=0,
    )  # fmt: skip


def result(frame_id: int, annotated: bytes | None, latency_ms: float = 20.0) -> FrameResult:
    now = time.time()
    received = now - latency_ms / 1000.0
    return FrameResult(
        "s", frame_id, received - 0.5, received, now, 64, 48, (), 0, StageTimings(), DropCounts(),
        annotated,
    )  # fmt: skip


def test_annotation_only_while_watched_and_each_viewer_gets_the_newest_frame():
    async def scenario() -> None:
        hub = LiveHub()
        demand: list[int] = []
        pipeline = fake_pipeline()
        channel = hub.open("door", "camera", "0", pipeline, on_demand=demand.append)
        pipeline.output(result(1, None, latency_ms=10))  # the tap passes results on
        assert len(pipeline.outputs) == 1 and channel.jpeg is None
        assert pipeline.processor.annotate is False
        fast, slow = channel.add_viewer(), channel.add_viewer()
        assert pipeline.processor.annotate is True and demand == [1]  # first viewer only
        pipeline.output(result(2, b"A", latency_ms=20))
        assert await channel.next_frame(fast, 1) == b"A"
        pipeline.output(result(3, b"B", latency_ms=30))
        pipeline.output(result(4, b"C", latency_ms=80))
        assert await channel.next_frame(fast, 1) == b"C"  # B skipped: newest only
        assert await channel.next_frame(slow, 1) == b"C"
        assert await channel.next_frame(slow, 0.05) is None  # nothing new yet
        channel.remove_viewer(fast)
        assert pipeline.processor.annotate is True
        channel.remove_viewer(slow)
        assert pipeline.processor.annotate is False and demand == [1, -1]
        assert channel.jpeg is None  # no stale picture for the next viewer
        stats = channel.as_dict()
        assert stats["frames_processed"] == 0
        # latency = processed - received of each result: 10, 20, 30, 80 ms (interpolated
        # percentiles; a latency taken from another timestamp, or p95 reported as p50, fails)
        assert stats["latency_ms_p50"] == pytest.approx(25.0, abs=0.15)
        assert stats["latency_ms_p95"] == pytest.approx(72.5, abs=0.15)

    asyncio.run(scenario())


def test_a_tcp_client_that_asked_for_annotation_keeps_it():
    async def scenario() -> None:
        hub = LiveHub()
        pipeline = fake_pipeline(annotate=True)
        hub.stream_attached("sess1", "lobby", "127.0.0.1:5000", pipeline)
        channel = hub.get("lobby")
        assert channel is not None and channel.kind == "tcp"
        channel.remove_viewer(channel.add_viewer())
        assert pipeline.processor.annotate is True
        hub.stream_attached("sess2", "lobby", "127.0.0.1:5001", fake_pipeline())
        assert sorted(hub.channels) == ["lobby", "lobby-2"]
        hub.stream_detached("sess1")
        assert sorted(hub.channels) == ["lobby-2"] and channel.closed

    asyncio.run(scenario())


def test_idle_viewers_are_dropped_and_viewers_are_bounded():
    async def scenario() -> None:
        hub = LiveHub(viewer_idle_s=0.05, max_viewers=2)
        pipeline = fake_pipeline()
        channel = hub.open("door", "camera", "0", pipeline)
        stuck, active = channel.add_viewer(), channel.add_viewer()
        with pytest.raises(TooManyViewers):
            channel.add_viewer()
        pipeline.output(result(1, b"A"))
        assert await channel.next_frame(active, 1) == b"A"
        await asyncio.sleep(0.1)
        assert await channel.next_frame(active, 0.01) is None
        active.last_take = time.monotonic()
        pipeline.output(result(2, b"B"))  # stuck has taken nothing for > 0.05 s
        assert stuck.dropped and channel.viewers == [active]
        assert await channel.next_frame(stuck, 1) is None
        assert channel.as_dict()["viewers_dropped"] == 1

    asyncio.run(scenario())
