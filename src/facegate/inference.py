"""One bounded pool of inference threads, shared by HTTP requests and video streams.

Model work never runs on an event loop. OpenCV releases the GIL while it computes, so a pool
of ``inference_threads`` threads keeps every core busy; more threads would only add
contention. The queue in front of it is bounded: past ``max_queue`` waiting jobs a caller gets
``Busy`` at once instead of joining a queue it would time out in (a server under overload
should shed work, not pile it up). The current depth is exported to ``/metrics``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from facegate.errors import Busy

P = ParamSpec("P")
R = TypeVar("R")


class InferencePool:
    """A fixed number of worker threads behind a bounded queue."""

    def __init__(self, threads: int, max_queue: int = 64) -> None:
        self.threads = threads
        self.max_queue = max_queue
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="inference")
        self._lock = threading.Lock()
        self._pending = 0  # queued + running

    @property
    def pending(self) -> int:
        """Jobs waiting or running now."""
        return self._pending

    @property
    def queue_depth(self) -> int:
        """Jobs waiting for a free thread."""
        return max(0, self._pending - self.threads)

    def _admit(self) -> None:
        with self._lock:
            if self._pending >= self.threads + self.max_queue:
                raise Busy(f"inference queue is full ({self.max_queue} waiting); retry shortly")
            self._pending += 1

    def _release(self) -> None:
        with self._lock:
            self._pending -= 1

    def _wrap(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        finally:
            self._release()

    async def run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn`` on the pool from async code; raises ``Busy`` when the queue is full."""
        self._admit()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._executor, lambda: self._wrap(fn, *args, **kwargs)
            )
        except RuntimeError:
            # the executor was shut down before the job started: it never ran _wrap
            self._release()
            raise

    def call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn`` on the pool from a plain thread and wait for the result."""
        self._admit()
        try:
            future = self._executor.submit(lambda: self._wrap(fn, *args, **kwargs))
        except RuntimeError:
            self._release()
            raise
        return future.result()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
