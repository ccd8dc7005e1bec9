"""``Gallery``: the one object the rest of facegate asks about people and matches.

It joins the store (the truth, shared by every process) and this process's vector index, and
enforces the write rule: **commit to the database first, then bring the index up to the new
revision**. Every search first compares the index's revision with the stored one and catches
up by replaying the change log (or rebuilds, if the log was pruned past it), so any number of
worker processes agree as soon as a change is committed. A background thread keeps idle
workers current: PostgreSQL LISTEN/NOTIFY wakes it on every commit; with SQLite it polls.

On PostgreSQL a search does **no** database round trip: the revision is trusted from NOTIFY
plus a revision poll every ``gallery_revision_poll_s`` (the backstop for a LISTEN connection
that died silently or a notification lost in a failover), and people's names are cached until
the revision moves (a rename bumps it too). While the database is unreachable,
``gallery_outage_policy`` decides: ``bounded-staleness`` keeps answering from memory until the
last good revision check is ``gallery_max_staleness_s`` old, ``fail-closed`` refuses as soon as
a check fails; both refuse with ``DatabaseUnavailable`` (HTTP 503, stream ERROR
``unavailable``). SQLite is a local file: it is read per search as before.

Thread-safe: the search lock serialises searches against applying a change (a search is well
under a millisecond at office scale and a few at a million templates). A rebuild (compaction,
a log pruned past this worker, a newer snapshot to map) never holds it while building: the new
index is built or mapped from a snapshot aside, the changes committed since are replayed onto
it, and only the swap of the reference takes the lock. With ``gallery.snapshot_enabled`` the
workers of a host share one memory-mapped snapshot of the index (``snapshot_job.py``).

The open-set threshold is the operating point's for the number of people in the index
(``operating_point.py``): adding or removing people re-derives it, at no per-face cost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from types import TracebackType

import numpy as np

from facegate.config import Settings
from facegate.errors import DatabaseUnavailable
from facegate.gallery.db import PgOptions, PostgresDatabase, open_database
from facegate.gallery.index import Hits, IndexParams, VectorIndex, replay
from facegate.gallery.index_swap import REBUILDS_KEPT, IndexSwap, RebuildRecord
from facegate.gallery.matcher import Match, Matcher, MatcherParams, Ranked, aggregate
from facegate.gallery.operating_point import FALLBACK_THRESHOLD, OperatingPoint
from facegate.gallery.snapshot_job import SnapshotJob
from facegate.gallery.store import UNSET, SqlStore
from facegate.gallery.types import JsonObject, NewTemplate, Person, PersonPage, Template

log = logging.getLogger(__name__)
# Names cached for at most this many people (cleared when exceeded, and on every revision).
_NAME_CACHE_MAX = 100_000


def pg_options(settings: Settings) -> PgOptions:
    """The PostgreSQL connection options the settings ask for (docs/cluster.md)."""
    return PgOptions(
        connect_timeout_s=settings.storage.pg_connect_timeout_s,
        keepalives_idle_s=settings.storage.pg_keepalives_idle_s,
        keepalives_interval_s=settings.storage.pg_keepalives_interval_s,
        keepalives_count=settings.storage.pg_keepalives_count,
        tcp_user_timeout_ms=settings.storage.pg_tcp_user_timeout_ms,
        statement_timeout_ms=settings.storage.pg_statement_timeout_ms,
        reconnect_max_s=settings.storage.pg_reconnect_max_s,
    )


def open_store(settings: Settings, *, create: bool = True) -> SqlStore:
    """The store the settings point at (migrated, ready to use); ``create=False`` refuses a
    SQLite gallery that does not exist yet (``GalleryNotFound``)."""
    db = open_database(
        settings.storage.data_dir,
        settings.storage.database_url,
        busy_timeout_ms=settings.gallery.busy_timeout_ms,
        create=create,
        pg_options=pg_options(settings),
    )
    return SqlStore(db, store_thumbnails=settings.gallery.store_thumbnails)


class Gallery(IndexSwap):
    """People, templates and open-set matching over a shared database. Build once per process."""

    def __init__(
        self, settings: Settings, *, store: SqlStore | None = None, background: bool = True
    ) -> None:
        self.settings = settings
        self.store = store or open_store(settings)
        self.index_params = IndexParams(
            exact_max=settings.gallery.exact_max, approx=settings.gallery.approx_index
        )
        self.matcher = Matcher(
            MatcherParams(
                threshold=FALLBACK_THRESHOLD
                if settings.match.threshold is None
                else settings.match.threshold,
                min_margin=settings.gallery.min_margin,
                aggregation=settings.gallery.aggregation,
                blend_alpha=settings.gallery.blend_alpha,
                top_k=settings.gallery.top_k,
            )
        )
        self._lock = threading.RLock()  # the search lock
        self._update_lock = threading.Lock()  # one catch-up or swap at a time
        self._rebuild_lock = threading.Lock()  # one rebuild at a time
        self._rebuilding = False
        self.rebuilds: deque[RebuildRecord] = deque(maxlen=REBUILDS_KEPT)
        self._index: VectorIndex | None = None
        self.snapshots = (
            SnapshotJob(settings, self.store, self.index_params)
            if settings.gallery.snapshot_enabled
            else None
        )
        self._revision = -1
        self._operating: OperatingPoint | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # Freshness (PostgreSQL): when the revision was last confirmed, and whether the last
        # check reached the database.
        # (without the watcher threads there is nothing to trust: every search reads it)
        self._trust_notify = background and isinstance(self.store.db, PostgresDatabase)
        self._checked = time.monotonic()
        self._reachable = True
        self._names: dict[int, Person] = {}
        self._names_revision = -1
        self._names_lock = threading.Lock()
        self.background = background
        self.rebuild(starting=True)
        if background:
            self._start_watchers()

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self.store.close()

    def __enter__(self) -> Gallery:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _start_watchers(self) -> None:
        db = self.store.db
        targets: list[tuple[str, Callable[[], None]]] = []
        if isinstance(db, PostgresDatabase):
            targets.append(("gallery-listen", lambda: db.listen(self._sync_quietly, self._stop)))
            targets.append(
                ("gallery-poll", lambda: self._poll(self.settings.gallery.revision_poll_s))
            )
        elif self.settings.gallery.poll_interval_s > 0:
            targets.append(
                ("gallery-poll", lambda: self._poll(self.settings.gallery.poll_interval_s))
            )
        if self.snapshots is not None:
            targets.append(("gallery-snapshots", self._snapshot_loop))
        for name, target in targets:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _poll(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self._sync_quietly()

    def _snapshot_loop(self) -> None:
        while not self._stop.wait(self.settings.gallery.snapshot_check_s):
            try:
                self.refresh_snapshot()
            except DatabaseUnavailable:  # the revision poll reports outages
                pass
            except Exception:
                log.exception("gallery snapshot check failed")

    def _sync_quietly(self) -> None:
        was_reachable = self._reachable
        try:
            self.sync()
        except DatabaseUnavailable as exc:  # logged once per outage, not once per poll
            if was_reachable:
                log.warning("gallery: database unreachable (%s); policy %s", exc, self.policy)
        except Exception:  # the next poll retries; a background thread must not die
            log.exception("gallery catch-up failed")
        else:
            if not was_reachable:
                log.info("gallery: database reachable again at revision %d", self._revision)

    # -- freshness (PostgreSQL) --------------------------------------------------------------

    @property
    def policy(self) -> str:
        return self.settings.gallery.outage_policy

    @property
    def staleness_s(self) -> float:
        """Seconds since the revision was last confirmed against the database."""
        return time.monotonic() - self._checked

    def _ensure_fresh(self) -> None:
        """Before a search: SQLite catches up (a local read); PostgreSQL trusts the watchers
        and applies the outage policy, without a round trip."""
        if not self._trust_notify:
            self.sync()
            return
        age = self.staleness_s
        if self.policy == "fail-closed":
            bound = min(
                self.settings.gallery.max_staleness_s, 3 * self.settings.gallery.revision_poll_s
            )
            if not self._reachable or age > bound:
                raise DatabaseUnavailable(
                    "the database is unreachable and gallery_outage_policy is fail-closed"
                )
        elif age > self.settings.gallery.max_staleness_s:
            raise DatabaseUnavailable(
                f"the gallery could not be checked against the database for {age:.0f} s "
                f"(gallery.max_staleness_s={self.settings.gallery.max_staleness_s:g})"
            )

    # -- keeping the index current -----------------------------------------------------------

    @property
    def revision(self) -> int:
        """The revision this process's index reflects."""
        return self._revision

    def sync(self) -> int:
        """Catch up with the database if it has moved on; returns the revision now reflected."""
        started = time.monotonic()
        try:
            current = self.store.revision()
        except DatabaseUnavailable:
            self._reachable = False
            raise
        self._reachable = True
        if current == self._revision:
            self._checked = max(self._checked, started)
            return self._revision
        with self._update_lock:
            changes = self.store.changes_since(self._revision)
            if changes.complete:
                with self._lock:
                    self._index = replay(
                        self._index, changes.changes, self.index_params, auto_rebuild=False
                    )
                    self._revision = changes.revision
                    if self._index is not None:
                        self._index.revision = changes.revision
                    self._checked = max(self._checked, started)
        if not changes.complete:
            self.rebuild()
        elif self._operating is None or self._operating.model_sha256 is None:
            self._refresh_operating_point()
        self._compact_if_wanted()
        return self._revision

    # -- the operating point -----------------------------------------------------------------

    def _refresh_operating_point(self, model: tuple[str, str] | None = None) -> None:
        """Resolve the operating point for the model the gallery is pinned to (or, while it
        is empty, the model the caller will use)."""
        pin = self.store.model_pin()
        if pin.model_sha256 is not None:
            model = (pin.model_id or "", pin.model_sha256)
        elif model is None and self._operating is not None:
            return
        key = model[1] if model is not None else None
        if self._operating is not None and self._operating.model_sha256 == key:
            return
        self._operating = OperatingPoint(
            self.settings, model[0] if model else None, model[1] if model else None
        )
        if model is not None:
            log.info(
                "open-set operating point for %s: %s, target FPIR %s, verify FAR %s",
                model[0],
                self._operating.source,
                self.settings.match.target_fpir,
                self.settings.match.verify_target_far,
            )

    def expect_model(self, model_id: str, model_sha256: str) -> None:
        """Tell an empty gallery which recogniser will fill it, so its status shows that
        model's thresholds before the first enrolment (a pinned gallery keeps its pin)."""
        self._refresh_operating_point((model_id, model_sha256))

    @property
    def operating_point(self) -> OperatingPoint:
        if self._operating is None:
            self._refresh_operating_point()
        assert self._operating is not None
        return self._operating

    @property
    def people_count(self) -> int:
        """People with templates in this process's index (the N of the operating point)."""
        with self._lock:
            return self._index.people if self._index is not None else 0

    def match_threshold(self) -> float:
        """The open-set threshold in use now, for the current number of people."""
        self._ensure_fresh()
        return self.operating_point.identify_threshold(self.people_count)

    def verify_threshold(self) -> float:
        return self.operating_point.verify_threshold()

    def status(self) -> dict[str, object]:
        """The operating point in use: people, threshold, target FPIR, and where it comes from."""
        self.sync()
        return self.operating_point.status(self.people_count)

    def index_contents(self) -> dict[int, int]:
        """Template id → person id as this process's index holds it (tests, diagnostics)."""
        with self._lock:
            return self._index.contents() if self._index is not None else {}

    # -- matching ----------------------------------------------------------------------------

    def search(self, probe: np.ndarray, k: int | None = None) -> Hits:
        """The nearest templates to a unit probe vector (after catching up)."""
        self._ensure_fresh()
        with self._lock:
            if self._index is None:
                empty = np.zeros(0, np.int64)
                return Hits(empty, empty.copy(), np.zeros(0, np.float32))
            return self._index.search(probe, k or self.settings.gallery.search_k)

    def identify(self, probe: np.ndarray) -> Match:
        """Who a face embedding shows: a known person, or unknown (``Match.person is None``)."""
        return self.identify_many([probe])[0]

    def identify_many(self, probes: Sequence[np.ndarray]) -> list[Match]:
        """``identify`` for every face of a frame; on PostgreSQL without a database round trip
        once the names of the people it finds are cached."""
        self._ensure_fresh()
        ranked: list[list[Ranked]] = []
        operating = self.operating_point
        with self._lock:
            index = self._index
            threshold = operating.identify_threshold(index.people if index is not None else 0)
            for probe in probes:
                if index is None:
                    ranked.append([])
                    continue
                hits = index.search(probe, self.settings.gallery.search_k)
                ranked.append(self.matcher.rank(probe, hits, index.people_vectors))
        wanted = {r.person_id for rs in ranked for r in rs[: self.settings.gallery.top_k + 1]}
        people = self.people(wanted)
        return [self.matcher.decide(rs, people, threshold) for rs in ranked]

    def people(self, person_ids: set[int]) -> dict[int, Person]:
        """The records of these people, from the cache of the current revision when there
        (renames and template changes bump the revision, which empties it)."""
        with self._names_lock:
            if self._names_revision != self._revision or len(self._names) > _NAME_CACHE_MAX:
                self._names = {}
                self._names_revision = self._revision
            revision = self._names_revision
            found = {i: self._names[i] for i in person_ids if i in self._names}
        missing = person_ids - found.keys()
        if missing:
            fetched = self.store.get_people(missing)
            found.update(fetched)
            with self._names_lock:
                if self._names_revision == revision == self._revision:
                    self._names.update(fetched)
        return found

    def rank(self, probe: np.ndarray) -> list[Ranked]:
        """Every person near a probe, scored like ``identify`` scores them, best first (the
        enrolment checks: does this face already belong to someone else?)."""
        self._ensure_fresh()
        with self._lock:
            if self._index is None:
                return []
            hits = self._index.search(probe, self.settings.gallery.search_k)
            return self.matcher.rank(probe, hits, self._index.people_vectors)

    def score_person(self, probe: np.ndarray, person_id: int) -> float | None:
        """The probe's aggregated score against one person (1:1 verification); None if the
        person has no templates. Raises ``UnknownPerson`` for an unknown id."""
        self.store.get_person(person_id)
        self.sync()
        with self._lock:
            if self._index is None:
                return None
            vectors = self._index.person_vectors(person_id)
        if len(vectors) == 0:
            return None
        probe = np.asarray(probe, np.float32).reshape(-1)
        return aggregate(probe, vectors, self.matcher.params)

    # -- writes: database first, then the index ----------------------------------------------

    def create_person(
        self, name: str, *, external_id: str | None = None, metadata: JsonObject | None = None
    ) -> Person:
        return self.store.create_person(name, external_id=external_id, metadata=metadata)

    def add_templates(
        self, person_id: int, templates: Sequence[NewTemplate]
    ) -> list[Template | None]:
        """Store templates (None for a photo the person already has), then index them."""
        result = self.store.add_templates(person_id, templates)
        self.sync()
        return result

    def create_person_with_templates(
        self,
        name: str,
        templates: Sequence[NewTemplate],
        *,
        external_id: str | None = None,
        metadata: JsonObject | None = None,
    ) -> tuple[Person, list[Template | None]]:
        """A new person and their first faces in one transaction (never a person without a
        face from a failed enrolment), then index them."""
        result = self.store.create_person_with_templates(
            name, templates, external_id=external_id, metadata=metadata
        )
        self.sync()
        return result

    def delete_person(self, person_id: int) -> int:
        """Erase a person, their templates and thumbnails; returns the templates erased."""
        erased = self.store.delete_person(person_id)
        self.sync()
        return erased

    def merge_people(self, source_id: int, target_id: int) -> Person:
        person = self.store.merge_people(source_id, target_id)
        self.sync()
        return person

    def delete_template(self, template_id: int, person_id: int | None = None) -> None:
        """Erase one template (only if it is ``person_id``'s, when given); the store decides
        in one statement whether it existed (``UnknownTemplate`` / ``UnknownPerson``)."""
        self.store.delete_template(template_id, person_id)
        self.sync()

    def update_person(
        self,
        person_id: int,
        *,
        name: str = UNSET,
        external_id: str | None = UNSET,
        metadata: JsonObject = UNSET,
    ) -> Person:
        """Change any of name, external id (None clears it) and metadata (replaced whole)."""
        return self.store.update_person(
            person_id, name=name, external_id=external_id, metadata=metadata
        )

    def rename_person(self, person_id: int, name: str) -> Person:
        return self.store.rename_person(person_id, name)

    # -- reads -------------------------------------------------------------------------------

    def get_person(self, person_id: int) -> Person:
        return self.store.get_person(person_id)

    def list_people(
        self, query: str | None = None, *, limit: int = 50, offset: int = 0
    ) -> PersonPage:
        return self.store.list_people(query, limit=limit, offset=offset)

    def list_templates(self, person_id: int) -> list[Template]:
        return self.store.list_templates(person_id)
