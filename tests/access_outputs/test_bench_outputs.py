"""``facegate bench outputs``: the JSON is complete (latency is reported, never asserted)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from facegate.bench.local_peers import MOSQUITTO
from facegate.cli import app


def test_bench_outputs_reports_every_output():
    result = CliRunner().invoke(app, ["bench", "outputs", "--messages", "3", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["messages"] == 3 and report["database"] == "sqlite"
    assert report["enqueue_ms"]["n"] == 3
    for output in ("webhook", "relay"):
        assert report["latency_ms"][output]["n"] == 3
        assert 0 < report["latency_ms"][output]["p50"] <= report["latency_ms"][output]["max"]
    if MOSQUITTO.exists():
        assert report["latency_ms"]["mqtt"]["n"] == 3
    else:
        assert report["latency_ms"]["mqtt"].startswith("skipped: ")
