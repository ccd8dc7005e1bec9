"""The wire format on its own: round trips, incremental reads, and every refusal."""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facegate.stream.protocol import (
    HEADER,
    HEADER_SIZE,
    MAGIC,
    VERSION,
    Annotated,
    Bye,
    Drops,
    Error,
    ErrorCode,
    FaceResult,
    Frame,
    Hello,
    Limits,
    Message,
    MessageReader,
    MessageType,
    PersonRef,
    Ping,
    Pong,
    ProtocolError,
    Result,
    Timestamps,
    Timings,
    Welcome,
    check_client_message,
    decode_body,
    encode,
    parse_fixed_header,
)

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4 + b"\xff\xd9"

MESSAGES: list[Message] = [
    Hello("secret-key", "door-1", annotate=True, max_fps=15.0, client="facegate 0.1"),
    Hello("k", "cam_2.a-b"),
    Welcome("s-123", "0.1.0", Limits(), max_fps=10.0),
    Welcome("s-124", "0.1.0", Limits(max_json_bytes=1024, idle_timeout_s=5.5)),
    Frame(7, 1_700_000_000.25, JPEG),
    Result(
        7,
        Timestamps(1.0, 2.0, 3.0, 4.0),
        Timings(1.5, 2.0, 10.25, 4.0, 0.5, 0.25, 0.1),
        (
            FaceResult((1.0, 2.0, 30.5, 40.0), 3, PersonRef(12, "Lin 曼"), 0.61, True),
            FaceResult(
                (5.0, 6.0, 7.0, 8.0),
                4,
                None,
                0.2,
                False,
                ((1.0, 2.0), (3.0, 4.0), (5.0, 6.0), (7.0, 8.0), (9.0, 10.0)),
            ),
        ),
        Drops(replaced=2, stale=1, results=0),
    ),
    Result(0, Timestamps(0.0, 0.0, 0.0, 0.0), Timings()),
    Annotated(7, JPEG),
    Ping("tok", 12.5),
    Pong("tok", 12.5, 100.0, 100.001),
    Error("bad_frame", "not a JPEG", fatal=False, frame_id=9),
    Error("unauthorized", "key lacks the recognize scope"),
    Bye("done"),
    Bye(),
]


def raw(mtype: int, obj: object, payload: bytes = b"", *, magic: bytes = MAGIC, major: int = 1):
    """Bytes of a message built by hand, bypassing ``encode``'s checks."""
    body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return HEADER.pack(magic, major, 0, mtype, 0, len(body), len(payload)) + body + payload


def read_all(data: bytes, limits: Limits | None = None):
    return MessageReader(limits).feed(data)


def code_of(data: bytes, limits: Limits | None = None) -> str:
    with pytest.raises(ProtocolError) as info:
        reader = MessageReader(limits)
        reader.feed(data)
        reader.at_eof()
    return info.value.code


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_round_trip_every_type(message):
    data = encode(message)
    assert data[:4] == MAGIC and data[4:6] == bytes(VERSION)
    assert read_all(data) == [message]
    header = parse_fixed_header(data[:HEADER_SIZE])
    body = data[HEADER_SIZE:]
    assert decode_body(header, body[: header.json_length], body[header.json_length :]) == message


def test_header_layout_matches_the_document():
    data = encode(Frame(1, 2.0, b"xyz"))
    body = json.dumps({"frame_id": 1, "captured": 2.0}, separators=(",", ":")).encode()
    assert data[:4] == b"FGST"
    assert data[4] == 1 and data[5] == VERSION[1] == 1 and data[6] == 3 and data[7] == 0
    assert struct.unpack(">I", data[8:12])[0] == len(body)
    assert struct.unpack(">I", data[12:16])[0] == 3
    assert data[16:] == body + b"xyz"


def test_api_key_and_jpeg_stay_out_of_repr():
    assert "secret-key" not in repr(MESSAGES[0])
    assert "\\xff" not in repr(MESSAGES[4])


def test_byte_by_byte_and_random_chunks():
    stream = b"".join(encode(m) for m in MESSAGES)
    reader = MessageReader()
    got = []
    for i in range(len(stream)):
        got += reader.feed(stream[i : i + 1])
        assert reader.buffered <= HEADER_SIZE + max(len(encode(m)) for m in MESSAGES)
    assert got == MESSAGES
    reader.at_eof()
    rng = random.Random(5)
    for _ in range(20):
        reader, got, pos = MessageReader(), [], 0
        while pos < len(stream):
            step = rng.randint(1, 700)
            got += reader.feed(stream[pos : pos + step])
            pos += step
        assert got == MESSAGES


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=5000), max_size=30))
def test_any_split_gives_the_same_messages(cuts):
    stream = b"".join(encode(m) for m in MESSAGES)
    points = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    reader = MessageReader()
    got = []
    for a, b in itertools.pairwise(points):
        got += reader.feed(stream[a:b])
    assert got == MESSAGES


def test_truncated_message_waits_then_fails_at_eof():
    data = encode(Frame(1, 2.0, JPEG))
    for cut in (1, HEADER_SIZE - 1, HEADER_SIZE, HEADER_SIZE + 5, len(data) - 1):
        reader = MessageReader()
        assert reader.feed(data[:cut]) == []
        with pytest.raises(ProtocolError) as info:
            reader.at_eof()
        assert info.value.code == "truncated" and info.value.fatal
    reader = MessageReader()
    reader.feed(data)
    reader.at_eof()  # nothing left over: a clean close


def test_oversized_lengths_refused_from_the_fixed_header_alone():
    limits = Limits(max_json_bytes=100, max_payload_bytes=1000)
    huge_json = HEADER.pack(MAGIC, 1, 0, MessageType.FRAME, 0, 101, 10)
    huge_payload = HEADER.pack(MAGIC, 1, 0, MessageType.FRAME, 0, 20, 2**32 - 1)
    for head, code in ((huge_json, "header_too_large"), (huge_payload, "payload_too_large")):
        reader = MessageReader(limits)
        with pytest.raises(ProtocolError) as info:
            reader.feed(head + b"x" * 5000)  # the body bytes must never be buffered
        assert info.value.code == code
        assert reader.buffered <= HEADER_SIZE
        with pytest.raises(ProtocolError):  # the reader stays failed
            reader.feed(b"")


def test_buffer_never_exceeds_one_message_within_limits():
    limits = Limits(max_json_bytes=200, max_payload_bytes=3000)
    stream = b"".join(encode(Frame(i, 0.0, bytes(2000 + i)), limits) for i in range(10))
    reader, most = MessageReader(limits), 0
    for pos in range(0, len(stream), 333):
        reader.feed(stream[pos : pos + 333])
        most = max(most, reader.buffered)
    assert most <= 200 + 3000


def test_sender_refuses_what_the_peer_would_refuse():
    with pytest.raises(ProtocolError) as info:
        encode(Frame(1, 0.0, bytes(2000)), Limits(max_payload_bytes=1000))
    assert info.value.code == "payload_too_large"
    with pytest.raises(ProtocolError) as info:
        encode(Bye("x" * 500), Limits(max_json_bytes=100))
    assert info.value.code == "header_too_large"
    with pytest.raises(ProtocolError):
        encode(Frame(1, 0.0, b""))


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (raw(9, {}, magic=b"GET "), "bad_magic"),
        (raw(9, {}, major=2), "unsupported_version"),
        (raw(9, {}, major=0), "unsupported_version"),
        (raw(42, {}), "unknown_type"),
        (raw(0, {}), "unknown_type"),
        (raw(9, b"{not json"), "bad_json"),
        (raw(9, b'{"reason": "\xff\xfe"}'), "bad_json"),
        (raw(9, b"[1, 2]"), "bad_json"),
        (raw(9, b'"text"'), "bad_json"),
        (raw(9, b"{}"[:1]), "bad_json"),
        (raw(6, {}), "bad_message"),
        (raw(6, b'{"token": "t", "sent": NaN}'), "bad_json"),
        (raw(6, b'{"token": "t", "sent": 1e999}'), "bad_message"),
        (raw(6, {"token": "t", "sent": 10**400}), "bad_message"),
        (raw(6, b"[" * 60000 + b"]" * 60000, b""), "header_too_large"),
        (raw(6, {"token": "t", "sent": 1.0}, b"x"), "bad_message"),
        (raw(3, {"frame_id": 1, "captured": 1.0}), "bad_message"),
        (raw(3, {"frame_id": -1, "captured": 1.0}, b"j"), "bad_message"),
        (raw(3, {"frame_id": True, "captured": 1.0}, b"j"), "bad_message"),
        (raw(3, {"frame_id": 2**63, "captured": 1.0}, b"j"), "bad_message"),
        (raw(3, {"frame_id": 1, "captured": "now"}, b"j"), "bad_message"),
        (raw(1, {"stream": "door"}), "bad_message"),
        (raw(1, {"api_key": "", "stream": "door"}), "bad_message"),
        (raw(1, {"api_key": "k", "stream": "door 1"}), "bad_message"),
        (raw(1, {"api_key": "k", "stream": "d" * 65}), "bad_message"),
        (raw(1, {"api_key": "k", "stream": "d", "max_fps": 0}), "bad_message"),
        (raw(1, {"api_key": "k", "stream": "d", "annotate": 1}), "bad_message"),
        (raw(2, {"session": "s", "server_version": "1", "limits": {}}), "bad_message"),
        (raw(4, {"frame_id": 1, "timestamps": {}, "timings_ms": {}, "faces": []}), "bad_message"),
        (raw(8, {"message": "no code"}), "bad_message"),
    ],
)
def test_violations_raise_protocol_errors(data, code):
    assert code_of(data) == code


def test_deep_nesting_within_the_limit_is_bad_json_not_a_crash():
    assert code_of(raw(6, b"[" * 30000 + b"]" * 30000)) == "bad_json"


def test_unknown_fields_and_flags_are_ignored_newer_minor_accepted():
    body = json.dumps({"token": "t", "sent": 1.0, "future": {"x": [1]}}).encode()
    data = HEADER.pack(MAGIC, 1, 9, MessageType.PING, 0b1010_0000, len(body), 0) + body
    reader = MessageReader()
    assert reader.feed(data) == [Ping("t", 1.0)]
    assert reader.peer_version == (1, 9)


def test_result_faces_validated():
    good = json.loads(encode(MESSAGES[5])[HEADER_SIZE:].decode())
    for face_patch in (
        {"box": [1, 2, 3]},
        {"box": "1,2,3,4"},
        {"person": {"id": 1}},
        {"landmarks": [[1, 2, 3]]},
        {"confirmed": None},
        {"track_id": 1.5},
    ):
        obj = json.loads(json.dumps(good))
        obj["faces"][0].update(face_patch)
        assert code_of(raw(4, obj)) == "bad_message", face_patch
    obj = json.loads(json.dumps(good))
    obj["faces"] = ["not a face"]
    assert code_of(raw(4, obj)) == "bad_message"


def test_error_codes_know_whether_they_are_fatal():
    assert not ProtocolError(ErrorCode.BAD_FRAME, "x").fatal
    assert not ProtocolError(ErrorCode.FRAME_TOO_LARGE, "x").fatal
    assert ProtocolError(ErrorCode.TOO_SLOW, "x").fatal
    message = ProtocolError(ErrorCode.BAD_FRAME, "not a JPEG").to_message(frame_id=4)
    assert message == Error("bad_frame", "not a JPEG", False, 4)
    assert read_all(encode(message)) == [message]


def test_state_rules_for_a_server():
    hello, frame = MESSAGES[0], MESSAGES[4]
    check_client_message(hello, greeted=False)
    check_client_message(frame, greeted=True)
    check_client_message(Bye(), greeted=True)
    for message, greeted in (
        (frame, False),
        (Ping("t", 0.0), False),
        (hello, True),
        (MESSAGES[5], True),
        (MESSAGES[2], True),
        (Annotated(1, b"j"), True),
    ):
        with pytest.raises(ProtocolError) as info:
            check_client_message(message, greeted=greeted)
        assert info.value.code == "unexpected_message"


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.sampled_from([b"", MAGIC + b"\x01\x00", encode(Bye())[:16]]))
def test_random_bytes_only_ever_raise_protocol_error(noise, prefix):
    reader = MessageReader(Limits(max_json_bytes=256, max_payload_bytes=256))
    try:
        reader.feed(prefix + noise)
        reader.at_eof()
    except ProtocolError:
        pass
    assert reader.buffered <= HEADER_SIZE + 512


@settings(max_examples=300)
@given(st.binary(min_size=2, max_size=200), st.sampled_from(list(MessageType)))
def test_random_json_bodies_only_ever_raise_protocol_error(body, mtype):
    payload = b"j" if mtype in (MessageType.FRAME, MessageType.ANNOTATED) else b""
    with contextlib.suppress(ProtocolError):
        read_all(raw(mtype, body, payload))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(["frame_id", "captured", "token", "sent", "api_key", "stream", "faces"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(),
            st.text(max_size=5),
            st.lists(st.integers(), max_size=3),
            st.dictionaries(st.text(max_size=2), st.integers()),
        ),
    ),
    st.sampled_from(list(MessageType)),
)
def test_random_json_objects_only_ever_raise_protocol_error(obj, mtype):
    payload = b"j" if mtype in (MessageType.FRAME, MessageType.ANNOTATED) else b""
    try:
        body = json.dumps(obj).encode()
    except ValueError:
        return
    with contextlib.suppress(ProtocolError):
        read_all(raw(mtype, body, payload))


def test_the_example_in_docs_protocol_md():
    example = bytes.fromhex(
        "46 47 53 54  01 01 06 00  00 00 00 18  00 00 00 00"
        "7b 22 74 6f 6b 65 6e 22 3a 22 61 22 2c 22 73 65"
        "6e 74 22 3a 31 2e 35 7d"
    )
    assert encode(Ping("a", 1.5)) == example
    assert read_all(example) == [Ping("a", 1.5)]
