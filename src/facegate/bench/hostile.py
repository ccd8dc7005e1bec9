"""Hostile inputs, built in memory, for the abuse tests and ``bench/abuse.py``.

Each builder returns the bytes an attacker (or a careless integrator) would send; none of
them is stored in the repository. They are small on the wire and expensive if the server
trusts them: that asymmetry is what the limits in docs/security.md ("Limits") bound.
"""

from __future__ import annotations

import io
import socket
import threading

import numpy as np
from PIL import Image

# the face's box (left, top, right, bottom) in the dev photo people/Barack_Obama/fr_obama.jpg,
# with a margin: the ``crop`` both abuse runs give ``crowd``
FR_OBAMA_FACE = (320, 40, 660, 460)


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


def crowd(
    face_jpeg: bytes,
    crop: tuple[int, int, int, int] | None = None,
    per_side: int = 20,
    tile: int = 96,
) -> bytes:
    """A JPEG of ``per_side``² copies of one face (``crop``: its box in the photo) in a grid:
    400 faces by default, each large enough for the detector at its 640-pixel input."""
    face = Image.open(io.BytesIO(face_jpeg)).convert("RGB")
    face = (face.crop(crop) if crop else face).resize((tile, tile))
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


def body_flood(
    port: int,
    stop: threading.Event,
    *,
    size: int = 19 * 1024 * 1024,
    path: str = "/api/v1/people",
    key: str | None = None,
    source: str = "127.0.0.2",
) -> int:
    """Send ``size``-byte JSON bodies to ``path`` on 127.0.0.1:``port`` again and again
    until ``stop`` is set (from address ``source``); returns how many were sent or cut off."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {size}\r\n" + (f"X-API-Key: {key}\r\n" if key else "") + "\r\n"
    ).encode()
    chunk = b'{"name": "' + b"x" * (1 << 20)
    sent = 0
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), 10, (source, 0)) as sock:
                sock.sendall(head)
                left = size
                while left > 0 and not stop.is_set():
                    piece = chunk[: min(left, len(chunk))]
                    sock.sendall(piece)
                    left -= len(piece)
                sock.recv(256)
        except OSError:
            pass  # refused or cut off: that is the server defending itself
        sent += 1
    return sent


def slowloris(
    port: int, stop: threading.Event, *, connections: int = 200, source: str = "127.0.0.3"
) -> int:
    """Hold up to ``connections`` connections from ``source``, each sending its headers a
    few bytes per second, reopening any the server closes, until ``stop`` is set; returns
    how many times the server closed one."""
    socks: list[socket.socket] = []
    closed = 0
    while not stop.is_set():
        while len(socks) < connections and not stop.is_set():
            try:
                sock = socket.create_connection(("127.0.0.1", port), 5, (source, 0))
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                sock.setblocking(False)
                socks.append(sock)
            except OSError:
                break
        for sock in list(socks):
            try:
                sock.send(b"X-a: b\r\n")
                if sock.recv(1, socket.MSG_PEEK) is not None:
                    raise OSError("answered")
            except BlockingIOError:
                continue  # still open, nothing said: the attack holds
            except OSError:
                closed += 1
                sock.close()
                socks.remove(sock)
        stop.wait(1.0)
    for sock in socks:
        sock.close()
    return closed
