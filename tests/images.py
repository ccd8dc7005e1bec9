"""Reading and decoding test images: OpenCV answers None for a file or buffer it cannot read,
and a test should fail there with the path, not later on ``None.shape``."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def read_image(path: Path | str) -> np.ndarray:
    """The BGR pixels of an image file; fails the test when OpenCV cannot read it."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, f"cannot read image {path}"
    return image


def decode_jpeg(data: bytes) -> np.ndarray:
    """The BGR pixels of encoded image bytes; fails the test when they do not decode."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "the bytes do not decode as an image"
    return image
