"""The cameras of the cluster that this process runs: their leases and their pipelines.

The camera list lives in the database (``cameras``, facegate.cluster); the environment's and
``--camera``'s list is a bootstrap that ``start`` upserts into it. Which host runs a camera
is decided by a lease in the database (``facegate.cluster.node.LeaseKeeper``: rendezvous
placement over the live nodes, renewal every ~2 s, a fencing epoch that grows with every
change of owner). Between the workers of one host (one node), a camera is run by the worker
that holds an exclusive ``flock`` on ``<data_dir>/live/camera-<name>.lock``: the kernel gives
it to exactly one process and takes it back when that process dies, however it dies, and only
that worker takes and renews the camera's lease.

The manager reconciles the running cameras with the leases every second on the event loop:
a lease held whose camera is not running starts it, a running camera whose lease is gone,
changed epoch or passed its local deadline (no renewal for ``cluster_renew_deadline_s``) stops
at once, even while the lease thread is stuck in a database call. Events from a camera carry
its epoch (``TrackObservers.for_stream(..., epoch=)``) and are refused by the database once
another owner has a newer one.

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

from facegate.cluster.node import LeaseKeeper
from facegate.cluster.service import ClusterNode
from facegate.cluster.store import CameraRow
from facegate.config import CameraConfig, Settings
from facegate.live.cameras import Camera, SourceFactory, open_source
from facegate.live.hub import Channel, LiveHub
from facegate.services import Services
from facegate.stream.pipeline import (
    FrameFailure,
    FrameIn,
    FrameResult,
    StreamPipeline,
    stream_processor,
)
from facegate.stream.scheduler import FairScheduler
from facegate.stream.sources import SourceFrame

log = logging.getLogger(__name__)

TICK_S = 1.0  # watchdog period


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


def camera_config(row: CameraRow) -> CameraConfig:
    return CameraConfig(
        name=row.name,
        source=row.source,
        always_on=row.always_on,
        direction=row.direction,  # type: ignore[arg-type]
    )


def camera_row(config: CameraConfig) -> CameraRow:
    return CameraRow(config.name, config.source, config.direction, {"always_on": config.always_on})


class _Owned:
    """A camera this process runs, with its pipeline, channel and lease epoch."""

    def __init__(
        self,
        config: CameraConfig,
        camera: Camera,
        pipeline: StreamPipeline,
        channel: Channel,
        epoch: int,
    ) -> None:
        self.config, self.camera, self.pipeline, self.channel = config, camera, pipeline, channel
        self.epoch = epoch
        self.next_id = 0


class CameraManager:
    """Runs the cameras whose lease this process holds, stops the others."""

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
        self.locks: dict[str, OwnerLock] = {}
        self.owned: dict[str, _Owned] = {}
        self.keeper: LeaseKeeper | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        names = [c.name for c in self.configs]
        if len(set(names)) != len(names):
            raise ValueError("camera names must be unique")
        cluster = self.services.cluster
        if cluster is None:  # Services built by hand (tests): the same node, made here
            cluster = self.services.cluster = ClusterNode(
                self.settings, self.services.gallery.store.db
            )
        self._loop = asyncio.get_running_loop()
        for config in self.configs:  # the environment's list seeds the cluster's
            await asyncio.to_thread(cluster.store.upsert_camera, camera_row(config))
        self.keeper = cluster.keeper(
            may_run=self._may_run, let_go=self._let_go, on_change=self._wake
        )
        await asyncio.to_thread(self.keeper.start)
        self._reconcile()  # what the first cycle leased runs from now on
        self._task = self._loop.create_task(self._tick())

    # -- called from the lease thread ---------------------------------------------------------

    def _may_run(self, name: str) -> bool:
        lock = self.locks.get(name)
        if lock is None:
            lock = self.locks[name] = OwnerLock(
                self.settings.storage.data_dir / "live" / f"camera-{name}.lock"
            )
        return lock.try_acquire()

    def _let_go(self, name: str) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._reconcile, name)

    def _wake(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._reconcile)

    # -- on the event loop --------------------------------------------------------------------

    def _reconcile(self, unlock: str | None = None) -> None:
        """Start what is leased and not running, stop what runs without a valid lease."""
        held = self.keeper.held() if self.keeper is not None else {}
        for name, owned in list(self.owned.items()):
            lease = held.get(name)
            if lease is None:
                self._disown(name, "lease lost or expired")
            elif lease.epoch != owned.epoch:
                self._disown(name, "new epoch")
            elif camera_config(lease.camera) != owned.config:
                self._disown(name, "configuration changed")  # restarted just below
        for name, lease in held.items():
            if name not in self.owned:
                self._own(camera_config(lease.camera), lease.epoch)
        if unlock is not None and unlock not in held and unlock in self.locks:
            self.locks[unlock].release()

    def _disown(self, name: str, why: str) -> None:
        owned = self.owned.pop(name)
        owned.camera.stop()
        self.scheduler.remove(owned.pipeline)
        self.hub.close(owned.channel)
        log.warning(
            "camera %s (epoch %d) stopped by process %d: %s", name, owned.epoch, os.getpid(), why
        )

    def _own(self, config: CameraConfig, epoch: int) -> None:
        s = self.settings
        processor = stream_processor(
            self.services,
            config.name,
            observer=self.services.observers.for_stream(config.name, epoch=epoch),
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
        self.owned[config.name] = _Owned(config, camera, pipeline, channel, epoch)
        self.scheduler.add(pipeline)
        log.info(
            "camera %s (%s) owned by process %d, epoch %d%s",
            config.name,
            camera.shown_source,
            os.getpid(),
            epoch,
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
            self._reconcile()  # a passed deadline stops its camera here, DB or no DB

    def camera(self, name: str) -> Camera | None:
        owned = self.owned.get(name)
        return owned.camera if owned else None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for name in list(self.owned):
            self._disown(name, "shutting down")
        if self.keeper is not None:
            await asyncio.to_thread(self.keeper.stop)
        for lock in self.locks.values():
            lock.release()
