"""``[stream]``: the TCP stream server (facegate.stream; docs/streaming.md, docs/protocol.md)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from facegate.config.base import Section


class StreamSettings(Section):
    """The TCP stream port, its admission caps and per-stream pipeline knobs. Connections that
    have not said HELLO prove nothing, so they are capped: the whole port holds at most
    ``max_clients + max_pending``."""

    ENV_PREFIX: ClassVar[str] = "stream_"
    ENV_NAMES: ClassVar[dict[str, str]] = {"enabled": "stream_server"}

    enabled: bool = Field(True, description="run the TCP stream server in facegate serve")
    host: str = Field("127.0.0.1", description="address (serve: default the --host address)")
    port: int = Field(8001, ge=0, le=65535, description="TCP port (0: any free port)")
    max_clients: int = Field(64, ge=1, description="streams at once; more get busy")
    max_frame_age_ms: float = Field(
        200.0, gt=0, description="a frame that waited longer is dropped unprocessed (stale)"
    )
    send_queue: int = Field(8, ge=1, description="messages queued per client")
    too_slow_drops: int = Field(
        50, ge=1, description="results dropped in a row before a client is cut off (too_slow)"
    )
    max_frame_width: int = Field(4096, ge=16, description="checked from the JPEG header")
    max_frame_height: int = Field(4096, ge=16, description="checked from the JPEG header")
    max_payload_bytes: int = Field(8 * 1024 * 1024, ge=1024, description="bytes of one frame")
    hello_timeout_s: float = Field(10.0, gt=0, description="connect -> complete HELLO")
    idle_timeout_s: float = Field(30.0, gt=0, description="no complete message this long: cut")
    message_timeout_s: float = Field(10.0, gt=0, description="first byte -> last of a message")
    reembed_every: int = Field(5, ge=1, description="frames between embeddings of a track")
    annotate_quality: int = Field(80, ge=10, le=100, description="ANNOTATED JPEG quality")
    max_embeddings_per_frame: int = Field(
        2, ge=1, description="faces embedded per frame at most (largest first; others wait)"
    )
    max_pending: int = Field(
        64, ge=1, description="connections without an accepted HELLO; more are refused busy"
    )
    max_pending_per_address: int = Field(
        16, ge=1, description="the same from one source address (IPv6: one /64)"
    )
    key_recheck_s: float = Field(
        2.0, gt=0, description="streams' API keys checked again this often (revocation ends them)"
    )
    detect_every: int = Field(
        2,
        ge=1,
        description=(
            "run the face detector on every n-th frame while every face is confirmed and"
            " still (1: every frame); other frames carry the boxes forward, never naming"
        ),
    )
    still_detect_every: int = Field(
        5,
        ge=1,
        description=(
            "the same while nothing outside the tracked faces moved since the detector last"
            " looked (a fixed camera's still scene); at most detect_every is used if smaller"
        ),
    )
