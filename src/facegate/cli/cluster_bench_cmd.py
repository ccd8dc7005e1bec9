"""``facegate bench cluster``: identify requests/s with 1, 2, 3 CPU-capped hosts on one
PostgreSQL (facegate.bench.cluster_bench; docs/cluster.md quotes it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facegate.cli.app import EXIT_BAD_INPUT, EXIT_ENVIRONMENT, print_json
from facegate.cli.options import DatabaseUrlOption
from facegate.config import Settings


def register_cluster_bench(bench_app: typer.Typer) -> None:
    """Add the ``cluster`` command to the ``bench`` sub-app."""

    @bench_app.command("cluster")
    def cluster_bench(
        data: Annotated[
            Path, typer.Option("--data", help="the dev face set (people/, groups/)")
        ] = Path("../shared/data/faces"),
        database_url: DatabaseUrlOption = None,
        hosts: Annotated[int, typer.Option(min=1, max=8, help="up to this many hosts")] = 3,
        cpu_quota: Annotated[
            float, typer.Option(min=0.05, help="cores each host may use (cgroup quota)")
        ] = 0.5,
        clients: Annotated[int, typer.Option(min=1, help="concurrent clients per host")] = 4,
        seconds: Annotated[float, typer.Option(min=1.0, help="measured seconds per run")] = 15.0,
        warmup: Annotated[float, typer.Option(min=0.0, help="unmeasured seconds first")] = 3.0,
    ) -> None:
        """Identify requests/s of 1..N hosts on one PostgreSQL, each CPU-capped (JSON). A
        throwaway database is created next to the given one (needs CREATE DATABASE)."""
        from facegate.bench.cluster_bench import run_cluster_bench

        url = database_url or Settings().storage.database_url
        if not url or not url.startswith(("postgresql://", "postgres://")):
            typer.echo("a PostgreSQL --database-url (or FACEGATE_DATABASE_URL) is needed", err=True)
            raise typer.Exit(EXIT_BAD_INPUT)
        if not (data / "people").is_dir():
            typer.echo(f"{data} has no people/ folder", err=True)
            raise typer.Exit(EXIT_BAD_INPUT)
        try:
            report = run_cluster_bench(
                data, url, hosts=hosts, cpu_quota=cpu_quota, clients_per_host=clients,
                warmup=warmup, seconds=seconds,
            )  # fmt: skip
        except RuntimeError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(EXIT_ENVIRONMENT) from exc
        print_json(report)
