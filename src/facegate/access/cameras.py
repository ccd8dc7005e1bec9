"""``DoorCameras``: a server camera that watches a door runs whether or not anyone watches it.

Server cameras run on demand (``facegate.live``): while an MJPEG viewer is connected, or
always with ``always_on``. A door must decide when nobody is looking at the live view, so the
access hook holds one consumer (``Camera.acquire``) on every camera this process owns that
is a door camera in the ``DoorDirectory``, and lets it go (``release``) when the camera
leaves its door. ``sync`` runs on the event loop (where cameras take demand), every
``access_refresh_s``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from facegate.access.directory import DoorDirectory


class Demand(Protocol):
    def acquire(self) -> None: ...

    def release(self) -> None: ...


class DoorCameras:
    """Holds demand on the owned cameras that watch a door."""

    def __init__(self, directory: DoorDirectory, owned: Callable[[], Mapping[str, Demand]]) -> None:
        self.directory = directory
        self.owned = owned
        self._held: dict[str, Demand] = {}

    @property
    def held(self) -> list[str]:
        return sorted(self._held)

    def sync(self) -> None:
        cameras = self.owned()
        for name, camera in cameras.items():
            wanted = self.directory.lookup(name) is not None
            held = self._held.get(name)
            if held is not None and held is not camera:  # ownership was lost and regained
                del self._held[name]
                held = None
            if wanted and held is None:
                camera.acquire()
                self._held[name] = camera
            elif not wanted and held is not None:
                self._held.pop(name).release()
        for name in [n for n in self._held if n not in cameras]:
            del self._held[name]  # no longer ours: its demand went with it

    def release_all(self) -> None:
        for camera in self._held.values():
            camera.release()
        self._held.clear()
