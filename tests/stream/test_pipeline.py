"""The pipeline without the network: JPEG size checks, the one-frame slot, fair turns."""

from __future__ import annotations

import asyncio
import struct
import time
from typing import Any

import cv2
import numpy as np
import pytest

from facegate.errors import BadImage, Busy, ImageTooLarge
from facegate.stream.jpeg import decode_jpeg, encode_jpeg, jpeg_size
from facegate.stream.pipeline import (
    DropCounts,
    FrameFailure,
    FrameIn,
    FrameProcessor,
    FrameResult,
    StageTimings,
    StreamPipeline,
)
from facegate.stream.scheduler import FairScheduler


def _jpeg(width: int = 64, height: int = 48) -> bytes:
    rng = np.random.default_rng(0)
    return encode_jpeg(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))


def forged_jpeg(width: int, height: int) -> bytes:
    """A real JPEG whose SOF0 segment is rewritten to announce another size."""
    data = bytearray(_jpeg())
    at = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, at + 5, height, width)
    return bytes(data)


def test_jpeg_size_matches_what_the_decoder_produces():
    data = _jpeg(123, 77)
    assert jpeg_size(data) == (123, 77)
    assert decode_jpeg(data, 200, 200).shape == (77, 123, 3)


def test_progressive_jpegs_are_measured_too():
    image = np.zeros((50, 90, 3), np.uint8)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert ok
    assert jpeg_size(buf.tobytes()) == (90, 50)


def test_an_announced_huge_frame_is_refused_before_decoding():
    data = forged_jpeg(60000, 60000)
    assert len(data) < 10_000  # a few kB announcing 3.6 gigapixels
    assert jpeg_size(data) == (60000, 60000)
    with pytest.raises(ImageTooLarge):
        decode_jpeg(data, 4096, 4096)


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff\xd8", b"GIF89a....", b"\xff\xd8\xff\xe0\x00\x10JFIF", _jpeg()[:20], b"\x00" * 100],
)
def test_what_is_not_a_jpeg_is_a_bad_image(data):
    with pytest.raises(BadImage):
        decode_jpeg(data, 4096, 4096)


def test_a_png_is_not_accepted_as_a_frame():
    _, buf = cv2.imencode(".png", np.zeros((20, 20, 3), np.uint8))
    with pytest.raises(BadImage):
        jpeg_size(buf.tobytes())


# -- slot and counters (a processor that is never called) ----------------------------------


def _frame(fid: int, age: float = 0.0) -> FrameIn:
    return FrameIn(fid, time.time(), time.time() - age, jpeg=b"x")


def _pipeline(
    stream: str = "s", max_age_s: float = 1.0, out: list[Any] | None = None
) -> StreamPipeline:
    processor: Any = type("P", (), {"stream": stream})()
    return StreamPipeline(processor, (out if out is not None else []).append, max_age_s=max_age_s)


def test_a_new_frame_replaces_a_waiting_one_and_is_counted():
    p = _pipeline()
    for fid in (1, 2, 3):
        p.submit(_frame(fid))
    assert (p.received, p.replaced, p.stale) == (3, 2, 0)
    taken = p.take()
    assert taken is not None and taken.frame_id == 3
    assert p.take() is None


def test_a_frame_too_old_is_dropped_as_stale_not_replaced():
    p = _pipeline(max_age_s=0.2)
    p.submit(_frame(1, age=5.0))
    assert p.take() is None
    assert (p.replaced, p.stale) == (0, 1)


# -- fair scheduling -----------------------------------------------------------------------


class FakePool:
    """Runs jobs inline after yielding, recording how many of each stream run at once."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.running: dict[str, int] = {}
        self.max_per_stream = 0

    async def run(self, fn: Any, frame: FrameIn) -> Any:
        stream = fn.__self__.stream
        self.running[stream] = self.running.get(stream, 0) + 1
        self.max_per_stream = max(self.max_per_stream, self.running[stream])
        await asyncio.sleep(0.001)
        self.running[stream] -= 1
        return fn(frame)


class EchoProcessor:
    def __init__(self, stream: str, log: list[str]) -> None:
        self.stream, self.log = stream, log

    def process(self, frame: FrameIn, drops: DropCounts) -> FrameResult:
        self.log.append(self.stream)
        return FrameResult(self.stream, frame.frame_id, 0, 0, 0, 1, 1, (), 0, StageTimings(), drops)


@pytest.mark.parametrize("threads", [1, 2])
def test_streams_take_turns_and_never_run_two_frames_at_once(threads):
    """Three streams that always have a frame ready (one re-submits three per result): the
    order of processing is round robin, whatever each stream's rate."""
    order: list[str] = []

    async def main() -> None:
        pool = FakePool(threads)
        scheduler = FairScheduler(pool, max_inflight=threads)  # type: ignore[arg-type]  # fake pool
        pipelines: list[StreamPipeline] = []
        for name, burst in (("a", 3), ("b", 1), ("c", 1)):

            def resubmit(_: Any, name: str = name, burst: int = burst) -> None:
                p = next(p for p in pipelines if p.stream == name)
                for _ in range(burst):
                    p.submit(_frame(0))

            p = StreamPipeline(EchoProcessor(name, order), resubmit, max_age_s=60)  # type: ignore[arg-type]  # test double
            pipelines.append(p)
            scheduler.add(p)
        for p in pipelines:
            p.submit(_frame(0))
        while len(order) < 60:
            await asyncio.sleep(0.001)
        for p in pipelines:
            scheduler.remove(p)
        await scheduler.close()
        assert pool.max_per_stream == 1

    asyncio.run(main())
    counts = {s: order[:60].count(s) for s in "abc"}
    assert max(counts.values()) - min(counts.values()) <= 2, counts
    for i in range(0, 57, 3):  # every window of three turns has each stream once
        assert sorted(order[i : i + 3]) == ["a", "b", "c"], order[: i + 3]


def test_processor_on_a_real_frame_reports_tracks(stream_services, faces_dir):
    """Decode → detect → track → embed → match on one Hamilton frame, no network."""
    from tests.stream.conftest import video_frames

    image = video_frames(faces_dir / "videos" / "short_hamilton_clip.mp4", 1)[0]
    processor = FrameProcessor(stream_services.engine, stream_services.gallery, stream="t")
    frame = FrameIn(7, time.time(), time.time(), jpeg=encode_jpeg(image))
    first = processor.process(frame, DropCounts())
    assert first.frame_id == 7 and first.faces and first.embedded == len(first.faces)
    assert first.timings_ms.detect > 0 and first.timings_ms.embed > 0
    again = processor.process(frame, DropCounts())
    assert [f.track_id for f in again.faces] == [f.track_id for f in first.faces]


class FlakyPool(FakePool):
    """Refuses the first job as a pool full of HTTP work would (``Busy``)."""

    def __init__(self) -> None:
        super().__init__(threads=1)
        self.refused = 0

    async def run(self, fn: Any, frame: FrameIn) -> Any:
        if not self.refused:
            self.refused += 1
            raise Busy("full")
        return await super().run(fn, frame)


class Exploding(EchoProcessor):
    def process(self, frame: FrameIn, drops: DropCounts) -> FrameResult:
        if frame.frame_id == 1:
            raise RuntimeError("model failure")
        return super().process(frame, drops)


def _run_frames(pool: Any, processor: Any, ids: list[int]) -> list[Any]:
    """Submit frames one after another (each after the previous outcome) and collect them."""
    outcomes: list[Any] = []

    async def main() -> None:
        scheduler = FairScheduler(pool)
        pipeline = StreamPipeline(processor, outcomes.append, max_age_s=60)
        scheduler.add(pipeline)
        for n, fid in enumerate(ids):
            pipeline.submit(FrameIn(fid, 0.0, time.time(), jpeg=b"x"))
            while len(outcomes) <= n:
                await asyncio.sleep(0.001)
        scheduler.remove(pipeline)
        await scheduler.close()

    asyncio.run(main())
    return outcomes


def test_a_busy_pool_delays_a_frame_without_losing_or_queueing_it():
    pool = FlakyPool()
    outcomes = _run_frames(pool, EchoProcessor("s", []), [5, 6])
    assert pool.refused == 1
    assert [o.frame_id for o in outcomes] == [5, 6]


def test_a_failing_frame_reports_internal_and_the_stream_goes_on():
    outcomes = _run_frames(FakePool(1), Exploding("s", []), [1, 2])
    assert isinstance(outcomes[0], FrameFailure) and outcomes[0].code == "internal"
    assert "model failure" not in outcomes[0].message  # no internals leak to clients
    assert isinstance(outcomes[1], FrameResult) and outcomes[1].frame_id == 2
