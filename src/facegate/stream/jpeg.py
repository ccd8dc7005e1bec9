"""JPEG in and out for streams, with the frame size checked before any pixel is decoded.

A FRAME's payload is untrusted: a few kilobytes of JPEG can announce a 65,535 x 65,535 image
and make a decoder allocate gigabytes. The size is therefore read from the JPEG's own frame
header (the SOF marker segment) by walking the marker segments, which touches only the bytes
before the entropy-coded data, and refused against the limits before ``cv2.imdecode`` runs.
(``IMREAD_REDUCED_*`` flags are no such check: they still trust the announced size.)
"""

from __future__ import annotations

import cv2
import numpy as np

from facegate.engine.draw import encode_jpeg
from facegate.errors import BadImage, ImageTooLarge

__all__ = ["decode_jpeg", "encode_jpeg", "jpeg_size"]

# Start-of-frame markers: SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RSTn: no length field
_SOS, _EOI = 0xDA, 0xD9


def jpeg_size(data: bytes | memoryview) -> tuple[int, int]:
    """``(width, height)`` from a JPEG's frame header; ``BadImage`` if there is none."""
    view = memoryview(data)
    n = len(view)
    if n < 4 or view[0] != 0xFF or view[1] != 0xD8:
        raise BadImage("not a JPEG (no start-of-image marker)")
    i = 2
    while i + 4 <= n:
        if view[i] != 0xFF:
            raise BadImage("corrupt JPEG: marker expected")
        marker = view[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        i += 2
        if marker in _STANDALONE:
            continue
        if marker in (_SOS, _EOI):
            break  # image data (or the end) before any frame header
        length = (view[i] << 8) | view[i + 1]
        if length < 2:
            raise BadImage("corrupt JPEG: bad segment length")
        if marker in _SOF:
            if i + 7 > n:
                break
            height = (view[i + 3] << 8) | view[i + 4]
            width = (view[i + 5] << 8) | view[i + 6]
            if width == 0 or height == 0:
                raise BadImage("JPEG without a usable frame size")
            return width, height
        i += length
    raise BadImage("truncated JPEG: no frame header")


def decode_jpeg(data: bytes, max_width: int, max_height: int) -> np.ndarray:
    """A BGR image from JPEG bytes whose header announced at most ``max_width x max_height``.

    Raises ``ImageTooLarge`` (before decoding) or ``BadImage``.
    """
    width, height = jpeg_size(data)
    if width > max_width or height > max_height:
        raise ImageTooLarge(f"frame is {width}x{height}; the limit is {max_width}x{max_height}")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise BadImage("the JPEG could not be decoded")
    if image.shape[1] != width or image.shape[0] != height:
        raise BadImage("the JPEG decoded to another size than its header announced")
    return image
