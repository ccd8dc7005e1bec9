"""schemathesis against the published OpenAPI document: no generated request, whether it fits
the schema or breaks it, makes the server answer 5xx. Derandomised, with few examples per
operation, so the run is quick and the same every time."""

from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from facegate.api import create_app
from facegate.config import Settings

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")
GenerationMode = schemathesis.GenerationMode

EXAMPLES = 12


def fuzz(operation: Any, mode: GenerationMode, seen: Counter[str], failures: list[str]) -> None:
    """Send generated requests for one operation (valid ones, or ones that break the schema);
    record every status and each 5xx."""
    label = f"{mode.value} {operation.label}"

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        response = case.call()
        seen[f"{label} {response.status_code}"] += 1
        if response.status_code >= 500:
            failures.append(
                f"{label}: {response.status_code} {response.text[:200]}\n  {case.as_curl_command()}"
            )
        assert response.status_code < 500

    # A failure is recorded above; go on with the other operations. An operation without
    # parameters has no way to break its schema (Unsatisfiable in negative mode).
    with contextlib.suppress(AssertionError, Unsatisfiable):
        check()


def test_no_generated_request_causes_a_server_error(tmp_path_factory: pytest.TempPathFactory):
    # Auth off so generated requests reach the handlers instead of stopping at 401.
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    app = create_app(Settings(data_dir=data_dir, api_auth=False))
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
