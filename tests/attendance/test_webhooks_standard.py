"""Standard Webhooks headers on attendance webhooks (door webhooks: tests/access_outputs),
checked by a real HTTP receiver that verifies the signature the way the spec
(https://www.standardwebhooks.com) describes:
base64 HMAC-SHA256 over ``{webhook-id}.{webhook-timestamp}.{body}`` with the base64-decoded
``whsec_`` secret. The verification here is written from the spec, not with facegate's own
helper, so a wrong implementation on both sides cannot pass."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from facegate.attendance.service import Attendance
from facegate.bench.local_peers import Receiver
from facegate.delivery import secret_key, sign_v1, verify_v1
from facegate.gallery import SqlStore
from tests.attendance.conftest import T0, seen

KEY = b"\x01\x02standard-webhooks-key\xff"
SECRET = "whsec_" + base64.b64encode(KEY).decode()


def spec_verify(headers: dict[str, str], body: bytes, key: bytes = KEY) -> bool:
    lower = {k.lower(): v for k, v in headers.items()}
    signed = f"{lower['webhook-id']}.{lower['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    versions = [s.split(",", 1) for s in lower["webhook-signature"].split(" ")]
    return any(v == "v1" and hmac.compare_digest(sig, expected) for v, sig in versions)


def test_attendance_webhook_carries_standard_webhooks_headers(make_settings: Any, store: SqlStore):
    ann = store.create_person("Ann").id
    receiver = Receiver(fail_first=1)
    att = Attendance(
        make_settings(
            attendance_webhook_urls=[receiver.url],
            attendance_webhook_secret=SECRET,
            attendance_webhook_backoff_s=0.05,
        ),
        store.db,
    )
    att.webhooks.poll_s = 0.05
    att.start()
    try:
        event = att.record(seen(ann, T0)).event
        assert event is not None
        receiver.wait_for(2)
    finally:
        att.stop()
        receiver.close()
    first, second = receiver.requests[:2]
    h1 = {k.lower(): v for k, v in first["headers"].items()}
    h2 = {k.lower(): v for k, v in second["headers"].items()}
    assert h1["webhook-id"] == h2["webhook-id"] == f"attendance-{event.id}"  # stable on retry
    assert abs(int(h2["webhook-timestamp"]) - time.time()) < 300
    assert spec_verify(h2, second["body"])
    assert not spec_verify(h2, second["body"] + b" ")  # the body is signed
    forged = {**h2, "webhook-timestamp": str(int(h2["webhook-timestamp"]) + 1)}
    assert not spec_verify(forged, second["body"])  # and so is the timestamp
    assert not spec_verify(h2, second["body"], key=SECRET.encode())  # the key is decoded
    assert verify_v1(SECRET, h2, second["body"])
    assert not verify_v1(SECRET, h2, second["body"], now=lambda: time.time() + 3600)
    assert json.loads(second["body"])["event"]["id"] == event.id


def test_a_plain_secret_is_used_as_text_and_whsec_is_decoded():
    assert secret_key("plain") == b"plain"
    assert secret_key(SECRET) == KEY
    assert secret_key("whsec_not base64!") == b"whsec_not base64!"
    stamp = 1_700_000_000
    expected = base64.b64encode(
        hmac.new(b"plain", b"msg_1.1700000000.{}", hashlib.sha256).digest()
    ).decode()
    assert sign_v1("plain", "msg_1", stamp, b"{}") == "v1," + expected
