"""``facegate attendance report``: a working day's attendance from the command line.

Opens only the database (no models), so a report is instant and can run from cron on any
machine that reaches the database. The same report as ``GET /api/v1/attendance/daily``.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from typing import Annotated

import typer

from facegate.attendance.reports import daily_csv, daily_report
from facegate.attendance.service import policy_from_settings
from facegate.attendance.store import AttendanceStore
from facegate.cli.app import EXIT_BAD_INPUT, print_json, reported
from facegate.cli.options import DatabaseUrlOption, DataDirOption, JsonFlag, make_settings
from facegate.gallery import open_store
from facegate.gallery.db import utcnow

attendance_app = typer.Typer(help="Attendance reports.", no_args_is_help=True)


@attendance_app.command("report")
def report(
    day: Annotated[
        str | None,
        typer.Option("--date", help="working day YYYY-MM-DD (default: today, site time)"),
    ] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="print CSV")] = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Every enrolled person's first-in, last-out, events and late/early flags for a day."""
    settings = make_settings(data_dir, database_url)
    policy = policy_from_settings(settings)
    try:
        wanted = date.fromisoformat(day) if day else policy.working_day(utcnow())
    except ValueError:
        typer.echo(f"error (invalid_input): --date must be YYYY-MM-DD, not {day!r}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    with reported(as_json=as_json):
        store = open_store(settings, create=False)
    try:
        rows = daily_report(AttendanceStore(store.db, policy), wanted)
    finally:
        store.close()
    if as_csv:
        sys.stdout.write(daily_csv(wanted, rows, policy))
        return
    if as_json:
        print_json(
            {
                "date": wanted.isoformat(),
                "timezone": settings.attendance.timezone,
                "people": [r.as_dict(policy) for r in rows],
            }
        )
        return

    def hhmm(moment: datetime | None) -> str:
        return moment.astimezone(policy.timezone).strftime("%H:%M:%S") if moment else "-"

    typer.echo(f"attendance for {wanted} ({settings.attendance.timezone})")
    for r in rows:
        flags = " ".join(
            f for f, on in (("late", r.record.late), ("left-early", r.record.left_early)) if on
        )
        status = "present" if r.present else "missing"
        typer.echo(
            f"{r.person_id:>5}  {r.name[:28]:<28}  {status:<8}  in {hhmm(r.record.first_in):<8}  "
            f"out {hhmm(r.record.last_out):<8}  {r.record.events:>3} event(s)  {flags}".rstrip()
        )
    present = sum(r.present for r in rows)
    typer.echo(f"{present} present, {len(rows) - present} missing, {len(rows)} enrolled")


def register(app: typer.Typer) -> None:
    app.add_typer(attendance_app, name="attendance")
