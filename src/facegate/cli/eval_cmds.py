"""``facegate eval verify``, ``facegate eval identify`` and ``facegate calibrate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facegate.cli.app import print_json, reported
from facegate.cli.options import JsonFlag
from facegate.config import Settings
from facegate.engine import FaceEngine

eval_app = typer.Typer(help="Measure accuracy on labelled data (prints JSON with --json).")

PairsOption = Annotated[
    Path,
    typer.Option("--pairs", exists=True, dir_okay=False, help="TSV: left_path right_path same"),
]
RootOption = Annotated[
    Path | None,
    typer.Option("--root", help="folder the paths are relative to (default: the pairs file's)"),
]


@eval_app.command("verify")
def eval_verify(
    pairs: PairsOption,
    root: RootOption = None,
    folds: Annotated[
        int | None, typer.Option(help="folds (default: 3 for 1,800 pairs, else 10)")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Verification accuracy with the LFW protocol: thresholds chosen on the other folds."""
    from facegate.eval.verification import evaluate_verification

    with reported(as_json=as_json):
        report = evaluate_verification(FaceEngine(Settings()), pairs, root, folds)
    if as_json:
        print_json(report)
        return
    typer.echo(
        f"{report['pairs']} pairs, {report['folds']} folds: accuracy {report['accuracy']:.4f} "
        f"± {report['accuracy_std']:.4f}, AUC {report['auc']:.4f}, "
        f"TAR@FAR=0.1% {report['tar_at_far']['0.001']:.4f}, threshold {report['threshold']:.3f}, "
        f"no face in {report['no_face']} image(s), {report['ms_per_image']:.1f} ms/image"
    )


@eval_app.command("identify")
def eval_identify(
    people: Annotated[
        Path,
        typer.Option("--people", exists=True, file_okay=False, help="one folder per identity"),
    ],
    enrol: Annotated[int, typer.Option("--enrol", min=1, help="images enrolled per identity")] = 2,
    as_json: JsonFlag = False,
) -> None:
    """Open-set identification (rank-1, TPIR at FPIR) through the product's gallery."""
    from facegate.eval.identification import evaluate_identification

    with reported(as_json=as_json):
        report = evaluate_identification(FaceEngine(Settings()), people, enrol)
    if as_json:
        print_json(report)
        return
    tpir = report["tpir_at_fpir"]
    typer.echo(
        f"{report['identities']} identities, {report['known_probes']} known and "
        f"{report['unknown_probes']} unknown probes: rank-1 {report['rank1']:.4f}, "
        f"TPIR {tpir['0.01']:.4f} at FPIR 1%, {tpir['0.1']:.4f} at FPIR 10%"
    )


def calibrate_command(
    pairs: Annotated[
        list[Path],
        typer.Option(
            "--pairs",
            exists=True,
            dir_okay=False,
            help="TSV pair file; repeat to calibrate on several populations at once",
        ),
    ],
    far: Annotated[float, typer.Option(help="target false-accept rate")] = 0.001,
    root: RootOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Print the similarity threshold that keeps false accepts at or below FAR on every file."""
    from facegate.eval.verification import calibrate

    with reported(as_json=as_json):
        report = calibrate(FaceEngine(Settings()), pairs, far, root)
    if as_json:
        print_json(report)
        return
    typer.echo(f"threshold {report['threshold']:.4f} keeps FAR <= {far} on every file:")
    for f in report["files"]:
        typer.echo(
            f"  {f['pairs_file']}: own threshold {f['own_threshold']:.4f}; at the chosen one "
            f"TAR {f['tar']:.4f}, FAR {f['far']:.4f} ({f['impostor_pairs']} impostor pairs)"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")
    app.command("calibrate")(calibrate_command)
