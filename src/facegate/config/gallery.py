"""Storage and gallery areas: where data lives, how templates are searched, when a face is
someone (the open-set operating point, docs/gallery.md)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from facegate.config.base import SECRET_URL, Section

# The 1:1 threshold calibrated on pairs before the open-set operating point existed (FAR <= 0.1 %
# on pairs.tsv and pairs_casia5.tsv; docs/results/calibrate_lfw_casia.txt). Thresholds are now
# derived from match.target_fpir / match.verify_target_far (facegate.gallery.operating_point);
# this stays as the documented reference value. Cosine similarity of SFace embeddings.
DEFAULT_MATCH_THRESHOLD = 0.4136


class StorageSettings(Section):
    """``[storage]``: the data folder and the gallery database."""

    ENV_PREFIX: ClassVar[str] = ""

    data_dir: Path = Field(
        Path("data"), description="folder of facegate.db, keys, snapshots (created 0700)"
    )
    database_url: str | None = Field(
        None,
        description="postgresql://... to share a gallery between machines (unset: SQLite in "
        "data_dir); holds a password: FACEGATE_DATABASE_URL_FILE or this file, not argv",
        json_schema_extra=SECRET_URL,
    )
    # PostgreSQL connections (issue 13; docs/cluster.md): every connection (queries and
    # LISTEN) is opened with these libpq options.
    pg_connect_timeout_s: int = Field(5, ge=1, le=120, description="libpq connect_timeout")
    pg_keepalives_idle_s: int = Field(5, ge=1, description="idle seconds before a keepalive")
    pg_keepalives_interval_s: int = Field(2, ge=1, description="seconds between keepalives")
    pg_keepalives_count: int = Field(2, ge=1, description="lost keepalives that end a link")
    pg_tcp_user_timeout_ms: int = Field(
        5000, ge=0, description="unacknowledged data older than this ends a link (0: kernel's)"
    )
    pg_statement_timeout_ms: int = Field(15_000, ge=0, description="server-side query limit")
    pg_reconnect_max_s: float = Field(10.0, gt=0, description="reconnect back-off cap")


class GallerySettings(Section):
    """``[gallery]``: the vector index and how a person's templates are scored."""

    ENV_PREFIX: ClassVar[str] = "gallery_"

    exact_max: int = Field(
        20_000, ge=0, description="exact search up to this many templates, approximate beyond"
    )
    approx_index: Literal["pq", "hnsw"] = Field("pq", description="approximate index kind")
    aggregation: Literal["max", "top2", "blend"] = Field(
        "blend", description="a person's score from their templates' scores"
    )
    blend_alpha: float = Field(0.3, ge=0.0, le=1.0, description="weight of the centre (blend)")
    min_margin: float = Field(0.0, ge=0.0, description="required lead over runner-up")
    search_k: int = Field(50, ge=1, description="nearest templates fetched per face")
    top_k: int = Field(5, ge=1, description="candidate people reported per face")
    store_thumbnails: bool = Field(True, description="keep a face thumbnail per template")
    poll_interval_s: float = Field(
        1.0, ge=0.0, description="SQLite: how often idle workers check for changes (0: never)"
    )
    busy_timeout_ms: int = Field(10_000, ge=0, description="SQLite: wait this long for a lock")
    # PostgreSQL: the gallery trusts NOTIFY plus this poll for its revision (no query per
    # frame), and keeps answering through an outage as the policy says (docs/cluster.md).
    revision_poll_s: float = Field(
        1.0, gt=0, le=60, description="PostgreSQL: revision poll backing up LISTEN"
    )
    outage_policy: Literal["bounded-staleness", "fail-closed"] = Field(
        "bounded-staleness",
        description="recognition while the database is unreachable: keep answering from the "
        "in-memory index for gallery.max_staleness_s, or refuse at once",
    )
    max_staleness_s: float = Field(
        10.0, gt=0, description="bounded-staleness: longest time since a good revision check"
    )
    # Index snapshots (docs/gallery.md "Rebuilds and index snapshots"): one memory-mapped
    # faiss snapshot per data dir, shared by the host's workers; one worker at a time (a lock
    # file) publishes it when enough changed, and soon after deletions.
    snapshot_enabled: bool = Field(True, description="map and publish index snapshots")
    snapshot_min_changes: int = Field(
        1000, ge=1, description="publish once this many templates changed since the newest"
    )
    snapshot_interval_s: float = Field(
        600.0, gt=0, description="publish any smaller change after this long"
    )
    snapshot_erase_s: float = Field(
        60.0, gt=0, description="publish this soon after a deletion (erases the old file)"
    )
    snapshot_check_s: float = Field(
        5.0, gt=0, description="how often each worker checks whether to publish or remap"
    )
    snapshot_full_check: bool = Field(
        False, description="hash every byte of a snapshot at load (default: sampled hash)"
    )


class MatchSettings(Section):
    """``[match]``: the open-set operating point. The threshold follows from the error rate
    chosen here and the number of enrolled people (impostor tails measured by
    ``facegate calibrate --people``)."""

    ENV_PREFIX: ClassVar[str] = "match_"
    ENV_NAMES: ClassVar[dict[str, str]] = {"verify_target_far": "verify_target_far"}

    threshold: float | None = Field(
        None,
        ge=-1.0,
        le=1.0,
        description="fixed threshold for identify and verify (unset: derived)",
    )
    target_fpir: float = Field(
        0.01, gt=0.0, lt=1.0, description="share of strangers that may be named as someone"
    )
    verify_target_far: float = Field(
        0.001, gt=0.0, lt=1.0, description="1:1 verify: share of impostors that may pass"
    )
    calibration_file: Path | None = Field(
        None, description="calibration table from `facegate calibrate --write` (unset: shipped)"
    )
