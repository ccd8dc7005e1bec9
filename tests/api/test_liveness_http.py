"""The HTTP liveness check: POST /api/v1/liveness/challenge then /verify, on SQLite and
PostgreSQL; tokens are single use, expire, cannot be forged; bad frames are 4xx; and with
``facegate serve --workers 2`` a challenge issued by one worker verifies on any."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import cv2
import pytest

from facegate.liveness.tokens import ChallengeTokens
from tests.api.conftest import Api
from tests.images import read_image
from tests.serving import create_key, free_port, fresh, serving

FPS = 8.0


def attack_frames(faces_dir: Path, count: int = 16) -> list[bytes]:
    """A printed photo tilted left, right, up in front of the camera (JPEG frames)."""
    from facegate.bench.liveness_synth import face_print, photo_attack
    from facegate.engine import FaceEngine

    photo = read_image(faces_dir / "people" / "Barack_Obama" / "fr_obama.jpg")
    small = cv2.resize(photo, (455, 568))
    engine = FaceEngine()
    box = max(engine.detect(small), key=lambda d: d.box.area).box
    printed = face_print(small, (box.x, box.y, box.w, box.h))
    return [cv2.imencode(".jpg", f)[1].tobytes() for f in photo_attack(printed, "tilt", count, 4)]


@pytest.fixture(scope="module")
def frames(faces_dir: Path) -> list[bytes]:
    return attack_frames(faces_dir)


def times_for(n: int) -> list[float]:
    return [round(i * 1000 / FPS, 1) for i in range(n)]


def multipart(token: str, frames: list[bytes], times: list[float]) -> dict[str, Any]:
    """``data`` and ``files`` keywords for ``client.post``."""
    return {
        "data": {"token": token, "times": json.dumps(times)},
        "files": [("frames", (f"f{i}.jpg", f, "image/jpeg")) for i, f in enumerate(frames)],
    }


def new_challenge(api: Api) -> dict[str, Any]:
    r = api.client.post("/api/v1/liveness/challenge", headers=api.recognize)
    assert r.status_code == 200, r.text
    challenge: dict[str, Any] = r.json()
    return challenge


def wait_for(seconds: float) -> None:
    """The frames' times may not claim more than the time that really passed."""
    time.sleep(max(0.0, seconds - 1.5))


def test_a_photo_fails_the_challenge_and_the_token_is_spent(api, frames):
    challenge = new_challenge(api)
    assert len(challenge["steps"]) == api.settings.liveness.challenge.steps
    assert set(challenge["steps"]) <= {"left", "right", "up"}
    assert challenge["timeout_s"] == api.settings.liveness.challenge.timeout_s
    assert challenge["expires_in"] > challenge["timeout_s"]
    times = times_for(len(frames))
    wait_for(times[-1] / 1000)
    r = api.client.post(
        "/api/v1/liveness/verify",
        headers=api.recognize,
        **multipart(challenge["token"], frames, times),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["verdict"]["state"] == "spoof" and body["verdict"]["method"] == "challenge"
    assert body["frames"] == len(frames) and body["frames_with_face"] >= len(frames) - 2
    assert [s["step"] for s in body["steps"]] == challenge["steps"]
    assert not any(s["passed"] for s in body["steps"])
    assert body["steps"][0]["reason"] in ("timeout", "flat", "wrong_direction")
    again = api.client.post(
        "/api/v1/liveness/verify",
        headers=api.recognize,
        **multipart(challenge["token"], frames, times),
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "token_used"


def test_base64_json_frames_work_too(api, frames):
    challenge = new_challenge(api)
    few = frames[:6]
    times = times_for(len(few))
    wait_for(times[-1] / 1000)
    r = api.client.post(
        "/api/v1/liveness/verify",
        headers=api.recognize,
        json={
            "token": challenge["token"],
            "frames": [base64.b64encode(f).decode() for f in few],
            "times": times,
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["verdict"]["state"] == "spoof"


def _claims(token: str) -> dict[str, object]:
    body = token.split(".")[0]
    claims: dict[str, object] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return claims


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign(api: Api, claims: dict[str, object]) -> str:
    keeper = ChallengeTokens(api.app.state.services.gallery.store.db)
    body = json.dumps(claims, separators=(",", ":")).encode()
    mac = hmac.new(keeper._key(), body, hashlib.sha256).digest()
    return f"{_b64(body)}.{_b64(mac)}"


def test_forged_expired_and_malformed_tokens_are_refused(api, frames):
    challenge = new_challenge(api)
    token = str(challenge["token"])
    claims = _claims(token)
    forged_steps = {**claims, "s": ["up"]}
    body = base64.urlsafe_b64encode(json.dumps(forged_steps).encode()).rstrip(b"=").decode()
    cases = {
        f"{body}.{token.split('.')[1]}": (400, "invalid_token"),  # claims changed, old MAC
        "nonsense": (400, "invalid_token"),
        token + "x": (400, "invalid_token"),
        _sign(api, {**claims, "e": time.time() - 1}): (410, "token_expired"),
        _sign(api, {**claims, "s": ["sideways"]}): (400, "invalid_token"),
    }
    few = frames[:3]
    for bad, (status, code) in cases.items():
        r = api.client.post(
            "/api/v1/liveness/verify",
            headers=api.recognize,
            json={
                "token": bad,
                "frames": [base64.b64encode(f).decode() for f in few],
                "times": [0, 10, 20],
            },
        )
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (bad, r.text)
    r = api.client.post(
        "/api/v1/liveness/verify",
        headers=api.recognize,
        json={
            "token": 5,
            "frames": [base64.b64encode(f).decode() for f in few],
            "times": [0, 10, 20],
        },
    )
    assert r.status_code == 400


def test_bad_frames_and_times_are_4xx_never_500(api, frames):
    s = api.settings
    cases: list[tuple[dict[str, object], int]] = []

    def tok() -> str:
        return str(new_challenge(api)["token"])

    b64 = [base64.b64encode(f).decode() for f in frames[:3]]
    cases.append(({"token": tok(), "frames": b64[:1], "times": [0]}, 422))  # one frame
    cases.append(({"token": tok(), "frames": b64, "times": [0, 10]}, 422))  # count mismatch
    cases.append(({"token": tok(), "frames": b64, "times": [0, 20, 10]}, 422))  # out of order
    cases.append(({"token": tok(), "frames": b64, "times": [0, 10, "x"]}, 422))
    cases.append(({"token": tok(), "frames": b64, "times": [0, 10, 9e9]}, 422))  # too late
    cases.append(({"token": tok(), "frames": b64, "times": [0, 10, 8000]}, 422))  # not yet
    cases.append(({"token": tok(), "frames": "abc", "times": [0]}, 422))
    too_many = b64[:1] * (s.liveness.http.max_frames + 1)
    cases.append(({"token": tok(), "frames": too_many, "times": list(range(len(too_many)))}, 422))
    junk = base64.b64encode(b"not an image at all").decode()
    cases.append(({"token": tok(), "frames": [junk, junk], "times": [0, 10]}, 400))
    cases.append(({"token": tok(), "frames": ["%%%", "%%%"], "times": [0, 10]}, 400))
    for body, status in cases:
        r = api.client.post("/api/v1/liveness/verify", headers=api.recognize, json=body)
        assert r.status_code == status, (body.get("times"), r.text)
    big = b"\xff\xd8" + b"0" * (s.liveness.http.max_frame_bytes + 10)
    r = api.client.post(
        "/api/v1/liveness/verify",
        headers=api.recognize,
        **multipart(tok(), [big, big], [0, 10]),
    )
    assert r.status_code == 413


def test_the_routes_need_a_recognize_key(api):
    assert api.client.post("/api/v1/liveness/challenge").status_code == 401
    assert api.client.post("/api/v1/liveness/verify", json={}).status_code == 401
    assert new_challenge(api)["token"]  # the recognize key is enough


def test_tokens_issued_by_one_worker_verify_once_on_any(
    tmp_path_factory: pytest.TempPathFactory, faces_dir: Path
):
    frames = attack_frames(faces_dir, 6)
    data = tmp_path_factory.mktemp("liveness-workers")
    key = create_key(data, "recognize")
    env = {"FACEGATE_INFERENCE_THREADS": "1"}
    with serving(data, free_port(), "--workers", "2", env=env) as base, fresh(base) as c:
        headers = {"X-API-Key": key}
        pids: set[int] = set()
        deadline = time.monotonic() + 90  # until both workers answer
        while len(pids) < 2 and time.monotonic() < deadline:
            pids.add(c.get("/healthz").json()["pid"])
        tokens = [c.post("/api/v1/liveness/challenge", headers=headers).json() for _ in range(4)]
        time.sleep(1.0)
        b64 = [base64.b64encode(f).decode() for f in frames]
        bodies = [{"token": t["token"], "frames": b64, "times": times_for(6)} for t in tokens]
        first = [c.post("/api/v1/liveness/verify", headers=headers, json=b) for b in bodies]
        second = [c.post("/api/v1/liveness/verify", headers=headers, json=b) for b in bodies]
    assert len(pids) == 2
    assert [r.status_code for r in first] == [200] * 4, [r.text for r in first]
    assert all(r.json()["verdict"]["state"] == "spoof" for r in first)
    assert [r.status_code for r in second] == [409] * 4
