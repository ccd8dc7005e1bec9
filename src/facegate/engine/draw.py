"""Boxes and names drawn on an image: the annotated JPEG of ``/api/v1/identify?annotate=true``
and the annotated frames of streams and cameras (stream/annotate.py, the live view).

Names are drawn with Pillow and a TrueType font because OpenCV's ``putText`` only knows the
Hershey fonts, which have no Chinese glyphs (a name like 张伟 would come out as ``??``). The
font is looked up among CJK fonts shipped by Debian packages (``make fonts`` installs
``fonts-noto-cjk``); without one, Pillow's built-in font is used and a warning says so once.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from facegate.engine.types import Box
from facegate.errors import BadImage

log = logging.getLogger(__name__)

# Fonts with CJK glyphs, best first; each comes from a Debian package.
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # fonts-noto-cjk
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Medium.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # fonts-wqy-zenhei
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # fonts-wqy-microhei
    "/usr/share/fonts/truetype/arphic/uming.ttc",  # fonts-arphic-uming
)

KNOWN_COLOUR = (46, 160, 67)  # RGB green: a recognised person
UNKNOWN_COLOUR = (214, 40, 40)  # RGB red: somebody not in the gallery


@dataclass(frozen=True, slots=True)
class Label:
    """What to draw for one face: its box, the text under or above it, and whether the
    person is known (green) or not (red)."""

    box: Box
    text: str
    known: bool


def find_font(explicit: Path | None = None) -> Path | None:
    """The configured font if it exists, else the first installed CJK font, else None."""
    if explicit is not None and explicit.is_file():
        return explicit
    for candidate in CJK_FONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    return None


@functools.lru_cache(maxsize=32)
def _font(path: str | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Cached: parsing a 20 MB .ttc costs tens of milliseconds, far more than drawing.
    if path is not None:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            log.warning("cannot load font %s; names are drawn with Pillow's default font", path)
    else:
        log.warning(
            "no CJK font installed (run `make fonts` or apt-get install fonts-noto-cjk): "
            "Chinese names in annotated images will not render"
        )
    return ImageFont.load_default(size=size)


def draw_labels(image: np.ndarray, labels: Sequence[Label], font: Path | None = None) -> np.ndarray:
    """A copy of the BGR ``image`` with every label's box and text drawn on it; ``font`` is a
    TrueType file to prefer over the installed CJK fonts.

    Line width and text size follow the image size so the result reads the same on a phone
    photo and on a thumbnail.
    """
    height, width = image.shape[:2]
    pil = Image.fromarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    draw = ImageDraw.Draw(pil)
    line = max(2, round(max(width, height) / 300))
    size = max(12, round(max(width, height) / 40))
    found = find_font(font)
    face_font = _font(str(found) if found is not None else None, size)
    for label in labels:
        colour = KNOWN_COLOUR if label.known else UNKNOWN_COLOUR
        b = label.box
        x0, y0, x1, y1 = b.x, b.y, b.x + b.w, b.y + b.h
        draw.rectangle((x0, y0, x1, y1), outline=colour, width=line)
        if not label.text:
            continue
        left, top, right, bottom = draw.textbbox((0, 0), label.text, font=face_font)
        text_w, text_h = right - left, bottom - top
        pad = max(2, line)
        # Above the box when there is room, otherwise inside its top edge.
        ty = y0 - text_h - 2 * pad if y0 - text_h - 2 * pad >= 0 else y0
        tx = min(max(0.0, x0), max(0.0, width - text_w - 2 * pad))
        draw.rectangle((tx, ty, tx + text_w + 2 * pad, ty + text_h + 2 * pad), fill=colour)
        draw.text(
            (tx + pad - left, ty + pad - top), label.text, fill=(255, 255, 255), font=face_font
        )
    return cv2.cvtColor(np.asarray(pil), cv2.COLOR_RGB2BGR)


def encode_jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    """JPEG bytes of a BGR image (the one encoder: thumbnails, snapshots, drawn answers,
    stream frames); ``BadImage`` if OpenCV cannot encode it."""
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise BadImage("the image could not be encoded as JPEG")
    return encoded.tobytes()
