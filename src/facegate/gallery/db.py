"""The two database backends behind one small interface: SQLite (default) and PostgreSQL.

The gallery's SQL is written once (``store.py``) against :class:`Database`; a backend only
knows how to open a connection, run a read or write transaction, convert timestamps, and
recognise a unique-constraint violation. Queries use ``?`` placeholders; the PostgreSQL
backend rewrites them to psycopg's ``%s`` (our SQL never contains a literal ``%`` or ``?``).

Each backend holds one connection guarded by a lock: the gallery's statements are short and
SQLite serialises writers anyway, so a pool would add moving parts without adding speed.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from facegate.errors import GalleryNotFound, InvalidInput
from facegate.gallery.schema import Dialect

log = logging.getLogger(__name__)

Row = tuple[Any, ...]
NOTIFY_CHANNEL = "facegate_gallery"


class Tx(Protocol):
    """A running transaction."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


class Database(Protocol):
    """What ``SqlStore`` needs from a backend."""

    dialect: Dialect

    def read(self) -> Any:
        """Context manager: a consistent read-only snapshot (one transaction)."""

    def write(self) -> Any:
        """Context manager: a serialised write transaction, committed on clean exit."""

    def to_db_time(self, value: datetime) -> Any: ...

    def from_db_time(self, value: Any) -> datetime: ...

    def is_unique_violation(self, error: BaseException) -> bool: ...

    def after_erase(self) -> None:
        """Called after personal data was deleted, to scrub what the backend can."""

    def close(self) -> None: ...


def _plain(params: Sequence[Any]) -> tuple[Any, ...]:
    # numpy integers (ids straight out of an index) are not bindable by sqlite3 or psycopg.
    return tuple(p.item() if isinstance(p, np.generic) else p for p in params)


class _SqliteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._conn.execute(sql, _plain(params)).fetchall()

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._conn.executemany(sql, [_plain(r) for r in rows])


class SqliteDatabase:
    """SQLite in WAL mode: readers never block the writer, a crash never corrupts the file.

    ``BEGIN IMMEDIATE`` takes the write lock at the start of a write transaction, so two
    processes never both read-then-upgrade and deadlock into ``SQLITE_BUSY``; ``busy_timeout``
    makes the loser wait instead of failing. ``synchronous=NORMAL`` is durable against a
    process crash (the SIGKILL case) though not against power loss; the index is rebuilt from
    the database either way.
    """

    dialect: Dialect = "sqlite"

    def __init__(self, path: Path, *, busy_timeout_ms: int = 10_000, create: bool = True) -> None:
        new = not path.exists()
        if new and not create:
            raise GalleryNotFound(
                f"no gallery database at {path}: check --data-dir (FACEGATE_DATA_DIR) or "
                "--database-url; `facegate enrol` and `facegate serve` create a new one"
            )
        if not path.parent.exists():
            # Biometric data: only the owner may enter the folder or read the files.
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if new:
            path.touch(mode=0o600)
            log.info("created a new gallery database at %s", path)
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            path,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,  # guarded by self._lock
            timeout=busy_timeout_ms / 1000,
        )
        self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        # Zero deleted content in the file: deleting a person must not leave their embeddings
        # and thumbnails readable in free pages.
        self._conn.execute("PRAGMA secure_delete = ON")

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield _SqliteTx(self._conn)
            finally:
                self._conn.execute("COMMIT")

    @contextmanager
    def write(self) -> Iterator[Tx]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteTx(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def after_erase(self) -> None:
        """Fold the WAL back into the database and truncate it, so the pre-deletion pages
        that are still in the log are overwritten (best effort: skipped while readers hold
        old snapshots; the next checkpoint finishes it)."""
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def to_db_time(self, value: datetime) -> Any:
        return value.isoformat()

    def from_db_time(self, value: Any) -> datetime:
        return datetime.fromisoformat(value) if isinstance(value, str) else value

    def is_unique_violation(self, error: BaseException) -> bool:
        return isinstance(error, sqlite3.IntegrityError) and "UNIQUE" in str(error)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class _PgTx:
    def __init__(self, cursor: Any) -> None:
        self._cur = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self._cur.execute(sql.replace("?", "%s"), _plain(params))
        return self._cur.fetchall() if self._cur.description is not None else []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cur.executemany(sql.replace("?", "%s"), [_plain(r) for r in rows])


class PostgresDatabase:
    """PostgreSQL through psycopg 3. Reads run at REPEATABLE READ so that a snapshot of the
    revision and the templates is consistent; writers serialise on the ``gallery_meta`` row
    they update, which keeps revision numbers in commit order."""

    dialect: Dialect = "postgres"

    def __init__(self, url: str) -> None:
        import psycopg  # imported lazily: SQLite-only installs never load libpq

        self._psycopg = psycopg
        self.url = url
        self._lock = threading.RLock()
        self._conn = psycopg.connect(url, autocommit=True)

    def _connection(self) -> Any:
        # A server restart breaks the connection; reconnect rather than fail forever.
        if self._conn.closed or self._conn.broken:
            self._conn = self._psycopg.connect(self.url, autocommit=True)
        return self._conn

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self._lock:
            conn = self._connection()
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield _PgTx(cur)

    @contextmanager
    def write(self) -> Iterator[Tx]:
        with self._lock:
            conn = self._connection()
            with conn.transaction(), conn.cursor() as cur:
                yield _PgTx(cur)

    def after_erase(self) -> None:
        """Nothing cheap to do: dead rows stay in the heap until (auto)VACUUM reclaims them;
        docs/gallery.md describes ``VACUUM FULL`` for a guaranteed erase."""

    def to_db_time(self, value: datetime) -> Any:
        return value

    def from_db_time(self, value: Any) -> datetime:
        return value.astimezone(UTC) if isinstance(value, datetime) else value

    def is_unique_violation(self, error: BaseException) -> bool:
        return isinstance(error, self._psycopg.errors.UniqueViolation)

    def listen(self, on_notify: Any, stop: threading.Event, *, poll_s: float = 0.5) -> None:
        """Call ``on_notify()`` whenever another process commits a gallery change; returns
        when ``stop`` is set. Runs on its own connection (LISTEN ties up a session)."""
        while not stop.is_set():
            try:
                with self._psycopg.connect(self.url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    on_notify()  # anything committed while we were not listening
                    while not stop.is_set():
                        if any(True for _ in conn.notifies(timeout=poll_s, stop_after=1)):
                            on_notify()
            except self._psycopg.OperationalError:
                stop.wait(1.0)  # server away: retry, searches still catch up on their own

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def open_database(
    data_dir: Path, database_url: str | None, *, busy_timeout_ms: int = 10_000, create: bool = True
) -> SqliteDatabase | PostgresDatabase:
    """``postgresql://`` URLs select PostgreSQL; none means ``<data_dir>/facegate.db``.

    ``create=False`` refuses a SQLite file that does not exist (``GalleryNotFound``); a
    PostgreSQL database always exists or fails to connect.
    """
    if database_url and database_url.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(database_url)
    if database_url and database_url.startswith("sqlite:///"):
        return SqliteDatabase(
            Path(database_url.removeprefix("sqlite:///")),
            busy_timeout_ms=busy_timeout_ms,
            create=create,
        )
    if database_url:
        raise InvalidInput("database_url must start with postgresql:// or sqlite:///")
    return SqliteDatabase(data_dir / "facegate.db", busy_timeout_ms=busy_timeout_ms, create=create)


def utcnow() -> datetime:
    return datetime.now(UTC)


def advisory_key(*parts: object) -> int:
    """A signed int4 naming ``parts`` (e.g. a person and a camera) for PostgreSQL's
    ``pg_advisory_xact_lock(class, key)``; collisions only make two pairs wait on each other."""
    value = zlib.crc32("\x00".join(str(p) for p in parts).encode())
    return value - (1 << 32) if value >= 1 << 31 else value


WRITE_ATTEMPTS = 3
T = TypeVar("T")


def with_retries(write: Callable[[], T], attempts: int = WRITE_ATTEMPTS) -> T:
    """``write()``, tried again after 0.4 s, 0.8 s, ... while it raises, up to ``attempts``
    tries in all; the last try's exception propagates. For the background writers (attendance
    recorder, door decisions) that must not lose a write to a briefly locked or reconnecting
    database, and that log a write given up with ids only."""
    for tries in range(1, attempts):
        try:
            return write()
        except Exception:
            time.sleep(0.2 * 2**tries)
    return write()
