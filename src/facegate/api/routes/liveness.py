"""``/api/v1/liveness/challenge`` and ``/api/v1/liveness/verify``: the webcam liveness check.

A client (the enrol and identify pages) asks for a challenge, shows its steps, records
frames while the person answers, and uploads them with the token. Tokens are signed, expire,
and are spent on first use (``facegate.liveness.tokens``), so any worker of
``facegate serve --workers N`` can verify a challenge another issued. Frames are bounded in
count and size, decoded and judged on the inference pool, never on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from facegate.api.auth import api_key_header, bearer, require
from facegate.api.routes.deps import services
from facegate.api.schemas import error_responses, image_body
from facegate.api.uploads import read_payload
from facegate.errors import InvalidInput
from facegate.liveness.challenge import ChallengeRules, random_steps
from facegate.liveness.frames import check_times, verify_frames
from facegate.liveness.model import spoof_model
from facegate.liveness.passive import PassiveRules
from facegate.liveness.tokens import ChallengeTokens

UPLOAD_GRACE_S = 30.0  # a token outlives the challenge by this, for the upload

router = APIRouter(
    prefix="/api/v1/liveness",
    tags=["liveness"],
    dependencies=[Depends(require("recognize")), Depends(api_key_header), Depends(bearer)],
    responses=error_responses(400, 401, 403, 409, 410, 413, 415, 422, 503),
)


class ChallengeOut(BaseModel):
    token: str
    steps: list[str]
    timeout_s: float
    expires_in: float
    max_frames: int
    max_frame_bytes: int


class VerdictOut(BaseModel):
    state: str
    method: str
    reason: str
    details: dict[str, float]


class StepOut(BaseModel):
    index: int
    step: str
    passed: bool
    reason: str
    at_s: float
    peak: float
    parallax: float


class PassiveOut(BaseModel):
    state: str
    reason: str


class VerifyOut(BaseModel):
    verdict: VerdictOut
    steps: list[StepOut]
    frames: int
    frames_with_face: int
    passive: PassiveOut


_FRAMES = {"type": "array", "items": {"type": "string"}, "minItems": 2}
_TIMES = {"type": "array", "items": {"type": "number", "minimum": 0}, "minItems": 2}
VERIFY_FRAMES_BODY = image_body(
    {"token": {"type": "string"}, "frames": _FRAMES, "times": _TIMES},
    {
        "token": {"type": "string"},
        "frames": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "times": {"type": "string", "description": "JSON list of milliseconds, one per frame"},
    },
    ["token", "frames", "times"],
)


def tokens(request: Request) -> ChallengeTokens:
    """One token keeper per app (its secret is read from the database once)."""
    state = request.app.state
    if getattr(state, "liveness_tokens", None) is None:
        state.liveness_tokens = ChallengeTokens(services(request).gallery.store.db)
    keeper: ChallengeTokens = state.liveness_tokens
    return keeper


@router.post("/challenge", response_model=ChallengeOut)
async def challenge(request: Request) -> dict[str, Any]:
    """A new challenge: the steps to show (left/right are the person's own), the time limit,
    and the token to send back with the frames to ``/verify`` (single use)."""
    s = services(request).settings
    rules = ChallengeRules.from_settings(s)
    steps = random_steps(rules)
    token, claims = await asyncio.to_thread(
        tokens(request).issue, steps, rules.timeout_s, UPLOAD_GRACE_S
    )
    return {
        "token": token,
        "steps": list(steps),
        "timeout_s": rules.timeout_s,
        "expires_in": round(claims.expires - claims.issued, 1),
        "max_frames": s.liveness.http.max_frames,
        "max_frame_bytes": s.liveness.http.max_frame_bytes,
    }


def _times(raw: object) -> object:
    if isinstance(raw, str):  # a form field carries the list as JSON text
        try:
            return json.loads(raw)
        except ValueError:
            raise InvalidInput("times must be a JSON list of milliseconds") from None
    return raw


@router.post("/verify", response_model=VerifyOut, openapi_extra=VERIFY_FRAMES_BODY)
async def verify(request: Request) -> dict[str, Any]:
    """Judge a challenge: the token, the frames (JPEG/PNG, as files or base64) and their
    capture times (ms since the challenge began). Answers each step's result and the verdict
    (``live`` or ``spoof``)."""
    svc = services(request)
    s = svc.settings
    payload = await read_payload(
        request,
        max_image_bytes=s.liveness.http.max_frame_bytes,
        max_files=s.liveness.http.max_frames + 1,
        file_fields=("frames",),
    )
    raw_frames = payload.values.get("frames")
    if raw_frames is not None and not isinstance(raw_frames, list):
        raise InvalidInput("frames must be a list of images")
    if isinstance(raw_frames, list) and len(raw_frames) > s.liveness.http.max_frames:
        raise InvalidInput(f"at most {s.liveness.http.max_frames} frames")
    frames = [data for _, data in payload.images("frames")]
    if not 2 <= len(frames) <= s.liveness.http.max_frames:
        raise InvalidInput(f"send 2 to {s.liveness.http.max_frames} frames")
    keeper = tokens(request)
    claims = await asyncio.to_thread(keeper.check, payload.values.get("token"))
    times = check_times(
        _times(payload.values.get("times")),
        len(frames),
        claims.timeout_s,
        time.time() - claims.issued,
    )
    claims = await asyncio.to_thread(keeper.redeem, payload.values.get("token"))
    rules = replace(
        ChallengeRules.from_settings(s), steps=len(claims.steps), timeout_s=claims.timeout_s
    )
    model = await asyncio.to_thread(spoof_model, s)
    outcome = await svc.inference.run(
        verify_frames,
        svc.engine,
        frames,
        times,
        claims.steps,
        rules,
        PassiveRules.from_settings(s),
        model,
    )
    return outcome.as_dict()
