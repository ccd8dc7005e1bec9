"""Open-set identification on a folder per identity, through the product's own gallery.

Identities with more than N images are enrolled with their first N (sorted by file name);
their other images are *known* probes. Every image of the other identities is an *unknown*
probe. Options: ``only`` keeps the identities whose folder name matches a pattern;
``unknown_every`` K makes every K-th identity (sorted, from the second) a stranger whatever its
photo count, and only those (CASIA5: enrol half, the other half as strangers; the other
identities without probes then play no part); ``distractors`` enrols, first,
every identity of another folder that plays no part in the protocol (first N photos, or all it
has), to see how FPIR grows with the gallery. Enrolment and matching go through a real
``Gallery`` (a temporary SQLite database, the same index, aggregation, decision code and
operating point as the server), so the numbers describe what a deployment does, not a side
implementation: ``at_configured_threshold`` is the default operating point, with the
threshold the gallery derives for its final size.
"""

from __future__ import annotations

import fnmatch
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facegate.engine import FaceEngine
from facegate.engine.decode import image_files
from facegate.errors import InvalidInput
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


def split_people(
    people_dir: Path, enrol: int, *, only: str | None = None, unknown_every: int = 0
) -> Split:
    """Apply the protocol to a folder with one sub-folder per identity."""
    enrolled: dict[str, list[Path]] = {}
    known: list[tuple[str, Path]] = []
    unknown: list[Path] = []
    folders = sorted(p for p in people_dir.iterdir() if p.is_dir())
    if only is not None:
        folders = [f for f in folders if fnmatch.fnmatch(f.name, only)]
    for i, folder in enumerate(folders):
        files = image_files(folder)
        stranger = unknown_every > 0 and i % unknown_every == unknown_every - 1
        if len(files) > enrol and not stranger:
            enrolled[folder.name] = files[:enrol]
            known.extend((folder.name, f) for f in files[enrol:])
        elif stranger or unknown_every == 0:
            unknown.extend(files)
        # else: with --unknown-every, a non-stranger without probes plays no part (it can
        # still be enrolled as a distractor)
    return Split(enrolled, known, unknown)


def distractor_people(distractors: Path, split: Split, enrol: int) -> dict[str, list[Path]]:
    """Identities of ``distractors`` that are neither enrolled nor strangers in ``split``
    (matched by folder name), with their first ``enrol`` photos."""
    strangers = {p.parent.name for p in split.unknown_probes}
    taken = set(split.enrol) | strangers
    out = {}
    for folder in sorted(p for p in distractors.iterdir() if p.is_dir()):
        if folder.name not in taken and (files := image_files(folder)[:enrol]):
            out[folder.name] = files
    return out


def best_score(match: Match) -> float:
    return match.candidates[0].score if match.candidates else NO_MATCH_SCORE


def evaluate_identification(
    engine: FaceEngine,
    people_dir: Path,
    enrol: int,
    progress: Callable[[int], None] | None = None,
    *,
    only: str | None = None,
    unknown_every: int = 0,
    distractors: Path | None = None,
) -> dict[str, Any]:
    """Run the protocol; returns what ``facegate eval identify`` prints."""
    split = split_people(people_dir, enrol, only=only, unknown_every=unknown_every)
    if not split.known_probes or not split.unknown_probes:
        raise InvalidInput(
            f"the protocol needs enrolled identities with more than {enrol} photos and "
            f"strangers; got {len(split.enrol)} enrolled and {len(split.unknown_probes)} "
            "stranger photos"
        )
    extra = distractor_people(distractors, split, enrol) if distractors is not None else {}
    all_paths = [p for files in [*split.enrol.values(), *extra.values()] for p in files]
    all_paths += [p for _, p in split.known_probes] + split.unknown_probes
    images = embed_main_faces(engine, all_paths, progress)
    emb = images.embeddings

    with tempfile.TemporaryDirectory(prefix="facegate-eval-") as tmp:
        settings = engine.settings.replace(data_dir=Path(tmp), database_url=None)
        with Gallery(settings, background=False) as gallery:
            gallery.expect_model(engine.model_id, engine.model_sha256)
            person_of = enrol_embedded(gallery, engine, {**extra, **split.enrol}, emb)
            known_matches = _identify(gallery, [emb[p] for _, p in split.known_probes])
            unknown_matches = _identify(gallery, [emb[p] for p in split.unknown_probes])
            status = gallery.status()
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
        "only": only,
        "unknown_every": unknown_every,
        "distractors_dir": None if distractors is None else str(distractors),
        "enrol": enrol,
        "identities": len(split.enrol),
        "known_probes": len(split.known_probes),
        "unknown_probes": len(split.unknown_probes),
        "rank1": round(result.rank1, 4),
        "tpir_at_fpir": {k: round(v, 4) for k, v in result.tpir_at_fpir.items()},
        "thresholds": {k: round(v, 4) for k, v in result.thresholds.items()},
        "distractors": len(extra),
        "gallery_people": status["people"],
        "at_configured_threshold": {
            "threshold": status["threshold"],
            "target_fpir": status["target_fpir"],
            "source": status["source"],
            "gallery_people": status["people"],
            "tpir": round(float(np.mean(accepted_right)), 4) if accepted_right else 0.0,
            "fpir": round(float(np.mean(falsely_accepted)), 4) if falsely_accepted else 0.0,
            "false_names": int(np.sum(falsely_accepted)),
        },
        "aggregation": aggregation,
        "no_face": len(images.no_face),
        "ms_per_image": round(images.ms_per_image, 2),
        "model": engine.model_id,
    }


def enrol_embedded(
    gallery: Gallery,
    engine: FaceEngine,
    people: dict[str, list[Path]],
    embeddings: dict[Path, np.ndarray | None],
) -> dict[str, int]:
    """Create each person and store the embeddings of their photos that have a face (the
    evaluations embed every image once, then enrol without re-running the models)."""
    person_of: dict[str, int] = {}
    for name, files in people.items():
        person = gallery.create_person(name, external_id=name)
        person_of[name] = person.id
        templates = [
            NewTemplate(e, engine.model_id, engine.model_sha256, source_sha256=str(f))
            for f in files
            if (e := embeddings.get(f)) is not None
        ]
        if templates:
            gallery.add_templates(person.id, templates)
    return person_of


def _identify(gallery: Gallery, probes: list[np.ndarray | None]) -> list[Match | None]:
    """Matches for the probes that have a face (``None`` where the probe image had none)."""
    present = [p for p in probes if p is not None]
    matches = iter(gallery.identify_many(present))
    return [None if p is None else next(matches) for p in probes]
