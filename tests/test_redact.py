"""facegate.redact: the one masking rule for URLs, and settings errors that never echo values."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from facegate.config import InvalidSettings, Settings
from facegate.redact import StripQueryFilter, mask_text, mask_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://admin:s3cret@10.0.0.5:554/Streaming/Channels/101",
         "rtsp://***@10.0.0.5:554/Streaming/Channels/101"),
        # '@' and '/' inside the password: everything up to the last '@' is hidden
        ("rtsp://admin:p@ss/w0rd@cam.local/live", "rtsp://***@cam.local/live"),
        ("rtsp://admin:p?ss#w0rd@cam.local/live", "rtsp://***@cam.local/live"),
        ("http://cam.local/cgi-bin/mjpg?user=admin&pwd=s3cret&channel=1",
         "http://cam.local/cgi-bin/mjpg?user=***&pwd=***&channel=1"),
        ("http://cam.local/snap?Password=x&PASS=y&api_key=z&X-Amz-Signature=w&auth=v",
         "http://cam.local/snap?Password=***&PASS=***&api_key=***&X-Amz-Signature=***&auth=***"),
        ("https://hooks.example/in?access_token=abc#secret=def",
         "https://hooks.example/in?access_token=***#secret=***"),
        ("https://u:p@hooks.example/x?token=t", "https://***@hooks.example/x?token=***"),
        ("http://cam.local/mjpg", "http://cam.local/mjpg"),
        ("videos/door@night.mp4", "videos/door@night.mp4"),  # a path, not a URL
        ("0", "0"),
    ],
)  # fmt: skip
def test_mask_url(url: str, shown: str):
    assert mask_url(url) == shown


def test_mask_text_masks_every_url_in_a_message():
    text = "cannot open 'rtsp://a:b@c/d' nor http://e/f?pwd=g, giving up"
    # a URL runs to whitespace: the comma goes with the masked value (more hidden, not less)
    assert mask_text(text) == "cannot open 'rtsp://***@c/d' nor http://e/f?pwd=*** giving up"
    assert mask_text("door=rtsp://u:p@ss@h/") == "door=rtsp://***@h/"


def test_access_log_records_lose_their_query_string():
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/streams/door/mjpeg?key=fg_secret", "1.1", 200), None,
    )  # fmt: skip
    assert StripQueryFilter().filter(record)
    assert "fg_secret" not in record.getMessage() and "/streams/door/mjpeg" in record.getMessage()


SECRET_URL = "rtsp://admin:s3cret@10.0.0.5/x?pwd=qu3ry"


@pytest.mark.parametrize(
    "cameras",
    [
        {"name": "door", "source": SECRET_URL},
        [{"name": "bad name", "source": SECRET_URL}],
        [{"name": "door", "source": SECRET_URL, "typo": True}],
    ],
)
def test_invalid_cameras_are_reported_without_their_values(monkeypatch, cameras: object):
    monkeypatch.setenv("FACEGATE_CAMERAS", json.dumps(cameras))
    with pytest.raises(InvalidSettings) as error:
        Settings()
    message = str(error.value)
    assert "cameras" in message
    assert "s3cret" not in message and "qu3ry" not in message
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_cameras_file_adds_cameras_and_hides_its_errors(tmp_path: Path):
    listed = tmp_path / "cameras.json"
    listed.write_text(json.dumps([{"name": "door", "source": SECRET_URL, "always_on": True}]))
    settings = Settings(data_dir=tmp_path, cameras_file=listed)
    assert [(c.name, c.source, c.always_on) for c in settings.live.all_cameras] == [
        ("door", SECRET_URL, True)
    ]
    listed.write_text(json.dumps([{"name": "bad name", "source": SECRET_URL}]))
    with pytest.raises(InvalidSettings) as error:
        Settings(data_dir=tmp_path, cameras_file=listed)
    assert "name" in str(error.value) and "s3cret" not in str(error.value)
    listed.write_text("[{not json " + SECRET_URL)
    with pytest.raises(InvalidSettings) as error:
        Settings(data_dir=tmp_path, cameras_file=listed)
    assert "not JSON" in str(error.value) and "s3cret" not in str(error.value)


def test_settings_repr_hides_camera_database_and_webhook_secrets(tmp_path: Path):
    settings = Settings(
        data_dir=tmp_path,
        cameras=[{"name": "door", "source": SECRET_URL}],
        database_url="postgresql://facegate:db-s3cret@db.local/faces",
        attendance_webhook_urls=["https://hooks.example/in?token=hook-s3cret"],
    )
    shown = repr(settings)
    assert "door" in shown and "db.local" in shown and "hooks.example" in shown
    for secret in ("s3cret", "qu3ry"):
        assert secret not in shown, shown
    assert settings.live.all_cameras[0].source == SECRET_URL  # only the repr is masked
