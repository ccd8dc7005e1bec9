"""Tracked faces drawn on a frame for ANNOTATED messages, with the HTTP API's drawing code.

``facegate.engine.draw`` draws boxes and names (with a CJK-capable font, so a name like
张伟 renders); this module only turns tracker states into its labels: ``name #track`` for a
person, ``unknown #track`` for a stranger, and a ``?`` after a name or "unknown" that is not
confirmed yet, so a viewer can tell a guess from a decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from facegate.engine.draw import Label, draw_labels
from facegate.engine.types import Box


class Labelled(Protocol):
    @property
    def box(self) -> Box: ...
    @property
    def track_id(self) -> int: ...
    @property
    def person_name(self) -> str | None: ...
    @property
    def confirmed(self) -> bool: ...


def label_text(face: Labelled) -> str:
    name = face.person_name if face.person_name is not None else "unknown"
    return f"{name}{'' if face.confirmed else '?'} #{face.track_id}"


def draw_faces(image: np.ndarray, faces: Sequence[Labelled]) -> np.ndarray:
    """A copy of ``image`` with each face's box and label."""
    labels = [Label(f.box, label_text(f), f.person_name is not None) for f in faces]
    return draw_labels(image, labels)
