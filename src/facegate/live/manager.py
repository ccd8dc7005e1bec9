"""The configured cameras of a ``facegate serve`` process: who owns each, and their pipelines.

With ``--workers N`` every worker reads the same camera list, but a camera must be opened by
one process only (a USB device can be opened once; an RTSP camera should not serve N
identical streams; attendance must not log each person N times). Ownership is an exclusive
``flock`` on ``<data_dir>/live/camera-<name>.lock``: the kernel gives it to exactly one
process and takes it back when that process dies, however it dies, and the others retry
every few seconds, so a camera moves to a surviving worker by itself. (A shared PostgreSQL
gallery on several machines would want an advisory lock instead; the cameras of one machine
are this machine's business, so a file lock fits.)

The owner gives each camera a ``StreamPipeline`` on the shared fair scheduler, exactly like a
TCP client's, and a live channel; frames from the camera's thread enter the pipeline's
one-frame slot on the event loop, stamped with the camera's segment (a new one per open of
the source), so a camera (re)start begins with an empty tracker.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import time
from pathlib import Path

from facegate.config import CameraConfig, Settings
from facegate.live.cameras import Camera, SourceFactory, open_source
from facegate.live.hub import Channel, LiveHub
from facegate.services import Services
from facegate.stream.pipeline import (
    FrameFailure,
    FrameIn,
    FrameProcessor,
    FrameResult,
    StreamPipeline,
)
from facegate.stream.scheduler import FairScheduler
from facegate.stream.sources import SourceFrame
from facegate.stream.tracker import TrackerParams

log = logging.getLogger(__name__)

TICK_S = 1.0  # watchdog period
LOCK_RETRY_S = 3.0  # how often a non-owner tries to take a camera over


class OwnerLock:
    """An exclusive, non-blocking ``flock`` held for the life of the process (or ``release``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class _Owned:
    """A camera this process owns, with its pipeline and channel."""

    def __init__(self, camera: Camera, pipeline: StreamPipeline, channel: Channel) -> None:
        self.camera, self.pipeline, self.channel = camera, pipeline, channel
        self.next_id = 0


class CameraManager:
    """Takes ownership of what it can, runs the owned cameras, retries the others."""

    def __init__(
        self,
        services: Services,
        hub: LiveHub,
        scheduler: FairScheduler,
        *,
        source_factory: SourceFactory = open_source,
    ) -> None:
        self.services, self.hub, self.scheduler = services, hub, scheduler
        self.settings: Settings = services.settings
        self.source_factory = source_factory
        self.configs = list(self.settings.live.all_cameras)
        self.locks = {
            c.name: OwnerLock(self.settings.storage.data_dir / "live" / f"camera-{c.name}.lock")
            for c in self.configs
        }
        self.owned: dict[str, _Owned] = {}
        self._task: asyncio.Task[None] | None = None
        self._last_lock_try = 0.0

    async def start(self) -> None:
        names = [c.name for c in self.configs]
        if len(set(names)) != len(names):
            raise ValueError("camera names must be unique")
        self._try_locks()
        self._task = asyncio.get_running_loop().create_task(self._tick())

    def _try_locks(self) -> None:
        self._last_lock_try = time.monotonic()
        for config in self.configs:
            if config.name not in self.owned and self.locks[config.name].try_acquire():
                self._own(config)

    def _own(self, config: CameraConfig) -> None:
        s = self.settings
        processor = FrameProcessor(
            self.services.engine,
            self.services.gallery,
            stream=config.name,
            annotate=False,
            annotate_quality=s.stream.annotate_quality,
            tracker_params=TrackerParams(reembed_every=s.stream.reembed_every),
            max_embeddings=s.stream.max_embeddings_per_frame,
            observer=self.services.observers.for_stream(config.name),
        )

        def ignore(outcome: FrameResult | FrameFailure) -> None:
            if isinstance(outcome, FrameFailure) and outcome.code == "internal":
                log.warning("camera %s: frame failed (%s)", config.name, outcome.message)

        pipeline = StreamPipeline(processor, ignore, max_age_s=s.stream.max_frame_age_ms / 1000)
        camera = Camera(
            config,
            self._frame,
            idle_stop_s=s.live.idle_stop_s,
            stall_s=s.live.stall_s,
            backoff_max_s=s.live.backoff_max_s,
            max_side=s.live.camera_max_side,
            source_factory=self.source_factory,
        )

        def demand(change: int) -> None:
            camera.acquire() if change > 0 else camera.release()

        channel = self.hub.open(
            config.name,
            "camera",
            camera.shown_source,
            pipeline,
            on_demand=demand,
            details=camera.as_dict,
        )
        self.owned[config.name] = _Owned(camera, pipeline, channel)
        self.scheduler.add(pipeline)
        log.info(
            "camera %s (%s) owned by process %d%s",
            config.name,
            camera.shown_source,
            os.getpid(),
            ", always on" if config.always_on else ", runs while watched",
        )

    def _frame(self, camera: Camera, frame: SourceFrame) -> None:
        owned = self.owned.get(camera.name)
        if owned is None:
            return
        owned.next_id += 1
        owned.pipeline.submit(
            FrameIn(
                owned.next_id,
                frame.captured,
                time.time(),
                image=frame.image,
                segment=camera.segment,
            )
        )

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            for owned in list(self.owned.values()):
                owned.camera.check_stall()
            if len(self.owned) < len(self.configs) and (
                time.monotonic() - self._last_lock_try >= LOCK_RETRY_S
            ):
                self._try_locks()

    def camera(self, name: str) -> Camera | None:
        owned = self.owned.get(name)
        return owned.camera if owned else None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for owned in self.owned.values():
            owned.camera.stop()
            self.scheduler.remove(owned.pipeline)
            self.hub.close(owned.channel)
        self.owned.clear()
        for lock in self.locks.values():
            lock.release()
