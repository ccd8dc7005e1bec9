"""``facegate keys create|list|revoke`` against the same database the server uses."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from facegate.api.keys import KeyStore
from facegate.cli import app
from facegate.config import Settings
from facegate.gallery import open_store

runner = CliRunner()


def run(*args: str) -> object:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


def test_create_list_revoke(tmp_path: Path):
    data = str(tmp_path)
    plain = run("keys", "create", "--scope", "admin", "--name", "desk", "--data-dir", data)
    assert isinstance(plain, str)
    secret = plain.strip().splitlines()[-1]
    assert secret.startswith("fg_") and len(secret) > 40
    made = run("keys", "create", "--scope", "recognize", "--data-dir", data, "--json")
    assert isinstance(made, dict) and made["scope"] == "recognize"

    listing = run("keys", "list", "--data-dir", data, "--json")
    assert isinstance(listing, list) and [k["scope"] for k in listing] == ["admin", "recognize"]
    assert all("key" not in k and k["revoked_at"] is None for k in listing)
    assert secret not in json.dumps(listing)  # the secret is shown once, at creation
    assert listing[0]["prefix"] == secret[:10]

    store = open_store(Settings(data_dir=tmp_path))
    try:
        keys = KeyStore(store.db)
        assert keys.authenticate(secret) is not None
        revoked = run("keys", "revoke", str(listing[0]["id"]), "--data-dir", data, "--json")
        assert isinstance(revoked, dict) and revoked["revoked_at"] is not None
        assert keys.authenticate(secret) is None
        assert keys.authenticate(made["key"]) is not None
    finally:
        store.close()


def test_bad_scope_and_unknown_key(tmp_path: Path):
    bad = runner.invoke(app, ["keys", "create", "--scope", "root", "--data-dir", str(tmp_path)])
    assert bad.exit_code == 2 and "scope" in bad.output
    missing = runner.invoke(app, ["keys", "revoke", "42", "--data-dir", str(tmp_path)])
    assert missing.exit_code == 2 and "no API key" in missing.output


def test_monitor_and_checkin_keys_can_be_created(tmp_path: Path):
    data = str(tmp_path)
    for scope in ("monitor", "checkin"):
        made = run("keys", "create", "--scope", scope, "--data-dir", data, "--json")
        assert isinstance(made, dict) and made["scope"] == scope
    listing = run("keys", "list", "--data-dir", data, "--json")
    assert isinstance(listing, list) and [k["scope"] for k in listing] == ["monitor", "checkin"]
    bad = runner.invoke(app, ["keys", "create", "--scope", "viewer", "--data-dir", data])
    assert bad.exit_code == 2 and "admin, recognize, monitor, checkin" in bad.output
