"""A small pool of model instances so several threads can run inference at once.

OpenCV's DNN nets and YuNet keep per-call state (input size, blobs), so one instance must not
be used by two threads at the same time. OpenCV releases the GIL while it computes, so with one
instance per worker thread both cores work. ``size=1`` is the "one shared instance behind a
lock" variant; ``facegate bench engine --threads`` measures both.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class InstancePool(Generic[T]):
    """Hands out at most ``size`` instances, created lazily by ``factory``."""

    def __init__(self, factory: Callable[[], T], size: int) -> None:
        if size < 1:
            raise ValueError("pool size must be at least 1")
        self._factory = factory
        self._size = size
        self._created = 0
        self._idle: queue.LifoQueue[T] = queue.LifoQueue()
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return self._size

    @contextmanager
    def use(self) -> Iterator[T]:
        """Borrow an instance for the duration of the ``with`` block."""
        instance = self._acquire()
        try:
            yield instance
        finally:
            self._idle.put(instance)

    def _acquire(self) -> T:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._created < self._size:
                self._created += 1
                create = True
            else:
                create = False
        if create:
            try:
                return self._factory()
            except BaseException:
                with self._lock:
                    self._created -= 1
                raise
        return self._idle.get()
