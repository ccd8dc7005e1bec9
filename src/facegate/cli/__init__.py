"""The ``facegate`` command line.

One Typer app; each area registers its commands from its own module so this file stays small.

Exit codes (documented in docs/cli.md): 0 success (for ``verify``: same person), 1 a
negative answer (``verify``: different people), 2 bad usage or bad input (unreadable image, no
face), 3 model or environment problem (model file missing or altered).
"""

from __future__ import annotations

from facegate.cli import (
    backup_cmd,
    bench,
    eval_cmds,
    faces,
    gallery_cmds,
    keys_cmd,
    models_cmd,
    people_cmds,
    reembed_cmd,
    serve_cmd,
)
from facegate.cli.access_cmd import register as register_access
from facegate.cli.app import app
from facegate.cli.attendance_cmd import register as register_attendance
from facegate.cli.cameras_cmd import register as register_cameras
from facegate.cli.config_cmd import register as register_config
from facegate.cli.doors_cmd import register as register_doors
from facegate.cli.stream_cmd import register as register_stream

faces.register(app)
gallery_cmds.register(app)
eval_cmds.register(app)
bench.register(app)
serve_cmd.register(app)
keys_cmd.register(app)
register_stream(app)
register_attendance(app)
register_doors(app)
register_access(app)
backup_cmd.register(app)
reembed_cmd.register(app)
_ = people_cmds  # registers on `facegate people`
register_cameras(app)
models_cmd.register(app)
register_config(app)


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
