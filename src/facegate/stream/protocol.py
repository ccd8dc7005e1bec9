"""The facegate stream wire format: framing, without any I/O.

A message is a fixed 16-byte header, a UTF-8 JSON object and a binary payload (a JPEG, or
nothing). The header carries both lengths so a receiver refuses an oversized message before it
reads, let alone allocates, any of it. Bodies are JSON and raw bytes only: nothing received is
ever unpickled, so the worst a hostile peer can do is have its message rejected.

docs/protocol.md is the normative description; this module is its reference implementation
and is shared by the asyncio server, the client and the tests. It never touches a socket, so
every rule can be tested byte by byte. The messages themselves are defined in ``messages``
and re-exported here, so callers import from this module only.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

from facegate.stream.messages import (
    DEFAULT_LIMITS,
    NON_FATAL,
    PROMPT_TYPES,
    Annotated,
    Bye,
    Challenge,
    ChallengeResult,
    ChallengeStep,
    Drops,
    Error,
    ErrorCode,
    FaceResult,
    Frame,
    Hello,
    Limits,
    Message,
    MessageType,
    PersonRef,
    Ping,
    Pong,
    PromptMessage,
    ProtocolError,
    Result,
    Timestamps,
    Timings,
    Welcome,
    from_json,
    prompt_message,
    to_json,
)

MAGIC = b"FGST"
VERSION = (1, 1)  # (major, minor) spoken by this implementation
# The first minor version with CHALLENGE, CHALLENGE_STEP and CHALLENGE_RESULT: a server sends
# them only to clients whose HELLO carried at least this minor version.
PROMPTS_SINCE_MINOR = 1
HEADER = struct.Struct("!4sBBBBII")  # magic, major, minor, type, flags, json_len, payload_len
HEADER_SIZE = HEADER.size  # 16
# Before WELCOME a server reads nothing larger than this: a HELLO is a key, a stream name and
# a few small fields, so an unauthenticated peer can never make it allocate more.
MAX_HELLO_JSON_BYTES = 4096


__all__ = [
    "CLIENT_SENDS",
    "DEFAULT_LIMITS",
    "HEADER",
    "HEADER_SIZE",
    "MAGIC",
    "MAX_HELLO_JSON_BYTES",
    "NON_FATAL",
    "PROMPTS_SINCE_MINOR",
    "PROMPT_TYPES",
    "SERVER_SENDS",
    "VERSION",
    "WITH_PAYLOAD",
    "Annotated",
    "Bye",
    "Challenge",
    "ChallengeResult",
    "ChallengeStep",
    "Drops",
    "Error",
    "ErrorCode",
    "FaceResult",
    "FixedHeader",
    "Frame",
    "Hello",
    "Limits",
    "Message",
    "MessageReader",
    "MessageType",
    "PersonRef",
    "Ping",
    "Pong",
    "PromptMessage",
    "ProtocolError",
    "Result",
    "Timestamps",
    "Timings",
    "Welcome",
    "check_client_header",
    "check_client_message",
    "decode_body",
    "encode",
    "parse_fixed_header",
    "prompt_message",
]


# Only these carry a payload, and they must; every other type must carry none.
WITH_PAYLOAD = frozenset({MessageType.FRAME, MessageType.ANNOTATED})
CLIENT_SENDS = frozenset(
    {MessageType.HELLO, MessageType.FRAME, MessageType.PING, MessageType.PONG}
    | {MessageType.ERROR, MessageType.BYE}
)
SERVER_SENDS = frozenset(
    {MessageType.WELCOME, MessageType.RESULT, MessageType.ANNOTATED, MessageType.PING}
    | {MessageType.PONG, MessageType.ERROR, MessageType.BYE}
    | PROMPT_TYPES
)


@dataclass(frozen=True, slots=True)
class FixedHeader:
    major: int
    minor: int
    type: MessageType
    flags: int
    json_length: int
    payload_length: int

    @property
    def body_length(self) -> int:
        return self.json_length + self.payload_length


# --- encoding ---------------------------------------------------------------------------


def encode(message: Message, limits: Limits | None = None) -> bytes:
    """The message's bytes on the wire, refusing what the peer's ``limits`` would refuse."""
    limits = limits or DEFAULT_LIMITS
    body = json.dumps(
        to_json(message), separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")
    payload = getattr(message, "jpeg", b"")
    if len(body) > limits.max_json_bytes:
        raise ProtocolError(ErrorCode.HEADER_TOO_LARGE, f"JSON header of {len(body)} bytes")
    if len(payload) > limits.max_payload_bytes:
        raise ProtocolError(ErrorCode.PAYLOAD_TOO_LARGE, f"payload of {len(payload)} bytes")
    if (message.TYPE in WITH_PAYLOAD) != bool(payload):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"{message.TYPE.name} payload rule broken")
    head = HEADER.pack(MAGIC, *VERSION, message.TYPE, 0, len(body), len(payload))
    return b"".join((head, body, payload))


# --- decoding ---------------------------------------------------------------------------


def parse_fixed_header(data: bytes, limits: Limits | None = None) -> FixedHeader:
    """Validate the 16 fixed bytes: everything that can be refused before reading the body."""
    limits = limits or DEFAULT_LIMITS
    if len(data) != HEADER_SIZE:
        raise ProtocolError(ErrorCode.TRUNCATED, f"fixed header needs {HEADER_SIZE} bytes")
    magic, major, minor, type_, flags, json_len, payload_len = HEADER.unpack(data)
    if magic != MAGIC:
        raise ProtocolError(ErrorCode.BAD_MAGIC, "not a facegate stream")
    if major != VERSION[0]:
        raise ProtocolError(
            ErrorCode.UNSUPPORTED_VERSION, f"version {major}.{minor}; this peer speaks {VERSION[0]}"
        )
    if type_ not in MessageType._value2member_map_:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"message type {type_}")
    mtype = MessageType(type_)
    if json_len > limits.max_json_bytes:
        raise ProtocolError(
            ErrorCode.HEADER_TOO_LARGE, f"{json_len} > {limits.max_json_bytes} bytes"
        )
    if payload_len > limits.max_payload_bytes:
        raise ProtocolError(
            ErrorCode.PAYLOAD_TOO_LARGE, f"{payload_len} > {limits.max_payload_bytes} bytes"
        )
    if json_len < 2:
        raise ProtocolError(ErrorCode.BAD_JSON, "the JSON header must be an object")
    if mtype in WITH_PAYLOAD and payload_len == 0:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"{mtype.name} needs a payload")
    if mtype not in WITH_PAYLOAD and payload_len:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"{mtype.name} must not carry a payload")
    return FixedHeader(major, minor, mtype, flags, json_len, payload_len)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode_body(header: FixedHeader, json_bytes: bytes, payload: bytes = b"") -> Message:
    """The message from a validated header and exactly its JSON and payload bytes."""
    if len(json_bytes) != header.json_length or len(payload) != header.payload_length:
        raise ProtocolError(ErrorCode.TRUNCATED, "body shorter than its header says")
    try:
        obj = json.loads(bytes(json_bytes).decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ProtocolError(ErrorCode.BAD_JSON, f"JSON header: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError(ErrorCode.BAD_JSON, "the JSON header must be an object")
    return from_json(header.type, obj, bytes(payload))


class MessageReader:
    """Incremental decoder: feed it bytes as they arrive, get whole messages back.

    It holds at most one message's bytes (fixed header, then JSON + payload) and validates
    the fixed header as soon as its 16 bytes are in, so a peer announcing an oversized body
    is refused before any of that body is buffered. After an error the reader stays failed:
    a framing error leaves the stream out of step, and the connection must be closed.
    Messages completed earlier in the call that raises are dropped with it.
    """

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or DEFAULT_LIMITS
        self.peer_version: tuple[int, int] | None = None  # from the latest fixed header
        self._buf = bytearray()
        self._header: FixedHeader | None = None
        self._error: ProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Bytes held for the message in progress."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Message]:
        if self._error is not None:
            raise self._error
        out: list[Message] = []
        view = memoryview(data)
        try:
            while True:
                header = self._header
                target = HEADER_SIZE if header is None else header.body_length
                take = view[: target - len(self._buf)]
                self._buf += take
                view = view[len(take) :]
                if len(self._buf) < target:
                    return out
                if header is None:
                    self._header = parse_fixed_header(bytes(self._buf), self.limits)
                    self.peer_version = (self._header.major, self._header.minor)
                else:
                    with memoryview(self._buf) as body:
                        json_part = bytes(body[: header.json_length])
                        payload = bytes(body[header.json_length :])
                    out.append(decode_body(header, json_part, payload))
                    self._header = None
                self._buf.clear()
        except ProtocolError as exc:
            self._error = exc
            raise

    def at_eof(self) -> None:
        """Call when the peer closed: raises ``truncated`` if a message was left unfinished."""
        if self._error is None and (self._buf or self._header is not None):
            self._error = ProtocolError(ErrorCode.TRUNCATED, "connection closed mid-message")
            raise self._error


def check_client_message(message: Message, *, greeted: bool) -> None:
    """Raise ``unexpected_message`` unless a server may accept ``message`` now.

    ``greeted`` is whether this connection's HELLO has been accepted. HELLO comes first and
    only once; a client never sends server-only types.
    """
    _check_client_type(message.TYPE, greeted=greeted)


def check_client_header(header: FixedHeader, *, greeted: bool) -> None:
    """Raise unless a server may read the body ``header`` announces, in this session state.

    Decided from the 16 fixed bytes alone, so nothing of a refused body is read: the type
    must be one ``check_client_message`` would accept now, and before greeting only a HELLO
    of at most ``MAX_HELLO_JSON_BYTES`` (which carries no payload) may follow.
    """
    _check_client_type(header.type, greeted=greeted)
    if not greeted and header.json_length > MAX_HELLO_JSON_BYTES:
        raise ProtocolError(
            ErrorCode.HEADER_TOO_LARGE,
            f"HELLO of {header.json_length} > {MAX_HELLO_JSON_BYTES} bytes",
        )


def _check_client_type(mtype: MessageType, *, greeted: bool) -> None:
    if mtype not in CLIENT_SENDS:
        raise ProtocolError(ErrorCode.UNEXPECTED_MESSAGE, f"a client does not send {mtype.name}")
    if greeted == (mtype is MessageType.HELLO):
        expected = "only one HELLO" if greeted else "HELLO must come first"
        raise ProtocolError(ErrorCode.UNEXPECTED_MESSAGE, f"{expected}, got {mtype.name}")
