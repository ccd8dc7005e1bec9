"""``facegate bench gallery``: the report's keys and that it measures what it says."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from facegate.bench.gallery_bench import run_gallery_bench
from facegate.cli import app

KEYS = {"size", "search_ms_p50", "search_ms_p95", "recall_at_1", "build_s", "rss_mb", "index"}


def test_bench_reports_exact_and_approximate() -> None:
    exact = run_gallery_bench(2000, queries=20, exact_max=10_000).as_dict()
    fast = run_gallery_bench(3000, queries=50, exact_max=1000).as_dict()
    assert exact.keys() >= KEYS and (exact["index"], fast["index"]) == ("exact", "pq")
    assert exact["recall_at_1"] == 1.0 and fast["recall_at_1"] >= 0.95
    assert 0 < fast["search_ms_p50"] <= fast["search_ms_p95"]
    assert fast["rss_mb"] > 0 and fast["size"] == 3000


def test_bench_gallery_command_prints_json() -> None:
    result = CliRunner().invoke(
        app, ["bench", "gallery", "--size", "1500", "--queries", "10", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report.keys() >= KEYS and report["size"] == 1500


@pytest.mark.processes
def test_startup_bench_starts_real_workers_cold_and_mapped() -> None:
    from facegate.bench.gallery_startup import run_startup_bench

    report = run_startup_bench(3000, workers=2, exact_max=1000)
    assert report["size"] == 3000 and report["snapshot_mb"] > 0
    cold, mapped = report["cold"], report["mapped"]
    assert [w["source"] for w in cold["workers"]] == ["memory", "memory"]
    assert all(w["source"].startswith("gallery-") for w in mapped["workers"])
    for mode in (cold, mapped):
        assert len(mode["workers"]) == 2 and mode["start_s_max"] > 0
        for w in mode["workers"]:
            if w["rss_mb"]:  # /proc/PID/smaps_rollup exists (Linux 4.14+)
                assert 0 < w["pss_mb"] <= w["rss_mb"] and w["shared_mb"] > 0
