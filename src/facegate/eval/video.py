"""False names per *track* in video, through the stream pipeline (``facegate eval video``).

A camera names a person when a track's votes confirm an identity, so the rate that matters
for attendance or a door is how many tracks of strangers end up confirmed as somebody, not
how many single frames would. Two measurements, both through ``FrameProcessor`` (the tracker
and voting the server uses) and a real ``Gallery`` at the default operating point:

- **Dev videos** with every identity of the dev set enrolled: each track's confirmed names
  against the people the clip lists (``videos.tsv``); a confirmed name the clip does not list
  is a false name.
- **Synthetic clips** from still photos: every K-th identity is a stranger (not enrolled) and
  the others are enrolled with their first N photos. Each clip shows one photo drifting and
  growing over a plain background for ``frames`` frames (a person walking up to a camera);
  a stranger's clip whose track confirms any name is a false identification, an enrolled
  person's clip (a photo not enrolled) should confirm their own name.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facegate.engine import FaceEngine
from facegate.engine.decode import image_files
from facegate.errors import BadImage
from facegate.eval.identification import enrol_embedded, split_people
from facegate.eval.pairs import embed_main_faces
from facegate.gallery import Gallery
from facegate.stream.pipeline import DropCounts, FrameIn, FrameProcessor, settings_processor

CANVAS = (480, 640)  # height, width of a synthetic frame


@dataclass
class TrackTally:
    """Confirmed names per track over one clip."""

    names: dict[int, set[str]] = field(default_factory=dict)

    def add(self, track_id: int, name: str | None, confirmed: bool) -> None:
        seen = self.names.setdefault(track_id, set())
        if confirmed and name is not None:
            seen.add(name)


def _processor(engine: FaceEngine, gallery: Gallery, stream: str) -> FrameProcessor:
    return settings_processor(engine, gallery, engine.settings, stream)


def run_frames(processor: FrameProcessor, frames: Iterator[np.ndarray]) -> TrackTally:
    tally = TrackTally()
    for i, image in enumerate(frames, 1):
        result = processor.process(FrameIn(i, 0.0, 0.0, image=image), DropCounts())
        for face in result.faces:
            tally.add(face.track_id, face.person_name, face.confirmed)
    return tally


def video_frames(path: Path) -> Iterator[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                return
            yield image
    finally:
        capture.release()


def synthetic_frames(photo: np.ndarray, frames: int) -> Iterator[np.ndarray]:
    """``photo`` drifting right and growing from 80 % to 120 % on a grey canvas, with a
    little brightness flicker: a face approaching a camera, deterministic."""
    h, w = CANVAS
    rng = np.random.default_rng(0)
    for i in range(frames):
        f = i / max(1, frames - 1)
        side = 0.8 + 0.4 * f
        scale = side * min(h * 0.6 / photo.shape[0], w * 0.45 / photo.shape[1])
        small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        canvas = np.full((h, w, 3), 110, np.uint8)
        ph, pw = small.shape[:2]
        x = int((w - pw) * (0.3 + 0.4 * f))
        y = (h - ph) // 2
        canvas[y : y + ph, x : x + pw] = small
        gain = 1.0 + rng.uniform(-0.05, 0.05)
        yield np.clip(canvas.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def _gallery(engine: FaceEngine, tmp: str) -> Gallery:
    settings = engine.settings.replace(data_dir=Path(tmp), database_url=None)
    gallery = Gallery(settings, background=False)
    gallery.expect_model(engine.model_id, engine.model_sha256)
    return gallery


def read_videos(videos_tsv: Path) -> dict[Path, set[str]]:
    """``path -> identities listed`` from a ``videos.tsv`` (paths relative to its folder)."""
    with videos_tsv.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return {
        videos_tsv.parent / r["path"]: {n for n in (r.get("identities") or "").split(",") if n}
        for r in rows
    }


def evaluate_dev_videos(
    engine: FaceEngine, people_dir: Path, videos: dict[Path, set[str]], enrol: int
) -> dict[str, Any]:
    """Every dev identity enrolled (first ``enrol`` photos); tracks per listed video."""
    folders = sorted(p for p in people_dir.iterdir() if p.is_dir())
    people = {f.name: image_files(f)[:enrol] for f in folders}
    images = embed_main_faces(engine, [p for files in people.values() for p in files])
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="facegate-video-") as tmp, _gallery(engine, tmp) as g:
        enrol_embedded(g, engine, people, images.embeddings)
        status = g.status()
        for path, expected in videos.items():
            tally = run_frames(_processor(engine, g, path.stem), video_frames(path))
            named = [names for names in tally.names.values() if names]
            false = [sorted(n - expected) for n in named if n - expected]
            out[path.name] = {
                "expected": sorted(expected),
                "tracks": len(tally.names),
                "named_tracks": len(named),
                "false_named_tracks": len(false),
                "false_names": sorted({n for names in false for n in names}),
                "names_confirmed": sorted({n for names in named for n in names}),
            }
    return {"gallery_people": status["people"], "threshold": status["threshold"], "videos": out}


def evaluate_synthetic(
    engine: FaceEngine, people_dir: Path, enrol: int, unknown_every: int, clips: int, frames: int
) -> dict[str, Any]:
    """Stranger and enrolled-person clips made from still photos."""
    split = split_people(people_dir, enrol, unknown_every=unknown_every)
    strangers = {p.parent.name: p for p in reversed(split.unknown_probes)}  # first photo each
    stranger_photos = _spread(sorted(strangers.values()), clips)
    first_probe: dict[str, Path] = {}
    for name, path in split.known_probes:
        first_probe.setdefault(name, path)
    known_photos = _spread(sorted(first_probe.items()), clips)
    # the identities that are neither strangers nor probed still join the gallery
    singles = {
        f.name: image_files(f)[:enrol]
        for f in sorted(p for p in people_dir.iterdir() if p.is_dir())
        if f.name not in split.enrol and f.name not in strangers
    }
    gallery_people = {**singles, **split.enrol}
    images = embed_main_faces(engine, [p for files in gallery_people.values() for p in files])
    with tempfile.TemporaryDirectory(prefix="facegate-video-") as tmp, _gallery(engine, tmp) as g:
        enrol_embedded(g, engine, gallery_people, images.embeddings)
        status = g.status()
        stranger_named = stranger_tracks = unreadable = 0
        false_names: list[str] = []
        for photo in stranger_photos:
            tally = _clip(engine, g, photo, frames)
            if tally is None:
                unreadable += 1
                continue
            stranger_tracks += len(tally.names)
            named = [n for names in tally.names.values() for n in names]
            stranger_named += sum(bool(names) for names in tally.names.values())
            false_names.extend(named)
        right = wrong = known_clips = 0
        for name, photo in known_photos:
            tally = _clip(engine, g, photo, frames)
            if tally is None:
                unreadable += 1
                continue
            known_clips += 1
            confirmed = {n for names in tally.names.values() for n in names}
            right += name in confirmed
            wrong += bool(confirmed - {name})
    return {
        "gallery_people": status["people"],
        "threshold": status["threshold"],
        "frames_per_clip": frames,
        "stranger_clips": len(stranger_photos),
        "stranger_tracks": stranger_tracks,
        "stranger_tracks_named": stranger_named,
        "fpir_per_track": round(stranger_named / max(1, stranger_tracks), 4),
        "false_names": sorted(set(false_names))[:20],
        "known_clips": known_clips,
        "known_clips_named_right": right,
        "known_clips_with_a_wrong_name": wrong,
        "tpir_per_clip": round(right / max(1, known_clips), 4),
        "unreadable_photos": unreadable,
    }


def _spread(items: list[Any], count: int) -> list[Any]:
    """``count`` items evenly spread over the list (all of them if there are fewer)."""
    if count <= 0 or len(items) <= count:
        return items
    picks = np.linspace(0, len(items) - 1, count).round().astype(int)
    return [items[i] for i in sorted(set(picks.tolist()))]


def _clip(engine: FaceEngine, gallery: Gallery, photo: Path, frames: int) -> TrackTally | None:
    try:
        image = engine.load(photo)
    except BadImage:
        return None
    return run_frames(_processor(engine, gallery, "synthetic"), synthetic_frames(image, frames))


def evaluate_video(
    engine: FaceEngine,
    people_dir: Path,
    videos_tsv: Path | None,
    *,
    enrol: int = 2,
    unknown_every: int = 2,
    clips: int = 200,
    frames: int = 15,
) -> dict[str, Any]:
    """What ``facegate eval video`` prints."""
    report: dict[str, Any] = {"people_dir": str(people_dir), "enrol": enrol}
    if videos_tsv is not None:
        report["dev_videos"] = evaluate_dev_videos(
            engine, people_dir, read_videos(videos_tsv), enrol
        )
    if clips > 0:
        report["synthetic"] = evaluate_synthetic(
            engine, people_dir, enrol, unknown_every, clips, frames
        )
    report["model"] = engine.model_id
    return report
