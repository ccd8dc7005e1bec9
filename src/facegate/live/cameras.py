"""Server-side cameras: one capture thread per source, run on demand, restarted when stuck.

A ``Camera`` reads a ``FrameSource`` (device index, video file, RTSP/HTTP URL, image folder;
files and folders loop, so a file stands in for a camera that never ends) on a thread of its
own and hands every frame to a sink on the event loop, which puts it in the stream's
one-frame slot: the capture thread never waits for recognition, so a slow pipeline drops
frames instead of delaying them.

- **On demand.** ``acquire``/``release`` count consumers (MJPEG viewers, ``always_on``). The
  thread starts with the first consumer and stops ``idle_stop_s`` after the last one leaves,
  so a camera nobody watches costs nothing, and a viewer who reloads the page does not
  restart the device.
- **Reconnect with backoff.** A source that cannot be opened, fails or ends is reopened after
  0.5 s, doubling up to ``backoff_max_s``; a delivered frame resets the delay.
- **Watchdog.** ``check_stall`` (called every second by the manager) restarts a camera that
  has produced no frame for ``stall_s`` while running: RTSP reads can block forever on a dead
  network. A thread cannot be killed, so the stuck one is *abandoned*: its generation no
  longer matches and it exits, closing its source, whenever its read returns.

- **Segments.** Every successful open of the source (a start on demand, a reopen after a
  read error or end, a stall restart) begins a new *segment*: ``segment`` counts them and
  it is counted before any frame of the new segment is delivered. Whoever is in
  front of the camera now may not be who was there before, so the owner starts its tracker
  afresh (manager.py stamps the segment on each frame; the pipeline resets on a new one).

Everything but the capture itself runs on the event loop's thread. Source strings may hold
credentials (``user:password@``, ``?user=&pwd=``): ``facegate.redact.mask_url`` of the
source is what logs, stats and pages show.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Literal, Protocol

import cv2
import numpy as np

from facegate.config import CameraConfig
from facegate.redact import mask_text, mask_url
from facegate.stream.sources import FrameSource, SourceError, SourceFrame, local_problem

log = logging.getLogger(__name__)

FIRST_BACKOFF_S = 0.5
CameraState = Literal["idle", "starting", "running", "backoff"]


def parse_camera_option(text: str) -> CameraConfig:
    """``NAME=SOURCE`` (``facegate serve --camera``) as a camera config."""
    name, sep, source = text.partition("=")
    if not sep or not name.strip() or not source.strip():
        raise ValueError(f"expected NAME=SOURCE, got {mask_text(text)!r}")
    return CameraConfig(name=name.strip(), source=source.strip())


class Source(Protocol):
    """What a camera reads: ``FrameSource`` or a test's stand-in."""

    def __iter__(self) -> Iterator[SourceFrame]: ...

    def close(self) -> None: ...


SourceFactory = Callable[[str], Source]


def open_source(spec: str) -> Source:
    return FrameSource(spec, loop=True)


def fit(image: np.ndarray, max_side: int) -> np.ndarray:
    """Scale a frame down so its longest side is at most ``max_side`` (never up)."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1.0:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


class Camera:
    """One configured camera owned by this process; see the module docstring."""

    def __init__(
        self,
        config: CameraConfig,
        sink: Callable[[Camera, SourceFrame], None],
        *,
        idle_stop_s: float = 5.0,
        stall_s: float = 10.0,
        backoff_max_s: float = 30.0,
        max_side: int = 1280,
        source_factory: SourceFactory = open_source,
    ) -> None:
        self.config = config
        self.sink = sink
        self.idle_stop_s, self.stall_s = idle_stop_s, stall_s
        self.backoff_max_s, self.max_side = backoff_max_s, max_side
        self.source_factory = source_factory
        self.loop = asyncio.get_running_loop()
        self.state: CameraState = "idle"
        self.consumers = 0
        self.starts = 0  # capture threads started (first start, restarts, stall restarts)
        self.stalls = 0
        self.failures = 0  # opens or reads that failed
        self.frames = 0
        self.segment = 0  # successful opens of the source (see the module docstring)
        self.last_error: str | None = None  # the last failure's code, kept after recovery
        # The failure the camera is in now (None once frames flow): a code for pages to
        # translate (a SourceError's, or the exception type) and its masked message.
        self.error: str | None = None
        self.error_detail: str | None = None
        problem = local_problem(config.source)
        if problem is not None:  # known before anyone watches: the page does not pick it
            self.last_error = self.error = problem.code
            self.error_detail = mask_text(str(problem))
        self._generation = 0
        self._halt = threading.Event()
        self._last_frame = 0.0  # monotonic, written by the capture thread
        self._stop_timer: asyncio.TimerHandle | None = None
        if config.always_on:
            self.acquire()

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def shown_source(self) -> str:
        return mask_url(self.config.source)

    # -- demand (event loop) ----------------------------------------------------------------

    def acquire(self) -> None:
        """One more consumer: start now if stopped, cancel a pending stop."""
        self.consumers += 1
        if self._stop_timer is not None:
            self._stop_timer.cancel()
            self._stop_timer = None
        if self.state == "idle":
            self._start()

    def release(self) -> None:
        """One consumer fewer: stop ``idle_stop_s`` after the last one leaves."""
        self.consumers = max(0, self.consumers - 1)
        if self.consumers == 0 and self.state != "idle" and self._stop_timer is None:
            self._stop_timer = self.loop.call_later(self.idle_stop_s, self._idle_stop)

    def _idle_stop(self) -> None:
        self._stop_timer = None
        if self.consumers == 0:
            log.info("camera %s: no consumer for %.0f s, stopping", self.name, self.idle_stop_s)
            self.stop()

    def _start(self) -> None:
        self._generation += 1
        self._halt = threading.Event()
        self.state = "starting"
        self.starts += 1
        self._last_frame = time.monotonic()  # the watchdog's clock starts now
        thread = threading.Thread(
            target=self._capture,
            args=(self._generation, self._halt),
            name=f"camera-{self.name}",
            daemon=True,
        )
        thread.start()

    def stop(self) -> None:
        """Stop capturing; the thread exits after its current read."""
        self._generation += 1
        self._halt.set()
        self.state = "idle"
        if self._stop_timer is not None:
            self._stop_timer.cancel()
            self._stop_timer = None

    def check_stall(self) -> bool:
        """Restart a camera that delivered nothing for ``stall_s``; True when it did."""
        if self.state not in ("starting", "running"):
            return False
        if time.monotonic() - self._last_frame <= self.stall_s:
            return False
        log.warning("camera %s: no frame for %.0f s, restarting", self.name, self.stall_s)
        self.stalls += 1
        self.stop()
        self._start()
        return True

    # -- capture (its own thread) ------------------------------------------------------------

    def _set_state(
        self,
        generation: int,
        state: CameraState,
        error: str | None = None,
        detail: str | None = None,
    ) -> None:
        def apply() -> None:
            if generation == self._generation:
                self.state = state
                if error is not None:
                    self.last_error = self.error = error
                    self.error_detail = detail

        self.loop.call_soon_threadsafe(apply)

    def _capture(self, generation: int, halt: threading.Event) -> None:
        backoff = FIRST_BACKOFF_S
        while not halt.is_set():
            source: Source | None = None
            try:
                source = self.source_factory(self.config.source)
                # FIFO with the frames below: the owner hears of it before the first frame.
                self.loop.call_soon_threadsafe(self._opened, generation)
                for frame in source:
                    if halt.is_set():
                        return
                    self._last_frame = time.monotonic()
                    backoff = FIRST_BACKOFF_S
                    self.frames += 1
                    image = fit(frame.image, self.max_side)
                    out = SourceFrame(frame.index, frame.captured, image)
                    self.loop.call_soon_threadsafe(self._deliver, generation, out)
                reason, detail = "ended", "the source ended"
            except SourceError as exc:  # its code says why (not found, refused, ...)
                reason, detail = exc.code, mask_text(str(exc))
            except Exception as exc:  # cv2 and network errors alike: reopen after a pause
                # The message may quote the source URL: log the exception type only.
                reason = type(exc).__name__
                detail = reason
            finally:
                if source is not None:
                    try:
                        source.close()
                    except Exception:
                        log.debug("camera %s: close failed", self.name, exc_info=True)
            if halt.is_set():
                return
            self.failures += 1
            log.warning("camera %s: %s; reopening in %.1f s", self.name, detail, backoff)
            self._set_state(generation, "backoff", reason, detail)
            self._last_frame = time.monotonic() + backoff  # waiting is not stalling
            if halt.wait(backoff):
                return
            backoff = min(backoff * 2, self.backoff_max_s)

    def _opened(self, generation: int) -> None:
        if generation != self._generation:
            return  # an abandoned capture thread: its frames are never delivered either
        self.segment += 1

    def _deliver(self, generation: int, frame: SourceFrame) -> None:
        if generation == self._generation and self.state != "idle":
            self.state = "running"
            self.error = self.error_detail = None
            self.sink(self, frame)

    def as_dict(self) -> dict[str, object]:
        return {
            "state": self.state,
            "consumers": self.consumers,
            "always_on": self.config.always_on,
            "direction": self.config.direction,
            "starts": self.starts,
            "stalls": self.stalls,
            "failures": self.failures,
            "frames_captured": self.frames,
            "segments": self.segment,
            "last_error": self.last_error,
            "error": self.error,
            "error_detail": self.error_detail,
        }
