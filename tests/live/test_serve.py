"""``facegate serve --workers 2 --camera ...`` as a real process: the stream server checks
API keys, the camera runs in exactly one worker, and the live view and events work through
whichever worker answers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from facegate.stream import Client
from facegate.stream.client import StreamError
from facegate.stream.protocol import Result
from tests.live.conftest import CAMERA, PERSON, Parts, decode
from tests.serving import create_key, enrol, free_port, fresh, serving


@pytest.fixture(scope="module")
def served(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("serve")
    admin, recognize = create_key(data, "admin"), create_key(data, "recognize")
    monitor = create_key(data, "monitor")
    port, stream_port = free_port(), free_port()
    video = faces_dir / "videos" / "obama.mp4"
    env = {"FACEGATE_INFERENCE_THREADS": "1", "FACEGATE_LIVE_IDLE_STOP_S": "1"}
    args = ("--workers", "2", "--stream-port", str(stream_port), "--camera", f"{CAMERA}={video}")
    with serving(data, port, *args, env=env) as base:
        headers = {"X-API-Key": admin}
        enrol(base, headers, PERSON, faces_dir / "people" / PERSON)
        yield {"base": base, "stream_port": stream_port, "recognize": recognize, "data": data,
               "monitor": monitor,
               "video": video}  # fmt: skip


def test_stream_clients_need_a_recognize_key(served: dict[str, Any]):
    capture = cv2.VideoCapture(str(served["video"]))
    frames = [capture.read()[1] for _ in range(20)]
    capture.release()
    results = []
    with Client("127.0.0.1", served["stream_port"], served["recognize"], "serve-test") as c:
        for frame in frames:
            c.send_frame(frame)
            message = c.receive(timeout=30)
            if isinstance(message, Result):
                results.append(message)
    assert len(results) == len(frames) and any(r.faces for r in results)
    with pytest.raises(StreamError) as error:
        Client("127.0.0.1", served["stream_port"], "fg_not-a-key", "intruder").connect()
    assert error.value.code == "unauthorized"


def test_the_camera_runs_in_one_worker_and_every_worker_serves_it(served: dict[str, Any]):
    headers = {"X-API-Key": served["monitor"]}
    owners = set()
    with fresh(served["base"]) as c:
        for _ in range(8):
            listed = [s for s in c.get("/api/v1/live/streams", headers=headers).json()["streams"]
                      if s["name"] == CAMERA]  # fmt: skip
            assert len(listed) == 1, listed  # one owner, listed by whichever worker answers
            owners.add(listed[0]["worker"])
    assert len(owners) == 1
    owner = owners.pop()
    answered: set[int] = set()
    for _ in range(16):
        with (
            fresh(served["base"]) as c,
            c.stream("GET", f"/streams/{CAMERA}/mjpeg", headers=headers) as response,
        ):
            assert response.status_code == 200
            answered.add(int(response.headers["x-facegate-worker"]))
            for _, body in Parts(response).take(2):
                assert decode(body).shape == (480, 854, 3)
        if len(answered) == 2:
            break
    assert owner in answered and len(answered) == 2, answered  # one of them relayed
    deadline = time.monotonic() + 30  # every viewer, relayed ones too, has left: it stops
    with fresh(served["base"]) as c:
        while True:
            streams = c.get("/api/v1/live/streams", headers=headers).json()["streams"]
            camera = next(s for s in streams if s["name"] == CAMERA)
            if camera["state"] == "idle" and camera["consumers"] == 0:
                break
            assert time.monotonic() < deadline, camera
            time.sleep(0.2)


def test_events_reach_a_websocket_on_any_worker(served: dict[str, Any]):
    capture = cv2.VideoCapture(str(served["video"]))
    frames = [capture.read()[1] for _ in range(90)]
    capture.release()
    url = served["base"].replace("http://", "ws://") + "/ws/events"
    headers = {"X-API-Key": served["monitor"]}
    with contextlib.ExitStack() as opened:
        sockets, workers = [], set()
        for _ in range(12):  # until sockets are open on both workers
            ws = opened.enter_context(ws_connect(url, additional_headers=headers))
            sockets.append(ws)
            assert ws.response is not None
            workers.add(ws.response.headers["x-facegate-worker"])
            if len(workers) == 2 and len(sockets) >= 3:
                break
        assert len(workers) == 2  # so one of them is not where the TCP stream is
        stop = threading.Event()

        def stream() -> None:
            with Client("127.0.0.1", served["stream_port"], served["recognize"], "ws-test") as c:
                for frame in frames:
                    if stop.is_set():
                        return
                    c.send_frame(frame)
                    c.receive(timeout=30)

        sender = threading.Thread(target=stream, daemon=True)
        sender.start()
        try:
            for ws in sockets:
                deadline = time.monotonic() + 60
                while True:
                    assert time.monotonic() < deadline, "no event on this socket"
                    event = json.loads(ws.recv(timeout=60))
                    if event["stream"] == "ws-test" and event["kind"] == "confirmed":
                        assert event["person"]["name"] == PERSON
                        break
        finally:
            stop.set()
            sender.join(30)


def test_a_camera_moves_to_another_worker_when_its_owner_dies(served: dict[str, Any]):
    headers = {"X-API-Key": served["monitor"]}

    def owners() -> list[int]:
        with fresh(served["base"]) as c:
            streams = c.get("/api/v1/live/streams", headers=headers).json()["streams"]
        return [s["worker"] for s in streams if s["name"] == CAMERA]

    (owner,) = owners()
    os.kill(owner, signal.SIGKILL)  # the kernel releases its camera lock
    deadline = time.monotonic() + 60
    while True:
        try:
            now = owners()
        except httpx.TransportError:  # a connection the dead worker had accepted
            now = []
        if now and now[0] != owner:
            break
        assert time.monotonic() < deadline, f"camera not taken over: {now}"
        time.sleep(0.3)
    assert len(now) == 1
    with (
        fresh(served["base"]) as c,
        c.stream("GET", f"/streams/{CAMERA}/mjpeg", headers=headers) as response,
    ):
        assert response.status_code == 200
        assert len(Parts(response).take(2)) == 2
