"""``facegate bench cluster``: real CPU-capped hosts on one PostgreSQL answer identify
requests, one run per host count, and nothing is left behind (cgroups, processes, the
throwaway database). A short run: it checks what the report measures, not how fast."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from facegate.bench import cluster_bench
from facegate.cli import app

pytestmark = [pytest.mark.cluster, pytest.mark.postgres, pytest.mark.slow]


def test_bench_cluster_loads_every_host_count(faces_dir: Path, pg_admin_url: str):
    result = CliRunner().invoke(
        app,
        ["bench", "cluster", "--data", str(faces_dir), "--database-url", pg_admin_url,
         "--hosts", "2", "--cpu-quota", "0.5", "--clients", "2", "--seconds", "2",
         "--warmup", "1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [r["hosts"] for r in report["runs"]] == [1, 2]
    for run in report["runs"]:
        assert run["requests"] > 0 and run["errors"] == 0, run
        assert run["requests_per_s"] > 0 and run["clients"] == 2 * run["hosts"]
    assert len(report["caps"]) == 2 and report["enrolled_people"] > 0
    found = cluster_bench._cgroup_root()
    if found is not None:
        assert not list(found[0].glob("facegate-bench-*")), "a cgroup was left behind"
    with psycopg.connect(pg_admin_url) as conn:
        left = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = 'facegate_bench_cluster'"
        ).fetchall()
    assert left == []
