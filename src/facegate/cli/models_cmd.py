"""``facegate models ...``: producing model variants locally (nothing is downloaded)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from facegate.cli.app import fail, print_json
from facegate.config import Settings
from facegate.engine.quantize import Int8Layers
from facegate.errors import FacegateError

models_app = typer.Typer(help="Model variants built from local files", no_args_is_help=True)


@models_app.command("quantize")
def quantize(
    calibration: Annotated[
        list[Path],
        typer.Option("--calibration", help="folder of development images (repeatable)"),
    ],
    out: Annotated[Path, typer.Option("--out", help="the int8 OpenVINO IR to write (.xml)")],
    faces: Annotated[int, typer.Option(min=10, help="calibration faces to use at most")] = 300,
    int8_layers: Annotated[
        Int8Layers,
        typer.Option(
            "--int8-layers",
            help=(
                "which layers become int8, the rest stays bf16: all; pointwise (depthwise "
                "convolutions kept in bf16); deep (only convolutions with 512 or more input "
                "channels, and the last layer); fc (only the final fully connected layer)"
            ),
        ),
    ] = Int8Layers.ALL,
) -> None:
    """Int8-quantise the recogniser with NNCF, calibrated on faces found in local images.

    Use it by setting FACEGATE_RECOGNIZER_MODEL to the written .xml (docs/performance.md has
    each variant's measured accuracy and speed: --int8-layers fc kept the LFW and CASIA
    accuracy and TAR of the bf16 model, thresholds within 0.0004, and is 6-11 % faster per
    face; all is about 18 % faster but loses 2 of 800 CASIA pairs). Needs the bench extra.
    """
    from facegate.engine import FaceEngine
    from facegate.engine.quantize import quantize_recognizer

    for folder in calibration:
        if not folder.is_dir():
            raise typer.BadParameter(f"{folder} is not a folder", param_hint="--calibration")
    settings = Settings()
    try:
        engine = FaceEngine(settings, pool_size=1)
        report = quantize_recognizer(
            engine,
            calibration,
            out,
            limit=faces,
            source=settings.engine.recognizer_model,
            layers=int8_layers,
        )
    except FacegateError as exc:
        fail(exc, as_json=True)
    print_json(asdict(report))


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
