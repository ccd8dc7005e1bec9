"""Misbehaving peers: each gets an ERROR and is closed, and nobody else notices.

Assertions are on counts and ordering (every frame of the well-behaved client answered, in
order), never on wall-clock thresholds.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import pytest

from facegate.stream.admission import Admission, AdmissionLimits
from facegate.stream.client import Client
from facegate.stream.jpeg import encode_jpeg
from facegate.stream.protocol import (
    HEADER,
    MAGIC,
    Error,
    Frame,
    Hello,
    Limits,
    Message,
    MessageReader,
    Welcome,
    encode,
)
from tests.stream.conftest import lockstep, video_frames
from tests.stream.test_pipeline import forged_jpeg


def eventually(condition: Callable[[], bool], within: float = 20.0) -> bool:
    """Poll ``condition`` (a safety net for cleanup that happens asynchronously)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=30)


def read_until_closed(sock: socket.socket) -> list[Message]:
    """Every message the server sends until it closes the connection."""
    reader, out = MessageReader(), []
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        out += reader.feed(data)
    sock.close()
    return out


def greet(port: int, name: str = "raw", **hello: object) -> socket.socket:
    """A connection that said HELLO as stream ``name`` (unique per live stream: a second
    live HELLO with a name in use is refused ``name_taken``)."""
    sock = connect(port)
    sock.sendall(encode(Hello("key", name, **hello)))  # type: ignore[arg-type]  # any fields
    reader = MessageReader()
    messages: list[Message] = []
    while not messages:
        messages = reader.feed(sock.recv(65536))
    assert isinstance(messages[0], Welcome)
    return sock


def _header(mtype: int, json_len: int, payload_len: int, major: int = 1) -> bytes:
    return HEADER.pack(MAGIC, major, 0, mtype, 0, json_len, payload_len)


HELLO = encode(Hello("key", "raw"))

MALFORMED = {
    "bad_magic": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "unsupported_version": _header(1, 2, 0, major=2) + b"{}",
    "unknown_type": _header(99, 2, 0),
    "payload_too_large": _header(3, 2, 2**31),  # announces 2 GiB; nothing more is sent
    "header_too_large": _header(1, 2**30, 0),
    "bad_json": _header(1, 5, 0) + b"{nope",
    "bad_message": _header(1, 2, 0) + b"{}",  # HELLO without its fields
    "unexpected_message": encode(Frame(1, 0.0, b"\xff\xd8\xff\xd9")),  # FRAME before HELLO
}


@pytest.mark.parametrize("code", sorted(MALFORMED))
def test_malformed_input_gets_an_error_and_a_closed_connection(make_server, faces_dir, code):
    server = make_server()
    sock = connect(server.port)
    sock.sendall(MALFORMED[code])
    messages = read_until_closed(sock)
    assert len(messages) == 1 and isinstance(messages[0], Error)
    assert messages[0].code == code and messages[0].fatal
    # and the server goes on serving
    frames = video_frames(faces_dir / "videos" / "obama.mp4", 2)
    with Client("127.0.0.1", server.port, "k") as client:
        assert len(lockstep(client, frames)) == 2


def test_a_second_hello_is_unexpected(make_server):
    server = make_server()
    sock = greet(server.port)
    sock.sendall(HELLO)
    (error,) = read_until_closed(sock)
    assert isinstance(error, Error) and error.code == "unexpected_message"


@pytest.mark.parametrize(
    ("payload", "code"),
    [(b"\xff\xd8 not a jpeg at all", "bad_frame"), (forged_jpeg(20000, 20000), "frame_too_large")],
)
def test_a_bad_frame_is_refused_and_the_session_goes_on(make_server, faces_dir, payload, code):
    server = make_server()
    frames = video_frames(faces_dir / "videos" / "obama.mp4", 1)
    with Client("127.0.0.1", server.port, "k") as client:
        client.send_frame(payload, frame_id=41)
        error = client.receive(timeout=60)
        assert isinstance(error, Error)
        assert (error.code, error.fatal, error.frame_id) == (code, False, 41)
        assert len(lockstep(client, frames)) == 1


def stream_alongside(port: int, faces_dir, count: int = 20) -> list[int]:
    """A well-behaved client's frame ids answered, in arrival order."""
    frames = video_frames(faces_dir / "videos" / "obama.mp4", count)
    with Client("127.0.0.1", port, "k", stream="good") as client:
        return [r.frame_id for r in lockstep(client, frames)]


def test_a_client_that_disconnects_mid_frame_harms_nobody(make_server, faces_dir):
    server = make_server()
    frames = video_frames(faces_dir / "videos" / "obama.mp4", 1)
    for _ in range(5):
        sock = greet(server.port)
        whole = encode(Frame(1, time.time(), encode_jpeg(frames[0])))
        sock.sendall(whole[: len(whole) // 2])
        sock.close()
    assert stream_alongside(server.port, faces_dir) == list(range(1, 21))
    assert eventually(lambda: "raw" not in [s["stream"] for s in server.stats()["streams"]])


@pytest.mark.slow
def test_a_client_that_never_reads_is_cut_off_and_others_keep_their_results(make_server, faces_dir):
    server = make_server(send_queue=2, too_slow_drops=5)
    jpeg = encode_jpeg(video_frames(faces_dir / "videos" / "obama.mp4", 1)[0])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills fast: never read
    sock.settimeout(30)
    sock.connect(("127.0.0.1", server.port))
    sock.sendall(encode(Hello("key", "never-reads", annotate=True)))
    outcome: list[str] = []

    def flood() -> None:
        deadline = time.monotonic() + 120  # a safety net, not a measurement
        fid = 0
        try:
            while time.monotonic() < deadline:
                fid += 1
                sock.sendall(encode(Frame(fid, time.time(), jpeg)))
                time.sleep(0.005)
            outcome.append("still connected")
        except OSError:
            outcome.append("disconnected")

    flooder = threading.Thread(target=flood, daemon=True)
    flooder.start()
    assert stream_alongside(server.port, faces_dir, 30) == list(range(1, 31))
    flooder.join(timeout=150)
    assert outcome == ["disconnected"]
    assert server.stats()["errors_sent"].get("too_slow") == 1
    sock.close()


def test_a_hundred_idle_connections_do_not_stop_a_stream(make_server, faces_dir):
    # caps raised so all of them are admitted; beyond the caps see test_abuse.py
    server = make_server(admission=Admission(AdmissionLimits(200, 200, 300)))
    idle = [connect(server.port) for _ in range(100)]  # connected, never say HELLO
    greeted = [greet(server.port, f"raw-{i}") for i in range(5)]  # said HELLO, send nothing
    try:
        assert server.stats()["connections"] >= 105
        assert stream_alongside(server.port, faces_dir) == list(range(1, 21))
    finally:
        for sock in idle + greeted:
            sock.close()


QUICK = Limits(hello_timeout_s=0.3, idle_timeout_s=0.5, message_timeout_s=0.3)


@pytest.mark.parametrize(
    "send",
    [
        b"",  # never says HELLO
        HELLO[:10],  # starts a message and stalls inside the fixed header
        HELLO[:-3],  # stalls inside the JSON header
    ],
)
def test_silent_or_trickling_peers_time_out(make_server, send):
    server = make_server(limits=QUICK)
    sock = connect(server.port)
    sock.sendall(send)
    (error,) = read_until_closed(sock)
    assert isinstance(error, Error) and error.code == "idle_timeout" and error.fatal


def test_a_greeted_client_that_goes_quiet_times_out(make_server):
    server = make_server(limits=QUICK)
    sock = greet(server.port)
    (error,) = read_until_closed(sock)
    assert isinstance(error, Error) and error.code == "idle_timeout"


class BrokenKeys:
    def verify(self, key: str) -> set[str] | None:
        raise RuntimeError("database unreachable")


def test_a_failing_key_check_refuses_the_client_and_keeps_serving(make_server):
    server = make_server(BrokenKeys())
    sock = connect(server.port)
    sock.sendall(HELLO)
    (error,) = read_until_closed(sock)
    assert isinstance(error, Error) and (error.code, error.fatal) == ("internal", True)
    assert "database" not in error.message
    assert server.stats()["errors_sent"] == {"internal": 1}
