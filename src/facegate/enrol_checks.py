"""The warnings an enrolment raises, so a mistake is seen before it does harm.

- ``same_name``: a new person is given a name somebody already has (with their ids);
- ``matches_other``: a photo's face is already identified as **another** person, at or above
  the open-set threshold in use (with that person and the score) -- enrolling it would make the
  two indistinguishable; ``refuse_matches`` turns this warning into a refusal;
- ``unlike_person``: a photo's face scores below the 1:1 verify threshold against the
  person's other faces (stored ones and those accepted earlier in the same request): probably
  another person's photo.

The CLI, the HTTP API and the pages report the same codes with the same fields; the pages
translate them by code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from facegate.gallery import Gallery

WarningCode = Literal["same_name", "matches_other", "unlike_person"]


@dataclass(frozen=True, slots=True)
class EnrolWarning:
    """One warning; ``person_id``/``person_name`` name the other person, ``score`` the
    similarity that raised it and ``threshold`` the line it crossed."""

    code: WarningCode
    message: str
    person_id: int | None = None
    person_name: str | None = None
    score: float | None = None
    threshold: float | None = None
    others: tuple[int, ...] = ()

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code, "message": self.message}
        if self.person_id is not None:
            out["person_id"] = self.person_id
            out["person_name"] = self.person_name
        if self.score is not None:
            out["score"] = round(self.score, 4)
        if self.threshold is not None:
            out["threshold"] = round(self.threshold, 4)
        if self.others:
            out["person_ids"] = list(self.others)
        return out


def same_name(gallery: Gallery, name: str, *, exclude: int | None = None) -> EnrolWarning | None:
    """A warning if somebody (other than ``exclude``) already has this name (any case)."""
    wanted = name.strip().casefold()
    page = gallery.list_people(name.strip(), limit=500)
    found = tuple(p.id for p in page.items if p.name.casefold() == wanted and p.id != exclude)
    if not found:
        return None
    ids = ", ".join(str(i) for i in found)
    return EnrolWarning(
        "same_name",
        f"{len(found)} person(s) named {name.strip()!r} already exist (id {ids}); "
        "rename one of them, or merge them if they are the same person",
        person_id=found[0],
        person_name=name.strip(),
        others=found,
    )


def face_warnings(
    gallery: Gallery,
    person_id: int | None,
    embedding: np.ndarray,
    accepted_before: Sequence[np.ndarray] = (),
) -> list[EnrolWarning]:
    """The ``matches_other`` and ``unlike_person`` warnings for one face about to be enrolled
    for ``person_id`` (None: a person not created yet)."""
    warnings: list[EnrolWarning] = []
    threshold = gallery.match_threshold()
    other = next((r for r in gallery.rank(embedding) if r.person_id != person_id), None)
    if other is not None and other.score >= threshold:
        people = gallery.store.get_people([other.person_id])
        name = people[other.person_id].name if other.person_id in people else "?"
        warnings.append(
            EnrolWarning(
                "matches_other",
                f"this face already matches {name} (id {other.person_id}) at similarity "
                f"{other.score:.3f} (threshold {threshold:.3f}): is it the same person?",
                person_id=other.person_id,
                person_name=name,
                score=other.score,
                threshold=threshold,
            )
        )
    scores = [float(np.dot(embedding, v)) for v in accepted_before]
    stored = gallery.score_person(embedding, person_id) if person_id is not None else None
    if stored is not None:
        scores.append(stored)
    verify = gallery.verify_threshold()
    if scores and max(scores) < verify:
        warnings.append(
            EnrolWarning(
                "unlike_person",
                f"this face is unlike the person's other faces (similarity {max(scores):.3f}, "
                f"below the verify threshold {verify:.3f}): is it the right person's photo?",
                score=max(scores),
                threshold=verify,
            )
        )
    return warnings
