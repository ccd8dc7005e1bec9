"""The database's clock as SQL, for the cluster tables (leases, heartbeats, epoch starts).

Every cluster decision about time is made inside the statement by the database's clock, never
a host's: a host whose clock runs ahead must not steal a lease. On PostgreSQL the tables hold
``timestamptz``; on SQLite, which serves one host, SQLite's own clock as unix seconds (REAL).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


class SqlClock:
    """SQL for the database's clock in one dialect.

    ``now`` is the transaction's time on PostgreSQL (``now()``: stable within a transaction,
    which is what comparisons inside one decision want); ``instant`` is the moment the
    statement runs (``clock_timestamp()``), for a time that must come after every lock the
    transaction waited for (an epoch's start: ``facegate.cluster.fencing``)."""

    def __init__(self, dialect: str) -> None:
        self.postgres = dialect == "postgres"
        if self.postgres:
            self.now = "now()"
            self.instant = "clock_timestamp()"
            self.unit = "interval '1 second'"
        else:
            self.now = self.instant = "((julianday('now') - 2440587.5) * 86400.0)"
            self.unit = "1.0"

    def plus(self) -> str:
        """``now + ?`` seconds (the parameter is a float)."""
        return f"({self.now} + ? * {self.unit})"

    def value(self, moment: datetime) -> Any:
        """An aware datetime as a parameter comparable with the cluster tables' times."""
        if moment.tzinfo is None:
            raise ValueError("cluster times must be timezone-aware")
        return moment if self.postgres else moment.timestamp()
