"""``facegate backup`` and ``facegate restore``: the whole database in one portable file.

A backup is read in **one read transaction** (SQLite: a WAL snapshot; PostgreSQL: REPEATABLE
READ, READ ONLY), so it is consistent while servers keep writing: no template without its
person, no attendance event without its person, the gallery revision matching the templates.

The file is gzip-compressed JSON lines, the same for both dialects, so a SQLite backup
restores into PostgreSQL and back: a manifest line (format, schema version, model pin, id
counters), then for each table a header line ``{"table", "columns"}`` followed by one JSON
array per row, then a trailer with the row counts (a truncated file is refused). Bytes are
``{"$b": base64}``, JSON documents ``{"$j": ...}``, times ISO 8601 in UTC.

Restore only goes into an **empty** target (no tables): it migrates the target up to the
backup's schema version, loads every table in foreign-key order in one transaction, sets the
id counters so no id is ever reused, and then applies the later migrations.

Everything personal is in the file (faces, thumbnails, attendance, door events, kept photos):
it is created 0600 and must be kept like the database. API keys are there as hashes only.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from facegate import __version__
from facegate.errors import Conflict, InvalidInput
from facegate.gallery import introspect
from facegate.gallery.db import Database, Tx, utcnow
from facegate.gallery.schema import MIGRATIONS
from facegate.gallery.store import apply_migrations

FORMAT = "facegate-backup"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class BackupSummary:
    """What a backup holds (or what a restore loaded)."""

    path: Path
    schema_version: int
    dialect: str
    model_id: str | None
    model_sha256: str | None
    rows: dict[str, int]

    def as_dict(self) -> dict[str, object]:
        return {
            "file": str(self.path),
            "schema_version": self.schema_version,
            "source_dialect": self.dialect,
            "model": {"id": self.model_id, "sha256": self.model_sha256},
            "rows": self.rows,
        }


def encode(value: Any) -> Any:
    """A database value as JSON (see the module docstring)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$b": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return {"$j": value}
    return value


def decode(value: Any, column: introspect.Column, dialect: str) -> Any:
    """A JSON value as the target column wants it."""
    if isinstance(value, dict):
        if "$b" in value:
            return base64.b64decode(value["$b"])
        if "$j" in value:
            return json.dumps(value["$j"], ensure_ascii=False)
    if dialect == "postgres" and column.type == "boolean" and value is not None:
        return bool(value)
    return value


def schema_version(tx: Tx) -> int:
    rows = tx.execute("SELECT MAX(version) FROM schema_migrations")
    return int(rows[0][0] or 0)


def _write_line(out: IO[str], payload: object) -> None:
    out.write(json.dumps(payload, ensure_ascii=False, separators=(",", ":")))
    out.write("\n")


def backup(db: Database, out_path: Path) -> BackupSummary:
    """Write the whole database to ``out_path`` from one consistent snapshot."""
    tmp = out_path.with_name(out_path.name + ".partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    counts: dict[str, int] = {}
    try:
        with os.fdopen(fd, "wb") as raw, gzip.open(raw, "wt", encoding="utf-8") as out:
            with db.read() as tx:
                version = schema_version(tx)
                pin = tx.execute("SELECT model_id, model_sha256 FROM gallery_meta WHERE id = 1")
                model_id, model_sha = pin[0] if pin else (None, None)
                _write_line(
                    out,
                    {
                        "format": FORMAT,
                        "format_version": FORMAT_VERSION,
                        "schema_version": version,
                        "dialect": db.dialect,
                        "created_at": utcnow().isoformat(),
                        "facegate_version": __version__,
                        "model": {"id": model_id, "sha256": model_sha},
                        "sequences": introspect.sequences(tx, db),
                    },
                )
                for table in introspect.tables(tx, db):
                    names = [c.name for c in introspect.columns(tx, db, table)]
                    _write_line(out, {"table": table, "columns": names})
                    quoted = ", ".join(f'"{n}"' for n in names)
                    rows = tx.execute(f'SELECT {quoted} FROM "{table}"')
                    for row in rows:
                        _write_line(out, [encode(v) for v in row])
                    counts[table] = len(rows)
            _write_line(out, {"end": counts})
        os.replace(tmp, out_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return BackupSummary(out_path, version, db.dialect, model_id, model_sha, counts)


def _open_backup(path: Path) -> tuple[IO[str], dict[str, Any]]:
    if not path.is_file():
        raise InvalidInput(f"no backup file at {path}")
    stream = gzip.open(path, "rt", encoding="utf-8")  # noqa: SIM115 (returned open)
    try:
        first = stream.readline()
        manifest = json.loads(first)
    except (OSError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as error:
        stream.close()
        raise InvalidInput(
            f"{path} is not a facegate backup (made by `facegate backup`)"
        ) from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        stream.close()
        raise InvalidInput(f"{path} is not a facegate backup (made by `facegate backup`)")
    if manifest.get("format_version") != FORMAT_VERSION:
        stream.close()
        raise InvalidInput(
            f"{path} has backup format {manifest.get('format_version')}; this facegate "
            f"reads format {FORMAT_VERSION}: restore it with the facegate version that made it"
        )
    return stream, manifest


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of a backup file (``facegate restore --check``, tests)."""
    stream, manifest = _open_backup(path)
    stream.close()
    return manifest


def check_empty(db: Database) -> None:
    """Refuse a target that holds any table: restore never mixes two sites' data."""
    with db.read() as tx:
        found = introspect.all_tables(tx, db)
    if found:
        where = getattr(db, "path", None) or "the database"
        raise Conflict(
            f"refusing to restore into {where}: it is not empty ({len(found)} tables, e.g. "
            f"{', '.join(found[:3])}). Restore into a new --data-dir or an empty database "
            "(e.g. createdb facegate_restored) and point facegate at it afterwards"
        )


def restore(db: Database, path: Path) -> BackupSummary:
    """Load a backup into an empty database, then migrate it to this facegate's schema."""
    stream, manifest = _open_backup(path)
    with stream:
        version = int(manifest.get("schema_version", 0))
        newest = max(m.version for m in MIGRATIONS[db.dialect])
        if version > newest:
            raise InvalidInput(
                f"the backup has schema version {version}, newer than this facegate's "
                f"({newest}): upgrade facegate first (there are no downgrades)"
            )
        check_empty(db)
        tables = _parse(stream)  # the whole file is checked before anything is written
        apply_migrations(db, up_to=version)
        counts = _write(db, tables, dict(manifest.get("sequences") or {}))
        apply_migrations(db)
    return BackupSummary(
        path,
        version,
        str(manifest.get("dialect")),
        manifest.get("model", {}).get("id"),
        manifest.get("model", {}).get("sha256"),
        counts,
    )


_Tables = dict[str, tuple[list[str], list[list[Any]]]]


def _parse(stream: IO[str]) -> _Tables:
    parsed = (json.loads(line) for line in stream if line.strip())
    tables: _Tables = {}
    ended: dict[str, int] | None = None
    current: list[list[Any]] | None = None
    try:
        for item in parsed:
            if isinstance(item, list) and current is not None:
                current.append(item)
            elif isinstance(item, dict) and "table" in item:
                current = []
                tables[str(item["table"])] = (list(item["columns"]), current)
            elif isinstance(item, dict) and "end" in item:
                ended = {str(k): int(v) for k, v in item["end"].items()}
            else:
                raise InvalidInput("the backup file has a line it does not expect")
    except (OSError, EOFError, json.JSONDecodeError) as error:
        raise InvalidInput(f"the backup file is damaged or truncated: {error}") from error
    if ended is None or {t: len(r) for t, (_, r) in tables.items()} != ended:
        raise InvalidInput("the backup file is truncated (its row counts do not match)")
    return tables


def _write(db: Database, tables: _Tables, sequences: dict[str, int]) -> dict[str, int]:
    with db.write() as tx:
        present = set(introspect.tables(tx, db))
        missing = sorted(set(tables) - present)
        if missing:
            raise InvalidInput(f"the backup has tables this schema lacks: {', '.join(missing)}")
        for table in introspect.fill_order(tx, db, sorted(tables)):
            names, rows = tables[table]
            _fill(tx, db, table, names, rows)
        introspect.advance_sequences(tx, db, {str(k): int(v) for k, v in sequences.items()})
    return {t: len(r) for t, (_, r) in tables.items()}


def _fill(tx: Tx, db: Database, table: str, names: list[str], rows: list[list[Any]]) -> None:
    by_name = {c.name: c for c in introspect.columns(tx, db, table)}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise InvalidInput(f"table {table} of the backup has unknown columns: {unknown}")
    # Rows the migrations seeded (the gallery_meta row) are replaced by the backup's.
    tx.execute(f'DELETE FROM "{table}"')
    if not rows:
        return
    cols = [by_name[n] for n in names]
    overriding = (
        " OVERRIDING SYSTEM VALUE"
        if db.dialect == "postgres" and any(c.identity for c in cols)
        else ""
    )
    quoted = ", ".join(f'"{n}"' for n in names)
    marks = ", ".join("?" * len(names))
    sql = f'INSERT INTO "{table}" ({quoted}){overriding} VALUES ({marks})'
    tx.executemany(
        sql, [[decode(v, c, db.dialect) for v, c in zip(row, cols, strict=True)] for row in rows]
    )
