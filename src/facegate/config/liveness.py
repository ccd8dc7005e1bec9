"""``[liveness]`` and its parts: is the face at the camera a live person (facegate.liveness;
docs/liveness.md)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from facegate.config.base import Section

Turn = Literal["left", "right", "up"]
TURNS: tuple[Turn, ...] = ("left", "right", "up")


class ChallengeSettings(Section):
    """``[liveness.challenge]``: the person turns the head in a random order of steps."""

    ENV_PREFIX: ClassVar[str] = "liveness_challenge_"
    ENV_NAMES: ClassVar[dict[str, str]] = {
        key: f"liveness_{key}"
        for key in (
            "yaw_target_deg",
            "pitch_target_deg",
            "return_deg",
            "min_parallax",
            "min_depth_ratio",
        )
    }

    steps: int = Field(3, ge=1, le=6, description="steps per challenge")
    directions: list[Turn] = Field(
        default_factory=lambda: list(TURNS),
        min_length=1,
        description="directions a step may ask for",
    )
    timeout_s: float = Field(12.0, gt=0, description="whole challenge")
    yaw_target_deg: float = Field(
        18.0, gt=0, le=80, description="a left/right step counts from this turn (vs. start)"
    )
    pitch_target_deg: float = Field(
        12.0, gt=0, le=80, description="an up step counts from this pitch change (vs. start)"
    )
    return_deg: float = Field(
        8.0, gt=0, description="a step ends when the pose is back within this of the start"
    )
    min_parallax: float = Field(
        0.1, ge=0, description="nose parallax (inter-ocular units) a turned step must show"
    )
    min_depth_ratio: float = Field(
        2.0, ge=0, description="parallax must exceed this times the planar deformation"
    )


class PassiveSettings(Section):
    """``[liveness.passive]``: the flat-face check over a track (plane homography of the
    landmarks); it shares ``challenge.min_depth_ratio``."""

    ENV_PREFIX: ClassVar[str] = "liveness_passive_"

    window: int = Field(45, ge=5, description="frames of a track looked at")
    min_frames: int = Field(6, ge=2, description="before this: pending")
    live_parallax: float = Field(
        0.15, gt=0, description="parallax (inter-ocular units) that proves a 3-D face"
    )
    min_deformation: float = Field(
        0.06, gt=0, description="out-of-plane motion below this cannot decide: undecided"
    )
    flat_ratio: float = Field(
        0.35, gt=0, description="parallax/deformation below this on moved frames: flat (spoof)"
    )
    min_face_px: float = Field(48.0, ge=8, description="smaller faces are too noisy to use")


class SpoofModelSettings(Section):
    """``[liveness.model]``: bring your own anti-spoofing ONNX classifier on the face crop."""

    ENV_PREFIX: ClassVar[str] = "liveness_model_"
    ENV_NAMES: ClassVar[dict[str, str]] = {"path": "liveness_model"}

    path: Path | None = Field(None, description="ONNX file (unset: no model)")
    backend: Literal["openvino", "onnxruntime"] = Field("onnxruntime", description="runtime")
    input_size: int = Field(80, ge=8, le=1024, description="input side in pixels")
    color_order: Literal["rgb", "bgr"] = Field("rgb", description="input channel order")
    mean: float = Field(0.0, description="subtracted from pixels")
    std: float = Field(255.0, gt=0, description="pixels divided by this")
    crop_scale: float = Field(
        1.5, ge=1.0, le=4.0, description="crop side = face box side times this"
    )
    live_index: int = Field(1, ge=0, description="output index of 'live'")
    softmax: bool = Field(True, description="apply softmax to the outputs")
    threshold: float = Field(0.5, ge=0, le=1, description="live score needed")


class LivenessHttpSettings(Section):
    """``[liveness.http]``: POST /api/v1/liveness/challenge and /verify."""

    ENV_PREFIX: ClassVar[str] = "liveness_http_"

    max_frames: int = Field(48, ge=4, le=400, description="frames per verify")
    max_frame_bytes: int = Field(400_000, ge=1024, description="bytes of one frame")


class LivenessSettings(Section):
    """The three checks and the HTTP endpoints; which check a door uses is the door's."""

    ENV_PREFIX: ClassVar[str] = "liveness_"

    challenge: ChallengeSettings = Field(default_factory=ChallengeSettings, description="")
    passive: PassiveSettings = Field(default_factory=PassiveSettings, description="")
    model: SpoofModelSettings = Field(default_factory=SpoofModelSettings, description="")
    http: LivenessHttpSettings = Field(default_factory=LivenessHttpSettings, description="")
