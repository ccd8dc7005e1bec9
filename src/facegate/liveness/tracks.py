"""``StreamLiveness``: the ``TrackLiveness`` of one stream in passive or challenge mode.

It is fed every frame's tracked faces (on the inference thread) and keeps, per track, the
passive check's landmark window, the challenge in progress and the optional model's scores.
Tracks not seen for ``_FORGET_FRAMES`` frames are forgotten, so memory follows the people in
front of the camera, not the stream's age.

- **passive**: the verdict is the passive check's (``passive``); with a bring-your-own model
  configured, a model score below its threshold makes it ``spoof``, and where the geometry is
  ``undecided`` the model decides.
- **challenge**: ``request`` starts a challenge for the track and sends CHALLENGE through the
  stream's prompt sink; each finished step sends CHALLENGE_STEP, the end CHALLENGE_RESULT.
  The verdict is ``pending`` until the challenge ends; a passive or model ``spoof`` seen
  meanwhile fails it. Without a prompt sink (a server camera: nobody to show the prompt to)
  the verdict is ``undecided``.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from facegate.config import Settings
from facegate.liveness import LivenessMode, LivenessVerdict, VerdictState
from facegate.liveness.challenge import ChallengeRules, ChallengeRun, StepResult, random_steps
from facegate.liveness.model import SpoofModel, spoof_model
from facegate.liveness.passive import PassiveRules, PassiveTrack

log = logging.getLogger(__name__)

_FORGET_FRAMES = 150  # a track unseen this long is gone
_MODEL_SAMPLES = 5  # model scores averaged per track
_MODEL_EVERY = 3  # frames between model runs on a requested track

PromptFn = Callable[[Mapping[str, Any]], None]


def challenge_message(challenge_id: str, track_id: int, run: ChallengeRun) -> dict[str, Any]:
    """The CHALLENGE prompt (docs/protocol.md) as a JSON-able mapping."""
    return {
        "type": "CHALLENGE",
        "challenge_id": challenge_id,
        "track_id": track_id,
        "steps": list(run.steps),
        "timeout_s": run.rules.timeout_s,
    }


def step_message(
    challenge_id: str, track_id: int, run: ChallengeRun, step: StepResult
) -> dict[str, Any]:
    following = step.index + 1
    return {
        "type": "CHALLENGE_STEP",
        "challenge_id": challenge_id,
        "track_id": track_id,
        "index": step.index,
        "step": step.direction,
        "passed": step.passed,
        "reason": step.reason,
        "next": run.steps[following] if step.passed and following < len(run.steps) else None,
    }


def result_message(challenge_id: str, track_id: int, verdict: LivenessVerdict) -> dict[str, Any]:
    return {
        "type": "CHALLENGE_RESULT",
        "challenge_id": challenge_id,
        "track_id": track_id,
        "state": verdict.state,
        "reason": verdict.reason,
    }


@dataclass
class _Track:
    passive: PassiveTrack
    last_frame: int
    requested: bool = False
    challenge: ChallengeRun | None = None
    challenge_id: str = ""
    final: LivenessVerdict | None = None
    scores: list[float] = field(default_factory=list)


class StreamLiveness:
    """Per-stream liveness state (see the module docstring)."""

    def __init__(
        self,
        mode: LivenessMode,
        settings: Settings,
        prompt: PromptFn | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        model: SpoofModel | None = None,
    ) -> None:
        if mode not in ("passive", "challenge"):
            raise ValueError(f"StreamLiveness is for passive or challenge, not {mode!r}")
        self.mode = mode
        self.prompt = prompt
        self.clock = clock
        self.passive_rules = PassiveRules.from_settings(settings)
        self.challenge_rules = ChallengeRules.from_settings(settings)
        self.model = model if model is not None else spoof_model(settings)
        self._lock = threading.Lock()
        self._tracks: dict[int, _Track] = {}
        self._frame = 0

    # -- feeding -------------------------------------------------------------------------------

    def observe(self, faces: Sequence[Any], image: np.ndarray) -> None:
        with self._lock:
            self._frame += 1
            now = self.clock()
            seen: set[int] = set()
            for face in faces:
                if face.landmarks is None:
                    continue
                marks = np.asarray(face.landmarks, dtype=np.float64)
                track = self._track(face.track_id)
                track.last_frame = self._frame
                seen.add(face.track_id)
                track.passive.add(marks, min(face.box.w, face.box.h))
                if track.requested and self.model is not None:
                    self._score(track, image, face.box)
                if track.challenge is not None and track.final is None:
                    self._advance(face.track_id, track, track.challenge.feed(now, marks))
            for track_id, track in list(self._tracks.items()):
                if track.challenge is not None and track.final is None and track_id not in seen:
                    self._advance(track_id, track, track.challenge.tick(now))
                if self._frame - track.last_frame > _FORGET_FRAMES:
                    del self._tracks[track_id]

    def _track(self, track_id: int) -> _Track:
        track = self._tracks.get(track_id)
        if track is None:
            track = self._tracks[track_id] = _Track(PassiveTrack(self.passive_rules), self._frame)
        return track

    def _score(self, track: _Track, image: np.ndarray, box: Any) -> None:
        assert self.model is not None
        if len(track.scores) >= _MODEL_SAMPLES or self._frame % _MODEL_EVERY:
            return
        try:
            track.scores.append(self.model.live_score(image, box))
        except Exception:  # a broken model must not stop the stream; the check stays pending
            log.exception("liveness model failed on a face")

    def _advance(self, track_id: int, track: _Track, ended: list[StepResult]) -> None:
        run = track.challenge
        assert run is not None
        for step in ended:
            self._send(step_message(track.challenge_id, track_id, run, step))
        if run.state == "running":
            spoof = self._evidence_of_spoof(track)
            if spoof is None:
                return
            track.final = spoof
        elif run.state == "passed":
            track.final = self._evidence_of_spoof(track) or LivenessVerdict(
                "live", "challenge", "all steps passed", self._challenge_details(run)
            )
        else:
            track.final = LivenessVerdict(
                "spoof", "challenge", run.reason, self._challenge_details(run)
            )
        self._send(result_message(track.challenge_id, track_id, track.final))

    def _send(self, message: Mapping[str, Any]) -> None:
        if self.prompt is None:
            return
        try:
            self.prompt(message)
        except Exception:  # the client may be gone; the verdict stands
            log.exception("liveness prompt could not be sent")

    # -- asking --------------------------------------------------------------------------------

    def request(self, track_id: int) -> None:
        with self._lock:
            track = self._track(track_id)
            track.requested = True
            if self.mode != "challenge" or track.challenge is not None or self.prompt is None:
                return
            track.challenge = ChallengeRun(
                random_steps(self.challenge_rules), self.challenge_rules, self.clock()
            )
            track.challenge_id = secrets.token_hex(8)
            self._send(challenge_message(track.challenge_id, track_id, track.challenge))

    def verdict(self, track_id: int) -> LivenessVerdict:
        with self._lock:
            track = self._tracks.get(track_id)
            if track is None:
                return LivenessVerdict("pending", self.mode, "track not seen")
            if self.mode == "challenge":
                return self._challenge_verdict(track)
            return self._passive_verdict(track)

    def _model_verdict(self, track: _Track) -> LivenessVerdict | None:
        if self.model is None or not track.scores:
            return None
        score = float(np.mean(track.scores))
        state: VerdictState = "live" if score >= self.model.config.threshold else "spoof"
        return LivenessVerdict(
            state, self.model.method, "model score", {"model_score": round(score, 4)}
        )

    def _evidence_of_spoof(self, track: _Track) -> LivenessVerdict | None:
        passive = track.passive.verdict()
        if passive.state == "spoof":
            return passive
        model = self._model_verdict(track)
        return model if model is not None and model.state == "spoof" else None

    def _passive_verdict(self, track: _Track) -> LivenessVerdict:
        passive = track.passive.verdict()
        model = self._model_verdict(track)
        if model is None:
            if self.model is not None and track.requested and passive.state != "spoof":
                return LivenessVerdict("pending", "passive", "model not run yet", passive.details)
            return passive
        details = {**passive.details, **model.details}
        method = f"passive+{model.method}"
        if "spoof" in (passive.state, model.state):
            reason = passive.reason if passive.state == "spoof" else "model says spoof"
            return LivenessVerdict("spoof", method, reason, details)
        if passive.state == "live":
            return LivenessVerdict("live", method, passive.reason, details)
        if passive.state == "undecided":
            return LivenessVerdict(model.state, method, "geometry undecided; model", details)
        return LivenessVerdict(passive.state, method, passive.reason, details)

    def _challenge_verdict(self, track: _Track) -> LivenessVerdict:
        if track.final is not None:
            return track.final
        if self.prompt is None:
            return LivenessVerdict("undecided", "challenge", "no client to prompt")
        if track.challenge is None:
            return LivenessVerdict("pending", "challenge", "not requested")
        return LivenessVerdict(
            "pending",
            "challenge",
            f"step {track.challenge.current + 1} of {len(track.challenge.steps)}",
            self._challenge_details(track.challenge),
        )

    @staticmethod
    def _challenge_details(run: ChallengeRun) -> dict[str, float]:
        passed = sum(r.passed for r in run.results)
        return {"steps": float(len(run.steps)), "steps_passed": float(passed)}
