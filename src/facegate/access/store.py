"""Access configuration in the gallery's database: doors and their cameras, groups and
members (``membership.py``), rules, holidays and per-person passes (SQLite and PostgreSQL,
migration 0004).

Every change is one short write transaction, so a CLI command, an API call and a running
server in another process see the same state; servers pick changes up through
``DoorDirectory`` (doors) and by reading rules inside each decision (``events.py``).
Names are the handles people use (``facegate doors add lobby``), ids are for the API.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from facegate.access.membership import Group, Membership
from facegate.access.outputs import DoorOutputs
from facegate.access.policy import (
    ALL_DAYS,
    DAY_MINUTES,
    Holiday,
    Rule,
    format_days,
    format_minute,
)
from facegate.access.sql import AccessNotFound, clean_name
from facegate.errors import Conflict, InvalidInput
from facegate.gallery.db import Row, Tx, as_date, as_day, utcnow
from facegate.liveness import LivenessMode

CameraDirection = Literal["in", "out"]
__all__ = ["AccessNotFound", "AccessStore", "Door", "DoorCamera", "Group", "as_date", "clean_name"]


@dataclass(frozen=True, slots=True)
class DoorCamera:
    camera: str
    direction: CameraDirection = "in"


@dataclass(frozen=True, slots=True)
class Door:
    id: int
    name: str
    cameras: tuple[DoorCamera, ...]
    liveness: LivenessMode = "off"
    undecided: Literal["deny", "allow"] = "deny"
    anti_passback: bool = False
    enabled: bool = True
    outputs: DoorOutputs = field(default_factory=DoorOutputs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "cameras": [{"camera": c.camera, "direction": c.direction} for c in self.cameras],
            "liveness": self.liveness,
            "undecided": self.undecided,
            "anti_passback": self.anti_passback,
            "enabled": self.enabled,
            "outputs": self.outputs.model_dump(mode="json"),  # secrets come out masked
        }


@dataclass(frozen=True, slots=True)
class RuleRow:
    id: int
    door: str
    group: str
    rule: Rule

    def as_dict(self) -> dict[str, Any]:
        """The API's and ``rules list --json``'s shape (days and times as people write them)."""
        r = self.rule
        return {
            "id": self.id,
            "door": self.door,
            "group": self.group,
            "days": format_days(r.weekdays),
            "from": format_minute(r.from_minute),
            "to": format_minute(r.to_minute),
            "date_from": None if r.date_from is None else r.date_from.isoformat(),
            "date_to": None if r.date_to is None else r.date_to.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class HolidayRow:
    id: int
    door: str | None
    holiday: Holiday
    name: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "date": self.holiday.day.isoformat(),
            "door": self.door,
            "closed": self.holiday.closed,
            "name": self.name,
        }


class AccessStore(Membership):
    """Access configuration over the gallery's ``Database`` (already migrated)."""

    # -- lookups ------------------------------------------------------------------------------

    def _door_id(self, tx: Tx, name: str) -> int:
        rows = tx.execute("SELECT id FROM access_doors WHERE name = ?", (name,))
        if not rows:
            raise AccessNotFound(f"no door named {name!r}")
        return int(rows[0][0])

    # -- doors --------------------------------------------------------------------------------

    def _door(self, tx: Tx, row: Row) -> Door:
        cams = tx.execute(
            "SELECT camera, direction FROM access_door_cameras WHERE door_id = ? ORDER BY camera",
            (row[0],),
        )
        outputs = row[5]
        raw = json.loads(outputs) if isinstance(outputs, str | bytes) else (outputs or {})
        return Door(
            id=int(row[0]),
            name=row[1],
            liveness=row[2],
            undecided=row[3],
            anti_passback=bool(row[4]),
            outputs=DoorOutputs.model_validate(raw),
            enabled=bool(row[6]),
            cameras=tuple(DoorCamera(c[0], c[1]) for c in cams),
        )

    _DOOR = (
        "SELECT id, name, liveness, undecided, anti_passback, outputs, enabled FROM access_doors"
    )

    def doors(self) -> list[Door]:
        with self.db.read() as tx:
            return [self._door(tx, r) for r in tx.execute(f"{self._DOOR} ORDER BY name")]

    def door(self, name: str) -> Door:
        with self.db.read() as tx:
            return self.door_in(tx, name)

    def door_in(self, tx: Tx, name: str) -> Door:
        rows = tx.execute(f"{self._DOOR} WHERE name = ?", (name,))
        if not rows:
            raise AccessNotFound(f"no door named {name!r}")
        return self._door(tx, rows[0])

    def add_door(
        self,
        name: str,
        cameras: list[DoorCamera],
        *,
        liveness: LivenessMode = "off",
        undecided: Literal["deny", "allow"] = "deny",
        anti_passback: bool = False,
        outputs: DoorOutputs | None = None,
    ) -> Door:
        name = clean_name(name, "door")
        now = self.t(utcnow())
        try:
            with self.db.write() as tx:
                if tx.execute("SELECT 1 FROM access_doors WHERE name = ?", (name,)):
                    raise Conflict(f"a door named {name!r} exists already")
                rows = tx.execute(
                    "INSERT INTO access_doors (name, liveness, undecided, anti_passback, outputs, "
                    "enabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (
                        name,
                        liveness,
                        undecided,
                        anti_passback,
                        _outputs_json(outputs),
                        True,
                        now,
                        now,
                    ),
                )
                self._set_cameras(tx, int(rows[0][0]), cameras)
                return self.door_in(tx, name)
        except Exception as error:
            if self.db.is_unique_violation(error):
                raise Conflict(
                    "a camera watches one door only; remove it from the other"
                ) from error
            raise

    def _set_cameras(self, tx: Tx, door_id: int, cameras: list[DoorCamera]) -> None:
        seen: set[str] = set()
        for cam in cameras:
            camera = clean_name(cam.camera, "camera")
            if camera in seen:
                raise InvalidInput(f"camera {camera!r} is given twice")
            seen.add(camera)
            taken = tx.execute(
                "SELECT d.name FROM access_door_cameras c JOIN access_doors d ON d.id = c.door_id "
                "WHERE c.camera = ? AND c.door_id <> ?",
                (camera, door_id),
            )
            if taken:
                raise Conflict(f"camera {camera!r} already watches door {taken[0][0]!r}")
        tx.execute("DELETE FROM access_door_cameras WHERE door_id = ?", (door_id,))
        tx.executemany(
            "INSERT INTO access_door_cameras (door_id, camera, direction) VALUES (?, ?, ?)",
            [(door_id, c.camera.strip(), c.direction) for c in cameras],
        )

    def update_door(
        self,
        name: str,
        *,
        cameras: list[DoorCamera] | None = None,
        liveness: LivenessMode | None = None,
        undecided: Literal["deny", "allow"] | None = None,
        anti_passback: bool | None = None,
        outputs: DoorOutputs | None = None,
        enabled: bool | None = None,
        new_name: str | None = None,
    ) -> Door:
        with self.db.write() as tx:
            door_id = self._door_id(tx, name)
            sets: list[str] = []
            params: list[Any] = []
            for column, value in (
                ("liveness", liveness),
                ("undecided", undecided),
                ("anti_passback", anti_passback),
                ("enabled", enabled),
            ):
                if value is not None:
                    sets.append(f"{column} = ?")
                    params.append(value)
            if outputs is not None:
                sets.append("outputs = ?")
                params.append(_outputs_json(outputs))
            if new_name is not None and new_name != name:
                new_name = clean_name(new_name, "door")
                if tx.execute("SELECT 1 FROM access_doors WHERE name = ?", (new_name,)):
                    raise Conflict(f"a door named {new_name!r} exists already")
                sets.append("name = ?")
                params.append(new_name)
            sets.append("updated_at = ?")
            params.append(self.t(utcnow()))
            tx.execute(
                f"UPDATE access_doors SET {', '.join(sets)} WHERE id = ?", (*params, door_id)
            )
            if cameras is not None:
                self._set_cameras(tx, door_id, cameras)
            return self.door_in(tx, new_name or name)

    def remove_door(self, name: str) -> None:
        """Remove a door with its cameras, rules and holidays; its events stay (by name)."""
        with self.db.write() as tx:
            if not tx.execute("DELETE FROM access_doors WHERE name = ? RETURNING id", (name,)):
                raise AccessNotFound(f"no door named {name!r}")

    def camera_doors(self) -> dict[str, tuple[Door, CameraDirection]]:
        """Camera name -> (its door, its direction), enabled doors only (``DoorDirectory``)."""
        found: dict[str, tuple[Door, CameraDirection]] = {}
        for door in self.doors():
            if door.enabled:
                for cam in door.cameras:
                    found[cam.camera] = (door, cam.direction)
        return found

    # -- rules --------------------------------------------------------------------------------

    _RULE = (
        "SELECT r.id, d.name, g.name, r.group_id, r.weekdays, r.from_minute, r.to_minute, "
        "r.date_from, r.date_to FROM access_rules r JOIN access_doors d ON d.id = r.door_id "
        "JOIN access_groups g ON g.id = r.group_id"
    )

    def _rule(self, row: Row) -> RuleRow:
        return RuleRow(
            int(row[0]),
            row[1],
            row[2],
            Rule(
                int(row[3]), int(row[4]), int(row[5]), int(row[6]), as_date(row[7]), as_date(row[8])
            ),
        )

    def rules(self, door: str | None = None) -> list[RuleRow]:
        with self.db.read() as tx:
            if door is None:
                rows = tx.execute(f"{self._RULE} ORDER BY d.name, g.name, r.id")
            else:
                rows = tx.execute(f"{self._RULE} WHERE d.name = ? ORDER BY g.name, r.id", (door,))
        return [self._rule(r) for r in rows]

    def add_rule(
        self,
        door: str,
        group: str,
        *,
        weekdays: int = ALL_DAYS,
        from_minute: int = 0,
        to_minute: int = DAY_MINUTES,
        date_from: date | None = None,
        date_to: date | None = None,
    ) -> RuleRow:
        if not 1 <= weekdays <= ALL_DAYS:
            raise InvalidInput("a rule needs at least one weekday")
        if not (0 <= from_minute < DAY_MINUTES and 0 < to_minute <= DAY_MINUTES):
            raise InvalidInput("from must be 00:00..23:59 and to 00:01..24:00")
        if from_minute == to_minute:
            raise InvalidInput("from and to are the same time: the rule would never apply")
        if date_from and date_to and date_to < date_from:
            raise InvalidInput("the rule's date range ends before it starts")
        with self.db.write() as tx:
            did, gid = self._door_id(tx, door), self._group_id(tx, group)
            rows = tx.execute(
                "INSERT INTO access_rules (door_id, group_id, weekdays, from_minute, to_minute, "
                "date_from, date_to, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    did,
                    gid,
                    weekdays,
                    from_minute,
                    to_minute,
                    date_from.isoformat() if date_from else None,
                    date_to.isoformat() if date_to else None,
                    self.t(utcnow()),
                ),
            )
            return self._rule(tx.execute(f"{self._RULE} WHERE r.id = ?", (rows[0][0],))[0])

    def remove_rule(self, rule_id: int) -> None:
        with self.db.write() as tx:
            if not tx.execute("DELETE FROM access_rules WHERE id = ? RETURNING id", (rule_id,)):
                raise AccessNotFound(f"no rule {rule_id}")

    # -- holidays -----------------------------------------------------------------------------

    def holidays(self) -> list[HolidayRow]:
        with self.db.read() as tx:
            rows = tx.execute(
                "SELECT h.id, d.name, h.day, h.closed, h.door_id, h.name FROM access_holidays h "
                "LEFT JOIN access_doors d ON d.id = h.door_id ORDER BY h.day, h.id"
            )
        return [
            HolidayRow(
                int(r[0]),
                r[1],
                Holiday(as_day(r[2]), bool(r[3]), None if r[4] is None else int(r[4])),
                r[5],
            )
            for r in rows
        ]

    def add_holiday(
        self, day: date, *, door: str | None = None, closed: bool = True, name: str = ""
    ) -> HolidayRow:
        """A date exception (replaces one for the same date and door)."""
        if len(name) > 200:
            raise InvalidInput("a holiday's name is at most 200 characters")
        with self.db.write() as tx:
            did = None if door is None else self._door_id(tx, door)
            match = "door_id IS NULL" if did is None else "door_id = ?"
            tx.execute(
                f"DELETE FROM access_holidays WHERE day = ? AND {match}",
                (day.isoformat(),) if did is None else (day.isoformat(), did),
            )
            rows = tx.execute(
                "INSERT INTO access_holidays (day, door_id, closed, name) VALUES (?, ?, ?, ?) "
                "RETURNING id",
                (day.isoformat(), did, closed, name),
            )
        return HolidayRow(int(rows[0][0]), door, Holiday(day, closed, did), name)

    def remove_holiday(self, holiday_id: int) -> None:
        with self.db.write() as tx:
            if not tx.execute(
                "DELETE FROM access_holidays WHERE id = ? RETURNING id", (holiday_id,)
            ):
                raise AccessNotFound(f"no holiday {holiday_id}")


def _outputs_json(outputs: DoorOutputs | None) -> str:
    """The outputs as stored: secrets in clear (the database is the secret store, like the
    API keys' hashes); never shown by ``Door.as_dict``."""
    return "{}" if outputs is None else outputs.stored_json()
