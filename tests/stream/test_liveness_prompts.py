"""Liveness prompts over the stream protocol (1.1): CHALLENGE, CHALLENGE_STEP and
CHALLENGE_RESULT encode and decode strictly, and reach a real ``Client`` from a real
``StreamServer`` whose registered observer runs a challenge on the stream's tracks."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import cv2
import pytest

from facegate.cli.stream_cmd import prompt_text
from facegate.config import Settings
from facegate.liveness import track_liveness
from facegate.stream.client import Client
from facegate.stream.messages import to_json
from facegate.stream.protocol import (
    HEADER,
    MAGIC,
    Challenge,
    ChallengeResult,
    ChallengeStep,
    Hello,
    MessageReader,
    MessageType,
    PromptMessage,
    ProtocolError,
    Result,
    encode,
    prompt_message,
)

PROMPTS: list[PromptMessage] = [
    Challenge("c1", 7, ("left", "up", "right"), 12.0),
    ChallengeStep("c1", 7, 0, "left", True, "passed", "up"),
    ChallengeStep("c1", 7, 2, "right", False, "timeout", None),
    ChallengeResult("c1", 7, "spoof", "timeout"),
]


@pytest.mark.parametrize("message", PROMPTS)
def test_prompts_round_trip_through_the_wire_and_through_a_sink_mapping(message):
    assert MessageReader().feed(encode(message)) == [message]
    mapping = {"type": message.TYPE.name, **to_json(message)}
    assert prompt_message(mapping) == message


def _wire(mtype: MessageType, obj: dict[str, Any]) -> bytes:
    import json

    body = json.dumps(obj).encode()
    return HEADER.pack(MAGIC, 1, 1, mtype, 0, len(body), 0) + body


@pytest.mark.parametrize(
    ("mtype", "obj"),
    [
        (MessageType.CHALLENGE, {"challenge_id": "c", "track_id": 1, "steps": [], "timeout_s": 5}),
        (
            MessageType.CHALLENGE,
            {"challenge_id": "c", "track_id": 1, "steps": ["down"], "timeout_s": 5},
        ),
        (
            MessageType.CHALLENGE,
            {"challenge_id": "c", "track_id": 1, "steps": ["left"] * 17, "timeout_s": 5},
        ),
        (
            MessageType.CHALLENGE,
            {"challenge_id": "c", "track_id": 1, "steps": ["left"], "timeout_s": 0},
        ),
        (
            MessageType.CHALLENGE,
            {"challenge_id": "c d", "track_id": 1, "steps": ["left"], "timeout_s": 5},
        ),
        (MessageType.CHALLENGE, {"challenge_id": "c", "track_id": -1, "steps": ["up"]}),
        (
            MessageType.CHALLENGE_STEP,
            {"challenge_id": "c", "track_id": 1, "index": 0, "step": "left", "reason": "x"},
        ),
        (
            MessageType.CHALLENGE_STEP,
            {
                "challenge_id": "c",
                "track_id": 1,
                "index": 0,
                "step": "left",
                "passed": "yes",
                "reason": "x",
            },
        ),
        (
            MessageType.CHALLENGE_STEP,
            {
                "challenge_id": "c",
                "track_id": 1,
                "index": 0,
                "step": "left",
                "passed": True,
                "reason": "x",
                "next": "sideways",
            },
        ),
        (MessageType.CHALLENGE_RESULT, {"challenge_id": "c", "track_id": 1, "state": "maybe"}),
    ],
)
def test_malformed_prompts_are_bad_messages(mtype, obj):
    with pytest.raises(ProtocolError) as info:
        MessageReader().feed(_wire(mtype, obj))
    assert info.value.code == "bad_message"


def test_a_sink_refuses_what_is_not_a_prompt():
    with pytest.raises(ProtocolError):
        prompt_message({"type": "RESULT", "frame_id": 1})
    with pytest.raises(ProtocolError):
        prompt_message({"type": "CHALLENGE", "challenge_id": "c", "track_id": 1})


def test_a_client_never_sends_prompts_and_a_server_may():
    from facegate.stream.protocol import CLIENT_SENDS, SERVER_SENDS

    for message in PROMPTS:
        assert message.TYPE in SERVER_SENDS and message.TYPE not in CLIENT_SENDS


def test_the_stream_command_words_the_prompts():
    assert "LEFT, then UP, then RIGHT" in prompt_text(PROMPTS[0])
    assert "now turn UP" in prompt_text(PROMPTS[1])
    assert "failed (timeout)" in prompt_text(PROMPTS[2])
    assert "spoof" in prompt_text(PROMPTS[3])


class ChallengeEveryTrack:
    """An observer factory like a door watcher's: challenge mode, every track requested."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.made: list[Any] = []

    def __call__(self, stream: str, prompt: Any) -> Any:
        liveness = track_liveness("challenge", prompt=prompt, settings=self.settings)
        self.made.append((stream, prompt, liveness))

        def observe(faces: Any, image: Any) -> None:
            liveness.observe(faces, image)
            for face in faces:
                liveness.request(face.track_id)

        return observe


def test_a_real_client_gets_the_challenge_its_steps_and_the_result(
    make_server, stream_services, faces_dir: Path
):
    settings = Settings(liveness_challenge_timeout_s=1.0, liveness_challenge_steps=2)
    factory = ChallengeEveryTrack(settings)
    unregister = stream_services.observers.register(factory)
    try:
        server = make_server()
        photo = cv2.imread(str(faces_dir / "people" / "Barack_Obama" / "fr_obama.jpg"))
        assert photo is not None
        photo = cv2.resize(photo, (640, round(640 * photo.shape[0] / photo.shape[1])))
        got: list[Any] = []
        with Client("127.0.0.1", server.port, "key", stream="door-1") as client:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any(
                isinstance(m, ChallengeResult) for m in got
            ):
                client.send_frame(photo)
                time.sleep(0.05)
                try:
                    while True:
                        got.append(client.receive(timeout=0.05))
                except TimeoutError:
                    pass
            prompts = list(client.prompts)
    finally:
        unregister()
    tracks = {f.track_id for m in got if isinstance(m, Result) for f in m.faces}
    challenge = next(m for m in prompts if isinstance(m, Challenge))
    assert challenge.track_id in tracks
    assert len(challenge.steps) == 2 and challenge.timeout_s == 1.0
    steps = [m for m in prompts if isinstance(m, ChallengeStep)]
    result = next(m for m in prompts if isinstance(m, ChallengeResult))
    assert [(s.index, s.passed, s.reason) for s in steps] == [(0, False, "timeout")]
    assert steps[0].step == challenge.steps[0] and steps[0].next is None
    assert (result.challenge_id, result.track_id) == (challenge.challenge_id, challenge.track_id)
    assert result.state == "spoof" and result.reason == "timeout"
    # the prompts came in order and only one challenge per track
    assert prompts.index(challenge) < prompts.index(steps[0]) < prompts.index(result)
    assert sum(isinstance(m, Challenge) for m in prompts) == len(
        {m.track_id for m in prompts if isinstance(m, Challenge)}
    )
    stream, prompt, liveness = factory.made[-1]
    assert stream == "door-1" and prompt is not None
    verdict = liveness.verdict(challenge.track_id)
    assert (verdict.state, verdict.method) == ("spoof", "challenge")


def test_a_1_0_client_is_not_sent_prompts(make_server, stream_services, faces_dir: Path):
    """A client whose HELLO says minor 0 does not know types 10-12: nothing is sent to it."""
    factory = ChallengeEveryTrack(Settings(liveness_challenge_timeout_s=0.5))
    unregister = stream_services.observers.register(factory)
    try:
        server = make_server()
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        hello = encode(Hello("key", "old-door"))
        sock.sendall(hello[:5] + b"\x00" + hello[6:])  # minor 0 in the fixed header
        reader = MessageReader()
        photo = cv2.imread(str(faces_dir / "people" / "Barack_Obama" / "fr_obama.jpg"))
        assert photo is not None
        _ok, jpeg = cv2.imencode(".jpg", cv2.resize(photo, (640, 480)))
        from facegate.stream.protocol import Frame

        types: list[MessageType] = []
        deadline = time.monotonic() + 4
        frame_id = 0
        while time.monotonic() < deadline:
            frame_id += 1
            frame = encode(Frame(frame_id, time.time(), jpeg.tobytes()))
            sock.sendall(frame[:5] + b"\x00" + frame[6:])
            time.sleep(0.1)
            sock.settimeout(0.05)
            try:
                while True:
                    data = sock.recv(1 << 16)
                    if not data:
                        break
                    types += [m.TYPE for m in reader.feed(data)]
            except TimeoutError:
                pass
        sock.close()
    finally:
        unregister()
    assert MessageType.RESULT in types
    assert not {MessageType.CHALLENGE, MessageType.CHALLENGE_RESULT} & set(types)
    assert factory.made and factory.made[-1][2].verdict(1).state in ("pending", "spoof")
