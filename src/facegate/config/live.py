"""``[live]``: server-side cameras and the live view (facegate.live; docs/live.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from facegate.config.base import SECRET_URL, Section
from facegate.redact import mask_text, mask_url


class CameraConfig(BaseModel):
    """A server-side camera (``[[live.cameras]]``, ``FACEGATE_CAMERAS``, ``--camera``).

    ``source`` is a device index, a video file, an RTSP/HTTP URL or a folder of images; a URL
    may carry credentials, which are masked wherever the source is logged or shown.
    ``always_on`` keeps it running without viewers (attendance); ``direction`` tells the
    attendance log whether people pass it coming in, going out, or both. It is the one place
    for a camera's direction (``[attendance] cameras`` is for stream names that are not
    server cameras, and may not name one).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="unique name"
    )
    source: str = Field(
        min_length=1, description="device index, file, URL or folder", json_schema_extra=SECRET_URL
    )
    always_on: bool = Field(False, description="run without viewers (attendance, doors)")
    direction: Literal["in", "out", "both"] = Field("both", description="for attendance")

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # A repr ends up in tracebacks and test output: never with the camera's password.
        for name, value in super().__repr_args__():
            yield name, mask_url(value) if name == "source" else value


class LiveSettings(Section):
    """Cameras the server opens itself, and how the live view treats them and its viewers."""

    ENV_PREFIX: ClassVar[str] = "live_"
    ENV_NAMES: ClassVar[dict[str, str]] = {"cameras": "cameras", "cameras_file": "cameras_file"}

    cameras: list[CameraConfig] = Field(
        default_factory=list, description="cameras (env: a JSON list)"
    )
    cameras_file: Path | None = Field(
        None, description="JSON list of more cameras, mode 0600 (keeps passwords out of argv)"
    )
    idle_stop_s: float = Field(5.0, ge=0, description="camera stops this long after use")
    stall_s: float = Field(10.0, gt=0, description="no frame this long: restart camera")
    backoff_max_s: float = Field(30.0, gt=0, description="longest wait between reopens")
    viewer_idle_s: float = Field(20.0, gt=0, description="viewer taking no frame: dropped")
    max_viewers: int = Field(32, ge=1, description="MJPEG viewers per process")
    camera_max_side: int = Field(1280, ge=64, description="camera frames scaled down to")
    events_keep_minutes: float = Field(
        60.0, gt=0, le=10080, description="live event log kept (/ws/events replay after a drop)"
    )

    _file_cameras: list[CameraConfig] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _read_cameras_file(self) -> LiveSettings:
        """The cameras of ``cameras_file``, kept apart from ``cameras`` (so settings shown or
        validated again never list them twice)."""
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
            self._file_cameras = [CameraConfig.model_validate(item) for item in listed]
        except ValidationError as exc:
            parts = [
                f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
                for e in exc.errors(include_input=False, include_url=False)
            ]
            raise ValueError(mask_text("cameras_file: " + "; ".join(parts))) from None
        return self

    @property
    def all_cameras(self) -> list[CameraConfig]:
        """``cameras`` and then those of ``cameras_file``: every camera the server opens."""
        return [*self.cameras, *self._file_cameras]
