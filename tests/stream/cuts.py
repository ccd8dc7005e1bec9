"""Synthetic "hard cut" clips from dev photos: people taking turns on the same spot.

A door camera sees one person after another at the same place; an edited video cuts from one
face to the next. Both put a new face where the tracker expects the previous one. These clips
reproduce that exactly: each segment pastes one photo (a dev image, never copied into the
repo) at the same position on a plain background, for a number of frames, with a small
per-frame jitter so the tracker sees the normal motion of a standing person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT = 640, 480
FACE_SIDE = 300  # the pasted photo's side in pixels (LFW photos are loose 250x250 crops)
BACKGROUND = (128, 128, 128)


@dataclass(frozen=True)
class Segment:
    """``frames`` frames of one person (``name``: who it is; None for the clip's stranger)."""

    photo: Path
    frames: int
    name: str | None


def photo(people: Path, name: str, index: int = 0) -> Path:
    """The ``index``-th photo (sorted) of a dev identity."""
    return sorted((people / name).iterdir())[index]


def cut_clip(
    segments: Sequence[Segment], *, jitter: int = 3, seed: int = 0
) -> list[tuple[np.ndarray, str | None]]:
    """Every frame of the clip with who is on it, the segments joined by hard cuts."""
    rng = np.random.default_rng(seed)
    x0, y0 = (WIDTH - FACE_SIDE) // 2, (HEIGHT - FACE_SIDE) // 2
    out: list[tuple[np.ndarray, str | None]] = []
    for segment in segments:
        image = cv2.imread(str(segment.photo), cv2.IMREAD_COLOR)
        assert image is not None, segment.photo
        face = cv2.resize(image, (FACE_SIDE, FACE_SIDE), interpolation=cv2.INTER_CUBIC)
        for _ in range(segment.frames):
            dx, dy = (int(v) for v in rng.integers(-jitter, jitter + 1, 2))
            frame = np.empty((HEIGHT, WIDTH, 3), np.uint8)
            frame[:] = BACKGROUND
            frame[y0 + dy : y0 + dy + FACE_SIDE, x0 + dx : x0 + dx + FACE_SIDE] = face
            out.append((frame, segment.name))
    return out


@dataclass(frozen=True)
class Verdict:
    """What a clip's per-frame answers showed.

    ``longest_wrong_run``: the most consecutive frames in which some face carried a confirmed
    name other than the person on screen (any name at all on a stranger's segment).
    ``confirm_delays``: per segment of an enrolled person, how many frames it took until the
    right name was confirmed on screen (1: at once; None: never).
    """

    longest_wrong_run: int
    confirm_delays: list[int | None]


def judge(frames: Sequence[tuple[str | None, Sequence[tuple[str | None, bool]]]]) -> Verdict:
    """Judge ``(who is on screen, [(shown name, confirmed), ...])`` per frame, in order."""
    run = longest = 0
    delays: list[int | None] = []
    previous: object = object()  # a segment starts where the person changes
    since = 0
    for who, faces in frames:
        if who != previous:
            previous, since = who, 0
            if who is not None:
                delays.append(None)
        since += 1
        shown = {name for name, confirmed in faces if confirmed and name is not None}
        run = run + 1 if shown - {who} else 0
        longest = max(longest, run)
        if who is not None and who in shown and delays[-1] is None:
            delays[-1] = since
    return Verdict(longest, delays)
