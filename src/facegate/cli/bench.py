"""``facegate bench ...``: benchmarks that print JSON.

Each benchmark is one command on ``bench_app``; modules that add more (e.g. ``bench gallery``)
expose a ``register_*(bench_app)`` function and are wired in ``register`` below, so adding
one is one import and one call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from facegate.cli.access_bench_cmd import register_access_bench
from facegate.cli.app import EXIT_BAD_INPUT, EXIT_ENVIRONMENT, fail, print_json
from facegate.cli.cluster_bench_cmd import register_cluster_bench
from facegate.cli.gallery_bench_cmd import register_gallery_bench
from facegate.cli.outputs_bench_cmd import register_outputs_bench
from facegate.cli.stream_bench_cmd import register_stream_bench
from facegate.config import Settings
from facegate.errors import FacegateError

bench_app = typer.Typer(help="Benchmarks that print JSON", no_args_is_help=True)


def _human(report: dict[str, Any]) -> str:
    """A few readable lines; the JSON carries everything else."""
    lines = [
        f"{report['video']}: {report['frames']} frames at {report['width']}x{report['height']}, "
        f"flip_average={report['settings']['flip_average']}, "
        f"det_max_side={report['settings']['det_max_side']}"
    ]
    threads = report["threads"]
    rows = [
        (f"facegate ({threads} thread{'s' if threads != 1 else ''})", report["facegate"]),
        ("facegate (1 thread)", report.get("facegate_single_thread")),
        ("face_recognition (1 thread)", report.get("face_recognition")),
    ]
    for label, stats in rows:
        if not stats:
            continue
        lines.append(
            f"  {label:<30} {stats['fps']:7.2f} fps   p50 {stats['ms_per_frame_p50']:7.1f} ms"
            f"   p95 {stats['ms_per_frame_p95']:7.1f} ms"
            f"   {stats['faces_per_frame']:.2f} faces/frame"
        )
    if report.get("ratio_fps") is not None:
        line = f"  ratio_fps {report['ratio_fps']:.2f}x"
        if report.get("ratio_fps_single_thread") is not None:
            line += f" (single thread {report['ratio_fps_single_thread']:.2f}x)"
        if report.get("ratio_faces_per_s") is not None:
            line += f"; faces/s ratio {report['ratio_faces_per_s']:.2f}x"
        lines.append(line)
    load = report["load_average_1m"]
    line = f"  load average {load['before']:.1f} -> {load['after']:.1f} on {load['cores']} cores"
    if max(load["before"], load["after"]) > (load["cores"] or 1) + 0.5:
        line += " (busy machine: fps is understated; cpu_ms_per_frame in --json is steadier)"
    lines.append(line)
    return "\n".join(lines)


@bench_app.command("engine")
def engine_bench(
    video: Annotated[Path, typer.Option("--video", help="video file; every frame is used")],
    width: Annotated[int, typer.Option(min=32, help="resize frames to this width")] = 640,
    threads: Annotated[
        int | None,
        typer.Option(min=1, help="facegate worker threads (default: inference_threads)"),
    ] = None,
    max_frames: Annotated[
        int | None, typer.Option(min=1, help="use only the first M frames")
    ] = None,
    pool_size: Annotated[
        int | None,
        typer.Option(min=1, help="model instances per model (default: = threads; 1 = shared)"),
    ] = None,
    single_thread: Annotated[
        bool, typer.Option(help="also time facegate on one thread (the honest floor)")
    ] = True,
    baseline: Annotated[
        bool, typer.Option(help="also time face_recognition (needed for ratio_fps)")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print machine-readable JSON")] = False,
) -> None:
    """Frames/s of facegate (detect + align + embed) against face_recognition on one video.

    Engine settings come from FACEGATE_* variables (e.g. FACEGATE_FLIP_AVERAGE=false).
    """
    from facegate.bench.engine_bench import VideoError, run_engine_bench

    try:
        result = run_engine_bench(
            video,
            width=width,
            threads=threads,
            max_frames=max_frames,
            settings=Settings(),
            pool_size=pool_size,
            single_thread=single_thread,
            baseline=baseline,
        )
    except FacegateError as exc:
        fail(exc, as_json=as_json)
    except VideoError as exc:
        _fail_plain("bad_video", str(exc), EXIT_BAD_INPUT, as_json=as_json)
    except ImportError as exc:
        _fail_plain(
            "missing_baseline",
            f"{exc}; install the bench extra with `make setup` or pass --no-baseline",
            EXIT_ENVIRONMENT,
            as_json=as_json,
        )
    report = result.as_dict()
    if as_json:
        print_json(report)
    else:
        typer.echo(_human(report))


@bench_app.command("sizes")
def sizes_bench(
    image: Annotated[Path, typer.Argument(help="a photo, resized to each random size")],
    sizes: Annotated[int, typer.Option(min=1, help="random photo sizes to try")] = 30,
    seed: Annotated[int, typer.Option(help="random seed of the sizes")] = 7,
) -> None:
    """First against second detection of photos at sizes never seen before (JSON)."""
    from facegate.bench.sizes_bench import run_sizes_bench

    try:
        print_json(run_sizes_bench(image, sizes=sizes, seed=seed, settings=Settings()))
    except FacegateError as exc:
        fail(exc, as_json=True)


def _fail_plain(code: str, message: str, exit_code: int, *, as_json: bool) -> NoReturn:
    """Report a benchmark-only error (not a domain error) the way ``fail`` does."""
    if as_json:
        print_json({"error": {"code": code, "message": message}})
    else:
        typer.echo(f"error ({code}): {message}", err=True)
    raise typer.Exit(exit_code)


@bench_app.command("liveness")
def liveness_bench(
    data: Annotated[
        Path, typer.Option("--data", help="the dev face set (people/ and videos/)")
    ] = Path("../shared/data/faces"),
    photos: Annotated[int, typer.Option(min=1, help="dev photos used as printed attacks")] = 16,
    frames: Annotated[int, typer.Option(min=10, help="frames per attack sequence")] = 30,
    real_frames: Annotated[
        int, typer.Option(min=10, help="frames read from each dev video for real faces")
    ] = 150,
    as_json: Annotated[bool, typer.Option("--json", help="print machine-readable JSON")] = False,
) -> None:
    """APCER/BPCER of the liveness checks: real faces from the dev videos against synthetic
    printed-photo and screen-replay attacks, all through the real detector (docs/liveness.md).

    Settings (thresholds) come from FACEGATE_LIVENESS_* variables.
    """
    from facegate.bench.liveness_bench import run_liveness_bench

    if not (data / "people").is_dir() or not (data / "videos").is_dir():
        _fail_plain(
            "bad_data",
            f"{data} has no people/ and videos/ folders",
            EXIT_BAD_INPUT,
            as_json=as_json,
        )
    try:
        report = run_liveness_bench(
            data, Settings(), photos=photos, frames=frames, real_frames=real_frames
        )
    except FacegateError as exc:
        fail(exc, as_json=as_json)
    if as_json:
        print_json(report)
        return
    for check in ("passive", "challenge_vs_attacks"):
        typer.echo(check)
        for kind, row in report[check].items():
            rates = {k: v for k, v in row.items() if k.startswith(("apcer", "bpcer"))}
            typer.echo(
                f"  {kind:<16} n={row['samples']:<3} live {row['live']:<3} spoof "
                f"{row['spoof']:<3} undecided {row['undecided']:<3} {rates}"
            )


def register(app: typer.Typer) -> None:
    """Attach ``facegate bench`` (and every benchmark module's commands) to ``app``."""
    register_gallery_bench(bench_app)
    register_stream_bench(bench_app)
    register_access_bench(bench_app)
    register_outputs_bench(bench_app)
    register_cluster_bench(bench_app)
    app.add_typer(bench_app, name="bench")


@bench_app.command("http")
def http_bench(
    data: Annotated[
        Path, typer.Option("--data", help="the dev face set (people/, groups/)")
    ] = Path("../shared/data/faces"),
    clients: Annotated[int, typer.Option(min=1, help="concurrent clients")] = 20,
    seconds: Annotated[float, typer.Option(min=1.0, help="measured seconds per run")] = 20.0,
    warmup: Annotated[float, typer.Option(min=0.0, help="unmeasured seconds first")] = 3.0,
    workers: Annotated[
        list[int] | None, typer.Option("--workers", help="worker counts (repeatable)")
    ] = None,
) -> None:
    """Identify requests/s and latency from N concurrent clients against a self-started
    `facegate serve` (1 and 2 workers by default); JSON."""
    from facegate.bench.http_bench import run_http_bench

    if not (data / "people").is_dir():
        _fail_plain("bad_data", f"{data} has no people/ folder", EXIT_BAD_INPUT, as_json=True)
    report = run_http_bench(
        data,
        workers=tuple(workers or (1, 2)),
        clients=clients,
        warmup=warmup,
        seconds=seconds,
    )
    print_json(report)


@bench_app.command("peak")
def peak_bench(
    recognizer: Annotated[
        Path | None, typer.Option(help="another recogniser file (e.g. an int8 .xml)")
    ] = None,
) -> None:
    """The CPU's measured peak (GMAC/s of one large MatMul, f32/bf16/int8, one thread) next
    to each model's MACs and measured CPU time: the distance to the physical floor (JSON)."""
    from facegate.bench.peak_bench import run_peak_bench

    print_json(run_peak_bench(str(recognizer) if recognizer else None))


@bench_app.command("soak")
def soak_bench(
    minutes: Annotated[float, typer.Option("--minutes", min=0.5, help="how long")] = 5.0,
    data: Annotated[Path, typer.Option("--data", help="the dev face set")] = Path(
        "../shared/data/faces"
    ),
    video: Annotated[Path | None, typer.Option(help="streamed video (default: Hamilton)")] = None,
    sample_seconds: Annotated[float, typer.Option(min=5.0, help="window per sample")] = 30.0,
    streams: Annotated[int, typer.Option(min=0, help="stream clients")] = 4,
    fps: Annotated[float, typer.Option(min=0.5, help="frames/s per stream")] = 10.0,
    clients: Annotated[int, typer.Option(min=1, help="concurrent identify clients")] = 4,
) -> None:
    """Streams + identify + enrolments at once against a self-started `facegate serve`: RSS
    and latency over time, and a verdict from their slopes (JSON)."""
    from facegate.bench.soak_bench import run_soak

    clip = video or data / "videos" / "short_hamilton_clip.mp4"
    if not (data / "people").is_dir() or not clip.is_file():
        _fail_plain("bad_data", f"{data} lacks people/ or {clip}", EXIT_BAD_INPUT, as_json=True)
    print_json(
        run_soak(
            data,
            clip,
            minutes=minutes,
            sample_seconds=sample_seconds,
            streams=streams,
            fps=fps,
            clients=clients,
        )
    )
