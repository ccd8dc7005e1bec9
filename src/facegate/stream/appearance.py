"""Cheap pixel checks that tell the tracker when a face may have become somebody else.

The tracker links detections by position only, and names a track from votes gathered over
several frames. Two people taking turns on the same spot (a door, an edited video cutting
from one face to the next) would therefore share one track, and the first person's
confirmed name would stay on the second until enough votes overturned it (measured: 17 to
24 frames). Embedding every face in every frame would catch it but costs what tracking
saves, so two checks that cost well under a millisecond a frame raise the alarm instead:

- ``SceneCutDetector``: the whole frame changed at once (a cut, a camera switched, a
  restart). Judged on a 32x32 grey thumbnail by two measures that must *both* jump: the
  mean absolute difference to the previous frame (fooled by fast motion of a textured scene)
  and the L1 distance between their 32-bin grey histograms (fooled by a flash or an exposure
  change, not by motion). On a cut the pipeline ends every track.
- ``face_descriptor``: a 16x16 grey, mean- and contrast-normalised thumbnail of a face box.
  Consecutive frames of one face correlate highly; a different face on the same spot does
  not. A low correlation does not decide anything by itself (small, blurred faces vary a
  lot); it makes the tracker verify the track with an embedding at once (see tracker.py).

- ``StillScene``: whether anything outside the tracked faces (and the bodies below them)
  changed since the detector last looked, on the same 32x32 thumbnail. A newcomer cannot
  walk in without changing some of it, so a settled stream whose picture stayed still may
  go longer without the detector (``stream.still_detect_every``).

Thresholds were measured on the dev videos and synthetic cut clips (docs/streaming.md).
"""

from __future__ import annotations

import cv2
import numpy as np

from facegate.engine.types import Box

THUMB_SIDE = 32
HIST_BINS = 32
DESCRIPTOR_SIDE = 16


def _thumbnail(image: np.ndarray) -> np.ndarray:
    # Every n-th pixel first (about 4 per thumbnail pixel): averaging a full-HD frame down
    # costs ~5 ms of CPU, the strided view ~0.2 ms, and a cut is no subtle thing.
    step = max(1, min(image.shape[:2]) // (4 * THUMB_SIDE))
    sampled = np.ascontiguousarray(image[::step, ::step])
    grey = cv2.cvtColor(sampled, cv2.COLOR_BGR2GRAY) if sampled.ndim == 3 else sampled
    return cv2.resize(grey, (THUMB_SIDE, THUMB_SIDE), interpolation=cv2.INTER_AREA)


def _histogram(thumb: np.ndarray) -> np.ndarray:
    """The thumbnail's grey histogram, as shares of its pixels."""
    bins = np.minimum(thumb // (256 // HIST_BINS), HIST_BINS - 1).astype(np.int64)
    return np.bincount(bins.ravel(), minlength=HIST_BINS).astype(np.float32) / thumb.size


class SceneCutDetector:
    """Says whether a frame is a hard cut from the previous one (see the module docstring).

    Measured with the strided thumbnail below on every pair of consecutive frames of the
    dev videos and of the ``facegate bench cuts`` clips (30 frames a person):

    - ``min_difference``: mean absolute grey difference (0-255) of the thumbnails. Without
      a cut at most 6.7 (walkers), 12.8 (the Hamilton clip's camera moves), 5.2 (the
      synthetic clips' jitter); at cuts 11.0-20.1 (synthetic) and 26-30 (Hamilton).
    - ``min_histogram_change``: L1 distance (0-2) of the thumbnails' 32-bin grey
      histograms. Without a cut at most 0.18 (Hamilton), 0.14 (synthetic); at cuts
      0.23-0.36 (synthetic) and 0.37-0.81 (Hamilton). The new frame is first brought to the
      previous one's mean brightness, so an exposure step of the camera is no cut.

    Both must be exceeded: the Hamilton clip's three cuts are found and nothing else. A cut
    between two very similar frames can be missed; the per-track checks catch those.
    """

    def __init__(self, min_difference: float = 8.0, min_histogram_change: float = 0.22) -> None:
        self.min_difference = min_difference
        self.min_histogram_change = min_histogram_change
        self._previous: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the previous frame: the next one is compared with nothing."""
        self._previous = None

    @property
    def thumbnail(self) -> np.ndarray | None:
        """The 32x32 grey thumbnail of the frame given last (float32; None after a reset)."""
        return self._previous

    def is_cut(self, image: np.ndarray) -> bool:
        """Whether ``image`` is a cut from the frame given last time (never the first one)."""
        thumb = _thumbnail(image).astype(np.float32)
        previous = self._previous
        self._previous = thumb
        if previous is None:
            return False
        # A camera's exposure or gain step brightens the whole picture at once: that is no
        # cut. Compare the new frame brought to the previous one's mean brightness.
        gain = float(previous.mean()) / max(float(thumb.mean()), 1.0)
        levelled = np.clip(thumb * gain, 0, 255)
        difference = float(np.abs(levelled - previous).mean())
        change = float(np.abs(_histogram(levelled) - _histogram(previous)).sum())
        return difference >= self.min_difference and change >= self.min_histogram_change


def face_descriptor(image: np.ndarray, box: Box) -> np.ndarray | None:
    """The face box as a unit-length, zero-mean 16x16 grey vector; None when it is empty
    or flat (nothing to compare). ``descriptor_a @ descriptor_b`` is their correlation."""
    height, width = image.shape[:2]
    x0, y0 = max(0, int(box.x)), max(0, int(box.y))
    x1, y1 = min(width, int(box.x + box.w)), min(height, int(box.y + box.h))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    crop = image[y0:y1, x0:x1]
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    small = cv2.resize(grey, (DESCRIPTOR_SIDE, DESCRIPTOR_SIDE), interpolation=cv2.INTER_AREA)
    vector = small.astype(np.float32).ravel()
    vector -= vector.mean()
    norm = float(np.linalg.norm(vector))
    if norm < 1e-3:
        return None
    return vector / norm


class StillScene:
    """Whether the picture outside the tracked faces is unchanged since the detector looked.

    ``looked`` keeps the thumbnail (``SceneCutDetector.thumbnail``) of a detected frame;
    ``still`` compares a later frame's with it, cell by cell, leaving out the cells around
    each face (``_masked``: the box widened by its width on both sides, from half its height
    above to four heights below, for the body that moves with it) at both times. Still means
    no remaining cell changed by ``max_change`` grey levels or more: measured on the dev
    videos (docs/streaming.md), the largest such change between consecutive frames of a fixed
    camera is mostly 1-3, and a passer-by entering changes a cell by 12 or more per frame
    (walkers clip: 12-80 between consecutive frames, more against older ones). Comparing with
    the last *detected* frame, not the previous one, adds up slow movement.
    """

    def __init__(self, max_change: float = 10.0) -> None:
        self.max_change = max_change
        self._reference: np.ndarray | None = None
        self._boxes: list[Box] = []

    def reset(self) -> None:
        self._reference, self._boxes = None, []

    def looked(self, thumbnail: np.ndarray | None, boxes: list[Box]) -> None:
        """The detector ran on the frame of ``thumbnail`` and found faces at ``boxes``."""
        self._reference, self._boxes = thumbnail, list(boxes)

    def still(
        self, thumbnail: np.ndarray | None, boxes: list[Box], width: int, height: int
    ) -> bool:
        """Whether nothing changed outside the faces (at the last look and at ``boxes`` now)
        of a ``width`` x ``height`` frame since the last look; False when not comparable."""
        if thumbnail is None or self._reference is None:
            return False
        keep = np.ones(thumbnail.shape, dtype=bool)
        for box in self._boxes + boxes:
            keep[_masked(box, width, height, thumbnail.shape)] = False
        if not keep.any():
            return False  # faces everywhere: nothing left to judge stillness by
        return float(np.abs(thumbnail - self._reference)[keep].max()) < self.max_change


def _masked(box: Box, width: int, height: int, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """The thumbnail cells (rows, columns) of a face and the body below it."""
    rows, cols = shape[0], shape[1]
    x0, x1 = box.x - box.w, box.x + 2 * box.w
    y0, y1 = box.y - 0.5 * box.h, box.y + 4 * box.h
    c0, c1 = max(0, int(x0 * cols / width)), min(cols, int(np.ceil(x1 * cols / width)))
    r0, r1 = max(0, int(y0 * rows / height)), min(rows, int(np.ceil(y1 * rows / height)))
    return slice(r0, max(r0, r1)), slice(c0, max(c0, c1))
