"""Every paged list route bounds ``limit`` and ``offset``: bad values answer 422 with a
message naming the parameter (never a 500), and ``limit`` is capped.

The routes are found from the app itself (every GET route with a ``limit`` query parameter),
so a new paged list is checked without being added here.
"""

from __future__ import annotations

import pytest

from tests.api.conftest import Api

BAD = {
    "limit": ["0", "-1", "100000", "9" * 40, "abc", "1.5", ""],
    "offset": ["-1", "9" * 40, "abc", "2.5"],
}


def paged_routes(api: Api) -> list[str]:
    """Every GET operation of the app's OpenAPI schema with a ``limit`` query parameter."""
    found = []
    for path, operations in api.app.openapi()["paths"].items():
        get = operations.get("get")
        if get is None:
            continue
        names = {p["name"] for p in get.get("parameters", []) if p["in"] == "query"}
        if "limit" in names:
            assert "offset" in names, f"{path} pages without an offset"
            found.append(path)
    return found


@pytest.mark.slow
def test_every_paged_list_bounds_limit_and_offset(sqlite_api: Api) -> None:
    routes = paged_routes(sqlite_api)
    assert {"/api/v1/people", "/api/v1/attendance/events", "/api/v1/access/events"} <= set(routes)
    for path in routes:
        for name, values in BAD.items():
            for value in values:
                r = sqlite_api.client.get(path, params={name: value}, headers=sqlite_api.admin)
                assert r.status_code == 422, (path, name, value, r.status_code, r.text)
                error = r.json()["error"]
                assert error["code"] == "invalid_request" and name in error["message"], error
        ok = sqlite_api.client.get(
            path, params={"limit": 1, "offset": 10**9}, headers=sqlite_api.admin
        )
        assert ok.status_code == 200, (path, ok.text)  # past the end: an empty page
        assert ok.json()["limit"] == 1 and ok.json()["offset"] == 10**9
