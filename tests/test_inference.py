"""The shared inference pool: bounded, usable from threads and from asyncio."""

from __future__ import annotations

import asyncio
import threading

import pytest

from facegate.errors import Busy
from facegate.inference import InferencePool


def test_call_and_run_return_results():
    pool = InferencePool(threads=2, max_queue=4)
    try:
        assert pool.call(lambda a, b: a + b, 2, 3) == 5
        assert asyncio.run(pool.run(lambda: "done")) == "done"
        assert pool.pending == 0
    finally:
        pool.shutdown()


def test_full_queue_sheds_work_and_recovers():
    pool = InferencePool(threads=1, max_queue=1)
    gate = threading.Event()
    started = threading.Event()

    def blocker() -> str:
        started.set()
        gate.wait(5)
        return "ok"

    async def scenario() -> list[object]:
        first = asyncio.ensure_future(pool.run(blocker))  # running
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
        second = asyncio.ensure_future(pool.run(lambda: "queued"))  # waiting
        await asyncio.sleep(0)
        assert pool.pending == 2 and pool.queue_depth == 1
        with pytest.raises(Busy):
            await pool.run(lambda: "refused")
        gate.set()
        return list(await asyncio.gather(first, second))

    try:
        assert asyncio.run(scenario()) == ["ok", "queued"]
        assert pool.pending == 0
        assert pool.call(lambda: 1) == 1
    finally:
        pool.shutdown()


def test_errors_release_their_slot():
    pool = InferencePool(threads=1, max_queue=0)

    def boom() -> None:
        raise ValueError("model failed")

    try:
        with pytest.raises(ValueError):
            pool.call(boom)
        assert pool.pending == 0
        assert pool.call(lambda: "next") == "next"
    finally:
        pool.shutdown()
