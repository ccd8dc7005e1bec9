"""What else moves when two people turn out to be one (``SqlStore.merge_people``).

The templates move in ``store.py`` (with the revision log every worker's index replays); the
rows here are the rest of the person's history and rights, moved in the same transaction
before the source person is deleted (the delete cascades, so anything not moved is erased):

- attendance events and door events and their pending deliveries: history, kept whole;
- the live event log's recent rows (a listener replaying them sees the merged person);
- access group memberships: the union of both people's groups;
- a per-person pass (validity dates, blocked): the target's own wins, else the source's;
- anti-passback state is dropped (the target's state stands).

A table added later that refers to people must be added here if its rows should survive a
merge (docs/gallery.md, "Merging people").
"""

from __future__ import annotations

from facegate.gallery.db import Tx

_MOVED = (
    "UPDATE attendance_events SET person_id = ? WHERE person_id = ?",
    "UPDATE access_events SET person_id = ? WHERE person_id = ?",
    "UPDATE access_outbox SET person_id = ? WHERE person_id = ?",
    "UPDATE attendance_corrections SET person_id = ? WHERE person_id = ?",
    "UPDATE live_events SET person_id = ? WHERE person_id = ?",
)


def move_person_rows(tx: Tx, source_id: int, target_id: int) -> None:
    """Move ``source_id``'s history and memberships to ``target_id`` (inside a merge)."""
    for sql in _MOVED:
        tx.execute(sql, (target_id, source_id))
    tx.execute(
        "INSERT INTO access_group_members (group_id, person_id) "
        "SELECT group_id, ? FROM access_group_members WHERE person_id = ? "
        "ON CONFLICT DO NOTHING",
        (target_id, source_id),
    )
    tx.execute(
        "UPDATE access_people SET person_id = ? WHERE person_id = ? "
        "AND NOT EXISTS (SELECT 1 FROM access_people a WHERE a.person_id = ?)",
        (target_id, source_id, target_id),
    )
    # A person's own shift moves only when the target has none (one assignment per person).
    tx.execute(
        "UPDATE attendance_shift_assignments SET person_id = ? WHERE person_id = ? "
        "AND NOT EXISTS (SELECT 1 FROM attendance_shift_assignments a WHERE a.person_id = ?)",
        (target_id, source_id, target_id),
    )
