"""``facegate bench gallery``: the vector index at scale (random unit vectors)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

import typer

from facegate.cli.app import EXIT_BAD_INPUT, print_json
from facegate.config import Settings


def _refusing_bad_input(
    run: Callable[..., dict[str, Any]], *args: Any, **kw: Any
) -> dict[str, Any]:
    """``run(...)``'s report; a ``ValueError`` (bad sizes or fractions, a non-empty database)
    is one line on stderr and exit 2, as for every command's bad input."""
    try:
        return run(*args, **kw)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from error


def register_gallery_bench(bench_app: typer.Typer) -> None:
    """Add the ``gallery`` command to the ``bench`` sub-app."""

    @bench_app.command("gallery")
    def gallery_bench(
        size: Annotated[int, typer.Option("--size", min=1, help="templates in the index")],
        dim: Annotated[int, typer.Option(min=8, help="embedding dimension")] = 128,
        queries: Annotated[int, typer.Option(min=1, help="single-probe searches timed")] = 500,
        k: Annotated[
            int | None,
            typer.Option(min=1, help="nearest templates per search (default: gallery_search_k)"),
        ] = None,
        exact_max: Annotated[
            int | None,
            typer.Option(help="exact search up to this size (default: gallery_exact_max)"),
        ] = None,
        approx: Annotated[
            str | None, typer.Option(help="approximate index: pq or hnsw (default: setting)")
        ] = None,
        probe_similarity: Annotated[
            float, typer.Option(help="cosine of each probe to its stored vector")
        ] = 0.6,
        seed: Annotated[int, typer.Option(help="random seed")] = 0,
        startup: Annotated[
            bool,
            typer.Option(
                "--startup",
                help="instead: start-up time and memory of N worker processes, cold build "
                "from the database vs mapped snapshot (fresh SQLite gallery in a temp dir)",
            ),
        ] = False,
        workers: Annotated[int, typer.Option(min=1, help="--startup: worker processes")] = 2,
        delete_fraction: Annotated[
            float | None,
            typer.Option(
                "--delete-fraction",
                help="instead: delete this share of the people while searches run, and "
                "report search latency before/during/after the compaction and wrong answers",
            ),
        ] = None,
        delete_batch: Annotated[
            int, typer.Option(min=1, help="--delete-fraction: people deleted per batch")
        ] = 1000,
        searchers: Annotated[
            int, typer.Option(min=1, help="--delete-fraction: searching threads")
        ] = 1,
        postgres: Annotated[
            bool,
            typer.Option(
                "--postgres",
                help="--startup/--delete-fraction: load into FACEGATE_DATABASE_URL instead "
                "(must be empty)",
            ),
        ] = False,
        as_json: Annotated[
            bool, typer.Option("--json", help="print machine-readable JSON")
        ] = False,
    ) -> None:
        """Search latency (p50/p95), recall@1 against exact search, build time and memory;
        with --startup, start-up time and memory per host for N workers; with
        --delete-fraction, searches while a share of the people is deleted and compacted."""
        from facegate.bench.gallery_bench import run_gallery_bench

        settings = Settings()
        database_url = settings.storage.database_url if postgres else None
        if delete_fraction is not None:
            from facegate.bench.gallery_churn import run_churn_bench

            churn = _refusing_bad_input(
                run_churn_bench,
                size,
                delete_fraction=delete_fraction,
                delete_batch=delete_batch,
                searchers=searchers,
                database_url=database_url,
                exact_max=exact_max,
                seed=seed,
            )
            if as_json:
                print_json(churn)
                return
            for name, lat in churn["latency"].items():
                typer.echo(
                    f"{name}: {lat['searches']} searches, "
                    f"p99 {lat.get('ms_p99', 0):.1f} ms, max {lat.get('ms_max', 0):.1f} ms"
                )
            typer.echo(
                f"deleted {churn['deleted_people']} people in {churn['delete_s']} s, "
                f"compaction {churn['compaction_s']} s, wrong answers {churn['wrong_answers']}, "
                f"survivor recall {churn['survivor_recall']}"
            )
            return
        if startup:
            from facegate.bench.gallery_startup import run_startup_bench

            report = _refusing_bad_input(
                run_startup_bench,
                size,
                workers=workers,
                database_url=database_url,
                exact_max=exact_max,
                seed=seed,
            )
            if as_json:
                print_json(report)
                return
            for mode in ("cold", "mapped"):
                m = report[mode]
                typer.echo(
                    f"{mode}: {report['workers']} workers x {report['size']} templates: "
                    f"start {m['start_s_max']:.2f} s, host RSS {m['host_rss_mb']:.0f} MB, "
                    f"host PSS {m['host_pss_mb']:.0f} MB"
                )
            return
        kind = approx or settings.gallery.approx_index
        if kind not in ("pq", "hnsw"):
            typer.echo("error: --approx must be pq or hnsw", err=True)
            raise typer.Exit(EXIT_BAD_INPUT)
        chosen: Literal["pq", "hnsw"] = "pq" if kind == "pq" else "hnsw"
        try:
            result = run_gallery_bench(
                size,
                dim=dim,
                queries=queries,
                k=settings.gallery.search_k if k is None else k,
                exact_max=settings.gallery.exact_max if exact_max is None else exact_max,
                approx=chosen,
                probe_similarity=probe_similarity,
                seed=seed,
            )
        except ValueError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from error
        report = result.as_dict()
        if as_json:
            print_json(report)
            return
        typer.echo(
            f"{report['size']} x {report['dim']}-D, {report['index']} index: "
            f"p50 {report['search_ms_p50']:.3f} ms, p95 {report['search_ms_p95']:.3f} ms, "
            f"recall@1 {report['recall_at_1']:.4f}, build {report['build_s']:.1f} s, "
            f"rss {report['rss_mb']:.0f} MB"
        )
