"""Small JPEG crops of a face: template thumbnails and event snapshots, one crop function.

Both are kept small on purpose: enough to recognise a person on an admin page and no more.
The sizes are fixed per use, so every snapshot in a column has the same size whichever path
wrote it (the HTTP check-in and the stream announcer write the same attendance column).
"""

from __future__ import annotations

import cv2
import numpy as np

from facegate.engine.draw import encode_jpeg
from facegate.engine.types import Box

# Template thumbnails (the people pages).
THUMBNAIL_SIDE, THUMBNAIL_MARGIN, THUMBNAIL_QUALITY = 96, 0.25, 85
# Event snapshots (attendance and door events, whichever path logs them).
SNAPSHOT_SIDE, SNAPSHOT_MARGIN, SNAPSHOT_QUALITY = 112, 0.2, 80


def face_crop_jpeg(
    image: np.ndarray, box: Box, *, side: int, margin: float, quality: int
) -> bytes | None:
    """A JPEG of the face with ``margin`` (fraction of the box, each side) around it, at
    most ``side`` pixels; None when the box lies outside the image."""
    height, width = image.shape[:2]
    mx, my = box.w * margin, box.h * margin
    x0, y0 = max(0, int(box.x - mx)), max(0, int(box.y - my))
    x1, y1 = min(width, int(box.x + box.w + mx)), min(height, int(box.y + box.h + my))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    crop = image[y0:y1, x0:x1]
    scale = side / max(crop.shape[:2])
    if scale < 1.0:
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    return encode_jpeg(crop, quality)


def face_thumbnail(image: np.ndarray, box: Box) -> bytes | None:
    """A template's thumbnail."""
    return face_crop_jpeg(
        image, box, side=THUMBNAIL_SIDE, margin=THUMBNAIL_MARGIN, quality=THUMBNAIL_QUALITY
    )


def face_snapshot(image: np.ndarray, box: Box) -> bytes | None:
    """An event's snapshot (attendance and door events)."""
    return face_crop_jpeg(
        image, box, side=SNAPSHOT_SIDE, margin=SNAPSHOT_MARGIN, quality=SNAPSHOT_QUALITY
    )
