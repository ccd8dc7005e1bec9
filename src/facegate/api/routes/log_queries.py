"""What the routes over the attendance log and the door events ask and answer alike: the
dates a query may name, query times in site time, CSV downloads and snapshot answers.

One place, so both logs accept the same range (a date outside it would overflow a database
or a time zone conversion) and read an offset-less time the same way.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from fastapi import Response

from facegate.api.errors import error_response
from facegate.errors import InvalidInput

EARLIEST, LATEST = date(1970, 1, 2), date(2999, 12, 30)
CSV_TYPE = "text/csv; charset=utf-8"


def check_day(value: date | None, field: str) -> None:
    """``InvalidInput`` for a date outside ``EARLIEST``..``LATEST``."""
    if value is not None and not EARLIEST <= value <= LATEST:
        raise InvalidInput(f"{field} must be between {EARLIEST} and {LATEST}")


def local_moment(value: datetime | None, site: tzinfo, field: str) -> datetime | None:
    """A query time; without an offset it is the site's local time."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=site)
    check_day(value.date(), field)
    return value


def csv_response(text: str, filename: str) -> Response:
    """A CSV download named ``filename``."""
    return Response(
        text.encode(),
        media_type=CSV_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def snapshot_response(data: bytes | None, missing: str) -> Response:
    """An event's face snapshot (never cached by shared caches), or 404 ``missing``."""
    if data is None:
        return error_response("not_found", missing)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private"})
