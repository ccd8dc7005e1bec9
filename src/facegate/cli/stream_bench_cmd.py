"""``facegate bench stream`` (real clients on loopback), ``facegate bench tracking`` and
``facegate bench cuts`` (names after hard cuts between people on the same spot)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from facegate.cli.app import EXIT_BAD_INPUT, print_json


def _human(report: dict[str, Any]) -> str:
    o = report["overall"]
    line = (
        f"{report['clients']} clients x {report['fps']} fps, {report['width']}x{report['height']}:"
        f" sent {o['sent_fps']} fps, results {o['result_fps']} fps, latency p50"
        f" {o['latency_ms_p50']} p95 {o['latency_ms_p95']} p99 {o['latency_ms_p99']} ms,"
        f" dropped {o['dropped_ratio']:.1%}, growing {o['latency_growing']}"
    )
    if "server_cpu_cores" in o:
        line += f", server CPU {o['server_cpu_cores']} cores"
    return line


def register_stream_bench(bench_app: typer.Typer) -> None:
    """Add ``stream``, ``tracking`` and ``cuts`` to the ``bench`` sub-app."""

    @bench_app.command("stream")
    def stream_bench(
        video: Annotated[Path, typer.Option("--video", help="video streamed by every client")],
        clients: Annotated[int, typer.Option("--clients", min=1, help="concurrent clients")] = 4,
        fps: Annotated[float, typer.Option("--fps", min=0.1, help="frames/s per client")] = 15.0,
        seconds: Annotated[float, typer.Option("--seconds", min=1.0, help="measured")] = 20.0,
        warmup: Annotated[float, typer.Option(min=0.0, help="seconds not measured")] = 2.0,
        server: Annotated[
            str | None, typer.Option("--server", help="HOST:PORT of a running server")
        ] = None,
        key: Annotated[str, typer.Option("--key", envvar="FACEGATE_API_KEY")] = "bench",
        width: Annotated[int, typer.Option(min=32)] = 640,
        height: Annotated[int, typer.Option(min=32)] = 480,
        data_dir: Annotated[
            Path | None, typer.Option("--data-dir", help="gallery of a self-started server")
        ] = None,
        lockstep: Annotated[
            bool,
            typer.Option(
                "--lockstep",
                help="every client sends the same frame at once (worst case); default: client"
                " k starts k/N of the way into the video, as independent cameras would",
            ),
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        """Throughput and latency of the stream server under N real-time clients."""
        from facegate.bench.stream_bench import VideoError, run_stream_bench
        from facegate.stream.sources import parse_server

        try:
            report = run_stream_bench(
                video,
                clients=clients,
                fps=fps,
                seconds=seconds,
                server=parse_server(server) if server else None,
                key=key,
                width=width,
                height=height,
                warmup=warmup,
                data_dir=data_dir,
                lockstep=lockstep,
            )
        except (VideoError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        if as_json:
            print_json(report)
        else:
            typer.echo(_human(report))

    @bench_app.command("tracking")
    def tracking_bench(
        faces_dir: Annotated[
            Path, typer.Option("--faces-dir", help="the dev set (people/ and videos/)")
        ],
        distractors: Annotated[int, typer.Option(min=0, help="other people enrolled")] = 50,
        modes: Annotated[
            list[str] | None,
            typer.Option("--mode", help="only these modes (repeat); default: all"),
        ] = None,
    ) -> None:
        """Tracking + re-embed cadence vs. embedding every face every frame, on the dev videos.

        Enrols the Hamilton clip's three people plus distractors, then runs the stream
        pipeline (no network, one thread) over short_hamilton_clip.mp4,
        royal_opera_house_walkers.mp4 (nobody enrolled: every name there is wrong) and
        obama.mp4. ``track_cadence_skip`` is the server's mode with ``stream.detect_every``.
        """
        from facegate.bench.stream_bench import TRACKING_MODES, measure_tracking

        unknown = sorted(set(modes or ()) - set(TRACKING_MODES))
        if unknown:
            typer.echo(
                f"error: unknown mode {unknown[0]!r}; use {', '.join(TRACKING_MODES)}", err=True
            )
            raise typer.Exit(EXIT_BAD_INPUT)

        names = ["Lin_Manuel_Miranda", "Alex_Lacamoire", "Barack_Obama"]
        videos = {
            faces_dir / "videos" / "short_hamilton_clip.mp4": set(names),
            faces_dir / "videos" / "royal_opera_house_walkers.mp4": set(),
            faces_dir / "videos" / "obama.mp4": {"Barack_Obama"},
        }
        chosen = tuple(modes) if modes else TRACKING_MODES
        print_json(measure_tracking(videos, faces_dir / "people", names, distractors, chosen))

    @bench_app.command("cuts")
    def cuts_bench(
        faces_dir: Annotated[Path, typer.Option("--faces-dir", help="the dev set (people/)")],
        frames: Annotated[int, typer.Option(min=5, help="frames per person")] = 30,
        cut_detection: Annotated[
            bool, typer.Option(help="--no-cut-detection: the per-track checks alone")
        ] = True,
    ) -> None:
        """Hard cuts between people on the same spot: wrong names and time to the right one.

        Builds synthetic clips from dev photos (two enrolled people taking turns, and a
        stranger between them), runs the stream pipeline over them (no network, one thread)
        and reports per segment the frames showing a wrong confirmed name and the frames
        until the right name was confirmed.
        """
        from facegate.bench.cut_clips import measure_cuts

        print_json(measure_cuts(faces_dir / "people", frames, cut_detection=cut_detection))
