"""Turning untrusted bytes, files or arrays into a BGR ``uint8`` image, safely.

Uploads come from strangers, so the pixel count is checked from the header *before* the image
is decoded (decompression bombs), EXIF orientation is applied (phones store portraits
sideways), and every common mode (grayscale, RGBA, palette, 16-bit, CMYK) ends up as plain
8-bit BGR, which is what the models expect.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facegate.errors import BadImage, ImageTooLarge

MIN_SIDE = 8
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm", ".webp", ".tif", ".tiff"}
)
ImageInput = bytes | bytearray | memoryview | str | Path | np.ndarray


def decode_image(source: ImageInput, max_pixels: int = 40_000_000) -> np.ndarray:
    """Decode ``source`` into a contiguous HxWx3 BGR uint8 array or raise a typed error."""
    if isinstance(source, np.ndarray):
        image = _normalise_array(source, channels_are_rgb=False)
    else:
        data = _read_bytes(source)
        image = _decode_bytes(data, max_pixels)
    _check_size(image.shape[1], image.shape[0], max_pixels)
    return np.ascontiguousarray(image)


def image_files(folder: Path) -> list[Path]:
    """The images directly in ``folder``, sorted by name (enrolment order is reproducible)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _read_bytes(source: bytes | bytearray | memoryview | str | Path) -> bytes:
    if isinstance(source, str | Path):
        try:
            return Path(source).read_bytes()
        except OSError as exc:
            raise BadImage(f"cannot read image file {source}: {exc.strerror}") from exc
    return bytes(source)


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width < MIN_SIDE or height < MIN_SIDE:
        raise BadImage(f"image is {width}x{height} pixels; at least {MIN_SIDE}x{MIN_SIDE} needed")
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"image is {width}x{height} = {width * height} pixels; the limit is {max_pixels}"
        )


def _decode_bytes(data: bytes, max_pixels: int) -> np.ndarray:
    if not data:
        raise BadImage("empty upload: no image bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            pil = Image.open(io.BytesIO(data))
            _check_size(pil.width, pil.height, max_pixels)  # before any pixel is decoded
            pil.load()
            pil = ImageOps.exif_transpose(pil) or pil
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(str(exc)) from exc
    except UnidentifiedImageError as exc:
        # No OpenCV fallback: cv2.imdecode allocates from the header before any pixel limit
        # can be checked (an 80-byte Radiance header asked for 4.8 GB) and raises cv2.error.
        raise BadImage(
            "not an image: the bytes match no supported format (JPEG, PNG, WebP, BMP, ...)"
        ) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise BadImage(f"image data is corrupt or truncated: {exc}") from exc
    return _pil_to_bgr(pil)


def _pil_to_bgr(pil: Image.Image) -> np.ndarray:
    if pil.mode in ("RGBA", "LA", "PA") or (pil.mode == "P" and "transparency" in pil.info):
        # Transparent pixels become white, not black: a cut-out portrait stays visible.
        rgba = pil.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        pil = Image.alpha_composite(background, rgba)
    if pil.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return _normalise_array(np.asarray(pil), channels_are_rgb=True)
    rgb = np.asarray(pil.convert("RGB"))
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """Scale any integer or float image to 0..255 by its type's (or its own) range."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        return (array >> 8).astype(np.uint8)
    values = array.astype(np.float64)
    top = float(values.max()) if values.size else 0.0
    if np.issubdtype(array.dtype, np.floating) and top <= 1.0:
        values = values * 255.0
    elif top > 255.0:
        values = values * (255.0 / top)
    return np.clip(values, 0, 255).astype(np.uint8)


def _normalise_array(array: np.ndarray, *, channels_are_rgb: bool) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise BadImage(f"unsupported image array shape {array.shape}")
    if array.size == 0:
        raise BadImage("empty image")
    array = _to_uint8(array)
    if array.ndim == 2:
        return cv2.cvtColor(array, cv2.COLOR_GRAY2BGR)
    if array.shape[2] == 4:
        code = cv2.COLOR_RGBA2BGR if channels_are_rgb else cv2.COLOR_BGRA2BGR
        return cv2.cvtColor(array, code)
    return cv2.cvtColor(array, cv2.COLOR_RGB2BGR) if channels_are_rgb else array
