"""Frame sources for the stream client: a camera, a video file, a network stream, a folder.

Every source yields ``SourceFrame``s in real time. Live sources (a device index, an
``rtsp://`` or ``http://`` URL) are read as fast as they produce frames. Files and folders
are *paced*: frame i is released at ``start + i / fps``, and when the reader falls behind
(a slow consumer) frames are skipped to catch up, as a camera would drop them, so a file
stands in for a camera honestly. ``skipped`` counts them.

Sources hold a ``cv2.VideoCapture`` or a file list, never a thread of their own; the caller
decides what runs where.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import cv2
import numpy as np

from facegate.engine.decode import image_files

DEFAULT_FOLDER_FPS = 5.0


DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443, "rtmp": 1935}
PROBE_TIMEOUT_S = 3.0
# What went wrong, as a stable code a page can translate (facegate.api.web.texts_pages).
SourceErrorCode = Literal[
    "not_found",  # no such file, folder or device
    "no_images",  # a folder without images
    "cannot_open",  # it exists (or answers) but cannot be read as video
    "connection_refused",  # nothing listens at the camera's address
    "timeout",  # the camera's address does not answer
    "unreachable",  # unknown host or no route
]


class SourceError(Exception):
    """The source cannot be opened or read; ``code`` says why (``SourceErrorCode``)."""

    def __init__(self, message: str, code: SourceErrorCode = "cannot_open") -> None:
        super().__init__(message)
        self.code: SourceErrorCode = code


def local_problem(spec: str) -> SourceError | None:
    """What is wrong with a local source without opening it (a missing file or folder), or
    None: cheap enough to ask before anyone watches the camera."""
    if spec.isdigit() or "://" in spec or Path(spec).exists():
        return None
    return SourceError(f"{spec} does not exist", "not_found")


def diagnose_url(url: str, timeout: float = PROBE_TIMEOUT_S) -> SourceErrorCode:
    """Why a network camera would not open: try a TCP connection to its host and port."""
    parts = urlsplit(url)
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return "cannot_open"
    if not parts.hostname or port is None:
        return "cannot_open"
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return "cannot_open"  # it answers: the path, the credentials or the codec
    except ConnectionRefusedError:
        return "connection_refused"
    except TimeoutError:
        return "timeout"
    except OSError:
        return "unreachable"


@dataclass(frozen=True, slots=True)
class SourceFrame:
    index: int  # position in the source (files: the frame number, skips included)
    captured: float  # time.time() when the frame was read / released
    image: np.ndarray = field(repr=False, compare=False)


class FrameSource:
    """Iterate to get frames; ``close`` releases the device or file."""

    def __init__(self, spec: str, *, fps: float | None = None, loop: bool = False) -> None:
        self.spec, self.loop = spec, loop
        self.skipped = 0
        self._capture: cv2.VideoCapture | None = None
        self._files: list[Path] = []
        path = Path(spec)
        if spec.isdigit():
            self.kind = "device"
            self._capture = self._open(int(spec))
        elif "://" in spec:
            self.kind = "url"
            self._capture = self._open(spec)
        elif path.is_dir():
            self.kind = "folder"
            self._files = image_files(path)
            if not self._files:
                raise SourceError(f"no images in {spec}", "no_images")
        elif path.is_file():
            self.kind = "file"
            self._capture = self._open(str(path))
        else:
            raise SourceError(f"{spec} is not a device index, URL, video file or folder",
                              "not_found")  # fmt: skip
        native = self._capture.get(cv2.CAP_PROP_FPS) if self._capture is not None else 0.0
        if fps is not None:
            self.fps: float | None = fps
        elif self.kind == "file":
            self.fps = native if native and native > 0 else 25.0
        elif self.kind == "folder":
            self.fps = DEFAULT_FOLDER_FPS
        else:
            self.fps = None  # live: as fast as it comes

    @staticmethod
    def _open(target: int | str) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(target)
        if not capture.isOpened():
            code = diagnose_url(target) if isinstance(target, str) and "://" in target else None
            raise SourceError(f"cannot open {target!r}", code or "cannot_open")
        return capture

    @property
    def paced(self) -> bool:
        return self.kind in ("file", "folder")

    def _raw(self) -> Iterator[np.ndarray]:
        """Frames in order, without pacing (looping files and folders when asked)."""
        while True:
            produced = False
            if self._capture is not None:
                while True:
                    ok, image = self._capture.read()
                    if not ok:
                        break
                    produced = True
                    yield image
                if not (self.loop and self.kind == "file"):
                    return
                self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            else:
                for path in self._files:
                    still = cv2.imread(str(path), cv2.IMREAD_COLOR)
                    if still is not None:
                        produced = True
                        yield still
                if not self.loop:
                    return
            if not produced:
                return

    def __iter__(self) -> Iterator[SourceFrame]:
        frames = self._raw()
        if not self.paced or not self.fps:
            last = 0.0
            min_gap = 1.0 / self.fps if self.fps else 0.0
            for index, image in enumerate(frames):
                now = time.time()
                if now - last < min_gap:  # live source faster than --fps: drop
                    self.skipped += 1
                    continue
                last = now
                yield SourceFrame(index, now, image)
            return
        period = 1.0 / self.fps
        start = time.monotonic()
        for index, image in enumerate(frames):
            due = start + index * period
            now = time.monotonic()
            if now - due > period:  # more than a frame late: skip, as a camera would
                self.skipped += 1
                continue
            if due > now:
                time.sleep(due - now)
            yield SourceFrame(index, time.time(), image)

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_server(text: str, default_port: int = 8001) -> tuple[str, int]:
    """``HOST:PORT`` (or ``HOST``, or ``[v6]:PORT``) as a pair."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest.lstrip(":") or default_port)
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, default_port
    return host or "127.0.0.1", int(port)
