"""``DoorDirectory``: which door each camera watches, cached in memory.

Door watchers run on the inference thread for every frame of every stream, so they must never
query the database. The directory re-reads the doors on its own thread every
``refresh_s`` seconds (2 s by default) and swaps in a new immutable map; a lookup is one dict
access. That is how a door added with ``facegate doors add`` in another process reaches a
running server within a few seconds, in every worker.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from facegate.access.store import AccessStore, CameraDirection, Door

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DoorView:
    """A camera's door as its watcher needs it."""

    door: Door
    direction: CameraDirection


class DoorDirectory:
    """Camera name -> ``DoorView``, refreshed from the database in the background."""

    def __init__(self, store: AccessStore, *, refresh_s: float = 2.0) -> None:
        self.store = store
        self.refresh_s = refresh_s
        self._map: dict[str, DoorView] = {}
        self.version = 0  # bumped whenever the map changes
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def lookup(self, camera: str) -> DoorView | None:
        return self._map.get(camera)

    def refresh(self) -> bool:
        """Re-read the doors now; True when something changed."""
        fresh = {
            cam: DoorView(d, direction) for cam, (d, direction) in self.store.camera_doors().items()
        }
        if fresh == self._map:
            return False
        self._map = fresh  # one reference swap: readers see the old map or the new one
        self.version += 1
        return True

    def start(self) -> None:
        try:
            self.refresh()
        except Exception as exc:
            log.warning("access: door list not read (%s); retrying", type(exc).__name__)
        self._thread = threading.Thread(target=self._run, name="access-doors", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.refresh_s):
            try:
                self.refresh()
            except Exception as exc:  # the database away for a moment: keep the last map
                log.warning("access: door list not refreshed (%s)", type(exc).__name__)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
