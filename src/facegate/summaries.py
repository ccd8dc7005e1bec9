"""The JSON shapes of faces, people and matches, shared by the CLI and the HTTP API.

One place so that ``facegate identify --json`` and ``POST /api/v1/identify`` answer with the
same fields, and a field renamed here is renamed everywhere. Embeddings never appear in any
of them: they are biometric data and useless to a caller.
"""

from __future__ import annotations

from facegate.engine import Face
from facegate.gallery import Person
from facegate.recognition import IdentifiedFace


def face_summary(face: Face) -> dict[str, object]:
    """A detected face: box ``[x, y, w, h]``, five landmarks, detector score, quality."""
    return {
        "box": face.box.as_list(),
        "landmarks": face.landmarks_list(),
        "score": round(face.score, 4),
        "quality": face.quality.as_dict(),
    }


def person_summary(person: Person) -> dict[str, object]:
    """An enrolled person with the number of face templates kept for them."""
    return {
        "id": person.id,
        "name": person.name,
        "external_id": person.external_id,
        "templates": person.template_count,
        "metadata": dict(person.metadata),
        "created_at": person.created_at.isoformat(),
    }


def identified_summary(item: IdentifiedFace, *, candidates: bool = True) -> dict[str, object]:
    """A face with its open-set answer: ``person`` is null for somebody unknown, and the
    evidence is reported either way: ``similarity`` (the best person's match score; ``score``
    stays the detector's confidence), ``margin`` (its lead over the runner-up) and the
    ``threshold`` the decision used, with the top candidates unless ``candidates`` is false
    (they name enrolled people who are *not* in the photo: only administrators see them over
    HTTP)."""
    match = item.match
    summary: dict[str, object] = {
        **face_summary(item.face),
        "person": None
        if match.person is None
        else {"id": match.person.id, "name": match.person.name},
        "similarity": round(match.score, 4),
        "margin": round(match.margin, 4),
        "threshold": round(match.threshold, 4),
    }
    if candidates:
        summary["candidates"] = [
            {"id": c.person.id, "name": c.person.name, "similarity": round(c.score, 4)}
            for c in match.candidates
        ]
    return summary
