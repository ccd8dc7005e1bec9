"""The live view on a real server: a dev video as a server-side camera, MJPEG with the name
drawn (checked in the pixels), the camera stopped after the last viewer and restarted by
the next, a TCP stream in the same list, recognition events over the WebSocket."""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect
from websockets.typing import Origin

from facegate.engine.draw import KNOWN_COLOUR, Label, draw_labels
from facegate.engine.types import Box
from facegate.stream import Client
from facegate.stream.client import StreamError
from facegate.stream.protocol import Result
from tests.images import decode_jpeg
from tests.live.conftest import CAMERA, PERSON, LiveServer, Parts, decode

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
GREEN_BGR = np.array(KNOWN_COLOUR[::-1], np.int16)


def label_patch(image: np.ndarray) -> np.ndarray | None:
    """The filled green name tag of a known face: the largest solid green area, much wider
    than tall, once the letters are filled in and the thin box outline is removed."""
    green = (np.abs(image.astype(np.int16) - GREEN_BGR).sum(axis=2) < 90).astype(np.uint8)
    kernel = np.ones((7, 7), np.uint8)
    # Closing fills the letters; opening then removes the thin box outline.
    solid = cv2.morphologyEx(
        cv2.morphologyEx(green, cv2.MORPH_CLOSE, kernel), cv2.MORPH_OPEN, kernel
    )
    n, _, stats, _ = cv2.connectedComponentsWithStats(solid)
    best = None
    for i in range(1, n):
        x, y, w, h, area = stats[i]
        solid_tag = w > 2 * h and w >= 20 and h >= 8 and area / (w * h) > 0.8
        if solid_tag and (best is None or area > best[4]):
            best = (x, y, w, h, area)
    if best is None:
        return None
    x, y, w, h, _ = best
    return image[y : y + h, x : x + w]


def rendered_patch(text: str, shape: tuple[int, ...]) -> np.ndarray | None:
    """``text`` drawn as a known face's tag by the live view's own drawing code."""
    canvas = np.full(shape, 90, np.uint8)
    box = Box(shape[1] / 3, shape[0] / 2, 60, 60)
    drawn = draw_labels(canvas, [Label(box, text, True)])
    _, buf = cv2.imencode(".jpg", drawn, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return label_patch(decode_jpeg(buf.tobytes()))


def text_match(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of the white text pixels of two tags of (nearly) the same size; 0 otherwise."""
    if abs(a.shape[1] - b.shape[1]) > 3 or abs(a.shape[0] - b.shape[0]) > 3:
        return 0.0
    h, w = min(a.shape[0], b.shape[0]) - 4, min(a.shape[1], b.shape[1]) - 4
    ma = a[2 : 2 + h, 2 : 2 + w].min(axis=2) > 170
    best = 0.0
    for dy in range(5):  # the two tags' edges may differ by a pixel or two
        for dx in range(5):
            mb = b[dy : dy + h, dx : dx + w].min(axis=2) > 170
            union = np.logical_or(ma, mb).sum()
            if union:
                best = max(best, float(np.logical_and(ma, mb).sum() / union))
    return best


CANDIDATES = {
    "confirmed": PERSON + " #{i}",
    "guess": PERSON + "? #{i}",  # not confirmed yet
    "unknown": "unknown #{i}",
    "unknown guess": "unknown? #{i}",
    "swapped": "Obama_Barack #{i}",  # the same letters, the same width
}


@functools.cache
def rendered(template: str, shape: tuple[int, ...]) -> list[np.ndarray]:
    patches = (rendered_patch(template.format(i=i), shape) for i in range(1, 60))
    return [p for p in patches if p is not None]


def read_tag(patch: np.ndarray, shape: tuple[int, ...]) -> dict[str, float]:
    """How well the tag matches each candidate text (any track id), best first."""
    scores = {
        what: max(text_match(patch, r) for r in rendered(template, shape))
        for what, template in CANDIDATES.items()
    }
    return dict(sorted(scores.items(), key=lambda kv: -kv[1]))


@contextlib.contextmanager
def mjpeg(server: LiveServer, name: str) -> Iterator[Parts]:
    """An open MJPEG response (a viewer) until the block ends."""
    url = f"{server.base}/streams/{name}/mjpeg"
    with (
        httpx.Client(timeout=30) as client,
        client.stream("GET", url, headers={"X-API-Key": server.monitor}) as response,
    ):
        yield Parts(response)


@pytest.mark.slow
def test_mjpeg_frames_are_jpegs_with_the_confirmed_name_drawn(live_server: LiveServer):
    capture = cv2.VideoCapture(str(live_server.video))
    raw = [capture.read()[1] for _ in range(30)]
    capture.release()
    assert all(label_patch(frame) is None for frame in raw)  # no tag without annotation

    with mjpeg(live_server, CAMERA) as parts:
        assert parts.response.status_code == 200
        content_type = parts.response.headers["content-type"]
        assert content_type == "multipart/x-mixed-replace; boundary=frame"
        found = None
        for _ in range(300):  # 10 s of video at most
            headers, body = parts.next()
            assert headers["content-type"] == "image/jpeg"
            image = decode(body)
            assert image.shape == raw[0].shape  # 854x480, as the camera delivers
            patch = label_patch(image)
            if patch is None:
                continue
            scores = read_tag(patch, image.shape)
            if next(iter(scores)) == "confirmed":
                found = (image, scores)
                break
    assert found is not None, "no frame showed the confirmed name"
    image, scores = found
    ARTIFACTS.mkdir(exist_ok=True)
    cv2.imwrite(str(ARTIFACTS / "live_mjpeg_frame.jpg"), image)
    best, runner_up = list(scores.values())[:2]
    assert best > 0.5 and best > runner_up + 0.15, scores


def test_the_camera_stops_after_the_last_viewer_and_restarts_for_the_next(
    live_server: LiveServer,
):
    def state() -> dict[str, Any]:
        return live_server.streams()[CAMERA]

    def wait(check: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while True:
            s = state()
            if check(s):
                return s
            assert time.monotonic() < deadline, f"{what}: {s}"
            time.sleep(0.1)

    idle = wait(lambda s: s["state"] == "idle" and s["viewers"] == 0, "never idle")
    starts = int(idle["starts"])

    def drained(s: dict[str, Any]) -> bool:  # every frame received was processed or dropped
        done = int(s["frames_processed"]) + int(s["dropped_replaced"]) + int(s["dropped_stale"])
        return done == int(s["frames_received"])

    # Nobody watches: frames of the stopped capture are never delivered (counters, not time:
    # what was received when it went idle is all it ever receives, and all of it finished).
    settled = wait(drained, "frames still in flight while idle")
    assert settled["frames_received"] == idle["frames_received"], (idle, settled)
    assert settled["state"] == "idle" and settled["starts"] == starts

    with contextlib.ExitStack() as viewers:
        first = viewers.enter_context(mjpeg(live_server, CAMERA))
        with mjpeg(live_server, CAMERA) as second:
            for viewer in (first, second):
                assert len(viewer.take(3)) == 3
            running = state()
            assert running["state"] == "running" and running["viewers"] == 2
            assert running["starts"] == starts + 1  # two viewers, one capture thread
        assert len(first.take(2)) == 2  # the other viewer goes on
        wait(lambda s: s["viewers"] == 1, "the closed viewer is still counted")
    stopped = wait(lambda s: s["state"] == "idle", "not stopped after the last viewer")
    assert stopped["viewers"] == 0 and stopped["starts"] == starts + 1

    with mjpeg(live_server, CAMERA) as again:
        assert len(again.take(2)) == 2
        assert state()["starts"] == starts + 2


def test_a_tcp_stream_is_listed_watched_and_announced(live_server: LiveServer):
    capture = cv2.VideoCapture(str(live_server.video))
    frames = [capture.read()[1] for _ in range(150)]
    capture.release()
    url = live_server.base.replace("http://", "ws://") + "/ws/events"
    events: list[dict[str, Any]] = []
    results: list[Result] = []
    stop = threading.Event()

    with (
        ws_connect(url, additional_headers={"X-API-Key": live_server.monitor}) as ws,
        Client("127.0.0.1", live_server.stream_port, live_server.recognize, "tcp-obama") as c,
    ):

        def send() -> None:
            i = 0
            while not stop.is_set():
                c.send_frame(frames[i % len(frames)])
                i += 1
                time.sleep(1 / 15)

        def receive() -> None:
            while not stop.is_set():
                try:
                    message = c.receive(timeout=0.5)
                except TimeoutError:
                    continue
                if isinstance(message, Result):
                    results.append(message)

        threads = [threading.Thread(target=f, daemon=True) for f in (send, receive)]
        for t in threads:
            t.start()
        try:
            deadline = time.monotonic() + 60
            while not any(e["stream"] == "tcp-obama" and e["kind"] == "confirmed" for e in events):
                assert time.monotonic() < deadline, events
                with contextlib.suppress(TimeoutError):
                    events.append(json.loads(ws.recv(timeout=1)))
            listed = live_server.streams()["tcp-obama"]
            assert listed["kind"] == "tcp" and listed["frames_processed"] > 0
            unwatched = len(results)
            assert all(r.timings_ms.encode == 0 for r in results)  # nobody watches: no drawing
            with mjpeg(live_server, "tcp-obama") as viewer:
                assert viewer.response.status_code == 200
                assert len(viewer.take(3)) == 3
            assert any(r.timings_ms.encode > 0 for r in results[unwatched:])
        finally:
            stop.set()
            for t in threads:
                t.join(5)
    event = next(e for e in events if e["stream"] == "tcp-obama" and e["kind"] == "confirmed")
    assert event["person"] == {"id": live_server.person_id, "name": PERSON}
    assert isinstance(event["track_id"], int) and len(event["box"]) == 4
    assert event["similarity"] > 0.4
    deadline = time.monotonic() + 30  # gone with its connection (a timeout, not a speed claim)
    while "tcp-obama" in live_server.streams():
        assert time.monotonic() < deadline, "the closed stream is still listed"
        time.sleep(0.1)


def test_events_are_published_once_per_confirmation_with_a_snapshot(live_server: LiveServer):
    capture = cv2.VideoCapture(str(live_server.video))
    frames = [capture.read()[1] for _ in range(90)]
    capture.release()
    services = live_server.app.state.services
    with services.events.subscribe() as sub:
        with Client("127.0.0.1", live_server.stream_port, live_server.recognize, "once") as c:
            for frame in frames:
                c.send_frame(frame)
                c.receive(timeout=30)  # one frame at a time: every frame is processed
        got = []
        while (event := sub.get(timeout=0.5)) is not None:
            if event.stream == "once":
                got.append(event)
    confirmed = [e for e in got if e.kind == "confirmed"]
    assert len(confirmed) == 1, got  # one face, one track: one event, not one per frame
    event = confirmed[0]
    assert event.person_name == PERSON and event.at.tzinfo is not None
    assert event.snapshot is not None
    face = decode(event.snapshot)
    assert max(face.shape[:2]) <= 112 and min(face.shape[:2]) > 20


@pytest.mark.parametrize("key", ["fg_not-a-real-key", None])
def test_live_endpoints_need_a_key(live_server: LiveServer, key: str | None):
    headers = {"X-API-Key": key} if key else {}
    for path in ("/api/v1/live/streams", f"/streams/{CAMERA}/mjpeg"):
        assert httpx.get(live_server.base + path, headers=headers).status_code == 401
    page = httpx.get(live_server.base + "/live", headers=headers)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    url = live_server.base.replace("http://", "ws://") + "/ws/events"
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(url, additional_headers=headers)
    assert refused.value.response.status_code == 401  # refused before the handshake


def test_a_websocket_from_another_origin_is_refused(live_server: LiveServer):
    url = live_server.base.replace("http://", "ws://") + "/ws/events"
    headers = {"X-API-Key": live_server.monitor}
    evil = Origin("https://evil.example")
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(url, additional_headers=headers, origin=evil)
    assert refused.value.response.status_code == 403
    same = Origin(live_server.base)
    with (
        ws_connect(url, additional_headers=headers, origin=same) as ws,
        pytest.raises(TimeoutError),
    ):
        ws.recv(timeout=0.2)  # accepted; no event yet


def test_stream_clients_with_a_bad_key_are_refused(live_server: LiveServer):
    with pytest.raises(StreamError) as error:
        Client("127.0.0.1", live_server.stream_port, "fg_wrong", "x").connect()
    assert error.value.code == "unauthorized"


def test_unknown_stream_is_404_and_metrics_list_streams(live_server: LiveServer):
    headers = {"X-API-Key": live_server.monitor}
    assert httpx.get(live_server.base + "/streams/nope/mjpeg", headers=headers).status_code == 404
    deadline = time.monotonic() + 10
    while True:
        text = httpx.get(live_server.base + "/metrics").text
        if f'facegate_stream_fps{{kind="camera",stream="{CAMERA}"}}' in text:
            break
        assert time.monotonic() < deadline, "no per-stream metrics"
        time.sleep(0.3)
    assert "facegate_stream_dropped_frames" in text and "facegate_stream_latency_seconds" in text


def test_a_streams_metric_series_goes_away_with_the_stream(live_server: LiveServer):
    capture = cv2.VideoCapture(str(live_server.video))
    frames = [capture.read()[1] for _ in range(5)]
    capture.release()
    series = 'facegate_stream_fps{kind="tcp",stream="metrics-gone"}'
    with Client("127.0.0.1", live_server.stream_port, live_server.recognize, "metrics-gone") as c:
        for frame in frames:
            c.send_frame(frame)
            c.receive(timeout=30)
        assert series in httpx.get(live_server.base + "/metrics").text
    deadline = time.monotonic() + 30
    while series in httpx.get(live_server.base + "/metrics").text:
        assert time.monotonic() < deadline, "the stream's series outlived it"
        time.sleep(0.2)
