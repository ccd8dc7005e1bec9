"""schemathesis against the published OpenAPI document: no generated request, whether it fits
the schema or breaks it, makes the server answer 5xx. Derandomised, with few examples per
operation, so the run is quick and the same every time.

Once with authentication off (every request reaches its handler), then with it on and a key
of each scope: an operation the committed route table (tests/api/route_scopes.json) does not
grant to that scope must refuse every generated request with 403, whatever its parameters."""

from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from facegate.api import create_app
from facegate.api.keys import SCOPES, KeyStore
from facegate.config import Settings
from facegate.gallery import open_store
from tests.api.test_route_scopes import TABLE

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")
from schemathesis import GenerationMode  # noqa: E402 (only once the skip above did not fire)

EXAMPLES = 12
REFUSED_EXAMPLES = 2

# Fuzzing every operation takes minutes: not in the edit loop's fast tier.
pytestmark = pytest.mark.slow


def fuzz(
    operation: Any,
    mode: GenerationMode,
    seen: Counter[str],
    failures: list[str],
    *,
    headers: dict[str, str] | None = None,
    refused: bool = False,
    examples: int = EXAMPLES,
) -> None:
    """Send generated requests for one operation (valid ones, or ones that break the schema);
    record every status and each 5xx (and, when ``refused``, each answer that is not 403)."""
    label = f"{mode.value} {operation.label}"

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        response = case.call(headers=headers)
        seen[f"{label} {response.status_code}"] += 1
        # The request gate checks the key and the route's scope before it reads a body, so a
        # refused caller gets 403 whatever it sent (docs/security.md).
        refusal_ok = response.status_code == 403
        wrong = response.status_code >= 500 or (refused and not refusal_ok)
        if wrong:
            failures.append(
                f"{label}: {response.status_code} {response.text[:200]}\n  {case.as_curl_command()}"
            )
        assert not wrong

    # A failure is recorded above; go on with the other operations. An operation without
    # parameters has no way to break its schema (Unsatisfiable in negative mode).
    with contextlib.suppress(AssertionError, Unsatisfiable):
        check()


def test_no_generated_request_causes_a_server_error(tmp_path_factory: pytest.TempPathFactory):
    # Auth off so generated requests reach the handlers instead of stopping at 401 (the
    # in-process client's Host names are allowed: without auth only loopback names are).
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    hosts = ["testserver", "localhost"]
    app = create_app(Settings(data_dir=data_dir, api_auth=False, api_allowed_hosts=hosts))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14  # people, faces, recognition, compat, health
    seen: Counter[str] = Counter()
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(operation, mode, seen, failures)
    print(sorted(seen.items()))
    assert sum(seen.values()) >= len(operations) * 3, seen  # requests were really made
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("scope", SCOPES)
def test_each_scope_gets_no_server_error_and_no_more_than_its_table_row(
    tmp_path_factory: pytest.TempPathFactory, scope: str
):
    data_dir: Path = tmp_path_factory.mktemp("fuzz-auth")
    app = create_app(Settings(data_dir=data_dir))
    store = open_store(Settings(data_dir=data_dir))
    _, secret = KeyStore(store.db).create(scope, "fuzz")
    store.close()
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    seen: Counter[str] = Counter()
    failures: list[str] = []
    for operation in operations:
        access = TABLE[f"{operation.method.upper()} {operation.path}"]
        refused = not (access == "public" or scope == "admin" or access == scope)
        # The gate refuses before it reads parameters or a body, so a refused operation
        # needs only a few requests to show it; granted ones reach their handlers.
        examples = REFUSED_EXAMPLES if refused else EXAMPLES // 2
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(operation, mode, seen, failures, headers={"X-API-Key": secret},
                 refused=refused, examples=examples)  # fmt: skip
    print(scope, sorted(seen.items()))
    assert sum(seen.values()) >= len(operations), seen
    assert not failures, "\n".join(failures)
