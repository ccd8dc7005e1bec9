"""The root of the settings tree: one field per area (facegate.config's docstring says how to
add a setting)."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from facegate.config.access import AccessSettings
from facegate.config.api import ApiSettings, HttpSettings, ServerSettings
from facegate.config.attendance import AttendanceSettings
from facegate.config.base import InvalidSettings, Section
from facegate.config.cluster import ClusterSettings
from facegate.config.engine import (
    EngineSettings,
    InferenceSettings,
    LimitsSettings,
    QualitySettings,
)
from facegate.config.gallery import GallerySettings, MatchSettings, StorageSettings
from facegate.config.live import LiveSettings
from facegate.config.liveness import LivenessSettings
from facegate.config.photos import PhotosSettings
from facegate.config.sources import describe, gather, keyword_layer, merge
from facegate.config.stream import StreamSettings

_PURE: ContextVar[bool] = ContextVar("facegate_settings_pure", default=False)


class Settings(Section):
    """Everything configurable about a facegate process.

    ``Settings(**values)`` reads the config file named by ``FACEGATE_CONFIG`` (if any), then
    the ``FACEGATE_*`` environment, then ``values`` (section tables/models or flat names such
    as ``stream_port``). ``Settings.load(file, environ, overrides)`` does the same with
    explicit sources; ``Settings.model_validate(tree)`` reads nothing but ``tree``.
    """

    server: ServerSettings = Field(default_factory=ServerSettings, description="")
    storage: StorageSettings = Field(default_factory=StorageSettings, description="")
    engine: EngineSettings = Field(default_factory=EngineSettings, description="")
    quality: QualitySettings = Field(default_factory=QualitySettings, description="")
    inference: InferenceSettings = Field(default_factory=InferenceSettings, description="")
    limits: LimitsSettings = Field(default_factory=LimitsSettings, description="")
    gallery: GallerySettings = Field(default_factory=GallerySettings, description="")
    match: MatchSettings = Field(default_factory=MatchSettings, description="")
    stream: StreamSettings = Field(default_factory=StreamSettings, description="")
    api: ApiSettings = Field(default_factory=ApiSettings, description="")
    http: HttpSettings = Field(default_factory=HttpSettings, description="")
    live: LiveSettings = Field(default_factory=LiveSettings, description="")
    attendance: AttendanceSettings = Field(default_factory=AttendanceSettings, description="")
    access: AccessSettings = Field(default_factory=AccessSettings, description="")
    liveness: LivenessSettings = Field(default_factory=LivenessSettings, description="")
    photos: PhotosSettings = Field(default_factory=PhotosSettings, description="")
    cluster: ClusterSettings = Field(default_factory=ClusterSettings, description="")

    def __init__(self, **values: Any) -> None:
        # pydantic calls an overridden __init__ from model_validate too: there (``_PURE``
        # set by ``validated``) the values are the whole input and nothing else is read.
        if _PURE.get():
            super().__init__(**values)
            return
        layer = gather(None, None, values)
        try:
            super().__init__(**layer.values)
        except ValidationError as exc:
            raise InvalidSettings(describe(exc, layer.origins)) from None

    @classmethod
    def load(
        cls,
        config_file: Path | None = None,
        environ: Mapping[str, str] | None = None,
        overrides: Mapping[str, Any] | None = None,
        *,
        label: str = "",
    ) -> Settings:
        """defaults < ``config_file`` (else ``FACEGATE_CONFIG``) < ``environ`` (default: this
        process's) < ``overrides`` (named ``label + key`` in errors, e.g. ``--``)."""
        layer = gather(config_file, environ, overrides or {}, label)
        return cls.validated(layer.values, layer.origins)

    @classmethod
    def validated(cls, values: Mapping[str, Any], origins: Mapping[Any, str]) -> Settings:
        """``values`` alone (no file, no environment); errors name ``origins``."""
        token = _PURE.set(True)
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise InvalidSettings(describe(exc, origins)) from None
        finally:
            _PURE.reset(token)

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Settings:
        """Validate ``obj`` alone: no config file, no environment."""
        token = _PURE.set(True)
        try:
            return super().model_validate(obj, *args, **kwargs)
        finally:
            _PURE.reset(token)

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` (flat names or sections) applied and validated again."""
        layer = merge([keyword_layer(self.model_dump()), keyword_layer(changes)])
        return self.validated(layer.values, layer.origins)

    @model_validator(mode="after")
    def _one_direction_per_camera(self) -> Settings:
        """A server camera's direction is set on the camera; ``attendance.cameras`` may not
        name it as well (two places for one fact disagree sooner or later)."""
        both = sorted({c.name for c in self.live.all_cameras} & set(self.attendance.cameras))
        if both:
            raise ValueError(
                f"attendance.cameras names server camera(s) {', '.join(both)}: set their "
                "direction on the camera ([[live.cameras]] direction = ...) instead"
            )
        return self

    @property
    def access_zone(self) -> str:
        """The time zone of access rules: ``access.timezone`` or else the attendance one."""
        return self.access.timezone or self.attendance.timezone
