"""``/api/v1/access``: doors, groups, rules, holidays and per-person passes (admin only).

The same operations as ``facegate doors|groups|rules|holidays|access`` (both go through
``facegate.access.store``); a running server's door watchers see a change within
``access_refresh_s`` (the door directory), rules and passes at the next decision. Handlers are
plain ``def``: FastAPI runs them on its thread pool, off the event loop. Door events are in
``access_events.py``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from facegate.access.outputs import DoorOutputs
from facegate.access.policy import parse_days, parse_minute
from facegate.access.service import AccessService
from facegate.access.store import DoorCamera
from facegate.api.auth import api_key_header, bearer, require
from facegate.api.routes.deps import hook_part, running
from facegate.api.routes.log_queries import check_day, local_moment
from facegate.api.schemas import MAX_ID, error_responses
from facegate.errors import InvalidInput

router = APIRouter(
    prefix="/api/v1/access",
    tags=["access"],
    dependencies=[Depends(require("admin")), Depends(api_key_header), Depends(bearer)],
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
Name = Annotated[str, Field(min_length=1, max_length=64)]
NamePath = Annotated[str, Path(min_length=1, max_length=64)]


def access_service(request: Request) -> AccessService:
    service: AccessService | None = hook_part(request, "access_hook", "access")
    return running(service, "access control")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CameraIn(_Strict):
    """A camera of the door: a server camera name or a TCP stream name (HELLO's ``stream``)."""

    camera: Name
    direction: Literal["in", "out"] = "in"


class DoorIn(_Strict):
    name: Name
    cameras: list[CameraIn] = Field(default_factory=list, max_length=32)
    liveness: Literal["off", "challenge", "passive"] = "off"
    undecided: Literal["deny", "allow"] = "deny"
    anti_passback: bool = False
    outputs: DoorOutputs | None = None


class DoorPatch(_Strict):
    """Only the fields given change."""

    name: Name | None = None
    cameras: list[CameraIn] | None = Field(None, max_length=32)
    liveness: Literal["off", "challenge", "passive"] | None = None
    undecided: Literal["deny", "allow"] | None = None
    anti_passback: bool | None = None
    enabled: bool | None = None
    outputs: DoorOutputs | None = None


class GroupIn(_Strict):
    name: Name


class MemberIn(_Strict):
    person: int | Name = Field(description="person id or exact name")


class RuleIn(_Strict):
    door: Name
    group: Name
    days: str = Field("all", max_length=64, description="all | weekdays | mon,tue | mon-fri")
    from_: str = Field("00:00", alias="from", max_length=5, description="HH:MM, site time")
    to: str = Field("24:00", max_length=5, description="HH:MM (exclusive; before from: overnight)")
    date_from: date | None = None
    date_to: date | None = None


class HolidayIn(_Strict):
    date: date
    door: Name | None = Field(None, description="one door, or every door when absent")
    closed: bool = Field(True, description="closed, or false: a make-up working day")
    name: str = Field("", max_length=200)


class PersonAccessIn(_Strict):
    """Given fields change; a null date clears it. Times without an offset are site time."""

    valid_from: datetime | None = None
    valid_until: datetime | None = None
    blocked: bool | None = None


def _cameras(items: list[CameraIn]) -> list[DoorCamera]:
    return [DoorCamera(c.camera, c.direction) for c in items]


# -- doors ------------------------------------------------------------------------------------


@router.get("/doors")
def list_doors(request: Request) -> dict[str, Any]:
    """Every door with its cameras, liveness mode and outputs (secrets masked)."""
    return {"doors": [d.as_dict() for d in access_service(request).store.doors()]}


@router.post("/doors", status_code=status.HTTP_201_CREATED)
def add_door(request: Request, body: DoorIn) -> dict[str, Any]:
    door = access_service(request).store.add_door(
        body.name,
        _cameras(body.cameras),
        liveness=body.liveness,
        undecided=body.undecided,
        anti_passback=body.anti_passback,
        outputs=body.outputs,
    )
    return door.as_dict()


@router.get("/doors/{name}")
def get_door(request: Request, name: NamePath) -> dict[str, Any]:
    return access_service(request).store.door(name).as_dict()


@router.patch("/doors/{name}")
def update_door(request: Request, name: NamePath, body: DoorPatch) -> dict[str, Any]:
    door = access_service(request).store.update_door(
        name,
        cameras=None if body.cameras is None else _cameras(body.cameras),
        liveness=body.liveness,
        undecided=body.undecided,
        anti_passback=body.anti_passback,
        outputs=body.outputs,
        enabled=body.enabled,
        new_name=body.name,
    )
    return door.as_dict()


@router.delete("/doors/{name}")
def remove_door(request: Request, name: NamePath) -> dict[str, Any]:
    """Remove a door with its cameras, rules and holidays; its events stay."""
    access_service(request).store.remove_door(name)
    return {"deleted": name}


# -- groups -----------------------------------------------------------------------------------


@router.get("/groups")
def list_groups(request: Request) -> dict[str, Any]:
    return {"groups": [g.as_dict() for g in access_service(request).store.groups()]}


@router.post("/groups", status_code=status.HTTP_201_CREATED)
def add_group(request: Request, body: GroupIn) -> dict[str, Any]:
    return access_service(request).store.add_group(body.name).as_dict()


@router.delete("/groups/{name}")
def remove_group(request: Request, name: NamePath) -> dict[str, Any]:
    access_service(request).store.remove_group(name)
    return {"deleted": name}


@router.post("/groups/{name}/members")
def add_member(request: Request, name: NamePath, body: MemberIn) -> dict[str, Any]:
    """Add a person (id or exact name) to the group; adding a member again is not an error."""
    store = access_service(request).store
    store.add_member(name, body.person)
    return store.group(name).as_dict()


@router.delete("/groups/{name}/members/{person}")
def remove_member(
    request: Request, name: NamePath, person: Annotated[str, Path(min_length=1, max_length=64)]
) -> dict[str, Any]:
    store = access_service(request).store
    store.remove_member(name, person)
    return store.group(name).as_dict()


# -- rules ------------------------------------------------------------------------------------


@router.get("/rules")
def list_rules(
    request: Request, door: Annotated[str | None, Query(max_length=64)] = None
) -> dict[str, Any]:
    return {"rules": [r.as_dict() for r in access_service(request).store.rules(door)]}


@router.post("/rules", status_code=status.HTTP_201_CREATED)
def add_rule(request: Request, body: RuleIn) -> dict[str, Any]:
    """Members of ``group`` may pass ``door`` on ``days`` from ``from`` to ``to`` (site time),
    optionally only between ``date_from`` and ``date_to``."""
    check_day(body.date_from, "date_from")
    check_day(body.date_to, "date_to")
    try:
        weekdays = parse_days(body.days)
        start, end = parse_minute(body.from_), parse_minute(body.to, end=True)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    row = access_service(request).store.add_rule(
        body.door,
        body.group,
        weekdays=weekdays,
        from_minute=start,
        to_minute=end,
        date_from=body.date_from,
        date_to=body.date_to,
    )
    return row.as_dict()


@router.delete("/rules/{rule_id}")
def remove_rule(request: Request, rule_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> dict[str, Any]:
    access_service(request).store.remove_rule(rule_id)
    return {"deleted": rule_id}


# -- holidays ---------------------------------------------------------------------------------


@router.get("/holidays")
def list_holidays(request: Request) -> dict[str, Any]:
    return {"holidays": [h.as_dict() for h in access_service(request).store.holidays()]}


@router.post("/holidays", status_code=status.HTTP_201_CREATED)
def add_holiday(request: Request, body: HolidayIn) -> dict[str, Any]:
    """A date exception in site time (replaces one for the same date and door)."""
    check_day(body.date, "date")
    row = access_service(request).store.add_holiday(
        body.date, door=body.door, closed=body.closed, name=body.name
    )
    return row.as_dict()


@router.delete("/holidays/{holiday_id}")
def remove_holiday(
    request: Request, holiday_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> dict[str, Any]:
    access_service(request).store.remove_holiday(holiday_id)
    return {"deleted": holiday_id}


# -- per-person passes ------------------------------------------------------------------------


def person_access_dict(svc: AccessService, person_id: int) -> dict[str, Any]:
    pid, p, groups = svc.store.person_access(person_id)
    return {
        "person_id": pid,
        "valid_from": None if p.valid_from is None else p.valid_from.isoformat(),
        "valid_until": None if p.valid_until is None else p.valid_until.isoformat(),
        "blocked": p.blocked,
        "groups": groups,
    }


PersonId = Annotated[int, Path(ge=1, le=MAX_ID, description="person id")]


@router.get("/people/{person_id}")
def get_person_access(request: Request, person_id: PersonId) -> dict[str, Any]:
    """A person's pass (valid from / until), block flag and groups."""
    return person_access_dict(access_service(request), person_id)


@router.put("/people/{person_id}")
def set_person_access(
    request: Request, person_id: PersonId, body: PersonAccessIn
) -> dict[str, Any]:
    svc = access_service(request)
    given: dict[str, Any] = {}
    for field in ("valid_from", "valid_until"):
        if field in body.model_fields_set:
            given[field] = local_moment(getattr(body, field), svc.timezone, field)
    svc.store.set_person_access(person_id, blocked=body.blocked, **given)
    return person_access_dict(svc, person_id)
