"""``facegate rules|holidays|access``: access control from the command line (doors and
groups: ``doors_cmd.py``).

Opens only the database (no models), like ``facegate attendance report``, so a command is
instant and works on any machine that reaches the database. A running ``facegate serve``
sees door changes within ``access_refresh_s`` (2 s) and rule, group and pass changes at its
next decision. Every command takes ``--data-dir`` / ``--database-url``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import typer

from facegate.access.events import DoorEvents, events_csv
from facegate.access.policy import format_days, format_minute, parse_days, parse_minute
from facegate.access.store import AccessStore, RuleRow
from facegate.choices import one_of
from facegate.cli.app import EXIT_BAD_INPUT, print_json, reported
from facegate.cli.options import DatabaseUrlOption, DataDirOption, JsonFlag, make_settings
from facegate.config import Settings
from facegate.gallery import open_store

doors_app = typer.Typer(
    help="Doors: cameras, liveness, anti-passback, outputs.", no_args_is_help=True
)
groups_app = typer.Typer(
    help="Groups of people (staff, cleaners, visitors...).", no_args_is_help=True
)
rules_app = typer.Typer(help="Which groups may pass which doors, when.", no_args_is_help=True)
holidays_app = typer.Typer(
    help="Date exceptions: closed days, make-up working days.", no_args_is_help=True
)
access_app = typer.Typer(help="Per-person passes and the door events.", no_args_is_help=True)


def bad_input(message: str) -> typer.Exit:
    typer.echo(f"error (invalid_input): {message}", err=True)
    return typer.Exit(EXIT_BAD_INPUT)


@contextmanager
def opened(
    data_dir: Path | None, database_url: str | None
) -> Iterator[tuple[AccessStore, Settings]]:
    settings = make_settings(data_dir, database_url)
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings)
    try:
        yield AccessStore(store.db), settings
    finally:
        store.close()


C = TypeVar("C", bound=str)  # one of an option's allowed values


def choice(value: str | None, allowed: tuple[C, ...], option: str) -> C | None:
    """An option's text as one of ``allowed`` (typed as their Literal), None when absent."""
    if value is None:
        return None
    chosen = one_of(value, allowed)
    if chosen is None:
        raise bad_input(f"{option} must be one of {', '.join(allowed)}")
    return chosen


# -- rules ------------------------------------------------------------------------------------


def _date_arg(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise bad_input(f"{option} must be YYYY-MM-DD, not {value!r}") from None


@rules_app.command("add")
def rules_add(
    door: Annotated[str, typer.Option("--door", help="door name")],
    group: Annotated[str, typer.Option("--group", help="group name")],
    days: Annotated[
        str, typer.Option("--days", help="all | weekdays | weekend | mon,tue,... | mon-fri")
    ] = "all",
    time_from: Annotated[str, typer.Option("--from", help="HH:MM site time")] = "00:00",
    time_to: Annotated[
        str, typer.Option("--to", help="HH:MM (exclusive; before --from: overnight)")
    ] = "24:00",
    date_from: Annotated[
        str | None, typer.Option("--date-from", help="first day YYYY-MM-DD")
    ] = None,
    date_to: Annotated[str | None, typer.Option("--date-to", help="last day YYYY-MM-DD")] = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Let a group pass a door on some days and hours (site time zone)."""
    try:
        weekdays = parse_days(days)
        start, end = parse_minute(time_from), parse_minute(time_to, end=True)
    except ValueError as exc:
        raise bad_input(str(exc)) from None
    first, last = _date_arg(date_from, "--date-from"), _date_arg(date_to, "--date-to")
    with reported(as_json=as_json), opened(data_dir, database_url) as (store, _):
        row = store.add_rule(
            door,
            group,
            weekdays=weekdays,
            from_minute=start,
            to_minute=end,
            date_from=first,
            date_to=last,
        )
    if as_json:
        print_json(row.as_dict())
    else:
        typer.echo(f"added rule {row.id}: {_rule_line(row)}")


def _rule_line(r: RuleRow) -> str:
    span = ""
    if r.rule.date_from or r.rule.date_to:
        span = f"  dates {r.rule.date_from or '…'}..{r.rule.date_to or '…'}"
    hours = f"{format_minute(r.rule.from_minute)}-{format_minute(r.rule.to_minute)}"
    return f"group {r.group} may pass {r.door} on {format_days(r.rule.weekdays)} {hours}{span}"


@rules_app.command("list")
def rules_list(
    door: Annotated[str | None, typer.Option("--door")] = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Every rule (of one door)."""
    with reported(as_json=as_json), opened(data_dir, database_url) as (store, settings):
        rows = store.rules(door)
    if as_json:
        print_json({"rules": [r.as_dict() for r in rows]})
        return
    for r in rows:
        typer.echo(f"{r.id:>5}  {_rule_line(r)}")
    typer.echo(f"{len(rows)} rule(s); times are {settings.access_zone}")


@rules_app.command("remove")
def rules_remove(
    rule_id: int,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Remove a rule by id (see ``rules list``)."""
    with reported(as_json=as_json), opened(data_dir, database_url) as (store, _):
        store.remove_rule(rule_id)
    print_json({"deleted": rule_id}) if as_json else typer.echo(f"removed rule {rule_id}")


# -- holidays ---------------------------------------------------------------------------------


@holidays_app.command("add")
def holidays_add(
    day: Annotated[str, typer.Argument(help="YYYY-MM-DD (site time)")],
    door: Annotated[str | None, typer.Option("--door", help="one door (default: all)")] = None,
    is_open: Annotated[
        bool, typer.Option("--open", help="a make-up working day instead of closed")
    ] = False,
    name: Annotated[str, typer.Option("--name")] = "",
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """A closed day (no rule grants), or with ``--open`` a working day whatever the weekday."""
    wanted = _date_arg(day, "DATE")
    assert wanted is not None
    with reported(as_json=as_json), opened(data_dir, database_url) as (store, _):
        row = store.add_holiday(wanted, door=door, closed=not is_open, name=name)
    if as_json:
        print_json(row.as_dict())
    else:
        typer.echo(
            f"added {'open day' if is_open else 'closed day'} {wanted} for {door or 'every door'}"
        )


@holidays_app.command("list")
def holidays_list(
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Every date exception."""
    with reported(as_json=as_json), opened(data_dir, database_url) as (store, _):
        rows = store.holidays()
    if as_json:
        print_json({"holidays": [h.as_dict() for h in rows]})
        return
    for h in rows:
        kind = "closed" if h.holiday.closed else "open"
        typer.echo(f"{h.id:>5}  {h.holiday.day}  {kind:<6} {h.door or 'all doors':<20} {h.name}")


@holidays_app.command("remove")
def holidays_remove(
    holiday_id: int,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Remove a date exception by id."""
    with reported(as_json=as_json), opened(data_dir, database_url) as (store, _):
        store.remove_holiday(holiday_id)
    print_json({"deleted": holiday_id}) if as_json else typer.echo(f"removed holiday {holiday_id}")


# -- people and events ------------------------------------------------------------------------


def _moment(value: str | None, zone: ZoneInfo, option: str) -> Any:
    """``none`` clears; a date or an ISO time, without an offset in site time; absent: unchanged."""
    if value is None:
        return ...
    if value.lower() == "none":
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise bad_input(f"{option} must be YYYY-MM-DD[THH:MM] or none, not {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


@access_app.command("person")
def access_person(
    person: Annotated[str, typer.Argument(help="person id or exact name")],
    valid_from: Annotated[
        str | None, typer.Option("--valid-from", help="YYYY-MM-DD[THH:MM] or none")
    ] = None,
    valid_until: Annotated[
        str | None, typer.Option("--valid-until", help="YYYY-MM-DD[THH:MM] (exclusive) or none")
    ] = None,
    block: Annotated[
        bool | None, typer.Option("--block/--unblock", help="never let in; raises an alarm")
    ] = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Show or change a person's pass (valid from/until, site time) and block flag."""
    with reported(as_json=as_json), opened(data_dir, database_url) as (store, settings):
        zone = ZoneInfo(settings.access_zone)
        changes: dict[str, Any] = {}
        for key, value, option in (
            ("valid_from", valid_from, "--valid-from"),
            ("valid_until", valid_until, "--valid-until"),
        ):
            moment = _moment(value, zone, option)
            if moment is not ...:
                changes[key] = moment
        if changes or block is not None:
            store.set_person_access(person, blocked=block, **changes)
        pid, p, groups = store.person_access(person)
    out = {
        "person_id": pid,
        "valid_from": None if p.valid_from is None else p.valid_from.astimezone(zone).isoformat(),
        "valid_until": None
        if p.valid_until is None
        else p.valid_until.astimezone(zone).isoformat(),
        "blocked": p.blocked,
        "groups": groups,
    }
    if as_json:
        print_json(out)
        return
    typer.echo(
        f"person {pid}: valid {out['valid_from'] or 'always'} .. {out['valid_until'] or 'forever'}"
        f"{'  BLOCKED' if p.blocked else ''}  groups: {', '.join(groups) or '-'}"
    )


@access_app.command("events")
def access_events(
    door: Annotated[str | None, typer.Option("--door")] = None,
    person: Annotated[int | None, typer.Option("--person", help="person id")] = None,
    decision: Annotated[str | None, typer.Option("--decision", help="granted | denied")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 50,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="print every matching event as CSV")
    ] = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Door events, newest first."""
    choice(decision, ("granted", "denied"), "--decision")
    with reported(as_json=as_json), opened(data_dir, database_url) as (store, settings):
        zone = ZoneInfo(settings.access_zone)
        events = DoorEvents(store, zone)
        page = events.events(
            door=door, person_id=person, decision=decision, limit=0 if as_csv else limit
        )
    if as_csv:
        sys.stdout.write(events_csv(page.items, zone))
        return
    if as_json:
        print_json({"events": [e.as_dict() for e in page.items], "total": page.total})
        return
    for e in page.items:
        who = f"{e.person_name} ({e.person_id})" if e.person_id is not None else "unknown"
        typer.echo(
            f"{e.at.astimezone(zone):%Y-%m-%d %H:%M:%S}  {e.door:<14} {e.camera:<14} "
            f"{e.direction:<3} {e.decision:<7} {e.reason:<15} {who}"
        )
    typer.echo(f"{len(page.items)} of {page.total} event(s)")


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")
    app.add_typer(holidays_app, name="holidays")
    app.add_typer(access_app, name="access")
