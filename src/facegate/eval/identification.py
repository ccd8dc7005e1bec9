"""Open-set identification on a folder per identity, through the product's own gallery.

Identities with more than N images are enrolled with their first N (sorted by file name);
their other images are *known* probes. Every image of the other identities is an *unknown*
probe. Enrolment and matching go through a real ``Gallery`` (a temporary SQLite database,
the same index, aggregation and decision code as the server), so the numbers describe what a
deployment does, not a side implementation.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facegate.engine import FaceEngine
from facegate.engine.decode import image_files
from facegate.eval.metrics import open_set_metrics
from facegate.eval.pairs import embed_main_faces
from facegate.gallery import Gallery, Match, NewTemplate

FPIRS = (0.01, 0.1)
NO_MATCH_SCORE = -1.0


@dataclass(frozen=True)
class Split:
    """Which image plays which role."""

    enrol: dict[str, list[Path]]
    known_probes: list[tuple[str, Path]]
    unknown_probes: list[Path]


def split_people(people_dir: Path, enrol: int) -> Split:
    """Apply the protocol to a folder with one sub-folder per identity."""
    enrolled: dict[str, list[Path]] = {}
    known: list[tuple[str, Path]] = []
    unknown: list[Path] = []
    for folder in sorted(p for p in people_dir.iterdir() if p.is_dir()):
        files = image_files(folder)
        if len(files) > enrol:
            enrolled[folder.name] = files[:enrol]
            known.extend((folder.name, f) for f in files[enrol:])
        else:
            unknown.extend(files)
    return Split(enrolled, known, unknown)


def best_score(match: Match) -> float:
    return match.candidates[0].score if match.candidates else NO_MATCH_SCORE


def evaluate_identification(
    engine: FaceEngine,
    people_dir: Path,
    enrol: int,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run the protocol; returns what ``facegate eval identify`` prints."""
    split = split_people(people_dir, enrol)
    all_paths = [p for files in split.enrol.values() for p in files]
    all_paths += [p for _, p in split.known_probes] + split.unknown_probes
    images = embed_main_faces(engine, all_paths, progress)
    emb = images.embeddings

    with tempfile.TemporaryDirectory(prefix="facegate-eval-") as tmp:
        settings = engine.settings.model_copy(update={"data_dir": Path(tmp), "database_url": None})
        with Gallery(settings, background=False) as gallery:
            person_of: dict[str, int] = {}
            for name, files in split.enrol.items():
                person = gallery.create_person(name, external_id=name)
                person_of[name] = person.id
                templates = [
                    NewTemplate(emb[f], engine.model_id, engine.model_sha256, source_sha256=str(f))
                    for f in files
                    if emb[f] is not None
                ]
                if templates:
                    gallery.add_templates(person.id, templates)
            known_matches = _identify(gallery, [emb[p] for _, p in split.known_probes])
            unknown_matches = _identify(gallery, [emb[p] for p in split.unknown_probes])
            threshold = gallery.matcher.params.threshold
            aggregation = gallery.matcher.params.aggregation

    correct = [
        m is not None and bool(m.candidates) and m.candidates[0].person.id == person_of[name]
        for (name, _), m in zip(split.known_probes, known_matches, strict=True)
    ]
    known_scores = [NO_MATCH_SCORE if m is None else best_score(m) for m in known_matches]
    unknown_scores = [NO_MATCH_SCORE if m is None else best_score(m) for m in unknown_matches]
    result = open_set_metrics(correct, known_scores, unknown_scores, FPIRS)
    accepted_right = [
        m is not None and m.person is not None and m.person.id == person_of[name]
        for (name, _), m in zip(split.known_probes, known_matches, strict=True)
    ]
    falsely_accepted = [m is not None and m.person is not None for m in unknown_matches]
    return {
        "people_dir": str(people_dir),
        "enrol": enrol,
        "identities": len(split.enrol),
        "known_probes": len(split.known_probes),
        "unknown_probes": len(split.unknown_probes),
        "rank1": round(result.rank1, 4),
        "tpir_at_fpir": {k: round(v, 4) for k, v in result.tpir_at_fpir.items()},
        "thresholds": {k: round(v, 4) for k, v in result.thresholds.items()},
        "at_configured_threshold": {
            "threshold": threshold,
            "tpir": round(float(np.mean(accepted_right)), 4),
            "fpir": round(float(np.mean(falsely_accepted)), 4),
        },
        "aggregation": aggregation,
        "no_face": len(images.no_face),
        "ms_per_image": round(images.ms_per_image, 2),
        "model": engine.model_id,
    }


def _identify(gallery: Gallery, probes: list[np.ndarray | None]) -> list[Match | None]:
    """Matches for the probes that have a face (``None`` where the probe image had none)."""
    present = [p for p in probes if p is not None]
    matches = iter(gallery.identify_many(present))
    return [None if p is None else next(matches) for p in probes]
