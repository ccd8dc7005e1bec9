"""The messages of the facegate stream protocol and their JSON form.

Each message is a frozen dataclass whose field names are its JSON keys (``jpeg`` is the
binary payload and never appears in JSON). Decoding checks every field's type and range and
ignores keys it does not know, which is what lets a newer minor version add optional fields
without breaking older peers. Framing (the fixed header, lengths, the incremental reader)
lives in ``protocol``; import everything from there.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass
from enum import IntEnum, StrEnum
from typing import Any, ClassVar

from facegate.config.base import default_of
from facegate.config.stream import StreamSettings
from facegate.errors import FacegateError

_MAX_ID = 2**63 - 1
_STREAM_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


class MessageType(IntEnum):
    HELLO = 1
    WELCOME = 2
    FRAME = 3
    RESULT = 4
    ANNOTATED = 5
    PING = 6
    PONG = 7
    ERROR = 8
    BYE = 9
    CHALLENGE = 10  # protocol 1.1: liveness prompts (server to client only)
    CHALLENGE_STEP = 11
    CHALLENGE_RESULT = 12


class ErrorCode(StrEnum):
    BAD_MAGIC = "bad_magic"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_TYPE = "unknown_type"
    HEADER_TOO_LARGE = "header_too_large"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    BAD_JSON = "bad_json"
    BAD_MESSAGE = "bad_message"
    TRUNCATED = "truncated"
    UNEXPECTED_MESSAGE = "unexpected_message"
    UNAUTHORIZED = "unauthorized"
    BUSY = "busy"
    NAME_TAKEN = "name_taken"  # a live stream or camera of the cluster has the stream's name
    IDLE_TIMEOUT = "idle_timeout"
    TOO_SLOW = "too_slow"
    BAD_FRAME = "bad_frame"
    FRAME_TOO_LARGE = "frame_too_large"
    INTERNAL = "internal"
    UNAVAILABLE = "unavailable"  # the database is unreachable (docs/cluster.md)


# Errors about one frame: the frame is dropped, the session goes on.
NON_FATAL = frozenset(
    {ErrorCode.BAD_FRAME, ErrorCode.FRAME_TOO_LARGE, ErrorCode.INTERNAL, ErrorCode.UNAVAILABLE}
)


class ProtocolError(FacegateError):
    """A violation of the protocol (or a refusal) with a stable ``code`` from ``ErrorCode``.

    The receiver answers it with ``to_message()`` and, when ``fatal``, closes the connection:
    after a framing error the byte stream can no longer be trusted to be in step.
    """

    def __init__(self, code: str, message: str, *, fatal: bool | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fatal = code not in NON_FATAL if fatal is None else fatal

    def to_message(self, frame_id: int | None = None) -> Error:
        return Error(self.code, self.message, self.fatal, frame_id)


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds a server enforces (and announces in WELCOME so clients can respect them)."""

    max_json_bytes: int = 64 * 1024
    max_payload_bytes: int = default_of(StreamSettings, "max_payload_bytes")
    # checked after reading the JPEG header, before decoding
    max_frame_width: int = default_of(StreamSettings, "max_frame_width")
    max_frame_height: int = default_of(StreamSettings, "max_frame_height")
    hello_timeout_s: float = default_of(StreamSettings, "hello_timeout_s")
    idle_timeout_s: float = default_of(StreamSettings, "idle_timeout_s")
    message_timeout_s: float = default_of(StreamSettings, "message_timeout_s")


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Hello:
    TYPE: ClassVar[MessageType] = MessageType.HELLO
    api_key: str = field(repr=False)  # a secret: never in logs
    stream: str
    annotate: bool = False  # also send an ANNOTATED JPEG after each RESULT
    max_fps: float | None = None  # frames/s the client intends to send at most
    client: str = ""  # software name and version, for logs


@dataclass(frozen=True, slots=True)
class Welcome:
    TYPE: ClassVar[MessageType] = MessageType.WELCOME
    session: str
    server_version: str
    limits: Limits
    max_fps: float | None = None  # the rate the server will process; None = no cap


@dataclass(frozen=True, slots=True)
class Frame:
    TYPE: ClassVar[MessageType] = MessageType.FRAME
    frame_id: int
    captured: float  # client clock, seconds since the Unix epoch
    jpeg: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Timestamps:
    captured: float  # client clock (echoed)
    received: float  # server clock from here on
    processed: float
    sent: float


@dataclass(frozen=True, slots=True)
class Timings:
    receive: float = 0.0
    decode: float = 0.0
    detect: float = 0.0
    embed: float = 0.0
    match: float = 0.0
    encode: float = 0.0
    send: float = 0.0


@dataclass(frozen=True, slots=True)
class PersonRef:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class FaceResult:
    box: tuple[float, float, float, float]  # x, y, w, h in pixels of the frame
    track_id: int
    person: PersonRef | None  # None: unknown
    score: float
    confirmed: bool
    landmarks: tuple[tuple[float, float], ...] | None = None


@dataclass(frozen=True, slots=True)
class Drops:
    replaced: int = 0  # frames replaced in the one-frame slot by a newer one
    stale: int = 0  # frames older than the maximum age when their turn came
    results: int = 0  # results not sent because the client read too slowly


@dataclass(frozen=True, slots=True)
class Result:
    TYPE: ClassVar[MessageType] = MessageType.RESULT
    frame_id: int
    timestamps: Timestamps
    timings_ms: Timings
    faces: tuple[FaceResult, ...] = ()
    drops: Drops = Drops()


@dataclass(frozen=True, slots=True)
class Annotated:
    TYPE: ClassVar[MessageType] = MessageType.ANNOTATED
    frame_id: int
    jpeg: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Ping:
    TYPE: ClassVar[MessageType] = MessageType.PING
    token: str
    sent: float


@dataclass(frozen=True, slots=True)
class Pong:
    TYPE: ClassVar[MessageType] = MessageType.PONG
    token: str
    sent: float  # echoed from the PING (sender's clock)
    received: float  # replier's clock
    replied: float


@dataclass(frozen=True, slots=True)
class Error:
    TYPE: ClassVar[MessageType] = MessageType.ERROR
    code: str
    message: str
    fatal: bool = True
    frame_id: int | None = None


@dataclass(frozen=True, slots=True)
class Bye:
    TYPE: ClassVar[MessageType] = MessageType.BYE
    reason: str = ""


_STEPS = frozenset({"left", "right", "up"})
_MAX_STEPS = 16


@dataclass(frozen=True, slots=True)
class Challenge:
    """Ask the person of ``track_id`` to turn the head: ``steps`` in order, within
    ``timeout_s`` (liveness challenge; docs/liveness.md)."""

    TYPE: ClassVar[MessageType] = MessageType.CHALLENGE
    challenge_id: str
    track_id: int
    steps: tuple[str, ...]  # "left" | "right" | "up", from the person's point of view
    timeout_s: float


@dataclass(frozen=True, slots=True)
class ChallengeStep:
    """One step ended: ``passed`` or not, why, and the step to show next (None: none)."""

    TYPE: ClassVar[MessageType] = MessageType.CHALLENGE_STEP
    challenge_id: str
    track_id: int
    index: int
    step: str
    passed: bool
    reason: str  # passed | timeout | flat | wrong_direction
    next: str | None = None


@dataclass(frozen=True, slots=True)
class ChallengeResult:
    """The challenge's outcome for the track: ``live`` or ``spoof`` (and why)."""

    TYPE: ClassVar[MessageType] = MessageType.CHALLENGE_RESULT
    challenge_id: str
    track_id: int
    state: str  # live | spoof
    reason: str = ""


Message = (
    Hello
    | Welcome
    | Frame
    | Result
    | Annotated
    | Ping
    | Pong
    | Error
    | Bye
    | Challenge
    | ChallengeStep
    | ChallengeResult
)
PromptMessage = Challenge | ChallengeStep | ChallengeResult


def to_json(value: Any) -> Any:
    """A message (or any part of one) as plain JSON values."""
    if is_dataclass(value):
        return {f.name: to_json(getattr(value, f.name)) for f in fields(value) if f.name != "jpeg"}
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    return value


_MISSING: Any = object()


def _bad(text: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_MESSAGE, text)


def _take(obj: dict[str, Any], key: str, kind: str, default: Any = _MISSING) -> Any:
    """``obj[key]`` checked to be of ``kind`` (id, num, str, bool, dict, list).

    A missing key, or null when the default is None, yields the default; a missing required
    key is an error. Ids and counters are non-negative integers below 2**63.
    """
    value = obj.get(key, _MISSING)
    if value is _MISSING or (value is None and default is None):
        if default is _MISSING:
            raise _bad(f"missing field {key!r}")
        return default
    if kind == "num":  # NaN fails the comparison; huge integers must not reach float()
        ok = type(value) in (int, float) and abs(value) <= sys.float_info.max
    elif kind == "id":
        ok = type(value) is int and 0 <= value <= _MAX_ID
    else:
        ok = type(value).__name__ == kind
    if not ok:
        raise _bad(f"field {key!r} must be {kind}")
    return float(value) if kind == "num" else value


def _numbers(value: Any, n: int, what: str) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) != n:
        raise _bad(f"{what} must be a list of {n} numbers")
    return tuple(_take({"v": v}, "v", "num") for v in value)


def _box(value: Any) -> tuple[float, float, float, float]:
    x, y, w, h = _numbers(value, 4, "box")
    return (x, y, w, h)


def _point(value: Any) -> tuple[float, float]:
    x, y = _numbers(value, 2, "a landmark")
    return (x, y)


def _hello(o: dict[str, Any]) -> Hello:
    api_key, stream = _take(o, "api_key", "str"), _take(o, "stream", "str")
    if not 0 < len(api_key) <= 256:
        raise _bad("api_key must be 1 to 256 characters")
    if not _STREAM_NAME.fullmatch(stream):
        raise _bad("stream must be 1 to 64 of A-Z a-z 0-9 . _ -")
    max_fps = _take(o, "max_fps", "num", None)
    if max_fps is not None and max_fps <= 0:
        raise _bad("max_fps must be positive")
    client = _take(o, "client", "str", "")[:128]
    return Hello(api_key, stream, _take(o, "annotate", "bool", False), max_fps, client)


def _welcome(o: dict[str, Any]) -> Welcome:
    lim = _take(o, "limits", "dict")
    kinds = {f.name: "num" if f.type == "float" else "id" for f in fields(Limits)}
    limits = Limits(**{name: _take(lim, name, kind) for name, kind in kinds.items()})
    return Welcome(
        _take(o, "session", "str"),
        _take(o, "server_version", "str"),
        limits,
        _take(o, "max_fps", "num", None),
    )


def _face(o: Any) -> FaceResult:
    if not isinstance(o, dict):
        raise _bad("a face must be an object")
    person = _take(o, "person", "dict", None)
    marks = _take(o, "landmarks", "list", None)
    return FaceResult(
        box=_box(_take(o, "box", "list")),
        track_id=_take(o, "track_id", "id"),
        person=None
        if person is None
        else PersonRef(_take(person, "id", "id"), _take(person, "name", "str")),
        score=_take(o, "score", "num"),
        confirmed=_take(o, "confirmed", "bool"),
        landmarks=None if marks is None else tuple(_point(p) for p in marks),
    )


def _result(o: dict[str, Any]) -> Result:
    ts, tm = _take(o, "timestamps", "dict"), _take(o, "timings_ms", "dict")
    drops = _take(o, "drops", "dict", {})
    return Result(
        frame_id=_take(o, "frame_id", "id"),
        timestamps=Timestamps(*(_take(ts, f.name, "num") for f in fields(Timestamps))),
        timings_ms=Timings(*(_take(tm, f.name, "num", 0.0) for f in fields(Timings))),
        faces=tuple(_face(f) for f in _take(o, "faces", "list")),
        drops=Drops(*(_take(drops, f.name, "id", 0) for f in fields(Drops))),
    )


def _challenge_id(o: dict[str, Any]) -> str:
    value: str = _take(o, "challenge_id", "str")
    if not _STREAM_NAME.fullmatch(value):
        raise _bad("challenge_id must be 1 to 64 of A-Z a-z 0-9 . _ -")
    return value


def _step_name(value: Any, what: str) -> str:
    if value not in _STEPS:
        raise _bad(f"{what} must be one of left, right, up")
    return str(value)


def _challenge(o: dict[str, Any]) -> Challenge:
    steps = _take(o, "steps", "list")
    if not 0 < len(steps) <= _MAX_STEPS:
        raise _bad(f"steps must hold 1 to {_MAX_STEPS} steps")
    timeout = _take(o, "timeout_s", "num")
    if not 0 < timeout <= 3600:
        raise _bad("timeout_s must be in (0, 3600]")
    return Challenge(
        _challenge_id(o),
        _take(o, "track_id", "id"),
        tuple(_step_name(v, "a step") for v in steps),
        timeout,
    )


def _challenge_step(o: dict[str, Any]) -> ChallengeStep:
    following = _take(o, "next", "str", None)
    index = _take(o, "index", "id")
    if index >= _MAX_STEPS:
        raise _bad(f"index must be below {_MAX_STEPS}")
    return ChallengeStep(
        _challenge_id(o),
        _take(o, "track_id", "id"),
        index,
        _step_name(_take(o, "step", "str"), "step"),
        _take(o, "passed", "bool"),
        _take(o, "reason", "str")[:64],
        None if following is None else _step_name(following, "next"),
    )


def _challenge_result(o: dict[str, Any]) -> ChallengeResult:
    state = _take(o, "state", "str")
    if state not in ("live", "spoof", "undecided"):
        raise _bad("state must be live, spoof or undecided")
    return ChallengeResult(
        _challenge_id(o), _take(o, "track_id", "id"), state, _take(o, "reason", "str", "")[:256]
    )


_DECODERS: dict[MessageType, Callable[[dict[str, Any], bytes], Any]] = {
    MessageType.HELLO: lambda o, p: _hello(o),
    MessageType.WELCOME: lambda o, p: _welcome(o),
    MessageType.FRAME: lambda o, p: Frame(
        _take(o, "frame_id", "id"), _take(o, "captured", "num"), p
    ),
    MessageType.RESULT: lambda o, p: _result(o),
    MessageType.ANNOTATED: lambda o, p: Annotated(_take(o, "frame_id", "id"), p),
    MessageType.PING: lambda o, p: Ping(_take(o, "token", "str")[:64], _take(o, "sent", "num")),
    MessageType.PONG: lambda o, p: Pong(
        _take(o, "token", "str")[:64],
        *(_take(o, k, "num") for k in ("sent", "received", "replied")),
    ),
    MessageType.ERROR: lambda o, p: Error(
        _take(o, "code", "str")[:64],
        _take(o, "message", "str")[:1024],
        _take(o, "fatal", "bool", True),
        _take(o, "frame_id", "id", None),
    ),
    MessageType.BYE: lambda o, p: Bye(_take(o, "reason", "str", "")[:1024]),
    MessageType.CHALLENGE: lambda o, p: _challenge(o),
    MessageType.CHALLENGE_STEP: lambda o, p: _challenge_step(o),
    MessageType.CHALLENGE_RESULT: lambda o, p: _challenge_result(o),
}
PROMPT_TYPES = frozenset(
    {MessageType.CHALLENGE, MessageType.CHALLENGE_STEP, MessageType.CHALLENGE_RESULT}
)


def from_json(mtype: MessageType, obj: dict[str, Any], payload: bytes) -> Message:
    """The message of type ``mtype`` from its parsed JSON object and payload."""
    message: Message = _DECODERS[mtype](obj, payload)
    return message


def prompt_message(mapping: Any) -> PromptMessage:
    """A prompt from a liveness check (a JSON-able mapping with ``type`` = ``CHALLENGE``,
    ``CHALLENGE_STEP`` or ``CHALLENGE_RESULT``), checked by the same strict decoder a
    client uses, so the server can never send what a client would refuse."""
    if not isinstance(mapping, dict):
        mapping = dict(mapping)
    name = mapping.get("type")
    mtype = MessageType.__members__.get(name) if isinstance(name, str) else None
    if mtype is None or mtype not in PROMPT_TYPES:
        raise _bad(f"not a prompt message type: {name!r}")
    body = {k: v for k, v in mapping.items() if k != "type"}
    message = from_json(mtype, body, b"")
    assert isinstance(message, Challenge | ChallengeStep | ChallengeResult)
    return message
