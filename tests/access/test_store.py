"""Access configuration and door events on SQLite and PostgreSQL: CRUD, decisions read
inside the event's transaction, anti-passback, messages queued with the event, and a
person's deletion erasing their events, snapshots, memberships and pass."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from facegate.access.events import Attempt, DoorEvents
from facegate.access.messages import DoorMessage
from facegate.access.outputs import DoorOutputs, OutputStatus, RelayOutput
from facegate.access.policy import parse_days, parse_minute
from facegate.access.store import AccessNotFound, AccessStore, DoorCamera
from facegate.errors import Conflict, InvalidInput, UnknownPerson
from facegate.gallery import SqlStore, open_store
from facegate.gallery.db import Tx
from tests.access.conftest import SHANGHAI
from tests.storage import in_threads

MON_0100_UTC = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


class Recording:
    """A dispatcher that keeps what it was given (and checks it is given a transaction)."""

    def __init__(self) -> None:
        self.queued: list[tuple[DoorMessage, DoorOutputs]] = []

    def enqueue(self, tx: Tx, message: DoorMessage, outputs: DoorOutputs) -> None:
        tx.execute("SELECT 1 FROM access_events WHERE id = ?", (message.event_id,))
        self.queued.append((message, outputs))

    def wake(self) -> None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...

    def statuses(self, event_ids: Sequence[int]) -> dict[int, list[OutputStatus]]:
        return {}


def attempt(
    person_id: int | None, *, camera: str = "lobby-in", direction: str = "in", **kw: Any
) -> Attempt:
    fields: dict[str, Any] = {
        "door": "lobby",
        "camera": camera,
        "direction": direction,
        "confirmed": True,
        "person_id": person_id,
        "score": 0.61,
        "track_id": 3,
        "seen": MON_0100_UTC.timestamp() - 0.05,
        "snapshot": b"\xff\xd8jpeg",
        "box": (10.0, 20.0, 30.0, 40.0, 640, 480),
    }
    fields.update(kw)
    return Attempt(**fields)


@pytest.fixture
def lobby(access: AccessStore) -> None:
    access.add_door(
        "lobby",
        [DoorCamera("lobby-in", "in"), DoorCamera("lobby-out", "out")],
        outputs=DoorOutputs(relay=RelayOutput(url="http://relay.local/pulse")),
    )
    access.add_group("staff")
    access.add_rule(
        "lobby", "staff", weekdays=parse_days("mon-fri"),
        from_minute=parse_minute("08:00"), to_minute=parse_minute("18:00"),
    )  # fmt: skip


def test_doors_groups_rules_crud(access: AccessStore, store: SqlStore, lobby: None):
    door = access.door("lobby")
    assert [(c.camera, c.direction) for c in door.cameras] == [
        ("lobby-in", "in"),
        ("lobby-out", "out"),
    ]
    assert door.outputs.relay is not None and door.outputs.relay.url == "http://relay.local/pulse"
    assert access.camera_doors()["lobby-out"][1] == "out"
    with pytest.raises(Conflict):
        access.add_door("lobby", [])
    with pytest.raises(Conflict):  # a camera watches one door
        access.add_door("side", [DoorCamera("lobby-in")])
    for bad in (" ", "a/b", "x" * 65, "tab\there"):
        with pytest.raises(InvalidInput):
            access.add_door(bad, [])
    changed = access.update_door("lobby", liveness="passive", undecided="allow", anti_passback=True)
    assert (changed.liveness, changed.undecided, changed.anti_passback) == (
        "passive",
        "allow",
        True,
    )
    access.update_door("lobby", enabled=False)
    assert "lobby-in" not in access.camera_doors()

    ann = store.create_person("Ann").id
    assert access.add_member("staff", "Ann") == (ann, True)
    assert access.add_member("staff", str(ann)) == (ann, False)
    assert access.group("staff").members == ((ann, "Ann"),)
    with pytest.raises(UnknownPerson):
        access.add_member("staff", "Nobody")
    with pytest.raises(AccessNotFound):
        access.add_member("visitors", "Ann")
    [rule] = access.rules("lobby")
    assert (rule.door, rule.group, rule.rule.from_minute, rule.rule.to_minute) == (
        "lobby",
        "staff",
        480,
        1080,
    )
    with pytest.raises(InvalidInput):
        access.add_rule("lobby", "staff", from_minute=600, to_minute=600)
    h = access.add_holiday(date(2026, 10, 1), name="National Day")
    access.add_holiday(date(2026, 10, 1), name="National Day (again)")  # replaces
    assert [x.name for x in access.holidays()] == ["National Day (again)"]
    with pytest.raises(AccessNotFound):
        access.remove_holiday(h.id)
    access.remove_rule(rule.id)
    assert access.rules() == []
    access.remove_member("staff", ann)
    access.remove_group("staff")
    access.remove_door("lobby")
    assert access.doors() == []


def test_decisions_from_the_database(
    access: AccessStore, door_events: DoorEvents, store: SqlStore, lobby: None
):
    ann = store.create_person("Ann").id
    bob = store.create_person("Bob").id
    access.add_member("staff", ann)
    out = Recording()
    at = MON_0100_UTC

    def decided(a: Attempt, now: datetime = at) -> tuple[str, str, str | None]:
        result = door_events.decide(a, out, now=now)
        assert result is not None
        event, _verdict = result
        return event.decision, event.reason, event.alarm

    assert decided(attempt(ann)) == ("granted", "rule", None)
    assert decided(attempt(bob)) == ("denied", "not_in_group", None)
    assert decided(attempt(None)) == ("denied", "unknown_person", "stranger")
    assert decided(attempt(None, confirmed=False)) == ("denied", "not_confirmed", None)
    assert decided(attempt(ann), at - timedelta(hours=10)) == ("denied", "outside_hours", None)
    access.add_holiday(date(2026, 3, 2), door="lobby")
    assert decided(attempt(ann)) == ("denied", "outside_hours", None)
    access.add_holiday(date(2026, 3, 2), door="lobby", closed=False)
    assert decided(attempt(ann)) == ("granted", "rule", None)
    access.set_person_access("Ann", valid_until=at - timedelta(minutes=1))
    assert decided(attempt(ann)) == ("denied", "pass_expired", None)
    access.set_person_access("Ann", valid_until=None, blocked=True)
    assert decided(attempt(ann)) == ("denied", "blocked", "blocked")
    access.set_person_access(ann, blocked=False)
    assert decided(attempt(ann, liveness="spoof")) == ("denied", "liveness_failed", "spoof")
    assert decided(attempt(ann, liveness="undecided")) == ("denied", "liveness_failed", None)
    access.update_door("lobby", undecided="allow", anti_passback=True)
    # the state is kept even while anti-passback is off: Ann entered first thing above
    assert decided(attempt(ann)) == ("denied", "anti_passback", None)
    assert decided(attempt(ann, camera="lobby-out", direction="out")) == ("granted", "rule", None)
    assert decided(attempt(ann, liveness="undecided")) == ("granted", "rule", None)
    # anti-passback: Ann entered just now; entering again is refused until she exits
    assert decided(attempt(ann)) == ("denied", "anti_passback", None)
    assert decided(attempt(ann, camera="lobby-out", direction="out")) == ("granted", "rule", None)
    assert decided(attempt(ann)) == ("granted", "rule", None)

    kinds = [(m.kind, m.alarm) for m, _ in out.queued]
    assert (
        ("alarm", "stranger") in kinds
        and ("alarm", "blocked") in kinds
        and ("alarm", "spoof") in kinds
    )
    assert all(o.relay is not None for _, o in out.queued)
    page = door_events.events(door="lobby", limit=5)
    assert page.total == len([m for m, _ in out.queued if m.kind == "decision"])
    first = page.items[0]
    assert first.decision == "granted" and first.person_name == "Ann" and first.has_snapshot
    assert first.box == [10.0, 20.0, 30.0, 40.0, 640, 480]
    assert first.latency_ms == pytest.approx(50.0, abs=1.0)
    assert door_events.events(decision="denied").total >= 8
    assert door_events.events(person_id=bob).total == 1
    assert door_events.snapshot(first.id) == b"\xff\xd8jpeg"
    counts = door_events.counts_since(at - timedelta(days=1))
    assert counts["lobby"]["granted"] >= 4
    # a door removed meanwhile: no decision, nothing queued
    access.remove_door("lobby")
    assert door_events.decide(attempt(ann), out, now=at) is None
    assert door_events.events(door="lobby").total == page.total  # history stays


def test_deleting_a_person_erases_their_access_data(
    access: AccessStore, door_events: DoorEvents, store: SqlStore, lobby: None
):
    ann = store.create_person("Ann").id
    access.add_member("staff", ann)
    access.update_door("lobby", anti_passback=True)
    access.set_person_access(ann, valid_from=MON_0100_UTC - timedelta(days=1))
    out = Recording()
    assert door_events.decide(attempt(ann), out, now=MON_0100_UTC) is not None
    assert door_events.decide(attempt(None), out, now=MON_0100_UTC) is not None
    store.delete_person(ann)
    with store.db.read() as tx:
        for table in ("access_events", "access_group_members", "access_people", "access_passback"):
            rows = tx.execute(f"SELECT COUNT(*) FROM {table} WHERE person_id = ?", (ann,))
            assert rows[0][0] == 0, table
        snaps = tx.execute("SELECT COUNT(*) FROM access_events WHERE snapshot IS NOT NULL")
    assert snaps[0][0] == 1  # only the stranger's event (nobody's personal data) is left
    assert door_events.events().total == 1


def test_anti_passback_holds_across_processes(
    make_settings: Any, access: AccessStore, store: SqlStore, lobby: None
):
    """Four workers (separate connections) deciding the same person entering at once, over
    and over: exactly one is let in; the others are refused by anti-passback."""
    ann = store.create_person("Ann").id
    access.add_member("staff", ann)
    access.update_door("lobby", anti_passback=True)
    others = [open_store(make_settings()) for _ in range(3)]
    workers = [DoorEvents(AccessStore(s.db), SHANGHAI) for s in [store, *others]]
    barrier = threading.Barrier(len(workers))
    outcomes: list[str] = []

    def enter(events: DoorEvents) -> None:
        barrier.wait()
        for _ in range(5):
            result = events.decide(attempt(ann), Recording(), now=MON_0100_UTC)
            assert result is not None
            outcomes.append(result[0].reason)

    in_threads(enter, [(w,) for w in workers])
    for s in others:
        s.close()
    assert len(outcomes) == 20
    assert outcomes.count("rule") == 1 and outcomes.count("anti_passback") == 19


def test_snapshots_are_erased_after_their_retention(
    access: AccessStore, door_events: DoorEvents, store: SqlStore, lobby: None
):
    out = Recording()
    old = door_events.decide(attempt(None), out, now=MON_0100_UTC - timedelta(days=40))
    new = door_events.decide(attempt(None), out, now=MON_0100_UTC)
    assert old is not None and new is not None
    assert door_events.purge_snapshots(MON_0100_UTC - timedelta(days=30)) == 1
    assert door_events.snapshot(old[0].id) is None
    assert door_events.snapshot(new[0].id) == b"\xff\xd8jpeg"
    assert door_events.events().total == 2  # the events stay
