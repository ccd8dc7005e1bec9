"""Index snapshot files: one faiss index per host, memory-mapped by every worker.

A worker that builds its index from the database pays for it in time (16 s at a million
templates) and in private memory (0.8 GB per process). A snapshot file is built once per host
and **mapped** by every worker: start-up is a ``read_index`` with ``IO_FLAG_MMAP`` (the pages
come from the page cache, shared by all workers), then a replay of the change log from the
revision the file is stamped with.

Layout in ``data_dir/index/`` (one set per snapshot, ``<stem>`` = ``gallery-<revision>-<tag>``):

- ``<stem>.faiss`` — ``faiss.write_index`` of the base segment;
- ``<stem>.labels.npy``, ``.owners.npy``, ``.order.npy``, ``.sorted.npy`` — template id and
  owner per row, and the rows sorted by owner (``VectorIndex``), read with ``mmap_mode``;
- ``<stem>.json`` — the manifest, written **last**: format, revision, model pin, database,
  dimension, kind, counts, and every file's size and SHA-256 (whole file) plus a sampled
  SHA-256 (size, first, last and 62 evenly spaced 64 KiB blocks).

Every file is written to a temporary name, fsynced and renamed; then the manifest likewise,
then the directory is fsynced. A crash leaves either a complete set or no manifest. At load a
set is ignored with a warning (the caller rebuilds from the database) when a file is missing,
its size or checksum differs (the sampled one by default: it catches truncation and partial
writes at the cost of a few reads; the whole-file hash reads every byte and is opt-in), it is
stamped with another model or database, or with a revision the database has not reached.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from facegate.gallery.index import BaseParts, IndexParams, VectorIndex
from facegate.gallery.types import ModelPin

log = logging.getLogger(__name__)

FORMAT = 1
PREFIX = "gallery-"
_ARRAYS = ("labels", "owners", "order", "sorted")
_BLOCK = 1 << 16
_SAMPLES = 64


class SnapshotInvalid(Exception):
    """A snapshot file set that must not be used (the message says why)."""


@dataclass(frozen=True, slots=True)
class FileStamp:
    size: int
    sha256: str
    sample_sha256: str


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a snapshot holds and how to check it; stored as ``<stem>.json``."""

    format: int
    revision: int
    model_id: str | None
    model_sha256: str | None
    database: str
    dim: int
    kind: str
    count: int
    people: int
    files: dict[str, FileStamp]

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            raw: dict[str, Any] = json.loads(path.read_text())
            files = {name: FileStamp(**stamp) for name, stamp in raw.pop("files").items()}
            return cls(files=files, **raw)
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
            raise SnapshotInvalid(f"unreadable manifest: {error}") from error


def _sample_sha256(path: Path, size: int) -> str:
    """SHA-256 over the size and up to 64 blocks spread over the file (all of a small one)."""
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as f:
        if size <= _BLOCK * _SAMPLES:
            digest.update(f.read())
        else:
            step = (size - _BLOCK) // (_SAMPLES - 1)
            for i in range(_SAMPLES):
                f.seek(i * step if i < _SAMPLES - 1 else size - _BLOCK)
                digest.update(f.read(_BLOCK))
    return digest.hexdigest()


def _full_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _stamp(path: Path) -> FileStamp:
    size = path.stat().st_size
    return FileStamp(size, _full_sha256(path), _sample_sha256(path, size))


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _commit(tmp: Path, final: Path) -> None:
    os.chmod(tmp, 0o600)  # template vectors are biometric data: the owner's only
    _fsync_file(tmp)
    os.replace(tmp, final)


def manifests(directory: Path) -> list[tuple[int, Path]]:
    """(revision, manifest path) of every snapshot in the directory, newest first."""
    found = []
    for path in directory.glob(f"{PREFIX}*.json"):
        try:
            found.append((int(path.name[len(PREFIX) :].split("-")[0]), path))
        except ValueError:
            continue
    return sorted(found, reverse=True)


def write_snapshot(directory: Path, index: VectorIndex, pin: ModelPin, database: str) -> Manifest:
    """Write a freshly built index as a snapshot at its revision; returns its manifest. Older
    snapshots are removed afterwards (workers that still map one keep their mapping)."""
    parts = index.parts
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    stem = f"{PREFIX}{index.revision:012d}-{secrets.token_hex(4)}"
    names = {"faiss": f"{stem}.faiss", **{a: f"{stem}.{a}.npy" for a in _ARRAYS}}
    arrays = dict(
        zip(_ARRAYS, (parts.labels, parts.owners, parts.order, parts.sorted_owners), strict=True)
    )
    for key, name in names.items():
        tmp = directory / f".{name}.tmp"
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        if key == "faiss":
            faiss.write_index(parts.faiss_index, str(tmp))
        else:
            with tmp.open("wb") as f:
                np.save(f, np.ascontiguousarray(arrays[key], np.int64))
        _commit(tmp, directory / name)
    manifest = Manifest(
        format=FORMAT,
        revision=index.revision,
        model_id=pin.model_id,
        model_sha256=pin.model_sha256,
        database=database,
        dim=index.dim,
        kind=parts.kind,
        count=len(parts.labels),
        people=parts.people,
        files={name: _stamp(directory / name) for name in names.values()},
    )
    tmp = directory / f".{stem}.json.tmp"
    tmp.write_text(json.dumps(asdict(manifest), indent=1))
    _commit(tmp, directory / f"{stem}.json")
    _fsync_file(directory)
    remove_others(directory, stem)
    return manifest


def remove_others(directory: Path, keep_stem: str) -> int:
    """Delete every snapshot file (and leftover temporary file) but ``keep_stem``'s."""
    removed = 0
    for path in directory.iterdir():
        name = path.name.lstrip(".")
        if name.startswith(PREFIX) and not name.startswith(keep_stem + "."):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _check(directory: Path, manifest: Manifest, full: bool) -> None:
    if manifest.format != FORMAT:
        raise SnapshotInvalid(f"format {manifest.format}, expected {FORMAT}")
    for name, stamp in manifest.files.items():
        path = directory / name
        try:
            size = path.stat().st_size
        except OSError as error:
            raise SnapshotInvalid(f"{name} is missing") from error
        if size != stamp.size:
            raise SnapshotInvalid(f"{name} has {size} bytes, the manifest says {stamp.size}")
        if _sample_sha256(path, size) != stamp.sample_sha256:
            raise SnapshotInvalid(f"{name} does not match its checksum")
        if full and _full_sha256(path) != stamp.sha256:
            raise SnapshotInvalid(f"{name} does not match its whole-file checksum")


def load_snapshot(
    manifest_path: Path,
    *,
    pin: ModelPin,
    database: str,
    revision_now: int,
    params: IndexParams,
    full_check: bool = False,
) -> VectorIndex:
    """Map one snapshot after checking it; raises ``SnapshotInvalid`` saying why not."""
    directory = manifest_path.parent
    manifest = Manifest.read(manifest_path)
    if (manifest.model_id, manifest.model_sha256) != (pin.model_id, pin.model_sha256):
        raise SnapshotInvalid("stamped with another model than the gallery's")
    if manifest.database != database:
        raise SnapshotInvalid("written for another database")
    if manifest.revision > revision_now:
        raise SnapshotInvalid(
            f"revision {manifest.revision} is ahead of the database's {revision_now}"
        )
    _check(directory, manifest, full_check)
    stem = manifest_path.name[: -len(".json")]
    try:
        mapped = faiss.read_index(
            str(directory / f"{stem}.faiss"), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_MMAP_IFC
        )
        arrays = [
            np.load(directory / f"{stem}.{name}.npy", mmap_mode="c" if name == "owners" else "r")
            for name in _ARRAYS
        ]
    except (RuntimeError, OSError, ValueError) as error:
        raise SnapshotInvalid(f"cannot be read: {error}") from error
    if mapped.d != manifest.dim or mapped.ntotal != manifest.count:
        raise SnapshotInvalid("the faiss index disagrees with the manifest")
    if any(a.shape != (manifest.count,) or a.dtype != np.int64 for a in arrays):
        raise SnapshotInvalid("an id array disagrees with the manifest")
    labels, owners, order, ranked = arrays
    parts = BaseParts(mapped, manifest.kind, labels, owners, order, ranked, manifest.people)
    index = VectorIndex.from_parts(parts, manifest.dim, manifest.revision, params)
    index.source = manifest_path.name
    return index


def load_newest(
    directory: Path,
    *,
    pin: ModelPin,
    database: str,
    revision_now: int,
    params: IndexParams,
    full_check: bool = False,
) -> VectorIndex | None:
    """The newest usable snapshot, mapped; sets that fail a check are skipped with a warning."""
    if not directory.is_dir():
        return None
    for _revision, path in manifests(directory):
        try:
            return load_snapshot(
                path,
                pin=pin,
                database=database,
                revision_now=revision_now,
                params=params,
                full_check=full_check,
            )
        except SnapshotInvalid as error:
            log.warning("gallery snapshot %s ignored: %s", path.name, error)
    return None


@contextmanager
def publish_lock(directory: Path, *, wait: bool = False) -> Iterator[bool]:
    """Whether this process may publish now: one publisher per data dir (``flock`` on
    ``publish.lock``, released when the block ends or the process dies); ``wait`` blocks
    until the lock is free."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with (directory / "publish.lock").open("a") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
