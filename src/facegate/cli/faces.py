"""``facegate detect`` and ``facegate verify``: one-shot commands on image files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from facegate.cli.app import EXIT_NEGATIVE, print_json, reported
from facegate.cli.options import JsonFlag
from facegate.config import Settings
from facegate.engine import FaceEngine
from facegate.gallery.operating_point import OperatingPoint
from facegate.summaries import face_summary


def register(app: typer.Typer) -> None:
    @app.command()
    def detect(
        image: Annotated[Path, typer.Argument(help="image file")],
        as_json: JsonFlag = False,
    ) -> None:
        """Find every face in IMAGE: box, landmarks, detector score and quality."""
        with reported(as_json=as_json):
            engine = FaceEngine(Settings(), pool_size=1)
            faces = engine.analyze(engine.load(image))
        if as_json:
            print_json({"image": str(image), "faces": [face_summary(f) for f in faces]})
            return
        typer.echo(f"{image}: {len(faces)} face(s)")
        for i, face in enumerate(faces, 1):
            q = face.quality
            verdict = "ok" if q.ok else "; ".join(q.reasons)
            typer.echo(f"  {i}. box={face.box.as_list()} score={face.score:.2f} quality: {verdict}")

    @app.command()
    def verify(
        image1: Annotated[Path, typer.Argument(help="first image")],
        image2: Annotated[Path, typer.Argument(help="second image")],
        threshold: Annotated[
            float | None, typer.Option(help="similarity threshold (default: calibrated)")
        ] = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Are the main faces of IMAGE1 and IMAGE2 the same person? Exit 0 if yes, 1 if not."""
        settings = Settings()
        with reported(as_json=as_json):
            engine = FaceEngine(settings, pool_size=1)
            operating = OperatingPoint(settings, engine.model_id, engine.model_sha256)
            limit = operating.verify_threshold() if threshold is None else threshold
            a = engine.main_face(engine.load(image1))
            b = engine.main_face(engine.load(image2))
        similarity = float(np.dot(a.embedding, b.embedding))
        same = similarity >= limit
        if as_json:
            print_json(
                {
                    "same_person": same,
                    "similarity": round(similarity, 4),
                    "threshold": limit,
                    "faces": [face_summary(a), face_summary(b)],
                }
            )
        else:
            verdict = "same person" if same else "different people"
            typer.echo(f"{verdict} (similarity {similarity:.3f}, threshold {limit:.3f})")
        if not same:
            raise typer.Exit(EXIT_NEGATIVE)
