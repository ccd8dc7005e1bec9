"""What the routes over the attendance log and the door events ask and answer alike: the
dates a query may name, query times in site time, CSV downloads and snapshot answers.

One place, so both logs accept the same range (a date outside it would overflow a database
or a time zone conversion) and read an offset-less time the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, date, datetime, tzinfo
from typing import TypeVar

from fastapi import Response
from fastapi.responses import StreamingResponse

from facegate.api.errors import error_response
from facegate.errors import InvalidInput

EARLIEST, LATEST = date(1970, 1, 2), date(2999, 12, 30)
CSV_TYPE = "text/csv; charset=utf-8"
# A CSV download is read and written a page at a time (never the whole log in memory) and
# stops after CSV_MAX_ROWS rows; narrow the range (since/until, date) for more.
CSV_PAGE_ROWS = 1000
CSV_MAX_ROWS = 1_000_000

T = TypeVar("T")


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


def frozen_until(until: datetime | None) -> datetime:
    """The end of a streamed export's range, fixed when the request starts: events logged
    while it streams are left out, so paging by offset never repeats or skips a row."""
    now = datetime.now(UTC)
    return now if until is None or until > now else until


def csv_stream(
    fetch: Callable[[int, int], Sequence[T]],
    render: Callable[[Sequence[T], bool], str],
    filename: str,
    *,
    page_rows: int | None = None,
    max_rows: int | None = None,
) -> StreamingResponse:
    """A CSV download streamed page by page: ``fetch(limit, offset)`` reads a page (in a
    worker thread: the database blocks) and ``render(items, first)`` writes its rows (the
    header with the first page). At most ``max_rows`` rows (default ``CSV_MAX_ROWS``)."""
    page_n = page_rows or CSV_PAGE_ROWS
    cap = max_rows or CSV_MAX_ROWS

    async def body() -> AsyncIterator[bytes]:
        offset = 0
        while True:
            limit = min(page_n, cap - offset)  # never 0: a store reads 0 as "no limit"
            items = await asyncio.to_thread(fetch, limit, offset) if limit > 0 else []
            if offset == 0 or items:
                yield (await asyncio.to_thread(render, items, offset == 0)).encode()
            offset += len(items)
            if len(items) < page_n or offset >= cap:
                return

    return StreamingResponse(
        body(),
        media_type=CSV_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def snapshot_response(data: bytes | None, missing: str) -> Response:
    """An event's face snapshot (never cached by shared caches), or 404 ``missing``."""
    if data is None:
        return error_response("not_found", missing)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private"})
