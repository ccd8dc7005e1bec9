"""``[api]`` and ``[http]``: the HTTP API and pages, and what one request may cost
(facegate.api; docs/api.md, docs/security.md)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from facegate.config.base import Section


class ApiSettings(Section):
    """Who may call, how much they may send, which proxies are believed."""

    ENV_PREFIX: ClassVar[str] = "api_"

    auth: bool = Field(True, description="require an API key (facegate serve --no-auth)")
    max_request_bytes: int = Field(
        64 * 1024 * 1024, ge=1, description="whole request body; enforced while it is read"
    )
    max_body_bytes: int = Field(
        64 * 1024, ge=1024, description="body of a route that takes no images (JSON, forms)"
    )
    max_images: int = Field(20, ge=1, description="photos in one enrolment request")
    compat_open: bool = Field(
        False, description="serve POST /face/image/detect without a key (seed-002 clients)"
    )
    font_path: Path | None = Field(None, description="TrueType font for annotated images")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses of TLS proxies whose X-Forwarded-Proto/-For are believed",
    )
    secure_cookies: bool = Field(False, description="mark the session cookie Secure always")
    allowed_hosts: list[str] = Field(
        default_factory=list, description="auth off: Host names served besides loopback"
    )
    revocation_check_s: float = Field(
        1.0, gt=0, le=60, description="how often MJPEG viewers and sockets re-check their key"
    )


class HttpSettings(Section):
    """Deadlines and connection caps of the HTTP server (facegate.api.http_guard)."""

    ENV_PREFIX: ClassVar[str] = "http_"

    header_timeout_s: float = Field(
        10.0, gt=0, description="request line and headers must arrive within this"
    )
    body_timeout_s: float = Field(
        20.0, gt=0, description="a body gets this long, plus 1 s per body_min_rate bytes"
    )
    body_min_rate: int = Field(
        8 * 1024, ge=1, description="bytes per second a slow upload must keep up on average"
    )
    max_header_bytes: int = Field(
        64 * 1024, ge=4096, description="request line and headers together"
    )
    max_connections: int = Field(
        1000, ge=8, description="open HTTP connections per worker (capped below the fd limit)"
    )
    max_connections_per_ip: int = Field(
        100, ge=0, description="open HTTP connections per client address (0: no cap)"
    )


class ServerSettings(Section):
    """``[server]``: where ``facegate serve`` listens and with how many processes."""

    ENV_PREFIX: ClassVar[str] = "server_"
    ENV_NAMES: ClassVar[dict[str, str]] = {"workers": "live_workers"}

    host: str = Field("127.0.0.1", description="HTTP address (0.0.0.0: every interface)")
    port: int = Field(8000, ge=1, le=65535, description="HTTP port")
    workers: int = Field(
        1, ge=1, description="processes; they share the gallery database (serve --workers)"
    )
    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = Field(
        "info", description="uvicorn log level"
    )
