"""``facegate bench gallery --delete-fraction``: deleting a fifth of a gallery while searches
run. Checks what the report says and that it is right (no deleted person answered once the
worker knew, survivors found); the timings are the bench's to report, never asserted."""

from __future__ import annotations

import math

import pytest
from typer.testing import CliRunner

from facegate.bench.gallery_churn import run_churn_bench
from facegate.cli import app
from facegate.config import Settings

PHASES = {"before", "deleting", "compacting", "after"}


@pytest.mark.slow
def test_deleting_a_fifth_while_searching_answers_right(settings: Settings) -> None:
    """20k templates on an approximate index (exact up to 1,000): 1,334 people deleted in
    batches, the index compacts, and the searches throughout, in this process and in a second
    worker process, never return a deleted person after the worker reached its deletion's
    revision."""
    report = run_churn_bench(
        20_000,
        delete_batch=400,
        baseline_s=1.0,
        after_s=1.0,
        settle_timeout_s=300.0,
        exact_max=1000,
        database_url=settings.storage.database_url,
    )
    people = 20_000 // 3
    assert report["size"] == 3 * people and report["deleted_people"] == math.ceil(0.2 * people)
    assert report["database"] == ("postgres" if settings.storage.database_url else "sqlite")
    assert report["compacted"] is True and report["compaction_s"] > 0
    assert report["rebuilds"] and all(r["build_s"] >= 0 for r in report["rebuilds"])
    assert report["latency"].keys() == PHASES
    for name in ("before", "deleting", "after"):
        lat = report["latency"][name]
        assert lat["searches"] > 0 and 0 < lat["ms_p50"] <= lat["ms_p99"] <= lat["ms_max"]
    # this process and the second worker process, judged alike
    for worker in (report, report["other_worker"]):
        assert worker["wrong_answers"] == 0
        assert worker["survivor_searches"] > 0 and worker["survivor_recall"] >= 0.99
        # the probes of the people to be deleted found them while they were there
        assert worker["doomed_recall_before"] >= 0.99
        assert worker["latency"]["before"]["searches"] > 0
    assert report["rss_mb"] > 0


def test_churn_mode_refuses_a_fraction_out_of_range() -> None:
    result = CliRunner().invoke(
        app, ["bench", "gallery", "--size", "3000", "--delete-fraction", "1.5", "--json"]
    )
    assert result.exit_code == 2 and "delete_fraction" in result.output
