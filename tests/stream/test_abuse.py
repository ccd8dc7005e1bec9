"""Hostile clients on the stream port (issue 11): refused from the 16-byte header, capped
before HELLO, timed out per message, cut off when their key is revoked.

Through a real ``StreamServer`` (tests/stream/conftest.py) with raw sockets from several
loopback source addresses (127.0.0.0/8 is all loopback on Linux), and at the end through a
real ``facegate serve`` process whose memory is read from /proc. Bounds are on counts and
bytes; the few time limits are safety nets for a hung test, never measurements.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import select
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

import facegate.stream.server as server_module
from facegate.api.keys import KeyStore
from facegate.api.serve_hooks import ApiKeyVerifier
from facegate.config import Settings
from facegate.gallery.gallery import open_store
from facegate.gallery.store import SqlStore
from facegate.stream.client import Client, StreamError
from facegate.stream.protocol import (
    HEADER_SIZE,
    MAX_HELLO_JSON_BYTES,
    Annotated,
    Error,
    Frame,
    Hello,
    Limits,
    MessageReader,
    MessageType,
    Welcome,
    encode,
)
from facegate.stream.session import Session
from tests.serving import FACEGATE, create_key, free_port, serving
from tests.stream.conftest import lockstep, video_frames
from tests.stream.test_faults import HELLO, _header, connect, eventually, greet, read_until_closed

MiB = 1024 * 1024


def connect_from(port: int, source: str) -> socket.socket:
    """A connection to the server from the loopback address ``source`` (e.g. 127.0.0.9)."""
    return socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0))


def has_data(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


def answered(socks: list[socket.socket]) -> list[socket.socket]:
    """The sockets with something to read (an answer, or the server's close)."""
    return list(select.select(socks, [], [], 0)[0])


class CountingReader:
    """The session's ``StreamReader``, counting the bytes the session takes from it."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader
        self.taken = 0

    async def readexactly(self, n: int) -> bytes:
        data = await self.reader.readexactly(n)
        self.taken += len(data)
        return data


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[CountingReader]:
    """Every session's reader, counting what each connection's session read."""
    readers: list[CountingReader] = []

    class CountingSession(Session):
        def __init__(
            self,
            server: server_module.StreamServer,
            reader: asyncio.StreamReader,
            writer: asyncio.StreamWriter,
            session_id: str,
        ) -> None:
            readers.append(CountingReader(reader))
            super().__init__(server, cast(asyncio.StreamReader, readers[-1]), writer, session_id)

    monkeypatch.setattr(server_module, "Session", CountingSession)
    return readers


def send_in_background(sock: socket.socket, data: bytes) -> threading.Thread:
    """Send ``data`` until done or the server closes (the error is the expected outcome)."""

    def send() -> None:
        with contextlib.suppress(OSError):
            sock.sendall(data)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


# --- refused from the fixed header --------------------------------------------------------


BIG_FRAME = encode(Frame(1, 0.0, b"\xff\xd8" + bytes(8 * MiB - 2)))  # 8 MiB: the largest allowed


@pytest.mark.parametrize(
    ("first", "code"),
    [
        (BIG_FRAME, "unexpected_message"),  # a FRAME before HELLO
        (_header(MessageType.HELLO, MAX_HELLO_JSON_BYTES + 1, 0) + b"{" * 8192, "header_too_large"),
        (_header(MessageType.RESULT, 60_000, 0) + b"{" * 60_000, "unexpected_message"),
    ],
    ids=["frame", "large_hello", "server_type"],
)
def test_before_hello_only_a_small_hello_is_read(make_server, taken, first, code):
    server = make_server()
    sock = connect(server.port)
    sender = send_in_background(sock, first)
    (error,) = read_until_closed(sock)
    sender.join(timeout=30)
    assert isinstance(error, Error) and (error.code, error.fatal) == (code, True)
    assert [r.taken for r in taken] == [HEADER_SIZE]  # the body was never read


def test_after_hello_a_server_only_message_is_refused_from_its_header(make_server, taken):
    server = make_server()
    sock = greet(server.port)
    sender = send_in_background(sock, encode(Annotated(1, bytes(8 * MiB))))
    (error,) = read_until_closed(sock)
    sender.join(timeout=30)
    assert isinstance(error, Error) and error.code == "unexpected_message"
    assert [r.taken for r in taken] == [len(HELLO) + HEADER_SIZE]


# --- caps on connections that have not said HELLO -----------------------------------------


def test_pending_connections_beyond_the_cap_are_refused_while_a_stream_goes_on(
    make_server, faces_dir
):
    server = make_server()  # the defaults: 64 pending, 16 per address
    limits = server.server.admission.limits
    cap, per_address = limits.max_pending, limits.max_pending_per_address
    over = 10 * per_address - cap  # silent connections from 10 addresses beyond the cap
    assert over > 0
    frames = video_frames(faces_dir / "videos" / "obama.mp4", 20)
    held: list[socket.socket] = []
    with Client("127.0.0.1", server.port, "k", stream="good") as client:
        assert len(lockstep(client, frames[:10])) == 10
        for address in range(2, 12):
            held += [connect_from(server.port, f"127.0.0.{address}") for _ in range(per_address)]
        assert eventually(lambda: sum(server.stats()["refused"].values()) == over)
        assert eventually(lambda: len(answered(held)) >= over)
        refused = answered(held)
        answers = [read_until_closed(s) for s in refused]
        assert len(refused) == over and server.stats()["pending"] == cap
        assert all(len(a) == 1 and isinstance(a[0], Error) and a[0].code == "busy" for a in answers)
        # the greeted stream is unaffected: every frame answered, in order
        assert [r.frame_id for r in lockstep(client, frames[10:])] == list(range(11, 21))
        with pytest.raises(StreamError) as full:  # and the port admits nobody new meanwhile
            Client("127.0.0.1", server.port, "k", stream="late").connect()
        assert full.value.code == "busy"
    for sock in held:
        sock.close()
    assert eventually(lambda: server.stats()["pending"] == 0)
    with Client("127.0.0.1", server.port, "k", stream="after") as client:
        assert len(lockstep(client, frames[:2])) == 2
    assert server.stats()["errors_sent"]["busy"] == over + 1


def test_one_address_cannot_take_every_pending_slot(make_server):
    server = make_server()
    per_address = server.server.admission.limits.max_pending_per_address
    mine = [connect_from(server.port, "127.0.0.7") for _ in range(per_address)]
    extra = connect_from(server.port, "127.0.0.7")
    (error,) = read_until_closed(extra)
    assert isinstance(error, Error) and error.code == "busy" and "address" in error.message
    assert server.stats()["refused"] == {"per_address": 1}
    # another address still gets in and is greeted
    other = connect_from(server.port, "127.0.0.8")
    other.sendall(HELLO)
    assert isinstance(MessageReader().feed(other.recv(65536))[0], Welcome)
    # a greeted connection no longer counts as pending for its address
    mine[0].sendall(encode(Hello("key", "seven")))
    assert isinstance(MessageReader().feed(mine[0].recv(65536))[0], Welcome)
    again = connect_from(server.port, "127.0.0.7")
    assert eventually(lambda: server.stats()["pending"] == per_address)
    assert server.stats()["refused"] == {"per_address": 1} and not has_data(again)
    for sock in [*mine, extra, other, again]:
        sock.close()


def test_silent_connections_give_their_slots_back_at_the_hello_timeout(make_server):
    server = make_server(limits=Limits(hello_timeout_s=0.3))
    per_address = server.server.admission.limits.max_pending_per_address
    silent = [connect_from(server.port, "127.0.0.9") for _ in range(per_address)]
    (busy,) = read_until_closed(connect_from(server.port, "127.0.0.9"))
    answers = [read_until_closed(sock) for sock in silent]  # closed by the hello timeout
    assert isinstance(busy, Error) and busy.code == "busy"
    assert all(isinstance(a[0], Error) and a[0].code == "idle_timeout" for a in answers)
    assert eventually(lambda: server.stats()["pending"] == 0)
    late = connect_from(server.port, "127.0.0.9")
    late.sendall(HELLO)
    assert isinstance(MessageReader().feed(late.recv(65536))[0], Welcome)
    late.close()


# --- slow senders: a deadline per message, not per read -----------------------------------


def dribble(sock: socket.socket, data: bytes, every: float) -> int:
    """Send ``data`` one byte at a time until the server answers or closes; bytes sent."""
    for i in range(len(data)):
        if select.select([sock], [], [], every)[0]:
            return i
        try:
            sock.send(data[i : i + 1])
        except OSError:
            return i
    return len(data)


TRICKLE = Limits(hello_timeout_s=30.0, idle_timeout_s=30.0, message_timeout_s=0.5)


@pytest.mark.parametrize(
    ("greeted", "at_once"),
    [(False, 0), (True, 0), (True, HEADER_SIZE)],
    ids=["hello", "frame_header", "frame_body"],
)
def test_a_client_dribbling_a_message_is_closed_by_its_deadline(make_server, greeted, at_once):
    """One byte every 50 ms: every read succeeds at once, only the message's deadline
    (0.5 s) can end it. A whole message would take 3 s (HELLO) to 50 s (FRAME)."""
    server = make_server(limits=TRICKLE)
    sock = greet(server.port) if greeted else connect(server.port)
    message = encode(Frame(1, time.time(), bytes(1000))) if greeted else HELLO
    sock.sendall(message[:at_once])
    sent = at_once + dribble(sock, message[at_once:], every=0.05)
    (error,) = read_until_closed(sock)
    assert isinstance(error, Error) and (error.code, error.fatal) == ("idle_timeout", True)
    assert sent < len(message)


# --- revocation ---------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def key_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    """The API key table of a fresh SQLite gallery, or of the test session's PostgreSQL."""
    url = request.getfixturevalue("pg_admin_url") if request.param == "postgres" else None
    store = open_store(Settings(data_dir=tmp_path, database_url=url))
    yield store
    store.close()


def test_revoking_a_key_ends_its_streams_and_only_those(make_server, key_db, faces_dir):
    keys = KeyStore(key_db.db)
    doomed, doomed_secret = keys.create("recognize", "doomed")
    _, kept_secret = keys.create("recognize", "kept")
    server = make_server(ApiKeyVerifier(keys), key_recheck_s=0.2)
    frames = video_frames(faces_dir / "videos" / "obama.mp4", 3)
    port = server.port
    with (
        Client("127.0.0.1", port, doomed_secret, stream="doomed") as gone,
        Client("127.0.0.1", port, kept_secret, stream="kept") as kept,
    ):
        assert len(lockstep(gone, frames[:1])) == len(lockstep(kept, frames[:1])) == 1
        KeyStore(key_db.db).revoke(doomed.id)
        with pytest.raises(StreamError) as ended:
            gone.receive(timeout=60)  # a safety net: the re-check runs every 0.2 s
        assert ended.value.code == "unauthorized"
        assert len(lockstep(kept, frames)) == 3
    with pytest.raises(StreamError) as refused:
        Client("127.0.0.1", port, doomed_secret, stream="doomed").connect()
    assert refused.value.code == "unauthorized"
    assert eventually(lambda: "doomed" not in [s["stream"] for s in server.stats()["streams"]])


class FailsAfterHello:
    """Accepts the key at HELLO, then the key database goes away."""

    def __init__(self) -> None:
        self.calls = 0

    def verify(self, key: str) -> set[str] | None:
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("database unreachable")
        return {"recognize"}


def test_a_failing_recheck_keeps_the_stream(make_server, faces_dir):
    verifier = FailsAfterHello()
    server = make_server(verifier, key_recheck_s=0.05)
    frames = video_frames(faces_dir / "videos" / "obama.mp4", 2)
    with Client("127.0.0.1", server.port, "k") as client:
        assert eventually(lambda: verifier.calls >= 4)
        assert len(lockstep(client, frames)) == 2


# --- a real `facegate serve` --------------------------------------------------------------


def server_pid(data: Path) -> int:
    """The pid of the `facegate serve` process started for ``data`` (one worker)."""
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if proc.name.isdigit() and b"serve" in argv and str(data).encode() in argv:
            return int(proc.name)
    raise AssertionError("facegate serve process not found")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def served(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("abuse-serve")
    key = create_key(data, "recognize")
    port, stream_port = free_port(), free_port()
    env = {"FACEGATE_INFERENCE_THREADS": "1"}
    with serving(data, port, "--stream-port", str(stream_port), env=env):
        yield {"data": data, "port": stream_port, "key": key, "pid": server_pid(data)}


def attack(port: int, first: bytes, count: int = 200) -> list[socket.socket]:
    """``count`` connections from 20 addresses, each sending ``first`` (as much as the server
    takes within a second) and then holding the connection open."""
    socks = []
    for i in range(count):
        sock = connect_from(port, f"127.0.1.{i % 20 + 1}")
        sock.settimeout(1.0)
        # refused, closed, or the server stopped reading: all fine
        with contextlib.suppress(OSError):
            sock.sendall(first)
        socks.append(sock)
    return socks


def test_memory_stays_bounded_with_200_pre_hello_connections(served, faces_dir):
    frames = video_frames(faces_dir / "videos" / "obama.mp4", 10)
    with Client("127.0.0.1", served["port"], served["key"], stream="warm-up") as client:
        assert len(lockstep(client, frames)) == 10  # models warm before the baseline
    pid = served["pid"]
    baseline = rss_mb(pid)
    peaks: dict[str, float] = {}
    with Client("127.0.0.1", served["port"], served["key"], stream="during") as client:
        big_frames = attack(served["port"], BIG_FRAME[:-1])  # a FRAME before HELLO, 1 byte short
        time.sleep(1.0)
        peaks["frame_before_hello"] = rss_mb(pid)
        stalled = attack(served["port"], HELLO[:10])  # inside a HELLO's fixed header
        time.sleep(1.0)
        peaks["stalled_hello"] = rss_mb(pid)
        held = [s for s in big_frames + stalled if not has_data(s)]  # admitted and pending
        assert len(lockstep(client, frames)) == 10  # greeted before the flood: unaffected
    for sock in big_frames + stalled:
        sock.close()
    report = {"baseline_mb": round(baseline, 1), **{k: round(v, 1) for k, v in peaks.items()}}
    report["held_pending"] = len(held)
    print(f"\nstream port RSS with 200+200 pre-HELLO connections: {json.dumps(report)}")
    assert len(held) <= 64  # stream_max_pending
    assert max(peaks.values()) - baseline < 200  # MB; unbounded reading would add 1.6 GB


def test_revoking_a_key_ends_a_tcp_stream_of_facegate_serve(served, faces_dir):
    data = served["data"]
    secret = create_key(data, "recognize")
    frames = video_frames(faces_dir / "videos" / "obama.mp4", 2)
    with Client("127.0.0.1", served["port"], secret, stream="revoked") as client:
        assert len(lockstep(client, frames)) == 2
        listed = subprocess.run(
            [str(FACEGATE), "keys", "list", "--data-dir", str(data), "--json"],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        (key_id,) = [k["id"] for k in json.loads(listed.stdout) if secret.startswith(k["prefix"])]
        subprocess.run(
            [str(FACEGATE), "keys", "revoke", str(key_id), "--data-dir", str(data)],
            capture_output=True, check=True, timeout=60,
        )  # fmt: skip
        revoked = time.monotonic()
        with pytest.raises(StreamError) as ended:
            client.receive(timeout=60)  # a safety net: keys are re-checked every 2 s
        print(f"\nrevoked key's stream ended after {time.monotonic() - revoked:.2f} s")
    assert ended.value.code == "unauthorized"
