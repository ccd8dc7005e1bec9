"""Settings from a file, the environment and options: precedence, strictness, old names."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path

import pytest

from facegate.cli.options import make_settings
from facegate.config import InvalidSettings, Settings
from facegate.config.names import leaves

ROOT = Path(__file__).resolve().parents[2]

# One non-default value in every area; test_every_area_is_in_the_sample keeps it complete.
SAMPLE = """
[server]
port = 18000
[storage]
data_dir = "/srv/faces"
[engine]
det_score_threshold = 0.7
[quality]
min_face_px = 60
[inference]
threads = 3
[limits]
max_faces_per_image = 9
[gallery]
aggregation = "top2"
[match]
threshold = 0.5
[stream]
port = 18001
[api]
max_images = 4
[http]
header_timeout_s = 4.5
[live]
idle_stop_s = 2.0
[[live.cameras]]
name = "door"
source = "0"
direction = "in"
[attendance]
work_start = 08:30:00
cameras = { kiosk = "out" }
[access]
queue_size = 10
[access.mqtt]
client_id = "site-a"
[liveness.challenge]
steps = 4
[liveness.passive]
window = 30
[liveness.model]
threshold = 0.6
[liveness.http]
max_frames = 20
[photos]
keep = true
[cluster]
lease_s = 20.0
"""

EXPECTED = {
    ("server", "port"): 18000,
    ("storage", "data_dir"): Path("/srv/faces"),
    ("engine", "det_score_threshold"): 0.7,
    ("quality", "min_face_px"): 60,
    ("inference", "threads"): 3,
    ("limits", "max_faces_per_image"): 9,
    ("gallery", "aggregation"): "top2",
    ("match", "threshold"): 0.5,
    ("stream", "port"): 18001,
    ("api", "max_images"): 4,
    ("http", "header_timeout_s"): 4.5,
    ("live", "idle_stop_s"): 2.0,
    ("attendance", "work_start"): time(8, 30),
    ("attendance", "cameras"): {"kiosk": "out"},
    ("access", "queue_size"): 10,
    ("access", "mqtt", "client_id"): "site-a",
    ("liveness", "challenge", "steps"): 4,
    ("liveness", "passive", "window"): 30,
    ("liveness", "model", "threshold"): 0.6,
    ("liveness", "http", "max_frames"): 20,
    ("photos", "keep"): True,
    ("cluster", "lease_s"): 20.0,
}


def value_at(settings: Settings, path: tuple[str, ...]) -> object:
    node: object = settings
    for key in path:
        node = getattr(node, key)
    return node


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "facegate.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_area_loads_from_the_file(tmp_path: Path):
    settings = Settings.load(write(tmp_path, SAMPLE), environ={})
    for path, expected in EXPECTED.items():
        assert value_at(settings, path) == expected, path
    assert [(c.name, c.direction) for c in settings.live.all_cameras] == [("door", "in")]
    defaults = Settings.model_validate({})
    for path in EXPECTED:
        assert value_at(defaults, path) != EXPECTED[path], f"{path}: sample equals the default"


def test_every_area_is_in_the_sample():
    """A new area must be added to SAMPLE (and so proven to load from a file)."""
    areas = {path[0] for path in EXPECTED}
    assert areas == set(Settings.model_fields)
    nested = {leaf.path[:2] for leaf in leaves(Settings).values() if len(leaf.path) == 3}
    assert nested == {path[:2] for path in EXPECTED if len(path) == 3}


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[stream]\nprot = 9000\n", "[stream] prot: unknown setting"),
        ("[strem]\nport = 9000\n", "strem: unknown setting"),
        ("[access.mqtt]\npasword = 'x'\n", "[access.mqtt] pasword: unknown setting"),
        ("[engine]\ndet_max_side = 'big'\n", "[engine] det_max_side: Input should be a valid int"),
        ("[attendance]\ntimezone = 'Mars/Base'\n", "[attendance] timezone: Value error, unknown"),
        ("[[live.cameras]]\nname = 'a'\nsorce = '0'\n", "[live] cameras -> 0.sorce: unknown"),
    ],
)
def test_a_bad_key_or_value_is_refused_naming_file_section_and_key(
    tmp_path: Path, text: str, named: str
):
    path = write(tmp_path, text)
    with pytest.raises(InvalidSettings) as caught:
        Settings.load(path, environ={})
    message = str(caught.value)
    assert f"{path}: {named}" in message, message


def test_a_bad_value_is_never_quoted(tmp_path: Path):
    path = write(tmp_path, "[storage]\ndatabase_url = 5\n[access.mqtt]\nurl = 'http://u:pw9@h'\n")
    with pytest.raises(InvalidSettings) as caught:
        Settings.load(path, environ={})
    assert "pw9" not in str(caught.value)
    assert "[storage] database_url" in str(caught.value)


def test_malformed_toml_and_missing_files_are_clear_errors(tmp_path: Path):
    with pytest.raises(InvalidSettings, match="not valid TOML"):
        Settings.load(write(tmp_path, "[stream\nport = 1\n"), environ={})
    with pytest.raises(InvalidSettings, match="cannot read config file"):
        Settings.load(tmp_path / "absent.toml", environ={})


def test_environment_overrides_the_file_and_options_override_the_environment(tmp_path: Path):
    path = write(tmp_path, SAMPLE)
    env = {"FACEGATE_STREAM_PORT": "19001", "FACEGATE_MATCH_THRESHOLD": "0.55"}
    settings = Settings.load(path, env)
    assert settings.stream.port == 19001  # env over file
    assert settings.match.threshold == 0.55
    assert settings.server.port == 18000  # file over default
    settings = Settings.load(path, env, {"stream_port": 19002})
    assert settings.stream.port == 19002  # option over env
    assert settings.match.threshold == 0.55


def test_facegate_config_names_the_file_for_every_command(tmp_path: Path, monkeypatch):
    path = write(tmp_path, SAMPLE)
    monkeypatch.setenv("FACEGATE_CONFIG", str(path))
    monkeypatch.setenv("FACEGATE_INFERENCE_THREADS", "5")
    settings = make_settings(tmp_path / "cli-data", None)  # what every gallery command does
    assert settings.storage.data_dir == tmp_path / "cli-data"  # option over file
    assert settings.inference.threads == 5  # env over file
    assert settings.gallery.aggregation == "top2"  # file
    assert Settings().match.threshold == 0.5


# Historical names (README, docs, tests and deployments use them) and where they live now.
OLD_NAMES = {
    "FACEGATE_DATA_DIR": ("storage", "data_dir"),
    "FACEGATE_DATABASE_URL": ("storage", "database_url"),
    "FACEGATE_INFERENCE_THREADS": ("inference", "threads"),
    "FACEGATE_DETECTOR_BACKEND": ("engine", "detector_backend"),
    "FACEGATE_MAX_FACES_PER_IMAGE": ("limits", "max_faces_per_image"),
    "FACEGATE_MATCH_THRESHOLD": ("match", "threshold"),
    "FACEGATE_VERIFY_TARGET_FAR": ("match", "verify_target_far"),
    "FACEGATE_GALLERY_STORE_THUMBNAILS": ("gallery", "store_thumbnails"),
    "FACEGATE_STREAM_PORT": ("stream", "port"),
    "FACEGATE_STREAM_SERVER": ("stream", "enabled"),
    "FACEGATE_API_AUTH": ("api", "auth"),
    "FACEGATE_HTTP_HEADER_TIMEOUT_S": ("http", "header_timeout_s"),
    "FACEGATE_CAMERAS": ("live", "cameras"),
    "FACEGATE_CAMERAS_FILE": ("live", "cameras_file"),
    "FACEGATE_LIVE_WORKERS": ("server", "workers"),
    "FACEGATE_LIVE_IDLE_STOP_S": ("live", "idle_stop_s"),
    "FACEGATE_ATTENDANCE_CAMERAS": ("attendance", "cameras"),
    "FACEGATE_ATTENDANCE_WEBHOOK_SECRET": ("attendance", "webhook_secret"),
    "FACEGATE_ACCESS_MQTT_PASSWORD": ("access", "mqtt", "password"),
    "FACEGATE_ACCESS_LIVENESS_TIMEOUT_S": ("access", "liveness_timeout_s"),
    "FACEGATE_LIVENESS_MODEL": ("liveness", "model", "path"),
    "FACEGATE_LIVENESS_YAW_TARGET_DEG": ("liveness", "challenge", "yaw_target_deg"),
    "FACEGATE_LIVENESS_CHALLENGE_TIMEOUT_S": ("liveness", "challenge", "timeout_s"),
    "FACEGATE_LIVENESS_PASSIVE_WINDOW": ("liveness", "passive", "window"),
}


def test_old_environment_names_map_onto_the_tree():
    table = {leaf.env: leaf.path for leaf in leaves(Settings).values()}
    for name, path in OLD_NAMES.items():
        assert table[name] == path, name


def test_old_environment_names_set_their_setting():
    env = {
        "FACEGATE_STREAM_SERVER": "false",
        "FACEGATE_LIVE_WORKERS": "3",
        "FACEGATE_CAMERAS": '[{"name": "gate", "source": "1", "direction": "out"}]',
        "FACEGATE_ATTENDANCE_CAMERAS": '{"kiosk": "in"}',
        "FACEGATE_LIVENESS_YAW_TARGET_DEG": "22",
        "facegate_inference_threads": "4",  # any case, as pydantic-settings read them
    }
    settings = Settings.load(None, env)
    assert settings.stream.enabled is False
    assert settings.server.workers == 3
    assert settings.live.all_cameras[0].direction == "out"
    assert settings.attendance.cameras == {"kiosk": "in"}
    assert settings.liveness.challenge.yaw_target_deg == 22
    assert settings.inference.threads == 4


def test_old_flat_keywords_still_construct_settings(tmp_path: Path):
    settings = Settings(data_dir=tmp_path, api_auth=False, gallery_poll_interval_s=0.2)
    assert (settings.storage.data_dir, settings.api.auth) == (tmp_path, False)
    assert settings.replace(stream_port=0).stream.port == 0
    with pytest.raises(InvalidSettings, match="stream_prot: unknown setting"):
        Settings(stream_prot=1)


def test_every_facegate_name_in_docs_and_tests_is_a_setting():
    """A renamed setting would leave README/docs/tests pointing at nothing."""
    known = {leaf.env for leaf in leaves(Settings).values()}
    known |= {leaf.env + "_FILE" for leaf in leaves(Settings).values() if leaf.secret}
    known |= {"FACEGATE_CONFIG", "FACEGATE_TEST_DATA", "FACEGATE_TEST_DATABASE_URL"}
    known |= {"FACEGATE_UPDATE_SNAPSHOTS"}  # the OpenAPI snapshot test, not a setting
    known |= {"FACEGATE_API_KEY"}  # the key `facegate stream` reads (a client), not a setting
    files = [ROOT / "README.md", ROOT / "Makefile", *(ROOT / "docs").rglob("*.md")]
    files += [p for p in (ROOT / "tests").rglob("*.py") if "config" not in p.parts]
    files += [ROOT / "deploy" / "facegate.service"]
    used = set()
    for path in files:
        used |= set(re.findall(r"FACEGATE_[A-Z0-9_]*[A-Z0-9]", path.read_text(encoding="utf-8")))
    prefixes = {"FACEGATE_ACCESS_MQTT", "FACEGATE_LIVENESS", "FACEGATE_STREAM", "FACEGATE_GALLERY"}
    assert sorted(used - known - prefixes) == []


def test_secrets_come_from_files_named_by_the_environment(tmp_path: Path):
    (tmp_path / "db").write_text("postgresql://fg:s3cret@db/facegate\n")
    (tmp_path / "mqtt").write_text("mqtt-pass")
    env = {
        "FACEGATE_DATABASE_URL_FILE": str(tmp_path / "db"),
        "FACEGATE_ACCESS_MQTT_PASSWORD_FILE": str(tmp_path / "mqtt"),
    }
    settings = Settings.load(None, env)
    assert settings.storage.database_url == "postgresql://fg:s3cret@db/facegate"
    password = settings.access.mqtt.password
    assert password is not None and password.get_secret_value() == "mqtt-pass"
    with pytest.raises(InvalidSettings, match="not both"):
        Settings.load(None, {**env, "FACEGATE_DATABASE_URL": "postgresql://x@y/z"})
    with pytest.raises(InvalidSettings, match="FACEGATE_ATTENDANCE_WEBHOOK_SECRET_FILE"):
        Settings.load(None, {"FACEGATE_ATTENDANCE_WEBHOOK_SECRET_FILE": str(tmp_path / "no")})
    # not secrets: no _FILE variant (FACEGATE_CAMERAS_FILE is the cameras_file setting)
    assert Settings.load(None, {"FACEGATE_STREAM_PORT_FILE": str(tmp_path / "db")}).stream.port
