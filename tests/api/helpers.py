"""Images the API tests make themselves: a photo without a face, an EXIF-rotated photo."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image


def faceless_png() -> bytes:
    """A smooth colour gradient: a valid image in which no detector finds a face."""
    x = np.linspace(0, 255, 320, dtype=np.uint8)
    rgb = np.stack([np.tile(x, (240, 1)), np.tile(x[::-1], (240, 1)), np.full((240, 320), 90)], 2)
    buf = io.BytesIO()
    Image.fromarray(rgb.astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def exif_rotated_jpeg(photo: Path) -> bytes:
    """The photo stored sideways (pixels turned 90° counter-clockwise) with EXIF orientation
    6, which tells a viewer to turn it back clockwise: what a phone held upright writes."""
    upright = Image.open(photo).convert("RGB")
    sideways = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    sideways.save(buf, format="JPEG", quality=92, exif=exif.tobytes())
    return buf.getvalue()


def jpeg_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        return image.size
