"""``facegate serve``: the HTTP API and pages under uvicorn, on one or several processes.

Settings reach the server through ``FACEGATE_*`` environment variables, so a single process
and N worker processes are started the same way: uvicorn imports the app factory
``facegate.api.app:app_from_env`` in each process, and each builds its own ``Services``. The
workers share the gallery through its database (SQLite file or PostgreSQL).

Secrets stay out of argv (``ps`` shows every process's arguments to every local user): camera
URLs with passwords belong in ``FACEGATE_CAMERAS`` or a file named by ``--cameras-file``;
``--camera`` with credentials works but warns. Logs never show a query string or a URL's
credentials (facegate.redact).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from facegate.cli.options import DatabaseUrlOption, DataDirOption

log = logging.getLogger("facegate.serve")


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
        workers: Annotated[
            int, typer.Option(min=1, help="processes; they share the gallery database")
        ] = 1,
        data_dir: DataDirOption = None,
        database_url: DatabaseUrlOption = None,
        no_auth: Annotated[
            bool, typer.Option("--no-auth", help="no API keys: local experiments ONLY")
        ] = False,
        log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
        stream_port: Annotated[
            int | None,
            typer.Option(min=0, max=65535, help="TCP stream server port (default 8001)"),
        ] = None,
        no_stream: Annotated[
            bool, typer.Option("--no-stream", help="do not run the TCP stream server")
        ] = False,
        camera: Annotated[
            list[str] | None,
            typer.Option(
                help="NAME=SOURCE (device index, video file, RTSP/HTTP URL, image folder); "
                "repeatable; added to FACEGATE_CAMERAS. A password here is visible in the "
                "process list: use --cameras-file for cameras with credentials"
            ),
        ] = None,
        cameras_file: Annotated[
            Path | None,
            typer.Option(
                help="JSON list of cameras ({name, source, always_on, direction}); "
                "keep it mode 0600 (FACEGATE_CAMERAS_FILE)"
            ),
        ] = None,
    ) -> None:
        """Serve the HTTP API (/api/v1, docs at /docs) and the admin pages."""
        import uvicorn

        from facegate.config import InvalidSettings, Settings
        from facegate.redact import quiet_leaky_loggers

        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        quiet_leaky_loggers()
        if data_dir is not None:
            os.environ["FACEGATE_DATA_DIR"] = str(data_dir)
        if database_url is not None:
            os.environ["FACEGATE_DATABASE_URL"] = database_url
        if no_auth:
            os.environ["FACEGATE_API_AUTH"] = "false"
            typer.secho(
                "WARNING: --no-auth: the API and pages are open to anyone who can reach "
                f"{host}:{port}. Never use this outside a local experiment.",
                fg=typer.colors.RED,
                bold=True,
                err=True,
            )
        if cameras_file is not None:
            os.environ["FACEGATE_CAMERAS_FILE"] = str(cameras_file.resolve())
        _live_environment(workers, stream_port, no_stream, camera or [])
        try:
            Settings()  # every worker reads the same: fail once, here, with a masked message
        except (InvalidSettings, ValueError) as exc:
            raise typer.BadParameter(str(exc).splitlines()[0]) from None
        metrics_dir = None
        if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # Per-worker metric files, summed by whichever worker answers /metrics.
            metrics_dir = tempfile.mkdtemp(prefix="facegate-metrics-")
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
        typer.echo(f"facegate: http://{shown}:{port}/ (API docs: http://{shown}:{port}/docs)")
        try:
            uvicorn.run(
                "facegate.api.app:app_from_env",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level=log_level,
                proxy_headers=False,  # api_trusted_proxies does it inside the app
                log_config=log_config(),
                # MJPEG viewers and event sockets never end by themselves: give them a few
                # seconds at shutdown, then close them, instead of waiting forever.
                timeout_graceful_shutdown=5,
            )
        finally:
            if metrics_dir is not None:
                shutil.rmtree(metrics_dir, ignore_errors=True)


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with query strings cut from the access log."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["strip_query"] = {"()": "facegate.redact.StripQueryFilter"}
    config["handlers"]["access"].setdefault("filters", []).append("strip_query")
    return config


def _live_environment(
    workers: int, stream_port: int | None, no_stream: bool, cameras: list[str]
) -> None:
    """Stream server and camera options as ``FACEGATE_*`` variables for every worker."""
    from facegate.live.cameras import parse_camera_option
    from facegate.redact import mask_text, mask_url

    os.environ["FACEGATE_LIVE_WORKERS"] = str(workers)
    if stream_port is not None:
        os.environ["FACEGATE_STREAM_PORT"] = str(stream_port)
    if no_stream:
        os.environ["FACEGATE_STREAM_SERVER"] = "false"
    if not cameras:
        return
    try:
        configured = json.loads(os.environ.get("FACEGATE_CAMERAS") or "[]")
        added = [parse_camera_option(text).model_dump() for text in cameras]
    except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
        message = mask_text(str(exc).splitlines()[0])
        raise typer.BadParameter(message, param_hint="--camera") from None
    names = [c.get("name") for c in configured + added]
    if len(set(names)) != len(names):
        raise typer.BadParameter("camera names must be unique", param_hint="--camera")
    os.environ["FACEGATE_CAMERAS"] = json.dumps(configured + added)
    for c in added:
        log.info("camera %s: %s", c["name"], mask_url(c["source"]))
        if mask_url(c["source"]) != c["source"]:
            log.warning(
                "camera %s: its source has credentials on the command line, where any local "
                "user can read them (ps); move it to --cameras-file or FACEGATE_CAMERAS",
                c["name"],
            )
