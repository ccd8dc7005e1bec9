"""Reading pair lists and turning their images into embeddings, in parallel."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facegate.engine import FaceEngine
from facegate.errors import BadImage, InvalidInput, NoFace

REQUIRED_COLUMNS = ("left_path", "right_path", "same")


@dataclass(frozen=True)
class Pair:
    left: Path
    right: Path
    same: bool


def read_pairs(path: Path, root: Path | None = None) -> list[Pair]:
    """Pairs from a tab-separated file with a header ``left_path right_path same``.

    Paths are relative to ``root`` (default: the pairs file's folder).
    """
    base = root if root is not None else path.parent
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InvalidInput(f"{path}: missing column(s) {', '.join(missing)}")
        pairs = []
        for line, row in enumerate(reader, start=2):
            if row["same"] not in ("0", "1"):
                raise InvalidInput(f"{path}:{line}: 'same' must be 0 or 1, got {row['same']!r}")
            same = row["same"] == "1"
            pairs.append(Pair(base / row["left_path"], base / row["right_path"], same))
    if not pairs:
        raise InvalidInput(f"{path}: no pairs")
    return pairs


@dataclass(frozen=True)
class EmbeddedImages:
    """Main-face embeddings by path; ``None`` where no face was found."""

    embeddings: dict[Path, np.ndarray | None]
    ms_per_image: float

    @property
    def no_face(self) -> list[Path]:
        return sorted(p for p, e in self.embeddings.items() if e is None)


def embed_main_faces(
    engine: FaceEngine,
    paths: Iterable[Path],
    progress: Callable[[int], None] | None = None,
) -> EmbeddedImages:
    """Embed the main face of every image, using the engine's inference threads.

    An image without a face (or unreadable) maps to ``None``; callers decide how to count it.
    """
    unique = sorted(set(paths))

    def one(path: Path) -> np.ndarray | None:
        try:
            return engine.main_face(engine.load(path)).embedding
        except (NoFace, BadImage):
            return None

    started = time.perf_counter()
    results: dict[Path, np.ndarray | None] = {}
    with ThreadPoolExecutor(max_workers=engine.settings.inference.threads) as pool:
        for path, embedding in zip(unique, pool.map(one, unique), strict=True):
            results[path] = embedding
            if progress is not None:
                progress(1)
    elapsed = time.perf_counter() - started
    return EmbeddedImages(results, 1000.0 * elapsed / max(1, len(unique)))


# A pair with a missing face gets this score: it is then always judged "different", which is
# wrong for a same-person pair, so failures to detect are paid for in the accuracy.
NO_FACE_SCORE = -1.0


def pair_scores(pairs: list[Pair], images: EmbeddedImages) -> np.ndarray:
    """Cosine similarity per pair (embeddings are unit vectors)."""
    scores = np.empty(len(pairs), dtype=np.float64)
    for i, pair in enumerate(pairs):
        a, b = images.embeddings[pair.left], images.embeddings[pair.right]
        scores[i] = NO_FACE_SCORE if a is None or b is None else float(np.dot(a, b))
    return scores
