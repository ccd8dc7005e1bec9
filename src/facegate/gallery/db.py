"""The two database backends behind one small interface: SQLite (default) and PostgreSQL.

The gallery's SQL is written once (``store.py``) against :class:`Database`; a backend only
knows how to open a connection, run a read or write transaction, convert timestamps, and
recognise a unique-constraint violation. Queries use ``?`` placeholders; the PostgreSQL
backend rewrites them to psycopg's ``%s`` (our SQL never contains a literal ``%`` or ``?``).

Each backend holds one connection guarded by a lock: the gallery's statements are short and
SQLite serialises writers anyway, so a pool would add moving parts without adding speed.

PostgreSQL connections are opened with libpq keepalives, ``tcp_user_timeout``,
``connect_timeout`` and a ``statement_timeout`` (:class:`PgOptions`), so a cut link fails a
query within seconds instead of blocking a thread for the kernel's ~15 min; a lost connection
is reopened with exponential back-off and jitter, and while the server is unreachable every
call fails at once with ``DatabaseUnavailable`` (503) rather than waiting (docs/cluster.md).
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from facegate.errors import DatabaseUnavailable, GalleryNotFound, InvalidInput
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

    def read_aside(self) -> Any:
        """Context manager: like ``read`` but on a connection of its own, for a long read (the
        whole index snapshot) that must not hold the shared connection, which every search's
        revision check and every names lookup of the process waits for."""

    def to_db_time(self, value: datetime) -> Any: ...

    def from_db_time(self, value: Any) -> datetime: ...

    def is_unique_violation(self, error: BaseException) -> bool: ...

    def now(self) -> datetime:
        """The database's clock: every lease and cooldown decision compares stored times with
        this, never with a host's own clock (PostgreSQL ``now()``; SQLite runs on one host, so
        its clock is that host's)."""

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
        self.busy_timeout_ms = busy_timeout_ms
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
    def read_aside(self) -> Iterator[Tx]:
        """A read on a new connection (WAL: readers run beside the shared one). On the shared
        connection, each index snapshot read of a 200k gallery stalled every search of the
        process for 1.0-1.5 s (``facegate bench gallery --delete-fraction``, docs/gallery.md)."""
        conn = self._connect_aside()
        try:
            conn.execute("BEGIN")
            yield _SqliteTx(conn)
            conn.execute("COMMIT")
        finally:
            conn.close()

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

    def _connect_aside(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, isolation_level=None, timeout=self.busy_timeout_ms / 1000)

    def after_erase(self) -> None:
        """Fold the WAL back into the database and truncate it, so the pre-deletion pages
        that are still in the log are overwritten (a TRUNCATE checkpoint waits up to the busy
        timeout for readers of older snapshots, then gives up; the next one finishes it).

        On a connection of its own: it waits for readers, such as an index snapshot being
        read aside, and on the shared connection that wait held every search of the process
        (searches stalled up to 5.3 s at 200k, ``facegate bench gallery --delete-fraction``)."""
        conn = self._connect_aside()
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()

    def now(self) -> datetime:
        return utcnow()

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


@dataclass(frozen=True)
class PgOptions:
    """How every PostgreSQL connection is opened (pool and LISTEN alike).

    Keepalives make an idle connection notice a dead peer; ``tcp_user_timeout`` bounds how
    long sent data may stay unacknowledged (a query on a black-holed link), ``connect_timeout``
    a connection attempt, ``statement_timeout`` a query the server runs too long. Reconnects
    wait ``reconnect_min_s`` doubling to ``reconnect_max_s``, each with ±50 % jitter so a fleet
    does not reconnect in lock-step after a server restart.
    """

    connect_timeout_s: int = 5
    keepalives_idle_s: int = 5
    keepalives_interval_s: int = 2
    keepalives_count: int = 2
    tcp_user_timeout_ms: int = 5000
    statement_timeout_ms: int = 15_000
    reconnect_min_s: float = 0.25
    reconnect_max_s: float = 10.0

    def connect_kwargs(self) -> dict[str, Any]:
        """libpq connection parameters (they override the same ones in the URL)."""
        return {
            "connect_timeout": max(1, int(self.connect_timeout_s)),
            "keepalives": 1,
            "keepalives_idle": int(self.keepalives_idle_s),
            "keepalives_interval": int(self.keepalives_interval_s),
            "keepalives_count": int(self.keepalives_count),
            "tcp_user_timeout": int(self.tcp_user_timeout_ms),
            "options": f"-c statement_timeout={int(self.statement_timeout_ms)}",
        }


class Backoff:
    """Exponential back-off with jitter: ``delay()`` after each failure, ``reset()`` after a
    success. ``ready()`` says whether the next attempt is due (callers fail fast meanwhile)."""

    def __init__(self, min_s: float, max_s: float, clock: Callable[[], float] = time.monotonic):
        self.min_s, self.max_s, self._clock = min_s, max(max_s, min_s), clock
        self.failures = 0
        self._next = 0.0

    def failed(self) -> float:
        """Count a failure; returns the delay until the next attempt."""
        self.failures += 1
        base: float = min(self.min_s * float(2 ** (self.failures - 1)), self.max_s)
        delay = base * random.uniform(0.5, 1.5)
        self._next = self._clock() + delay
        return delay

    def reset(self) -> None:
        self.failures = 0
        self._next = 0.0

    def ready(self) -> bool:
        return self._clock() >= self._next

    def remaining(self) -> float:
        return max(0.0, self._next - self._clock())


class PostgresDatabase:
    """PostgreSQL through psycopg 3. Reads run at REPEATABLE READ so that a snapshot of the
    revision and the templates is consistent; writers serialise on the ``gallery_meta`` row
    they update, which keeps revision numbers in commit order.

    A broken connection is reopened on the next call, at most as often as the back-off allows;
    in between, and for any connection-level error, calls raise ``DatabaseUnavailable``."""

    dialect: Dialect = "postgres"

    def __init__(self, url: str, options: PgOptions | None = None) -> None:
        import psycopg  # imported lazily: SQLite-only installs never load libpq

        self._psycopg = psycopg
        self.url = url
        self.options = options or PgOptions()
        self._lock = threading.RLock()
        self._backoff = Backoff(self.options.reconnect_min_s, self.options.reconnect_max_s)
        self._conn: Any = None
        self._conn = self.connect()

    def connect(self) -> Any:
        """A new autocommit connection with the keepalive and timeout options."""
        return self._psycopg.connect(self.url, autocommit=True, **self.options.connect_kwargs())

    def _connection(self) -> Any:
        # A server restart or a cut link breaks the connection: reopen it, but no more often
        # than the back-off allows, and fail at once in between (no thread waits on a dead
        # server longer than one connect_timeout).
        if self._conn is not None and not (self._conn.closed or self._conn.broken):
            return self._conn
        if not self._backoff.ready():
            raise DatabaseUnavailable(
                f"PostgreSQL is unreachable; reconnecting in {self._backoff.remaining():.1f} s"
            )
        try:
            self._conn = self.connect()
        except self._psycopg.OperationalError as error:
            delay = self._backoff.failed()
            log.warning(
                "PostgreSQL unreachable (%s); next attempt in %.1f s", type(error).__name__, delay
            )
            raise DatabaseUnavailable("PostgreSQL is unreachable") from error
        if self._backoff.failures:
            log.info("PostgreSQL reconnected after %d failed attempt(s)", self._backoff.failures)
        self._backoff.reset()
        return self._conn

    @contextmanager
    def _transaction(self, read_only: bool) -> Iterator[Tx]:
        with self._lock, self._on(self._connection(), read_only) as tx:
            yield tx

    @contextmanager
    def _on(self, conn: Any, read_only: bool) -> Iterator[Tx]:
        try:
            with conn.transaction(), conn.cursor() as cur:
                if read_only:
                    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield _PgTx(cur)
        except self._psycopg.OperationalError as error:
            if conn.broken and conn is self._conn:
                self._backoff.failed()
            raise DatabaseUnavailable(f"PostgreSQL query failed: {type(error).__name__}") from error

    def read(self) -> Any:
        return self._transaction(read_only=True)

    @contextmanager
    def read_aside(self) -> Iterator[Tx]:
        """A read on a connection of its own, closed afterwards."""
        try:
            conn = self.connect()
        except self._psycopg.OperationalError as error:
            raise DatabaseUnavailable("PostgreSQL is unreachable") from error
        try:
            with self._on(conn, read_only=True) as tx:
                yield tx
        finally:
            conn.close()

    def write(self) -> Any:
        return self._transaction(read_only=False)

    def now(self) -> datetime:
        """The database server's clock (``now()`` is the transaction's start: fine here)."""
        with self.read() as tx:
            return db_now(self, tx)

    def after_erase(self) -> None:
        """Nothing cheap to do: dead rows stay in the heap until (auto)VACUUM reclaims them;
        docs/gallery.md describes ``VACUUM FULL`` for a guaranteed erase."""

    def to_db_time(self, value: datetime) -> Any:
        return value

    def from_db_time(self, value: Any) -> datetime:
        return value.astimezone(UTC) if isinstance(value, datetime) else value

    def is_unique_violation(self, error: BaseException) -> bool:
        return isinstance(error, self._psycopg.errors.UniqueViolation)

    def listen(
        self,
        on_notify: Callable[[], None],
        stop: threading.Event,
        *,
        poll_s: float = 0.5,
        on_connection: Callable[[Any], None] | None = None,
        channel: str = NOTIFY_CHANNEL,
    ) -> None:
        """Call ``on_notify()`` whenever another process NOTIFYs ``channel`` (by default a
        committed gallery change), and once after each (re)connect; returns when ``stop`` is
        set. Runs on its own connection (LISTEN ties up a session), opened with the same
        keepalives and timeouts, and reopened with back-off and jitter when it breaks.
        ``on_connection`` sees each new connection (tests use it to find the backend).

        NOTIFY is only a fast path: a connection that dies silently or a notification lost in
        a failover is covered by the caller's poll (``Gallery``'s revision poll, the live
        event feed's)."""
        backoff = Backoff(self.options.reconnect_min_s, self.options.reconnect_max_s)
        while not stop.is_set():
            try:
                with self.connect() as conn:
                    conn.execute(f"LISTEN {channel}")
                    if on_connection is not None:
                        on_connection(conn)
                    backoff.reset()
                    on_notify()  # anything committed while we were not listening
                    while not stop.is_set():
                        if any(True for _ in conn.notifies(timeout=poll_s, stop_after=1)):
                            on_notify()
            except self._psycopg.OperationalError as error:
                delay = backoff.failed()
                log.info(
                    "LISTEN %s connection lost (%s); reconnecting in %.1f s",
                    channel,
                    type(error).__name__,
                    delay,
                )
                stop.wait(delay)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()


def open_database(
    data_dir: Path,
    database_url: str | None,
    *,
    busy_timeout_ms: int = 10_000,
    create: bool = True,
    pg_options: PgOptions | None = None,
) -> SqliteDatabase | PostgresDatabase:
    """``postgresql://`` URLs select PostgreSQL; none means ``<data_dir>/facegate.db``.

    ``create=False`` refuses a SQLite file that does not exist (``GalleryNotFound``); a
    PostgreSQL database always exists or fails to connect.
    """
    if database_url and database_url.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(database_url, pg_options)
    if database_url and database_url.startswith("sqlite:///"):
        return SqliteDatabase(
            Path(database_url.removeprefix("sqlite:///")),
            busy_timeout_ms=busy_timeout_ms,
            create=create,
        )
    if database_url:
        raise InvalidInput("database_url must start with postgresql:// or sqlite:///")
    return SqliteDatabase(data_dir / "facegate.db", busy_timeout_ms=busy_timeout_ms, create=create)


def another_connection(db: Database) -> SqliteDatabase | PostgresDatabase:
    """A second connection to the database ``db`` uses, with the same options: for a background
    part (the live event log) whose waits on the database must never hold the lock of the
    connection recognition and the API use."""
    if isinstance(db, PostgresDatabase):
        return PostgresDatabase(db.url, db.options)
    if isinstance(db, SqliteDatabase):
        return SqliteDatabase(db.path, busy_timeout_ms=db.busy_timeout_ms, create=False)
    raise TypeError(f"no second connection for {type(db).__name__}")


def utcnow() -> datetime:
    return datetime.now(UTC)


def db_now(db: Database, tx: Tx) -> datetime:
    """The database's clock inside a running transaction (PostgreSQL ``now()``: the
    transaction's start; SQLite lives on this host, so its clock is this host's)."""
    if db.dialect == "postgres":
        value = tx.execute("SELECT now()")[0][0]
        return db.from_db_time(value)
    return utcnow()


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


# -- column values --------------------------------------------------------------------------


def as_date(value: Any) -> date | None:
    """A nullable date column (SQLite gives ISO text, PostgreSQL a ``date``)."""
    if value is None:
        return None
    return date.fromisoformat(value) if isinstance(value, str) else value


def as_day(value: Any) -> date:
    """A NOT NULL date column (SQLite gives text, PostgreSQL a date)."""
    day = as_date(value)
    if day is None:
        raise ValueError("a NOT NULL date column held NULL")
    return day
