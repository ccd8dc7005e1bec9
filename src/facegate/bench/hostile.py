"""Hostile inputs, built in memory, for the abuse tests and ``bench/abuse.py``.

Each builder returns the bytes an attacker (or a careless integrator) would send; none of
them is stored in the repository. They are small on the wire and expensive if the server
trusts them: that asymmetry is what the limits in docs/security-limits.md bound.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def lying_jpeg(width: int = 6300, height: int = 6300) -> bytes:
    """A ~600-byte baseline JPEG whose header claims ``width`` x ``height`` pixels: a real
    16x16 image with its frame size rewritten. libjpeg decodes the whole claimed frame (the
    missing data comes out grey), so trusting the header costs width x height work."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (120, 90, 60)).save(buffer, "JPEG", quality=50)
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")  # SOF0: length(2) precision(1) height(2) width(2)
    data[sof + 5 : sof + 7] = height.to_bytes(2, "big")
    data[sof + 7 : sof + 9] = width.to_bytes(2, "big")
    return bytes(data)


def float_tiff(side: int = 6000) -> bytes:
    """A deflate-compressed float32 TIFF of ``side`` x ``side`` zeros: ~100 kB on the wire,
    ``side``² x 4 bytes once decoded (144 MB at 6000)."""
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((side, side), np.float32), mode="F").save(
        buffer, "TIFF", compression="tiff_adobe_deflate"
    )
    return buffer.getvalue()


def eps() -> bytes:
    """An Encapsulated PostScript file: Pillow would hand it to Ghostscript."""
    return (
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n%%EndComments\n"
        b"newpath 0 0 moveto 64 64 lineto stroke showpage\n%%EOF\n"
    )


def crowd(face_jpeg: bytes, per_side: int = 20, tile: int = 96) -> bytes:
    """A JPEG of ``per_side``² copies of one face photo in a grid (400 faces by default)."""
    face = Image.open(io.BytesIO(face_jpeg)).convert("RGB").resize((tile, tile))
    sheet = Image.new("RGB", (tile * per_side, tile * per_side))
    for row in range(per_side):
        for col in range(per_side):
            sheet.paste(face, (col * tile, row * tile))
    buffer = io.BytesIO()
    sheet.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def surrogate_person() -> bytes:
    """A JSON body for ``POST /api/v1/people`` whose metadata holds a lone UTF-16 surrogate
    (valid JSON syntax, not valid Unicode)."""
    return b'{"name": "Lone Surrogate", "metadata": {"note": "\\ud800"}}'
