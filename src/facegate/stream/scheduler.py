"""Fair scheduling of many streams' frames onto the one shared inference pool.

The pool (``facegate.inference.InferencePool``) is a plain FIFO shared with HTTP requests.
Submitting every stream's frames to it directly would let a 30 fps client fill the queue
ahead of a 5 fps one, and would queue frames, which a real-time server must never do. So:

1. **At most one job per stream.** A stream with a frame in processing is not scheduled
   again until it finishes; frames arriving meanwhile replace each other in its one-frame
   slot (``StreamPipeline``).
2. **Round robin among ready streams.** A stream whose slot fills joins the back of a ready
   queue (once); when a job finishes and the stream has a newer frame, it rejoins at the
   back. With N ready streams each gets every N-th turn, whatever rate it sends at.
3. **At most ``max_inflight`` stream jobs in the pool** (default: its thread count). Stream
   frames therefore never wait inside the pool's queue, where they would age unseen, and an
   HTTP request arriving meanwhile waits for at most ``max_inflight`` frames ahead of it.
4. **Staleness is checked twice**: when a stream's turn comes, and again on the inference
   thread right before the work starts.

Everything except the model work runs on the event loop's thread, so no locks are needed.
If the pool refuses a job (``Busy``: HTTP traffic has filled it), the frame goes back into its
slot (unless a newer one arrived) and the stream retries shortly; it ends up processed,
replaced or stale, never queued.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from facegate.errors import Busy
from facegate.inference import InferencePool
from facegate.stream.pipeline import FrameFailure, FrameIn, StreamPipeline

log = logging.getLogger(__name__)

BUSY_RETRY_S = 0.01


class FairScheduler:
    """Round robin over streams with a ready frame; one pool job per stream at a time."""

    def __init__(self, pool: InferencePool, max_inflight: int | None = None) -> None:
        self.pool = pool
        self.max_inflight = max_inflight or pool.threads
        self._ready: deque[StreamPipeline] = deque()
        self._queued: set[int] = set()  # id() of pipelines in _ready
        self._inflight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.turns = 0  # frames started, all streams (for tests and metrics)

    @property
    def inflight(self) -> int:
        return self._inflight

    def add(self, pipeline: StreamPipeline) -> None:
        pipeline.on_ready = self._mark_ready
        if pipeline.slot is not None:
            self._mark_ready(pipeline)

    def remove(self, pipeline: StreamPipeline) -> None:
        pipeline.close()
        pipeline.on_ready = None
        if id(pipeline) in self._queued:
            self._queued.discard(id(pipeline))
            self._ready.remove(pipeline)

    def _mark_ready(self, pipeline: StreamPipeline) -> None:
        if pipeline.busy or pipeline.closed or id(pipeline) in self._queued:
            return
        self._ready.append(pipeline)
        self._queued.add(id(pipeline))
        self._pump()

    def _pump(self) -> None:
        """Start jobs while there is room in the pool and a stream with a fresh frame."""
        while self._inflight < self.max_inflight and self._ready:
            pipeline = self._ready.popleft()
            self._queued.discard(id(pipeline))
            frame = pipeline.take()
            if frame is None:  # stale (counted) or emptied meanwhile
                continue
            self._inflight += 1
            pipeline.busy = True
            self.turns += 1
            task = asyncio.get_running_loop().create_task(self._run(pipeline, frame))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, pipeline: StreamPipeline, frame: FrameIn) -> None:
        retry = False
        try:
            outcome = await self.pool.run(pipeline.run, frame)
        except Busy:
            retry = True
            if pipeline.slot is None:
                pipeline.slot = frame  # back in its slot: replaced or stale if it waits on
            else:
                pipeline.replaced += 1  # a newer frame arrived meanwhile and takes its place
        except Exception as exc:  # a bug or a model failure: report it, keep serving
            log.exception("stream %s: frame failed", pipeline.stream)
            outcome = FrameFailure(pipeline.stream, frame.frame_id, "internal", type(exc).__name__)
        finally:
            self._inflight -= 1
            pipeline.busy = False
        if not retry:
            pipeline.deliver(outcome, frame)
        if pipeline.slot is not None and not pipeline.closed:
            if retry:
                asyncio.get_running_loop().call_later(BUSY_RETRY_S, self._mark_ready, pipeline)
            else:
                self._mark_ready(pipeline)
        self._pump()

    async def close(self) -> None:
        """Wait for the frames in processing (their results are discarded by closed streams)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
