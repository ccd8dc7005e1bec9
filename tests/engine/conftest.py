"""Helpers for the engine tests: real photos from the dev set, loaded once per session."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from facegate.engine import FaceEngine

# A sharp, frontal, well-lit single-face photo (630x374 JPEG) used across the tests.
PORTRAIT = "people/Kit_Harington/fr_john2.jpeg"
# A few photos of different people and formats, for comparisons that need several faces.
SAMPLE_PHOTOS = (
    "people/Kit_Harington/fr_john2.jpeg",
    "people/Rose_Leslie/fr_img2.jpg",
    "people/Barack_Obama/fr_obama.jpg",
    "people/Alex_Lacamoire/fr_img1.jpg",
    "people/Jim_Parsons/sheldon1.png",
    "people/ORL_s01/1.pgm",
    "people/CASIA5_000/000_0.bmp",
)


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="session")
def portrait_path(faces_dir: Path) -> Path:
    return faces_dir / PORTRAIT


@pytest.fixture(scope="session")
def portrait(engine: FaceEngine, portrait_path: Path) -> np.ndarray:
    """The portrait decoded to BGR (read-only so no test can change it for the others)."""
    image = engine.load(portrait_path)
    image.setflags(write=False)
    return image


@pytest.fixture(scope="session")
def astronaut_bgr() -> np.ndarray:
    """``skimage.data.astronaut()`` (RGB) as the BGR the engine expects: needs no dev data."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[:, :, ::-1])
