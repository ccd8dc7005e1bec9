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
    distractors: Annotated[
        Path | None,
        typer.Option(
            "--distractors",
            exists=True,
            file_okay=False,
            help="enrol first every identity of this folder that is not in the protocol",
        ),
    ] = None,
    only: Annotated[
        str | None, typer.Option("--only", help="only identities whose folder matches GLOB")
    ] = None,
    unknown_every: Annotated[
        int,
        typer.Option("--unknown-every", min=0, help="every K-th identity is a stranger (2: half)"),
    ] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Open-set identification (rank-1, TPIR at FPIR, and TPIR/FPIR at the default operating
    point) through the product's gallery."""
    from facegate.eval.identification import evaluate_identification

    with reported(as_json=as_json):
        report = evaluate_identification(
            FaceEngine(Settings()),
            people,
            enrol,
            only=only,
            unknown_every=unknown_every,
            distractors=distractors,
        )
    if as_json:
        print_json(report)
        return
    tpir = report["tpir_at_fpir"]
    typer.echo(
        f"{report['identities']} identities, {report['known_probes']} known and "
        f"{report['unknown_probes']} unknown probes: rank-1 {report['rank1']:.4f}, "
        f"TPIR {tpir['0.01']:.4f} at FPIR 1%, {tpir['0.1']:.4f} at FPIR 10%"
    )
    at = report["at_configured_threshold"]
    typer.echo(
        f"default operating point ({at['gallery_people']} people enrolled, target FPIR "
        f"{at['target_fpir']:.2%}): threshold {at['threshold']:.4f}, TPIR {at['tpir']:.4f}, "
        f"FPIR {at['fpir']:.4f}"
    )


@eval_app.command("video")
def eval_video(
    people: Annotated[
        Path,
        typer.Option("--people", exists=True, file_okay=False, help="one folder per identity"),
    ],
    videos: Annotated[
        Path | None,
        typer.Option(
            "--videos", exists=True, dir_okay=False, help="videos.tsv: path, identities listed"
        ),
    ] = None,
    enrol: Annotated[int, typer.Option("--enrol", min=1, help="photos enrolled per person")] = 2,
    unknown_every: Annotated[
        int, typer.Option("--unknown-every", min=2, help="synthetic: every K-th is a stranger")
    ] = 2,
    clips: Annotated[
        int, typer.Option("--clips", min=0, help="synthetic clips of strangers (and of known)")
    ] = 200,
    frames: Annotated[int, typer.Option("--frames", min=2, help="frames per synthetic clip")] = 15,
    as_json: JsonFlag = False,
) -> None:
    """False names per track through the stream pipeline: dev videos with the whole dev set
    enrolled, and synthetic clips of strangers' and enrolled people's photos."""
    from facegate.eval.video import evaluate_video

    with reported(as_json=as_json):
        report = evaluate_video(
            FaceEngine(Settings()),
            people,
            videos,
            enrol=enrol,
            unknown_every=unknown_every,
            clips=clips,
            frames=frames,
        )
    if as_json:
        print_json(report)
        return
    for name, v in report.get("dev_videos", {}).get("videos", {}).items():
        typer.echo(
            f"{name}: {v['tracks']} tracks, {v['named_tracks']} named, "
            f"{v['false_named_tracks']} with a false name {v['false_names']}"
        )
    if "synthetic" in report:
        syn = report["synthetic"]
        typer.echo(
            f"synthetic ({syn['gallery_people']} people enrolled, threshold "
            f"{syn['threshold']:.4f}): {syn['stranger_tracks_named']} of "
            f"{syn['stranger_tracks']} stranger tracks named (FPIR per track "
            f"{syn['fpir_per_track']:.4f}); {syn['known_clips_named_right']} of "
            f"{syn['known_clips']} enrolled people named right"
        )


def calibrate_command(
    pairs: Annotated[
        list[Path] | None,
        typer.Option(
            "--pairs",
            exists=True,
            dir_okay=False,
            help="1:1 mode: TSV pair file; repeat to calibrate on several populations at once",
        ),
    ] = None,
    far: Annotated[float, typer.Option(help="1:1 mode: target false-accept rate")] = 0.001,
    root: RootOption = None,
    people: Annotated[
        list[Path] | None,
        typer.Option(
            "--people",
            exists=True,
            file_okay=False,
            help="open-set mode: one folder per identity; repeat for several populations",
        ),
    ] = None,
    group: Annotated[
        list[str] | None,
        typer.Option(
            "--group",
            help="open-set mode: NAME=GLOB makes the matching identity folders their own "
            "population (e.g. east-asian='CASIA5_*')",
        ),
    ] = None,
    fpir: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="open-set mode: target FPIR")
    ] = 0.01,
    enrol: Annotated[
        int, typer.Option("--enrol", min=1, help="open-set mode: photos per gallery person")
    ] = 2,
    write: Annotated[
        Path | None,
        typer.Option(
            "--write",
            dir_okay=False,
            help="open-set mode: add the calibration to this table file "
            "(FACEGATE_MATCH_CALIBRATION_FILE; the shipped one is gallery/operating_points.json)",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Thresholds from dev data. 1:1 (--pairs): the similarity threshold that keeps false
    accepts at or below FAR on every file. Open set (--people): the threshold that names at
    most FPIR of strangers, as a function of the number of enrolled people, strictest over
    the populations."""
    if (pairs is None) == (people is None):
        raise typer.BadParameter("give either --pairs FILE... (1:1) or --people DIR... (open set)")
    if people is not None:
        _calibrate_open_set(people, group or [], fpir, enrol, write, as_json)
        return
    from facegate.eval.verification import calibrate

    with reported(as_json=as_json):
        report = calibrate(FaceEngine(Settings()), pairs or [], far, root)
    if as_json:
        print_json(report)
        return
    typer.echo(f"threshold {report['threshold']:.4f} keeps FAR <= {far} on every file:")
    for f in report["files"]:
        typer.echo(
            f"  {f['pairs_file']}: own threshold {f['own_threshold']:.4f}; at the chosen one "
            f"TAR {f['tar']:.4f}, FAR {f['far']:.4f} ({f['impostor_pairs']} impostor pairs)"
        )


def _calibrate_open_set(
    people: list[Path],
    groups: list[str],
    fpir: float,
    enrol: int,
    write: Path | None,
    as_json: bool,
) -> None:
    from facegate.eval.open_set import calibrate_open_set
    from facegate.gallery.operating_point import write_table

    if not 0 < fpir < 1:
        raise typer.BadParameter("--fpir must be between 0 and 1")
    command = " ".join(
        ["facegate calibrate", *(f"--people {p}" for p in people)]
        + [f"--group '{g}'" for g in groups]
        + [f"--fpir {fpir}", f"--enrol {enrol}"]
    )
    with reported(as_json=as_json):
        calibration, report = calibrate_open_set(
            FaceEngine(Settings()), people, groups, fpir, enrol, command
        )
        if write is not None:
            write_table(write, calibration)
            report["written_to"] = str(write)
    if as_json:
        print_json(report)
        return
    pops = ", ".join(
        f"{p['population']} ({p['gallery_people']} people, {p['scores']} impostor scores)"
        for p in report["populations"]
    )
    typer.echo(f"threshold naming at most {fpir:.2%} of strangers, by gallery size; {pops}:")
    for row in report["thresholds"]:
        own = ", ".join(f"{k} {v:.4f}" for k, v in row["own_threshold"].items())
        typer.echo(f"  {row['people']:>7} people: {row['threshold']:.4f}  ({own})")
    if write is not None:
        typer.echo(f"written to {write}")


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")
    app.command("calibrate")(calibrate_command)
