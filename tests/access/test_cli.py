"""The access commands on SQLite and PostgreSQL (they open only the database): the
interface the issue names, listings, passes, events as CSV, and bad input answered with
exit code 2 and a message, never a traceback."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

from typer.testing import CliRunner

from facegate.access.events import Attempt, DoorEvents
from facegate.access.outputs import NoOutputs
from facegate.access.store import AccessStore
from facegate.cli import app
from facegate.gallery import SqlStore
from tests.access.conftest import SHANGHAI

runner = CliRunner()


def db_args(settings: Any) -> list[str]:
    args = ["--data-dir", str(settings.storage.data_dir)]
    if settings.storage.database_url:
        args += ["--database-url", settings.storage.database_url]
    return args


def run(settings: Any, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, [*args, *db_args(settings)])
    assert result.exit_code == code, (args, result.output)
    assert "Traceback" not in result.output
    return result.output


def test_the_access_commands(make_settings: Any, store: SqlStore):
    s = make_settings()
    ann = store.create_person("Ann").id
    out = run(s, "doors", "add", "lobby", "--camera", "lobby-in", "--camera", "lobby-out:out",
              "--liveness", "passive", "--undecided", "allow")  # fmt: skip
    assert "lobby-in:in, lobby-out:out" in out and "liveness passive" in out
    run(s, "groups", "add", "staff")
    assert f"person {ann} added to group staff" in run(s, "groups", "add-member", "staff", "Ann")
    assert "is already in" in run(s, "groups", "add-member", "staff", str(ann))
    out = run(s, "rules", "add", "--door", "lobby", "--group", "staff", "--days", "mon,tue",
              "--from", "08:00", "--to", "18:00")  # fmt: skip
    assert "group staff may pass lobby on mon,tue 08:00-18:00" in out
    rules = json.loads(run(s, "rules", "list", "--json"))["rules"]
    assert rules == [
        {"id": rules[0]["id"], "door": "lobby", "group": "staff", "days": "mon,tue",
         "from": "08:00", "to": "18:00", "date_from": None, "date_to": None}
    ]  # fmt: skip
    run(s, "holidays", "add", "2026-10-01", "--door", "lobby", "--name", "National Day")
    assert "closed" in run(s, "holidays", "list")
    out = json.loads(run(s, "doors", "set", "lobby", "--anti-passback", "--camera", "gate",
                         "--relay-url", "http://relay.local/pulse", "--json"))  # fmt: skip
    assert out["anti_passback"] and out["cameras"] == [{"camera": "gate", "direction": "in"}]
    assert out["outputs"]["relay"]["url"] == "http://relay.local/pulse"
    groups = json.loads(run(s, "groups", "list", "--json"))["groups"]
    assert groups[0]["members"] == [{"id": ann, "name": "Ann"}]
    out = json.loads(run(s, "access", "person", "Ann", "--valid-until", "2026-12-31T18:00",
                         "--block", "--json"))  # fmt: skip
    assert out["blocked"] and out["valid_until"] == "2026-12-31T18:00:00+00:00"  # site time: UTC
    assert out["groups"] == ["staff"]
    out = json.loads(run(s, "access", "person", str(ann), "--valid-until", "none", "--unblock",
                         "--json"))  # fmt: skip
    assert not out["blocked"] and out["valid_until"] is None

    events = DoorEvents(AccessStore(store.db), SHANGHAI)
    seen = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    for person in (ann, None):
        attempt = Attempt("lobby", "gate", "in", True, person, 0.7, 1, seen.timestamp())
        assert events.decide(attempt, NoOutputs(), now=seen) is not None
    rows = list(csv.DictReader(io.StringIO(run(s, "access", "events", "--door", "lobby", "--csv"))))
    assert [(r["name"], r["decision"], r["reason"]) for r in rows] == [
        ("", "denied", "unknown_person"), ("Ann", "granted", "rule"),
    ]  # fmt: skip
    assert "1 of 1 event(s)" in run(s, "access", "events", "--decision", "granted")
    assert json.loads(run(s, "access", "events", "--json"))["total"] == 2

    run(s, "rules", "remove", str(rules[0]["id"]))
    run(s, "groups", "remove-member", "staff", "Ann")
    run(s, "groups", "remove", "staff")
    run(s, "doors", "remove", "lobby")
    assert "0 door(s)" in run(s, "doors", "list")


def test_bad_input_exits_2_with_a_message(make_settings: Any, store: SqlStore):
    s = make_settings()
    store.create_person("Twin")
    store.create_person("Twin")
    run(s, "doors", "add", "lobby", "--camera", "cam")
    run(s, "groups", "add", "staff")
    for args in (
        ("doors", "add", "lobby"),  # exists
        ("doors", "add", "side", "--camera", "cam"),  # camera taken
        ("doors", "add", "x", "--liveness", "maybe"),
        ("doors", "add", "y", "--webhook", "ftp://nope"),
        ("doors", "set", "nope", "--disable"),
        ("groups", "add-member", "staff", "Twin"),  # ambiguous name
        ("groups", "add-member", "staff", "Nobody"),
        ("groups", "add-member", "nope", "Twin"),
        ("rules", "add", "--door", "lobby", "--group", "staff", "--days", "funday"),
        ("rules", "add", "--door", "lobby", "--group", "staff", "--from", "9"),
        ("rules", "add", "--door", "lobby", "--group", "staff", "--from", "08:00", "--to", "08:00"),
        ("rules", "add", "--door", "nope", "--group", "staff"),
        ("rules", "remove", "999"),
        ("holidays", "add", "tomorrow"),
        ("access", "person", "Nobody"),
        ("access", "person", "1", "--valid-from", "soon"),
        ("access", "events", "--decision", "maybe"),
    ):
        out = run(s, *args, code=2)
        assert "error (" in out, args
