"""Turning untrusted bytes, files or arrays into a BGR ``uint8`` image, safely.

Uploads come from strangers, so before a single pixel is decoded:

- the format is recognised from its magic bytes and must be on ``FORMATS`` (JPEG, PNG, WebP,
  BMP, TIFF, PGM/PPM: what docs/api.md promises); Pillow is then told to try that plugin
  only, so no other plugin (EPS, which runs Ghostscript; PSD; ...) ever sees the bytes. Any
  other format is ``UnsupportedImage`` (415);
- the pixel count and the decoded size (width x height x channels x bytes per sample, so a
  small float TIFF counts as what it will cost, not what it weighed) are checked from the
  header (decompression bombs, ``ImageTooLarge``);
- a JPEG larger than ``max_side`` is decoded by libjpeg at 1/2, 1/4 or 1/8 scale (DCT scaling:
  a 600-byte JPEG claiming 6300x6300 costs a quarter of the work and memory, and no
  detectable face loses recognition resolution, see ``Settings.max_decode_side``); other
  formats over ``max_side`` are scaled down after decoding, so boxes always refer to one image
  no larger than ``max_side``.

EXIF orientation is applied (phones store portraits sideways), and every common mode
(grayscale, RGBA, palette, 16-bit, float, CMYK) ends up as plain 8-bit BGR, which is what the
models expect.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facegate.errors import BadImage, FacegateError, ImageTooLarge, UnsupportedImage

MIN_SIDE = 8
# Sniffed format -> the Pillow plugins allowed to open it (the JPEG plugin also opens phones'
# multi-picture JPEGs, as format "MPO").
FORMATS: dict[str, tuple[str, ...]] = {
    "JPEG": ("JPEG",),
    "PNG": ("PNG",),
    "WebP": ("WEBP",),
    "BMP": ("BMP",),
    "TIFF": ("TIFF",),
    "PGM/PPM": ("PPM",),
}
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm", ".webp", ".tif", ".tiff"}
)
ImageInput = bytes | bytearray | memoryview | str | Path | np.ndarray


def decode_image(
    source: ImageInput,
    max_pixels: int = 40_000_000,
    *,
    max_side: int | None = None,
    max_bytes: int | None = None,
) -> np.ndarray:
    """Decode ``source`` into a contiguous HxWx3 BGR uint8 array or raise a typed error;
    with ``max_side`` the result is no larger than that on its longest side, with
    ``max_bytes`` an image that would decode to more bytes is refused from its header."""
    if isinstance(source, np.ndarray):
        image = _normalise_array(source, channels_are_rgb=False)
    else:
        data = _read_bytes(source)
        image, _ = _decode_bytes(data, max_pixels, max_side, max_bytes)
    _check_size(image.shape[1], image.shape[0], max_pixels)
    if max_side is not None and max(image.shape[:2]) > max_side:
        image = _fit(image, max_side)
    return np.ascontiguousarray(image)


def decode_reduced(
    source: ImageInput,
    min_side: int,
    max_pixels: int = 40_000_000,
    *,
    max_side: int | None = None,
    max_bytes: int | None = None,
) -> tuple[np.ndarray, float]:
    """``decode_image`` for a caller that needs the image only ``min_side`` px on its longest
    side (the detector's input): a larger JPEG is decoded by libjpeg at the coarsest DCT scale
    (1/2, 1/4, 1/8) that still gives ``min_side`` px, which costs that fraction of the full
    decode. Returns the image and ``factor``: coordinates in the image ``decode_image`` (same
    limits) would return = coordinates here x ``factor`` (1.0 when nothing was reduced, as for
    every other format and for arrays)."""
    if isinstance(source, np.ndarray):
        return decode_image(source, max_pixels, max_side=max_side, max_bytes=max_bytes), 1.0
    data = _read_bytes(source)
    image, full_longest = _decode_bytes(data, max_pixels, max_side, max_bytes, min_side)
    _check_size(image.shape[1], image.shape[0], max_pixels if full_longest is None else 1 << 62)
    if full_longest is None:  # not reduced: exactly decode_image's result
        if max_side is not None and max(image.shape[:2]) > max_side:
            image = _fit(image, max_side)
        return np.ascontiguousarray(image), 1.0
    return np.ascontiguousarray(image), full_longest / max(image.shape[:2])


def sniff_format(data: bytes) -> str | None:
    """The allowed format ``data`` starts like (a key of ``FORMATS``), or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data.startswith(b"BM"):
        return "BMP"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if len(data) > 2 and data[0:1] == b"P" and data[1:2] in b"123456" and data[2:3].isspace():
        return "PGM/PPM"
    return None


_ACCEPTED = "JPEG, PNG, WebP, BMP, TIFF or PGM/PPM"
_REFUSED_MAGIC = (
    (b"%!PS", "PostScript/EPS"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
    (b"%PDF", "PDF"),
    (b"GIF8", "GIF"),
    (b"8BPS", "Photoshop"),
    (b"#?RADIANCE", "Radiance HDR"),
    (b"#?RGBE", "Radiance HDR"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"v/1\x01", "OpenEXR"),
    (b"<svg", "SVG"),
    (b"<?xml", "SVG/XML"),
)


def _refused_format(data: bytes) -> str | None:
    """The name of a well-known image format that is not on the allow-list, for a clear 415."""
    for magic, name in _REFUSED_MAGIC:
        if data.startswith(magic):
            return name
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"avif", b"avis"):
        return "HEIF/AVIF"
    return None


def decoded_bytes(pil: Image.Image) -> int:
    """Bytes the pixels of an opened (not yet loaded) image take once decoded."""
    bands = len(pil.getbands())
    if pil.mode in ("I", "F") or pil.mode.startswith("I;32") or pil.mode.startswith("F;"):
        per_sample = 4
    elif pil.mode.startswith("I;16"):
        per_sample = 2
    else:
        per_sample = 1
    return pil.width * pil.height * max(bands * per_sample, 1)


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


def _decode_bytes(
    data: bytes,
    max_pixels: int,
    max_side: int | None,
    max_bytes: int | None,
    reduce_to: int | None = None,
) -> tuple[np.ndarray, int | None]:
    """The decoded BGR image and, when ``reduce_to`` made libjpeg decode a JPEG coarser than
    ``decode_image`` would, the longest side ``decode_image`` would have returned (else None).
    """
    if not data:
        raise BadImage("empty upload: no image bytes")
    kind = sniff_format(data)
    if kind is None:
        # No OpenCV fallback: cv2.imdecode allocates from the header before any pixel limit
        # can be checked (an 80-byte Radiance header asked for 4.8 GB) and raises cv2.error.
        refused = _refused_format(data)
        if refused is not None:
            raise UnsupportedImage(f"{refused} images are not accepted: send {_ACCEPTED}")
        raise BadImage(f"not an image: the bytes match no supported format ({_ACCEPTED})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            pil: Image.Image = Image.open(io.BytesIO(data), formats=FORMATS[kind])
            _check_size(pil.width, pil.height, max_pixels)  # before any pixel is decoded
            full_longest: int | None = None
            if pil.format in ("JPEG", "MPO"):
                _check_jpeg_data(data, pil)
                full_longest = _full_longest(max(pil.size), max_side)
                coarse = _coarsest_scale(*pil.size, reduce_to) if reduce_to else 1
                fine = _fine_scale(max(pil.size), max_side) if max_side is not None else 1
                if coarse > fine:
                    pil.draft(None, (max(1, pil.width // coarse), max(1, pil.height // coarse)))
                else:
                    full_longest = None
                    if max_side is not None:
                        _draft(pil, max_side)
            if max_bytes is not None and (size := decoded_bytes(pil)) > max_bytes:
                raise ImageTooLarge(
                    f"image is {pil.width}x{pil.height} {pil.mode} = {size} bytes decoded; "
                    f"the limit is {max_bytes}"
                )
            pil.load()
            # in place: a copy of every photo for the (usual) case of nothing to turn was
            # 7 % of an identify's CPU (py-spy, bench http)
            ImageOps.exif_transpose(pil, in_place=True)
            return _pil_to_bgr(pil), full_longest
    except FacegateError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError) as exc:
        raise ImageTooLarge(str(exc) or "image too large to decode") from exc
    except UnidentifiedImageError as exc:
        raise BadImage(f"not a valid {kind} image: its header cannot be read") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise BadImage(f"image data is corrupt or truncated: {exc}") from exc
    except Exception as exc:
        # Fuzzing found Pillow's TIFF reader raising TypeError and OverflowError on corrupt
        # tags: whatever a decoder raises on hostile bytes, the image is bad, never a 500.
        raise BadImage(f"image data is corrupt ({type(exc).__name__})") from exc


_HUFFMAN_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7})


def _check_jpeg_data(data: bytes, pil: Image.Image) -> None:
    """Refuse a Huffman-coded JPEG with too little entropy-coded data for its claimed frame.

    Every 8x8 block's DC coefficient takes at least one bit (no Huffman code is shorter), so
    a frame of W x H needs more than (W/16)(H/16)/8 bytes after its first scan header even
    with 2x2 chroma subsampling and a perfectly flat picture. A 600-byte file claiming
    6300x6300 is a lie; libjpeg would fill the missing 40 megapixels with grey at full cost.
    (Arithmetic-coded JPEGs have no such floor and are only scaled, not checked.)"""
    sof, scan = _jpeg_frame(data)
    if sof not in _HUFFMAN_SOF:
        return
    needed = (pil.width // 16) * (pil.height // 16) // 8
    have = len(data) - scan if scan >= 0 else 0
    if have < needed:
        raise BadImage(
            f"JPEG claims {pil.width}x{pil.height} pixels but holds {have} bytes of image "
            f"data; at least {needed} are needed: the file is truncated or lies"
        )


def _jpeg_frame(data: bytes) -> tuple[int | None, int]:
    """(SOF marker, offset of the first SOS) by walking the JPEG's marker segments."""
    sof, at = None, 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker == 0xDA:
            return sof, at
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and sof is None:
            sof = marker
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return sof, -1


def _fine_scale(longest: int, max_side: int) -> int:
    """The smallest DCT scale (1, 2, 4, 8) that brings ``longest`` to ``max_side`` or below."""
    return next((s for s in (1, 2, 4, 8) if -(-longest // s) <= max_side), 8)


def _coarsest_scale(width: int, height: int, min_side: int) -> int:
    """The largest DCT scale (1, 2, 4, 8) that still leaves the longest side at ``min_side``
    or more (and the shortest comfortably above ``MIN_SIDE``)."""
    return max(
        s
        for s in (1, 2, 4, 8)
        if s == 1 or (-(-max(width, height) // s) >= min_side and min(width, height) // s >= 64)
    )


def _full_longest(longest: int, max_side: int | None) -> int:
    """The longest side of ``decode_image``'s result for a JPEG whose header says ``longest``."""
    if max_side is None:
        return longest
    drafted = -(-longest // _fine_scale(longest, max_side))
    return min(drafted, max_side)


def _draft(pil: Image.Image, max_side: int) -> None:
    """Ask libjpeg for the smallest DCT scale (1/2, 1/4, 1/8) that brings the longest side
    to ``max_side`` or below; decoding then costs that fraction of the time and memory."""
    scale = _fine_scale(max(pil.size), max_side)
    if scale > 1:
        pil.draft(None, (max(1, pil.width // scale), max(1, pil.height // scale)))


def _fit(image: np.ndarray, max_side: int) -> np.ndarray:
    height, width = image.shape[:2]
    factor = max_side / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _pil_to_bgr(pil: Image.Image) -> np.ndarray:
    if pil.mode in ("RGBA", "LA", "PA") or (pil.mode == "P" and "transparency" in pil.info):
        # Transparent pixels become white, not black: a cut-out portrait stays visible.
        rgba = pil.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        pil = Image.alpha_composite(background, rgba)
    if pil.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return _normalise_array(np.asarray(pil), channels_are_rgb=True)
    if pil.mode == "L":  # grey: one plane out of Pillow, OpenCV makes the three
        return cv2.cvtColor(np.asarray(pil), cv2.COLOR_GRAY2BGR)
    # ``convert`` copies even an RGB image to RGB: only other modes are converted
    rgb = np.asarray(pil if pil.mode == "RGB" else pil.convert("RGB"))
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """Scale any integer or float image to 0..255 by its type's (or its own) range.

    Done a band of rows at a time in float32: a whole-image float64 copy of a 40-megapixel
    float TIFF was 320 MB per temporary."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        return (array >> 8).astype(np.uint8)
    top = float(array.max()) if array.size else 0.0
    if np.issubdtype(array.dtype, np.floating) and top <= 1.0:
        factor = 255.0
    elif top > 255.0:
        factor = 255.0 / top
    else:
        factor = 1.0
    out = np.empty(array.shape, np.uint8)
    rows = max(1, (1 << 20) // max(1, array[0].size))  # about a million samples per band
    for start in range(0, array.shape[0], rows):
        band = array[start : start + rows].astype(np.float32) * np.float32(factor)
        np.clip(band, 0, 255, out=band)
        out[start : start + rows] = band
    return out


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
