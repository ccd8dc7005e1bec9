"""Groups of people and per-person passes (valid from / until, blocked), over the gallery's
database; part of ``AccessStore``. Memberships and passes cascade with the person."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from facegate.access.policy import Pass
from facegate.access.sql import AccessNotFound, SqlBase, clean_name
from facegate.errors import Conflict, InvalidInput
from facegate.gallery.db import Tx, utcnow
from facegate.gallery.store import UNSET


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    name: str
    members: tuple[tuple[int, str], ...] = ()  # (person id, name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "members": [{"id": i, "name": n} for i, n in self.members],
        }


class Membership(SqlBase):
    """Groups, members and passes (mixed into ``AccessStore``)."""

    def _group_id(self, tx: Tx, name: str) -> int:
        rows = tx.execute("SELECT id FROM access_groups WHERE name = ?", (name,))
        if not rows:
            raise AccessNotFound(f"no group named {name!r}")
        return int(rows[0][0])

    # -- groups -------------------------------------------------------------------------------

    def groups(self) -> list[Group]:
        with self.db.read() as tx:
            rows = tx.execute("SELECT id, name FROM access_groups ORDER BY name")
            members = tx.execute(
                "SELECT m.group_id, p.id, p.name FROM access_group_members m "
                "JOIN people p ON p.id = m.person_id ORDER BY p.name, p.id"
            )
        by_group: dict[int, list[tuple[int, str]]] = {}
        for gid, pid, pname in members:
            by_group.setdefault(int(gid), []).append((int(pid), pname))
        return [Group(int(i), n, tuple(by_group.get(int(i), ()))) for i, n in rows]

    def group(self, name: str) -> Group:
        for group in self.groups():
            if group.name == name:
                return group
        raise AccessNotFound(f"no group named {name!r}")

    def add_group(self, name: str) -> Group:
        name = clean_name(name, "group")
        try:
            with self.db.write() as tx:
                if tx.execute("SELECT 1 FROM access_groups WHERE name = ?", (name,)):
                    raise Conflict(f"a group named {name!r} exists already")
                rows = tx.execute(
                    "INSERT INTO access_groups (name, created_at) VALUES (?, ?) RETURNING id",
                    (name, self.t(utcnow())),
                )
        except Exception as error:
            if self.db.is_unique_violation(error):
                raise Conflict(f"a group named {name!r} exists already") from error
            raise
        return Group(int(rows[0][0]), name)

    def remove_group(self, name: str) -> None:
        with self.db.write() as tx:
            if not tx.execute("DELETE FROM access_groups WHERE name = ? RETURNING id", (name,)):
                raise AccessNotFound(f"no group named {name!r}")

    def add_member(self, group: str, person: str | int) -> tuple[int, bool]:
        """Add a person (id or name) to a group; returns (person id, newly added)."""
        with self.db.write() as tx:
            gid, pid = self._group_id(tx, group), self.person_id(tx, person)
            if tx.execute(
                "SELECT 1 FROM access_group_members WHERE group_id = ? AND person_id = ?",
                (gid, pid),
            ):
                return pid, False
            tx.execute(
                "INSERT INTO access_group_members (group_id, person_id) VALUES (?, ?)", (gid, pid)
            )
        return pid, True

    def remove_member(self, group: str, person: str | int) -> int:
        with self.db.write() as tx:
            gid, pid = self._group_id(tx, group), self.person_id(tx, person)
            if not tx.execute(
                "DELETE FROM access_group_members WHERE group_id = ? AND person_id = ? "
                "RETURNING person_id",
                (gid, pid),
            ):
                raise AccessNotFound(f"person {pid} is not in group {group!r}")
        return pid

    # -- per-person passes --------------------------------------------------------------------

    def person_pass_in(self, tx: Tx, person_id: int) -> Pass:
        rows = tx.execute(
            "SELECT valid_from, valid_until, blocked FROM access_people WHERE person_id = ?",
            (person_id,),
        )
        if not rows:
            return Pass()
        return Pass(self.from_t(rows[0][0]), self.from_t(rows[0][1]), bool(rows[0][2]))

    def person_access(self, person: str | int) -> tuple[int, Pass, list[str]]:
        """(person id, pass, names of the person's groups)."""
        with self.db.read() as tx:
            pid = self.person_id(tx, person)
            groups = tx.execute(
                "SELECT g.name FROM access_group_members m JOIN access_groups g "
                "ON g.id = m.group_id WHERE m.person_id = ? ORDER BY g.name",
                (pid,),
            )
            return pid, self.person_pass_in(tx, pid), [g[0] for g in groups]

    def set_person_access(
        self,
        person: str | int,
        *,
        valid_from: Any = UNSET,
        valid_until: Any = UNSET,
        blocked: bool | None = None,
    ) -> tuple[int, Pass]:
        """Change what is given (a datetime, None to clear it, or left out: unchanged)."""
        with self.db.write() as tx:
            pid = self.person_id(tx, person)
            old = self.person_pass_in(tx, pid)
            new = Pass(
                old.valid_from if valid_from is UNSET else valid_from,
                old.valid_until if valid_until is UNSET else valid_until,
                old.blocked if blocked is None else blocked,
            )
            if new.valid_from and new.valid_until and new.valid_until <= new.valid_from:
                raise InvalidInput("valid-until must be after valid-from")
            tx.execute(
                "INSERT INTO access_people (person_id, valid_from, valid_until, blocked, "
                "updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (person_id) DO UPDATE SET "
                "valid_from = excluded.valid_from, valid_until = excluded.valid_until, "
                "blocked = excluded.blocked, updated_at = excluded.updated_at",
                (
                    pid,
                    None if new.valid_from is None else self.t(new.valid_from),
                    None if new.valid_until is None else self.t(new.valid_until),
                    new.blocked,
                    self.t(utcnow()),
                ),
            )
        return pid, new
