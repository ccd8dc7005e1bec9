"""What an image may cost before it is decoded: the format allow-list (from magic bytes, no
other Pillow plugin ever sees the bytes), the decoded-size limit, DCT-scaled JPEG decoding,
the lying-JPEG check and the faces-per-image cap."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image

from facegate.bench.hostile import crowd, eps, float_tiff, lying_jpeg
from facegate.config import Settings
from facegate.engine import FaceEngine
from facegate.engine.decode import decode_image, decoded_bytes, sniff_format
from facegate.errors import BadImage, ImageTooLarge, UnsupportedImage


def encoded(fmt: str, size: tuple[int, int] = (32, 24), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, 128).save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "mode", "kind"),
    [
        ("JPEG", "RGB", "JPEG"),
        ("PNG", "RGB", "PNG"),
        ("WEBP", "RGB", "WebP"),
        ("BMP", "RGB", "BMP"),
        ("TIFF", "RGB", "TIFF"),
        ("PPM", "RGB", "PGM/PPM"),
        ("PPM", "L", "PGM/PPM"),
    ],
)
def test_every_promised_format_is_sniffed_and_decoded(fmt: str, mode: str, kind: str):
    data = encoded(fmt, mode=mode)
    assert sniff_format(data) == kind
    assert decode_image(data).shape == (24, 32, 3)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (eps(), "EPS"),
        (encoded("GIF"), "GIF"),
        (encoded("PDF"), "PDF"),
        (b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 20000 +X 20000\n", "Radiance"),
    ],
)
def test_other_formats_are_refused_by_name(data: bytes, name: str):
    with pytest.raises(UnsupportedImage, match=name):
        decode_image(data)


def test_no_other_plugin_sees_the_bytes(monkeypatch: pytest.MonkeyPatch):
    called: list[bytes] = []
    monkeypatch.setattr(EpsImagePlugin, "_accept", lambda prefix: called.append(prefix))
    for data in (eps(), b"\xff\xd8\xff" + eps(), b"II*\x00" + eps(), b"P6 " + eps()):
        with pytest.raises(BadImage):
            decode_image(data)
    assert called == []  # Ghostscript's plugin was not even asked


def test_a_jpeg_claiming_more_pixels_than_its_data_can_hold_is_refused():
    with pytest.raises(BadImage, match="6300x6300"):
        decode_image(lying_jpeg())
    # the same lie about a size its bytes could hold is just a (grey) image
    assert decode_image(lying_jpeg(64, 64)).shape == (64, 64, 3)


def test_large_jpeg_is_decoded_at_reduced_scale(portrait_path: Path):
    out = io.BytesIO()
    Image.open(portrait_path).resize((5000, 3000)).save(out, "JPEG", quality=90)
    data = out.getvalue()
    assert decode_image(data).shape == (3000, 5000, 3)
    assert decode_image(data, max_side=4480).shape == (1500, 2500, 3)  # libjpeg's 1/2 scale
    assert decode_image(data, max_side=1000).shape == (375, 625, 3)  # 1/8
    assert decode_image(data, max_side=500).shape == (300, 500, 3)  # 1/8, then resized


def test_other_formats_over_max_side_are_scaled_after_decoding():
    assert decode_image(encoded("PNG", (5000, 1000)), max_side=2000).shape == (400, 2000, 3)


def test_decoded_size_is_checked_from_the_header():
    data = float_tiff(2000)  # 16 MB as float32, ~30 kB on the wire
    opened = Image.open(io.BytesIO(data))
    assert decoded_bytes(opened) == 2000 * 2000 * 4
    with pytest.raises(ImageTooLarge, match="16000000 bytes"):
        decode_image(data, max_bytes=10_000_000)
    assert decode_image(data, max_bytes=20_000_000).shape == (2000, 2000, 3)


def test_float_images_scale_as_before():
    ramp = np.linspace(0.0, 1.0, 64 * 64, dtype=np.float32).reshape(64, 64)
    out = io.BytesIO()
    Image.fromarray(ramp, mode="F").save(out, "TIFF")
    decoded = decode_image(out.getvalue())
    expected = np.clip(ramp.astype(np.float64) * 255.0, 0, 255).astype(np.uint8)
    assert np.array_equal(decoded[:, :, 0], expected)


@pytest.mark.slow
def test_faces_per_image_are_capped_to_the_largest(faces_dir: Path):
    photo = (faces_dir / "people" / "Barack_Obama" / "fr_obama.jpg").read_bytes()
    sheet = crowd(photo, (320, 40, 660, 460), per_side=6, tile=100)
    grid = Image.open(io.BytesIO(sheet))
    grid.paste(grid.crop((0, 0, 200, 200)).resize((300, 300)), (0, 0))  # one larger face
    out = io.BytesIO()
    grid.save(out, "JPEG")
    image = decode_image(out.getvalue())
    everything = FaceEngine(Settings(max_faces_per_image=1000)).detect(image)
    capped = FaceEngine(Settings(max_faces_per_image=5)).detect(image)
    assert len(everything) > 5 and len(capped) == 5
    largest = sorted(d.box.area for d in everything)[-5:]
    assert sorted(d.box.area for d in capped) == largest


def test_multi_picture_jpegs_from_phones_still_open():
    out = io.BytesIO()
    first = Image.new("RGB", (40, 30), (200, 10, 10))
    first.save(out, "MPO", save_all=True, append_images=[Image.new("RGB", (40, 30))])
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).format == "MPO"
    assert decode_image(data).shape == (30, 40, 3)


@pytest.mark.parametrize("error", [TypeError("tag"), OverflowError("ssize_t"), KeyError("x")])
def test_whatever_a_decoder_raises_is_a_bad_image(
    monkeypatch: pytest.MonkeyPatch, error: Exception
):
    # Fuzzing corrupt TIFFs made Pillow raise TypeError and OverflowError from load(): those
    # answered 500. Any exception from decoding hostile bytes means a bad image.
    from PIL import ImageFile

    def broken(self: ImageFile.ImageFile) -> None:
        raise error

    monkeypatch.setattr(ImageFile.ImageFile, "load", broken)
    with pytest.raises(BadImage, match=type(error).__name__):
        decode_image(encoded("TIFF"))
