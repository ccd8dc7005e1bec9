"""Settings: a tree of strict per-area models, read from a TOML file, the environment and
command-line options (docs/configuration.md).

Layout: ``[server]``, ``[storage]``, ``[engine]``, ``[quality]``, ``[inference]``, ``[limits]``,
``[gallery]``, ``[match]``, ``[stream]``, ``[api]``, ``[http]``, ``[live]`` (cameras),
``[attendance]``, ``[access]`` (``[access.mqtt]``), ``[liveness]`` (``challenge``, ``passive``,
``model``, ``http``), ``[photos]``, ``[cluster]``; one module of this package per area,
``settings.py`` the root.

Order of sources, later wins: defaults < config file (``facegate serve --config FILE`` or
``FACEGATE_CONFIG=FILE``) < ``FACEGATE_*`` environment variables < command-line options. Every
model forbids unknown keys, so a misspelt key is an error naming the file, section and key. An
invalid value raises ``InvalidSettings`` naming where it came from, never the value.

How to add a setting: add ONE field to its area's model (e.g. ``StreamSettings`` in
``stream.py``) with its default and ``Field(description=...)``; read it as
``settings.stream.<key>``. Its environment name follows (``FACEGATE_STREAM_<KEY>``: the area's
``ENV_PREFIX`` + key), ``facegate config show`` lists it, and the example file is regenerated
with ``facegate config show --defaults > deploy/facegate.toml`` (a test compares them). A
secret gets ``json_schema_extra=SECRET`` (or ``SECRET_URL``, or type ``SecretStr``): it is
masked when shown and may come from ``FACEGATE_<NAME>_FILE``. A new area: a ``Section``
subclass in a new module and one field of ``Settings``.
"""

from __future__ import annotations

from facegate.config.access import AccessSettings, MqttSettings
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
from facegate.config.gallery import (
    DEFAULT_MATCH_THRESHOLD,
    GallerySettings,
    MatchSettings,
    StorageSettings,
)
from facegate.config.live import CameraConfig, LiveSettings
from facegate.config.liveness import (
    ChallengeSettings,
    LivenessHttpSettings,
    LivenessSettings,
    PassiveSettings,
    SpoofModelSettings,
)
from facegate.config.photos import PhotosSettings
from facegate.config.settings import Settings
from facegate.config.sources import CONFIG_ENV
from facegate.config.stream import StreamSettings

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_MATCH_THRESHOLD",
    "AccessSettings",
    "ApiSettings",
    "AttendanceSettings",
    "CameraConfig",
    "ChallengeSettings",
    "ClusterSettings",
    "EngineSettings",
    "GallerySettings",
    "HttpSettings",
    "InferenceSettings",
    "InvalidSettings",
    "LimitsSettings",
    "LiveSettings",
    "LivenessHttpSettings",
    "LivenessSettings",
    "MatchSettings",
    "MqttSettings",
    "PassiveSettings",
    "PhotosSettings",
    "QualitySettings",
    "Section",
    "ServerSettings",
    "Settings",
    "SpoofModelSettings",
    "StorageSettings",
    "StreamSettings",
]
