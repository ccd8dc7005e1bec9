"""Decoding untrusted input: every format the engine promises, EXIF orientation, bad input."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from facegate.engine import Face, FaceEngine
from facegate.engine.decode import decode_image
from facegate.errors import BadImage, ImageTooLarge
from tests.engine.conftest import cosine
from tests.images import read_image


def png_bytes(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    assert ok
    return buf.tobytes()


def pil_bytes(pil: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    pil.save(out, fmt, **options)
    return out.getvalue()


def bgr_to_pil(image: np.ndarray) -> Image.Image:
    return Image.fromarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))


def png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG header claiming ``width`` x ``height``, with almost no pixel data (~70 B)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(bytes(16)))
        + png_chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def reference(engine: FaceEngine, portrait: np.ndarray) -> Face:
    return engine.main_face(portrait)


def assert_same_face(engine: FaceEngine, image: np.ndarray, ref: Face, min_cos: float) -> None:
    face = engine.main_face(image)
    assert face.box.iou(ref.box) > 0.85, (face.box, ref.box)
    assert cosine(face.embedding, ref.embedding) > min_cos


# --- formats -------------------------------------------------------------------------------


def test_path_bytes_memoryview_and_str_decode_identically(portrait_path: Path):
    data = portrait_path.read_bytes()
    from_path = decode_image(portrait_path)
    assert from_path.dtype == np.uint8 and from_path.ndim == 3 and from_path.shape[2] == 3
    assert from_path.flags["C_CONTIGUOUS"]
    for other in (data, bytearray(data), memoryview(data), str(portrait_path)):
        assert np.array_equal(decode_image(other), from_path)


def test_jpeg_matches_opencv_channel_order(portrait_path: Path, portrait: np.ndarray):
    # Same libjpeg family: the pixels agree closely, and above all the channels are BGR.
    opencv = read_image(portrait_path)
    assert portrait.shape == opencv.shape
    assert np.abs(portrait.astype(int) - opencv.astype(int)).mean() < 2.0
    swapped = opencv[:, :, ::-1]
    assert np.abs(portrait.astype(int) - swapped.astype(int)).mean() > 5.0


def test_png_is_lossless(portrait: np.ndarray):
    assert np.array_equal(decode_image(png_bytes(portrait)), portrait)


def test_rgba_png_transparent_pixels_become_white(portrait: np.ndarray):
    rgba = cv2.cvtColor(portrait, cv2.COLOR_BGR2BGRA)
    half = portrait.shape[1] // 2
    rgba[:, :half, 3] = 0
    decoded = decode_image(png_bytes(rgba))
    assert decoded.shape == portrait.shape
    assert (decoded[:, :half] == 255).all()
    assert np.array_equal(decoded[:, half:], portrait[:, half:])


def test_rgba_photos_from_the_dev_set(engine: FaceEngine, faces_dir: Path):
    for name in ("people/Alex_Lacamoire/fr_alex-lacamoire.png",):
        path = faces_dir / name
        assert Image.open(path).mode == "RGBA"  # the premise of this test
        image = engine.load(path)
        assert image.ndim == 3 and image.shape[2] == 3
        assert engine.detect(image), name


def test_palette_png(engine: FaceEngine, portrait: np.ndarray, reference: Face):
    pil = bgr_to_pil(portrait).convert("P", palette=Image.Palette.ADAPTIVE, colors=256)
    data = pil_bytes(pil, "PNG")
    assert Image.open(io.BytesIO(data)).mode == "P"
    assert_same_face(engine, decode_image(data), reference, min_cos=0.9)


def test_palette_png_with_transparency(portrait: np.ndarray):
    pil = bgr_to_pil(portrait).convert("P", palette=Image.Palette.ADAPTIVE, colors=255)
    pixels = np.asarray(pil).copy()
    pixels[:10, :10] = 255  # index 255 is unused by the 255-colour palette: make it clear
    pil = Image.fromarray(pixels, mode="P")
    palette = bgr_to_pil(portrait).convert("P", palette=Image.Palette.ADAPTIVE).getpalette()
    assert palette is not None
    pil.putpalette(palette)
    decoded = decode_image(pil_bytes(pil, "PNG", transparency=255))
    assert (decoded[:10, :10] == 255).all()
    assert not (decoded[20:, 20:] == 255).all()


def test_grayscale_png_from_the_dev_set(engine: FaceEngine, faces_dir: Path):
    path = faces_dir / "people/Jim_Parsons/sheldon1.png"
    assert Image.open(path).mode == "L"
    image = engine.load(path)
    assert image.shape == (150, 150, 3)
    assert np.array_equal(image[:, :, 0], image[:, :, 1])
    assert np.array_equal(image[:, :, 1], image[:, :, 2])
    assert len(engine.detect(image)) == 1


def test_grayscale_copy_of_a_colour_photo(engine: FaceEngine, portrait: np.ndarray, reference):
    gray = cv2.cvtColor(portrait, cv2.COLOR_BGR2GRAY)
    decoded = decode_image(png_bytes(gray))
    assert np.array_equal(decoded, cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
    assert_same_face(engine, decoded, reference, min_cos=0.9)


@pytest.mark.parametrize("colour", [False, True], ids=["gray16", "rgb16"])
def test_16_bit_png(engine: FaceEngine, portrait: np.ndarray, reference: Face, colour: bool):
    eight = portrait if colour else cv2.cvtColor(portrait, cv2.COLOR_BGR2GRAY)
    sixteen = eight.astype(np.uint16) * 257  # 0..255 -> 0..65535
    data = png_bytes(sixteen)
    assert data[24] == 16, "the PNG must really be 16 bits per sample"
    decoded = decode_image(data)
    expected = eight if colour else cv2.cvtColor(eight, cv2.COLOR_GRAY2BGR)
    assert decoded.dtype == np.uint8
    assert np.array_equal(decoded, expected)
    assert_same_face(engine, decoded, reference, min_cos=0.9)


def test_16_bit_array_input_is_scaled_by_its_type_range(portrait: np.ndarray):
    sixteen = portrait.astype(np.uint16) * 257
    assert np.array_equal(decode_image(sixteen), portrait)
    floats = portrait.astype(np.float32) / 255.0
    assert np.abs(decode_image(floats).astype(int) - portrait.astype(int)).max() <= 1


def test_orl_pgm(engine: FaceEngine, faces_dir: Path):
    path = faces_dir / "people/ORL_s01/1.pgm"
    assert path.read_bytes()[:2] == b"P5"
    image = engine.load(path)
    assert image.shape == (112, 92, 3)
    assert len(engine.detect(image)) == 1


def test_casia_32_bit_bmp(engine: FaceEngine, faces_dir: Path):
    path = faces_dir / "people/CASIA5_000/000_0.bmp"
    raw = path.read_bytes()
    assert raw[:2] == b"BM" and struct.unpack("<H", raw[28:30])[0] == 32
    image = engine.load(path)
    assert image.shape == (193, 168, 3)
    assert len(engine.detect(image)) == 1


@pytest.mark.parametrize("lossless", [True, False], ids=["lossless", "lossy"])
def test_webp(engine: FaceEngine, portrait: np.ndarray, reference: Face, lossless: bool):
    data = pil_bytes(bgr_to_pil(portrait), "WEBP", lossless=lossless, quality=90)
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    decoded = decode_image(data)
    assert decoded.shape == portrait.shape
    if lossless:
        assert np.array_equal(decoded, portrait)
    assert_same_face(engine, decoded, reference, min_cos=0.95)


# --- EXIF orientation ----------------------------------------------------------------------

# Orientation tag value -> how the camera stored the pixels of an upright scene.
STORED_AS = {
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,  # stored turned left; a viewer turns it right
    8: Image.Transpose.ROTATE_270,  # stored turned right; a viewer turns it left
    2: Image.Transpose.FLIP_LEFT_RIGHT,
}


@pytest.mark.parametrize("orientation", sorted(STORED_AS))
def test_exif_orientation_is_applied(
    engine: FaceEngine, portrait: np.ndarray, reference: Face, orientation: int
):
    stored = bgr_to_pil(portrait).transpose(STORED_AS[orientation])
    exif = Image.Exif()
    exif[274] = orientation
    data = pil_bytes(stored, "JPEG", quality=95, exif=exif)
    assert Image.open(io.BytesIO(data)).getexif()[274] == orientation

    decoded = decode_image(data)
    assert decoded.shape == portrait.shape  # upright again, not the stored layout
    assert np.abs(decoded.astype(int) - portrait.astype(int)).mean() < 4.0
    assert_same_face(engine, decoded, reference, min_cos=0.9)


def test_sideways_photo_without_exif_is_not_rotated(portrait: np.ndarray):
    stored = bgr_to_pil(portrait).transpose(Image.Transpose.ROTATE_90)
    decoded = decode_image(pil_bytes(stored, "JPEG", quality=95))
    assert decoded.shape[:2] == portrait.shape[1::-1]


# --- bad input -----------------------------------------------------------------------------


def test_random_bytes():
    rng = np.random.default_rng(7)
    with pytest.raises(BadImage, match="not an image"):
        decode_image(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())


def test_empty_bytes():
    with pytest.raises(BadImage, match="empty"):
        decode_image(b"")


def test_text_file(tmp_path: Path):
    path = tmp_path / "notes.jpg"
    path.write_text("these are not pixels\n")
    with pytest.raises(BadImage):
        decode_image(path)


def test_missing_file(tmp_path: Path):
    with pytest.raises(BadImage, match="cannot read"):
        decode_image(tmp_path / "nope.jpg")


@pytest.mark.parametrize("keep", [0.5, 0.05])
def test_truncated_jpeg(portrait_path: Path, keep: float):
    data = portrait_path.read_bytes()
    with pytest.raises(BadImage):
        decode_image(data[: int(len(data) * keep)])


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 500, 3), (5, 5)])
def test_degenerate_images(shape: tuple[int, ...]):
    tiny = np.full(shape, 128, dtype=np.uint8)
    with pytest.raises(BadImage, match="at least"):
        decode_image(png_bytes(tiny))
    with pytest.raises(BadImage):
        decode_image(tiny)


@pytest.mark.parametrize(
    "array",
    [np.zeros((0, 0, 3), np.uint8), np.zeros((10, 10, 2), np.uint8), np.zeros((2, 10, 10, 3))],
    ids=["empty", "two-channels", "four-dims"],
)
def test_unsupported_arrays(array: np.ndarray):
    with pytest.raises(BadImage):
        decode_image(array)


def test_real_image_over_a_small_limit(portrait_path: Path, portrait: np.ndarray):
    pixels = portrait.shape[0] * portrait.shape[1]
    with pytest.raises(ImageTooLarge, match=str(pixels - 1)):
        decode_image(portrait_path.read_bytes(), max_pixels=pixels - 1)
    assert decode_image(portrait_path.read_bytes(), max_pixels=pixels).shape == portrait.shape


@pytest.mark.parametrize(
    "size",
    [(8000, 6000), (100_000, 100_000)],
    ids=["over-our-limit", "over-pillows-bomb-limit"],
)
def test_pixel_limit_is_checked_from_the_header_before_decoding(size: tuple[int, int]):
    # The file has no pixel data: decoding it would fail with BadImage (truncated). Getting
    # ImageTooLarge proves the limit was applied to the header, before any decoding.
    data = png_header_only(*size)
    with pytest.raises(BadImage):
        decode_image(png_header_only(100, 100))
    with pytest.raises(ImageTooLarge):
        decode_image(data, max_pixels=40_000_000)


def test_formats_pillow_does_not_know_are_refused_without_decoding():
    # An 80-byte Radiance HDR header claiming 20000x20000 float pixels: OpenCV would try to
    # allocate 4.8 GB for it before any limit could be checked. It must be a plain BadImage.
    header = b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 20000 +X 20000\n" + bytes(32)
    with pytest.raises(BadImage):
        decode_image(header, max_pixels=1000)


@pytest.mark.slow
def test_engine_load_uses_the_configured_limit(portrait_path: Path):
    from facegate.config import Settings

    small = FaceEngine(Settings(max_image_pixels=10_000))
    with pytest.raises(ImageTooLarge):
        small.load(portrait_path)
