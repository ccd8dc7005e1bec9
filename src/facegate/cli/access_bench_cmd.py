"""``facegate bench access``: capture -> door decision latency (``facegate.bench.access_bench``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facegate.cli.app import EXIT_BAD_INPUT, print_json


def register_access_bench(bench_app: typer.Typer) -> None:
    """Add ``access`` to the ``bench`` sub-app."""

    @bench_app.command("access")
    def access_bench(
        video: Annotated[Path, typer.Option("--video", help="a clip of one person walking up")],
        photos: Annotated[
            Path, typer.Option("--photos", help="folder of that person's photos (enrolled)")
        ],
        walks: Annotated[int, typer.Option("--walks", min=1, max=1000)] = 10,
        frames: Annotated[int, typer.Option("--frames", min=5, help="frames per walk")] = 45,
        fps: Annotated[float, typer.Option("--fps", min=1.0, max=120.0)] = 15.0,
        database_url: Annotated[str | None, typer.Option("--database-url")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        """Latency from a frame's capture to the door's decision, over TCP on loopback."""
        from facegate.bench.access_bench import run_access_bench

        if not video.is_file() or not photos.is_dir():
            typer.echo("error (invalid_input): --video must be a file, --photos a folder", err=True)
            raise typer.Exit(EXIT_BAD_INPUT)
        try:
            report = run_access_bench(
                video, photos, walks=walks, frames=frames, fps=fps, database_url=database_url
            )
        except ValueError as exc:
            typer.echo(f"error (invalid_input): {exc}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        if as_json:
            print_json(report)
            return
        d, w = report["capture_to_decision_ms"], report["watcher_to_decision_ms"]
        typer.echo(
            f"{report['granted']} of {report['walks']} walks granted; capture -> decision p50 "
            f"{d.get('p50')} p95 {d.get('p95')} ms; watcher -> decision p50 {w.get('p50')} "
            f"p95 {w.get('p95')} ms"
        )
