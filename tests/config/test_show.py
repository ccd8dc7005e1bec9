"""``facegate config show`` (secrets masked), ``config check`` and the shipped deploy files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from facegate.config import Settings
from facegate.config.names import leaves
from facegate.config.render import to_toml

ROOT = Path(__file__).resolve().parents[2]
FACEGATE = Path(sys.executable).parent / "facegate"
EXAMPLE = ROOT / "deploy" / "facegate.toml"
UNIT = ROOT / "deploy" / "facegate.service"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FACEGATE_")}
    clean.update(env or {})
    return subprocess.run(
        [str(FACEGATE), *args], capture_output=True, text=True, env=clean, timeout=120
    )


# A known value for every secret field: none may appear in what `config show` prints.
SECRETS = {
    "database_url": "postgresql://fg:Pw-DB-4711@db.example/facegate",
    "attendance_webhook_urls": '["https://hooks.example/in?token=Tok-WH-4711"]',
    "attendance_webhook_secret": "Key-WH-4711",
    "access_mqtt_url": "mqtts://mq:Pw-MQURL-4711@broker.example:8883",
    "access_mqtt_password": "Pw-MQ-4711",
}
CAMERA = '[{"name": "gate", "source": "rtsp://admin:Pw-CAM-4711@10.0.0.5/stream"}]'
VALUES = ["Pw-DB-4711", "Tok-WH-4711", "Key-WH-4711", "Pw-MQURL-4711", "Pw-MQ-4711", "Pw-CAM-4711"]


def test_the_secret_sample_covers_every_secret_field():
    """A new secret field must be added to SECRETS, so its masking is tested."""
    secret = {flat for flat, leaf in leaves(Settings).items() if leaf.secret}
    assert secret == set(SECRETS)


@pytest.mark.parametrize("form", [[], ["--json"]])
@pytest.mark.slow
def test_config_show_masks_every_secret(tmp_path: Path, form: list[str]):
    (tmp_path / "secret").write_text(SECRETS["attendance_webhook_secret"])
    env = {f"FACEGATE_{k.upper()}": v for k, v in SECRETS.items()}
    del env["FACEGATE_ATTENDANCE_WEBHOOK_SECRET"]  # from a file, as systemd would
    env["FACEGATE_ATTENDANCE_WEBHOOK_SECRET_FILE"] = str(tmp_path / "secret")
    env["FACEGATE_CAMERAS"] = CAMERA
    shown = run("config", "show", *form, env=env)
    assert shown.returncode == 0, shown.stderr
    for value in VALUES:
        assert value not in shown.stdout + shown.stderr
    data = json.loads(shown.stdout) if form else tomllib.loads(shown.stdout)
    assert data["storage"]["database_url"] == "postgresql://***@db.example/facegate"
    assert data["attendance"]["webhook_secret"] == "***"
    assert data["access"]["mqtt"]["password"] == "***"
    assert data["live"]["cameras"][0]["source"] == "rtsp://***@10.0.0.5/stream"
    assert data["attendance"]["webhook_urls"] == ["https://hooks.example/in?token=***"]


def test_config_show_prints_the_effective_settings(tmp_path: Path):
    config = tmp_path / "site.toml"
    config.write_text("[match]\nthreshold = 0.47\n[stream]\nport = 9100\n")
    shown = run("config", "show", "--config", str(config), env={"FACEGATE_STREAM_PORT": "9200"})
    assert shown.returncode == 0, shown.stderr
    data = tomllib.loads(shown.stdout)
    assert (data["match"]["threshold"], data["stream"]["port"]) == (0.47, 9200)
    # what show prints is a valid settings file again
    assert Settings.model_validate(data).match.threshold == 0.47


@pytest.mark.slow
def test_config_check_accepts_a_good_file_and_names_the_bad_key(tmp_path: Path):
    good = run("config", "check", str(EXAMPLE))
    assert good.returncode == 0 and good.stdout.strip() == f"{EXAMPLE}: ok"
    bad = tmp_path / "bad.toml"
    bad.write_text("[gallery]\ntop_k = 5\nsearch_kk = 9\n")
    refused = run("config", "check", str(bad))
    assert refused.returncode == 2
    assert f"{bad}: [gallery] search_kk: unknown setting" in refused.stderr


@pytest.mark.slow
def test_the_example_file_loads_and_equals_the_defaults():
    example = Settings.load(EXAMPLE, environ={})
    assert example == Settings.model_validate({})
    # and it is the generated text, so a new field shows up in it (regenerate: see
    # facegate.config's docstring)
    assert EXAMPLE.read_text(encoding="utf-8") == to_toml(
        Settings.model_validate({}), comments=True
    )
    assert run("config", "show", "--defaults").stdout == EXAMPLE.read_text(encoding="utf-8")


def test_the_example_file_has_every_section():
    text = EXAMPLE.read_text(encoding="utf-8")
    sections = {".".join(leaf.path[:-1]) for leaf in leaves(Settings).values()}
    for section in sections - {""}:
        assert f"\n[{section}]\n" in text, section


def test_the_systemd_unit_verifies(tmp_path: Path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    text = UNIT.read_text(encoding="utf-8")
    for rule in ("User=facegate", "StateDirectory=facegate", "StateDirectoryMode=0700",
                 "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                 "Restart=on-failure", "serve --config /etc/facegate/facegate.toml",
                 "LoadCredential=database_url:"):  # fmt: skip
        assert rule in text, rule
    # verify checks that ExecStart exists: point it at this venv's facegate
    unit = tmp_path / "facegate.service"
    unit.write_text(text.replace("/opt/facegate/venv/bin/facegate", str(FACEGATE)))
    verified = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=120
    )
    assert verified.returncode == 0, verified.stderr
    assert "facegate.service" not in verified.stderr, verified.stderr


def test_the_documented_table_lists_every_setting():
    from facegate.config.names import env_table

    assert env_table() in (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
