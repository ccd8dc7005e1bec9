"""Synthetic "hard cut" clips from dev photos: people taking turns on the same spot.

``facegate bench cuts`` measures with them how long a confirmed name stays on the wrong
face after a cut and how long the right name takes; the tests (tests/stream/test_cuts.py,
tests/live/test_restart.py) stream the same clips through a real server and camera.

A door camera sees one person after another at the same place; an edited video cuts from one
face to the next. Both put a new face where the tracker expects the previous one. These clips
reproduce that exactly: each segment pastes one photo (a dev image, never copied into the
repo) at the same position on a plain background, for a number of frames, with a small
per-frame jitter so the tracker sees the normal motion of a standing person.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

WIDTH, HEIGHT = 640, 480
FACE_SIDE = 300  # the pasted photo's side in pixels (LFW photos are loose 250x250 crops)
BACKGROUND = (128, 128, 128)
A, B, STRANGER = "Tony_Blair", "Hugo_Chavez", "Jacques_Chirac"  # the stranger is not enrolled
ENROLLED_PHOTOS = slice(1, 6)  # enrolled; the clips show others (0, 1, 3, 7) of these people


@dataclass(frozen=True)
class Segment:
    """``frames`` frames of one person (``name``: who it is; None for the clip's stranger)."""

    photo: Path
    frames: int
    name: str | None


def photo(people: Path, name: str, index: int = 0) -> Path:
    """The ``index``-th photo (sorted) of a dev identity."""
    return sorted((people / name).iterdir())[index]


def scenario(people: Path, name: str, frames: int) -> list[Segment]:
    """A named clip: ``both_enrolled`` (A and B taking turns, then the stranger, then A) or
    ``stranger`` (the stranger between A and B), ``frames`` frames per person."""
    if name == "both_enrolled":
        return [
            Segment(photo(people, A), frames, A),
            Segment(photo(people, B), frames, B),
            Segment(photo(people, A, 7), frames, A),
            Segment(photo(people, B, 7), frames, B),
            Segment(photo(people, STRANGER), frames, None),
            Segment(photo(people, A, 3), frames, A),
        ]
    if name == "stranger":
        return [
            Segment(photo(people, STRANGER), frames, None),
            Segment(photo(people, A), frames, A),
            Segment(photo(people, STRANGER, 1), frames, None),
            Segment(photo(people, B), frames, B),
        ]
    raise ValueError(f"unknown scenario {name!r}")


def enrol_pair(services: Any, people: Path) -> None:
    """Enrol A and B (not the stranger) from photos the clips do not show."""
    for name in (A, B):
        person = services.gallery.create_person(name)
        folder = sorted((people / name).iterdir())[ENROLLED_PHOTOS]
        reports = services.recognition.enrol(
            person.id, [(p.name, p.read_bytes()) for p in folder], enforce_quality=False
        )
        if not any(r.accepted for r in reports):
            raise RuntimeError(f"no photo of {name} could be enrolled")


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
    wrong_frames: list[int]  # per segment: frames showing a wrong confirmed name


def judge(frames: Sequence[tuple[str | None, Sequence[tuple[str | None, bool]]]]) -> Verdict:
    """Judge ``(who is on screen, [(shown name, confirmed), ...])`` per frame, in order."""
    run = longest = 0
    delays: list[int | None] = []
    wrong: list[int] = []
    previous: object = object()  # a segment starts where the person changes
    since = 0
    for who, faces in frames:
        if who != previous:
            previous, since = who, 0
            wrong.append(0)
            if who is not None:
                delays.append(None)
        since += 1
        shown = {name for name, confirmed in faces if confirmed and name is not None}
        run = run + 1 if shown - {who} else 0
        wrong[-1] += bool(run)
        longest = max(longest, run)
        if who is not None and who in shown and delays[-1] is None:
            delays[-1] = since
    return Verdict(longest, delays, wrong)


def measure_cuts(people: Path, frames: int = 30, *, cut_detection: bool = True) -> dict[str, Any]:
    """Both scenarios through the stream pipeline (no network, one thread), judged per frame.

    Uses only ``FrameProcessor.process`` (unless ``cut_detection`` is off, which measures
    the per-track checks alone), so the same measurement runs on older versions.
    """
    from facegate.config import Settings
    from facegate.services import Services
    from facegate.stream.pipeline import DropCounts, FrameIn, FrameProcessor

    report: dict[str, Any] = {
        "frames_per_person": frames,
        "cut_detection": cut_detection,
        "scenarios": {},
    }
    with Services.start(Settings(data_dir=Path(tempfile.mkdtemp())), background_sync=False) as s:
        enrol_pair(s, people)
        for name in ("both_enrolled", "stranger"):
            processor = FrameProcessor(s.engine, s.gallery, stream=name)
            if not cut_detection:
                from facegate.stream.appearance import SceneCutDetector

                processor.cuts = SceneCutDetector(min_difference=float("inf"))
            rows = []
            cpu = 0.0
            clip = cut_clip(scenario(people, name, frames))
            for n, (image, who) in enumerate(clip):
                c0 = time.process_time()
                result = processor.process(FrameIn(n, 0.0, time.time(), image=image), DropCounts())
                cpu += time.process_time() - c0
                rows.append((who, [(f.person_name, f.confirmed) for f in result.faces]))
            verdict = judge(rows)
            report["scenarios"][name] = {
                "people": [seg.name or "(stranger)" for seg in scenario(people, name, frames)],
                **asdict(verdict),
                "cpu_ms_per_frame": round(1000 * cpu / len(clip), 2),
            }
    return report
