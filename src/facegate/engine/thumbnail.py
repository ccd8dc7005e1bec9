"""Small face thumbnails for the pages: a loose crop around the box, JPEG-encoded."""

from __future__ import annotations

import cv2
import numpy as np

from facegate.engine.types import Box


def face_thumbnail(image: np.ndarray, box: Box, size: int = 96, margin: float = 0.25) -> bytes:
    """A JPEG of the face with ``margin`` (fraction of the box) around it, at most ``size`` px.

    Kept small on purpose: it is enough to recognise a person on an admin page and no more.
    """
    height, width = image.shape[:2]
    pad_w, pad_h = box.w * margin, box.h * margin
    x0, y0 = max(0, int(box.x - pad_w)), max(0, int(box.y - pad_h))
    x1, y1 = min(width, int(box.x + box.w + pad_w)), min(height, int(box.y + box.h + pad_h))
    crop = image[y0:y1, x0:x1] if x1 > x0 and y1 > y0 else image
    scale = size / max(crop.shape[:2])
    if scale < 1:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:  # pragma: no cover - OpenCV always encodes a non-empty uint8 image
        raise ValueError("could not encode thumbnail")
    return encoded.tobytes()
