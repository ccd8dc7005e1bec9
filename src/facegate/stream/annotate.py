"""Boxes, names and track ids drawn on a frame, for ANNOTATED messages.

A minimal helper kept inside ``stream`` until the HTTP API's drawing module
(``facegate.engine.draw``) exists; the two should then be merged. Colours say how far to trust
a label: green a confirmed name, yellow a name still being voted on, red a confirmed stranger,
grey a face not decided yet. OpenCV's Hershey fonts are ASCII only, so other characters are
shown as ``?``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import cv2
import numpy as np

from facegate.engine.types import Box

GREEN, YELLOW, RED, GREY = (60, 200, 60), (0, 210, 240), (40, 40, 230), (170, 170, 170)
_COLOURS = {(True, True): GREEN, (True, False): YELLOW, (False, True): RED, (False, False): GREY}


class Labelled(Protocol):
    @property
    def box(self) -> Box: ...
    @property
    def track_id(self) -> int: ...
    @property
    def person_name(self) -> str | None: ...
    @property
    def confirmed(self) -> bool: ...


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")


def draw_faces(image: np.ndarray, faces: Sequence[Labelled]) -> np.ndarray:
    """A copy of ``image`` with each face's box and ``name #track`` (or ``unknown``)."""
    out = image.copy()
    scale = max(0.4, min(1.0, out.shape[1] / 1280))
    for face in faces:
        b = face.box
        known = face.person_name is not None
        colour = _COLOURS[(known, face.confirmed)]
        top_left = (int(b.x), int(b.y))
        cv2.rectangle(out, top_left, (int(b.x + b.w), int(b.y + b.h)), colour, 2)
        label = f"{_ascii(face.person_name) if known else 'unknown'} #{face.track_id}"
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        y = max(int(b.y) - 4, th + 4)
        cv2.rectangle(out, (int(b.x), y - th - 4), (int(b.x) + tw + 4, y + base - 2), colour, -1)
        cv2.putText(
            out, label, (int(b.x) + 2, y - 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1
        )
    return out
