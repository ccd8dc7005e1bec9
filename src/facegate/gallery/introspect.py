"""What a database holds, asked the same way on SQLite and PostgreSQL: tables, their columns,
the order foreign keys allow them to be filled in, and the id counters.

``facegate backup`` and ``restore`` (``backup.py``) copy every table generically through these
questions, so a table added by a later migration is backed up without anyone listing it.
"""

from __future__ import annotations

from dataclasses import dataclass

from facegate.gallery.db import Database, Tx

# Not data: the migration record is the backup's schema version, SQLite's own bookkeeping is
# rebuilt by the inserts, and the liveness secret and spent challenge tokens are short-lived
# (a restored site makes a new secret on first use; a backup should hold no secret); so is
# the cluster secret (node tokens live a minute) and the live event log (view rows kept an
# hour; a listener's cursor ahead of a restored log means "from now on").
SKIPPED_TABLES = frozenset(
    {
        "schema_migrations",
        "sqlite_sequence",
        "liveness_secret",
        "liveness_tokens_used",
        "cluster_secret",
        "live_events",
    }
)


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str  # lower-case declared type: "integer", "boolean", "jsonb", "timestamp with ..."
    identity: bool  # PostgreSQL ``GENERATED ALWAYS AS IDENTITY``


def tables(tx: Tx, db: Database) -> list[str]:
    """The data tables (``SKIPPED_TABLES`` left out), sorted by name."""
    if db.dialect == "sqlite":
        rows = tx.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    else:
        rows = tx.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
    return sorted(str(r[0]) for r in rows if str(r[0]) not in SKIPPED_TABLES)


def all_tables(tx: Tx, db: Database) -> list[str]:
    """Every table, the migration record included (is a database empty?)."""
    if db.dialect == "sqlite":
        rows = tx.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    else:
        rows = tx.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    return sorted(str(r[0]) for r in rows)


def columns(tx: Tx, db: Database, table: str) -> list[Column]:
    """A table's columns in their declared order."""
    if db.dialect == "sqlite":
        rows = tx.execute(f'PRAGMA table_info("{table}")')
        return [Column(str(r[1]), str(r[2]).lower(), False) for r in rows]
    rows = tx.execute(
        "SELECT column_name, data_type, is_identity FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
        (table,),
    )
    return [Column(str(r[0]), str(r[1]).lower(), r[2] == "YES") for r in rows]


def fill_order(tx: Tx, db: Database, names: list[str]) -> list[str]:
    """``names`` ordered so that every table comes after the tables it refers to."""
    refers: dict[str, set[str]] = {name: set() for name in names}
    if db.dialect == "sqlite":
        for name in names:
            for row in tx.execute(f'PRAGMA foreign_key_list("{name}")'):
                refers[name].add(str(row[2]))
    else:
        rows = tx.execute(
            "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text "
            "FROM pg_constraint c WHERE c.contype = 'f' "
            "AND c.connamespace = current_schema()::regnamespace"
        )
        for child, parent in rows:
            if str(child) in refers:
                refers[str(child)].add(str(parent))
    ordered: list[str] = []
    placed: set[str] = set()
    while len(ordered) < len(names):
        ready = [n for n in names if n not in placed and (refers[n] - {n}) & set(names) <= placed]
        if not ready:  # a reference cycle: cannot happen in our schema; keep the rest as is
            ready = [n for n in names if n not in placed]
        for n in ready:
            ordered.append(n)
            placed.add(n)
    return ordered


def sequences(tx: Tx, db: Database) -> dict[str, int]:
    """Each table's id counter (the last id handed out, deleted rows included): ids are never
    reused, so a restore must not hand out an id a deleted template once had."""
    if db.dialect == "sqlite":
        has = tx.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")
        if not has:
            return {}
        return {str(r[0]): int(r[1]) for r in tx.execute("SELECT name, seq FROM sqlite_sequence")}
    found: dict[str, int] = {}
    for table in tables(tx, db):
        for column in columns(tx, db, table):
            if not column.identity:
                continue
            seq = tx.execute("SELECT pg_get_serial_sequence(?, ?)", (table, column.name))[0][0]
            if seq is None:
                continue
            last, called = tx.execute(f"SELECT last_value, is_called FROM {seq}")[0]
            if called:
                found[table] = int(last)
    return found


def advance_sequences(tx: Tx, db: Database, recorded: dict[str, int]) -> None:
    """Set every id counter to at least the recorded value and the largest id present."""
    for table in tables(tx, db):
        for column in columns(tx, db, table):
            if db.dialect == "sqlite":
                if column.name != "id" or "integer" not in column.type:
                    continue
            elif not column.identity:
                continue
            top = tx.execute(f'SELECT MAX("{column.name}") FROM "{table}"')[0][0]
            value = max(int(top or 0), recorded.get(table, 0))
            if value < 1:
                continue
            if db.dialect == "postgres":
                tx.execute(
                    "SELECT setval(pg_get_serial_sequence(?, ?), ?, true)",
                    (table, column.name, value),
                )
                continue
            has = tx.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")
            if not has:
                continue
            if tx.execute("SELECT 1 FROM sqlite_sequence WHERE name = ?", (table,)):
                tx.execute(
                    "UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = ?", (value, table)
                )
            elif recorded.get(table):
                tx.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, value))
