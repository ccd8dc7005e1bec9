"""Liveness: is the face in front of a door camera a live person, or a photo or a screen?

This module is the seam between access control (``facegate.access``), which decides, and the
liveness checks, which observe a stream's tracks:

- ``LivenessMode``: what a door asks for. ``off``; ``passive`` (the landmarks of a moving
  real head are not explained by one plane homography, those of a photo or screen are);
  ``challenge`` (the person turns the head in a random order within a time limit, prompted
  through the stream's client).
- ``LivenessVerdict``: the answer for one track: ``live``, ``spoof``, ``undecided`` (the
  evidence could not decide, e.g. too little motion: the door chooses what that means) or
  ``pending`` (still collecting evidence, ask again on a later frame).
- ``TrackLiveness``: per-stream state, fed every frame's tracked faces on the inference
  thread; ``request(track_id)`` starts collecting for a track (and, in challenge mode, sends
  the prompt), ``verdict(track_id)`` reads the answer.
- ``track_liveness(mode, prompt=..., settings=...)`` builds one (``tracks.StreamLiveness``
  for passive and challenge).

The checks live beside this seam: ``geometry`` (head pose from the five landmarks, plane
parallax), ``challenge`` (the challenge state machine), ``passive`` (the flat-face check),
``model`` (a bring-your-own ONNX anti-spoofing classifier), ``tokens`` and ``frames`` (the
HTTP challenge). docs/liveness.md explains them and what they do not cover.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

if TYPE_CHECKING:
    from facegate.config import Settings
    from facegate.observers import PromptSink

LivenessMode = Literal["off", "passive", "challenge"]
VerdictState = Literal["live", "spoof", "undecided", "pending"]
LIVENESS_MODES: tuple[LivenessMode, ...] = ("off", "passive", "challenge")


@dataclass(frozen=True, slots=True)
class LivenessVerdict:
    """One track's liveness answer. ``method`` names the check (``passive``, ``challenge``,
    ``model``, ``off``); ``reason`` says why in a word or two; ``details`` carries the numbers
    behind it (for the door event and the docs' measurements), never pixels."""

    state: VerdictState
    method: str
    reason: str = ""
    details: dict[str, float] = field(default_factory=dict)


class TrackLiveness(Protocol):
    """Per-stream liveness state (one stream's frames arrive in order, on one thread at a time)."""

    def observe(self, faces: Sequence[Any], image: np.ndarray) -> None:
        """Every frame's tracked faces (``TrackedFace``, with landmarks) and pixels."""

    def request(self, track_id: int) -> None:
        """Start deciding for this track (challenge mode: prompt the person now)."""

    def verdict(self, track_id: int) -> LivenessVerdict:
        """The answer so far for the track (``pending`` while evidence is collected)."""


class _Off:
    """Liveness not required: every track is taken as live."""

    def observe(self, faces: Sequence[Any], image: np.ndarray) -> None:
        return None

    def request(self, track_id: int) -> None:
        return None

    def verdict(self, track_id: int) -> LivenessVerdict:
        return LivenessVerdict("live", "off", "not required")


def track_liveness(
    mode: LivenessMode, *, prompt: PromptSink | None = None, settings: Settings | None = None
) -> TrackLiveness:
    """The liveness state for one stream of a door with this ``mode``."""
    if mode == "off":
        return _Off()
    if mode not in LIVENESS_MODES:
        raise ValueError(f"unknown liveness mode {mode!r}; use one of {', '.join(LIVENESS_MODES)}")
    from facegate.config import Settings
    from facegate.liveness.tracks import StreamLiveness  # imports this module: import here

    return StreamLiveness(mode, settings or Settings(), prompt)
