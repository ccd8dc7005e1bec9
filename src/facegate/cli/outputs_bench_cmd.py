"""``facegate bench outputs``: latency from a door decision to its webhook, MQTT and relay."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from facegate.cli.app import print_json


def _human(report: dict[str, Any]) -> str:
    lines = [f"{report['messages']} messages, {report['database']}; {report['measured']}"]
    e = report["enqueue_ms"]
    lines.append(f"  enqueue (recognition's cost)  p50 {e['p50']} ms  p95 {e['p95']} ms")
    for output, stats in report["latency_ms"].items():
        if isinstance(stats, str):
            lines.append(f"  {output:<8} {stats}")
        else:
            lines.append(
                f"  {output:<8} p50 {stats['p50']} ms  p95 {stats['p95']} ms  max {stats['max']} ms"
            )
    return "\n".join(lines)


def register_outputs_bench(bench_app: typer.Typer) -> None:
    """Add the ``outputs`` command to the ``bench`` sub-app."""

    @bench_app.command("outputs")
    def outputs_bench(
        messages: Annotated[int, typer.Option("--messages", min=1, max=10_000)] = 50,
        database_url: Annotated[
            str | None,
            typer.Option("--database-url", help="default: a throwaway SQLite file"),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        """Door outputs: decision-to-receiver latency on loopback (HTTP, Mosquitto)."""
        from facegate.bench.outputs_bench import run_outputs_bench

        report = run_outputs_bench(messages=messages, database_url=database_url)
        if as_json:
            print_json(report)
        else:
            typer.echo(_human(report))
