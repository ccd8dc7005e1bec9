"""``facegate attendance report``: a working day's attendance from the command line.

Opens only the database (no models), so a report is instant and can run from cron on any
machine that reaches the database. The same report as ``GET /api/v1/attendance/daily``, with
the site settings stored in the database (time zone, hours: ``facegate.attendance.site``), so
the command line and the pages agree on the date and on late / left early.
``facegate attendance summary --month YYYY-MM`` is the monthly summary per person.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from typing import Annotated

import typer

from facegate.attendance.export import excel_csv
from facegate.attendance.reports import daily_csv, daily_report
from facegate.attendance.service import Attendance
from facegate.attendance.summary import SUMMARY_HEADER, month_summary, parse_month
from facegate.cli.app import EXIT_BAD_INPUT, print_json, reported
from facegate.cli.options import DatabaseUrlOption, DataDirOption, JsonFlag, make_settings
from facegate.errors import InvalidInput
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
    if day is not None:
        try:
            date.fromisoformat(day)
        except ValueError:
            typer.echo(f"error (invalid_input): --date must be YYYY-MM-DD, not {day!r}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
    with reported(as_json=as_json):
        store = open_store(settings, create=False)
    try:
        att = Attendance(settings, store.db)
        policy = att.policy  # the site settings in the database (env only as defaults)
        wanted = date.fromisoformat(day) if day else policy.working_day(utcnow())
        rows = daily_report(att.store, wanted, hr=att.hr, now=utcnow())
    finally:
        store.close()
    if as_csv:
        sys.stdout.write(daily_csv(wanted, rows, policy))
        return
    if as_json:
        print_json(
            {
                "date": wanted.isoformat(),
                "timezone": policy.timezone.key,
                "people": [r.as_dict(policy) for r in rows],
            }
        )
        return

    def hhmm(moment: datetime | None) -> str:
        return moment.astimezone(policy.timezone).strftime("%H:%M:%S") if moment else "-"

    typer.echo(f"attendance for {wanted} ({policy.timezone.key})")
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


@attendance_app.command("summary")
def summary(
    month: Annotated[str, typer.Option("--month", help="YYYY-MM (site time)")],
    as_csv: Annotated[bool, typer.Option("--csv", help="print CSV (with a UTF-8 BOM)")] = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Per person for a month: working days, present, late, left early, absent, hours."""
    settings = make_settings(data_dir, database_url)
    try:
        parse_month(month)
    except InvalidInput as exc:
        typer.echo(f"error (invalid_input): --month: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    with reported(as_json=as_json):
        store = open_store(settings, create=False)
    try:
        att = Attendance(settings, store.db)
        rows = month_summary(att.store, month, hr=att.hr, now=utcnow())
        zone = att.policy.timezone.key
    finally:
        store.close()
    if as_csv:
        sys.stdout.buffer.write(excel_csv(SUMMARY_HEADER, [r.cells(month) for r in rows]))
        sys.stdout.flush()
        return
    if as_json:
        print_json({"month": month, "timezone": zone, "people": [r.as_dict() for r in rows]})
        return
    typer.echo(f"attendance summary for {month} ({zone})")
    typer.echo(
        f"{'id':>5}  {'name':<28}  {'work':>4}  {'pres':>4}  {'late':>4}  {'early':>5}  "
        f"{'abs':>4}  {'hours':>7}"
    )
    for r in rows:
        typer.echo(
            f"{r.person_id:>5}  {r.name[:28]:<28}  {r.working_days:>4}  {r.present:>4}  "
            f"{r.late:>4}  {r.left_early:>5}  {r.absent:>4}  {r.hours:>7.2f}"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(attendance_app, name="attendance")
