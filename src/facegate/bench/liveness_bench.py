"""``facegate bench liveness``: APCER/BPCER of the liveness checks on what can be made here.

Bona fide samples are real faces from the dev videos: every face track (linked by box
overlap) cut into windows of the passive check's length. Attacks are synthetic (see
``liveness_synth``): dev photos printed and moved (tilt, shake, approach) and dev videos
replayed on a moved screen. Every frame goes through the real detector; the checks see only
what YuNet's landmarks say, exactly as on a stream.

Rates follow ISO/IEC 30107-3: APCER = attacks accepted as live / attacks of that type,
BPCER = bona fide samples rejected / bona fide samples. ``undecided`` is reported apart and
both ways (a door set to deny it, and one set to allow it).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facegate.bench.liveness_synth import (
    MOTIONS,
    face_print,
    photo_attack,
    read_video,
    replay_attack,
)
from facegate.config import Settings
from facegate.engine import FaceEngine
from facegate.engine.types import Box
from facegate.liveness.challenge import ChallengeRules, ChallengeRun, Direction
from facegate.liveness.passive import PassiveRules, PassiveTrack

FPS = 15.0  # the frame rate the synthetic sequences stand for (the challenge's clock)
VIDEOS = ("obama.mp4", "biden.mp4", "short_hamilton_clip.mp4", "royal_opera_house_walkers.mp4")
ATTACK_STEPS: tuple[Direction, ...] = ("left", "right", "up")  # the order the tilt follows


@dataclass(frozen=True, slots=True)
class Seen:
    """The main face of one frame as the detector saw it."""

    box: Box
    landmarks: np.ndarray


def main_face(engine: FaceEngine, frame: np.ndarray) -> Seen | None:
    found = engine.detect(frame)
    if not found:
        return None
    best = max(found, key=lambda d: d.box.area)
    return Seen(best.box, best.landmarks)


def passive_state(seq: Iterable[Seen | None], rules: PassiveRules) -> str:
    track = PassiveTrack(rules)
    for seen in seq:
        if seen is not None:
            track.add(seen.landmarks, min(seen.box.w, seen.box.h))
    state = track.verdict().state
    return "undecided" if state == "pending" else state


def challenge_state(seq: Sequence[Seen | None], rules: ChallengeRules) -> str:
    """The attacker's best case: the steps come in the order the picture is tilted, with
    left and right either way round (which way a tilted picture seems to turn depends on
    the face); accepted if either passes."""
    for steps in (ATTACK_STEPS, ("right", "left", "up")):
        run = ChallengeRun(steps[: rules.steps], rules, 0.0)
        for i, seen in enumerate(seq):
            if seen is not None:
                run.feed(i / FPS, seen.landmarks)
        if run.state == "passed":
            return "live"
    return "spoof"


def link_tracks(per_frame: list[list[Seen]], min_iou: float = 0.3) -> list[list[Seen]]:
    """Greedy box-overlap tracks across consecutive frames (a gap ends a track)."""
    done: list[list[Seen]] = []
    active: list[list[Seen]] = []
    for faces in per_frame:
        nxt: list[list[Seen]] = []
        free = list(faces)
        for track in active:
            last = track[-1].box
            best = max(free, key=lambda s: s.box.iou(last), default=None)
            if best is not None and best.box.iou(last) >= min_iou:
                free.remove(best)
                track.append(best)
                nxt.append(track)
            else:
                done.append(track)
        nxt.extend([s] for s in free)
        active = nxt
    return done + active


def _rates(counts: dict[str, Counter[str]], bona_fide: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind, c in counts.items():
        n = sum(c.values())
        row: dict[str, Any] = {"samples": n}
        row.update({k: c.get(k, 0) for k in ("live", "spoof", "undecided")})
        if n:
            if kind == bona_fide:
                row["bpcer_undecided_allowed"] = round(c["spoof"] / n, 4)
                row["bpcer_undecided_denied"] = round((c["spoof"] + c["undecided"]) / n, 4)
            else:
                row["apcer_undecided_denied"] = round(c["live"] / n, 4)
                row["apcer_undecided_allowed"] = round((c["live"] + c["undecided"]) / n, 4)
        out[kind] = row
    return out


def dev_photos(data_dir: Path, count: int) -> list[Path]:
    """``count`` photos spread over the dev identities (deterministic: sorted, evenly picked)."""
    people = sorted(p for p in (data_dir / "people").iterdir() if p.is_dir())
    people = [p for p in people if not p.name.startswith(("ORL_",))]  # 92x112 grey: too small
    step = max(1, len(people) // count)
    return [sorted(p.iterdir())[0] for p in people[::step][:count]]


def run_liveness_bench(
    data_dir: Path,
    settings: Settings,
    *,
    photos: int = 16,
    frames: int = 30,
    real_frames: int = 150,
    seed: int = 7,
) -> dict[str, Any]:
    started = time.perf_counter()
    engine = FaceEngine(settings)
    passive_rules = PassiveRules.from_settings(settings)
    challenge_rules = ChallengeRules.from_settings(settings)
    passive: dict[str, Counter[str]] = {}
    challenge: dict[str, Counter[str]] = {}
    detected_frames = total_frames = 0

    def seen_of(seq: Iterable[np.ndarray]) -> list[Seen | None]:
        nonlocal detected_frames, total_frames
        out = [main_face(engine, f) for f in seq]
        total_frames += len(out)
        detected_frames += sum(s is not None for s in out)
        return out

    # Bona fide: real tracks from the dev videos, in windows of the passive check's length.
    for name in VIDEOS:
        video = read_video(data_dir / "videos" / name, max_frames=real_frames)
        per_frame = [[Seen(d.box, d.landmarks) for d in engine.detect(f)] for f in video]
        total_frames += len(video)
        detected_frames += sum(bool(p) for p in per_frame)
        for track in link_tracks(per_frame):
            for start in range(0, len(track) - passive_rules.min_frames + 1, passive_rules.window):
                window = track[start : start + passive_rules.window]
                state = passive_state(window, passive_rules)
                passive.setdefault("bona_fide", Counter())[state] += 1
    # Printed photos.
    for i, path in enumerate(dev_photos(data_dir, photos)):
        image = cv2.imread(str(path))
        if image is None:
            continue
        found = engine.detect(image)
        if not found:
            continue
        box = max(found, key=lambda d: d.box.area).box
        printed = face_print(image, (box.x, box.y, box.w, box.h))
        for motion in MOTIONS:
            seq = seen_of(photo_attack(printed, motion, frames, seed + i))
            kind = f"photo_{motion}"
            passive.setdefault(kind, Counter())[passive_state(seq, passive_rules)] += 1
            challenge.setdefault(kind, Counter())[challenge_state(seq, challenge_rules)] += 1
    # Screen replays of the dev videos.
    for v, name in enumerate(VIDEOS):
        clip = read_video(data_dir / "videos" / name, max_frames=frames * 2, stride=2)
        for m, motion in enumerate(MOTIONS):
            part = clip[(m % 2) * frames : (m % 2 + 1) * frames] or clip[:frames]
            seq = seen_of(replay_attack(part, motion, seed + 100 * v + m))
            kind = f"replay_{motion}"
            passive.setdefault(kind, Counter())[passive_state(seq, passive_rules)] += 1
            challenge.setdefault(kind, Counter())[challenge_state(seq, challenge_rules)] += 1
    return {
        "data": str(data_dir),
        "frames": total_frames,
        "frames_with_face": detected_frames,
        "seconds": round(time.perf_counter() - started, 1),
        "synthetic_fps": FPS,
        "passive_rules": {k: getattr(passive_rules, k) for k in passive_rules.__slots__},
        "challenge_rules": {
            k: list(v) if isinstance(v, tuple) else v
            for k in challenge_rules.__slots__
            if (v := getattr(challenge_rules, k)) is not None
        },
        "passive": _rates(passive, "bona_fide"),
        "challenge_vs_attacks": _rates(challenge, "bona_fide"),
        "notes": [
            "attacks are synthetic (plane homographies of dev photos and videos)",
            "challenge: the attacker tilts the picture in the challenge's own order (best case)",
            "challenge BPCER is not measured: no recordings of people answering a challenge",
        ],
    }
