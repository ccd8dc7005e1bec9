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
import errno
import json
import logging
import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from facegate.cli.app import EXIT_ENVIRONMENT
from facegate.cli.options import DatabaseUrlOption, DataDirOption

if TYPE_CHECKING:
    from facegate.config import Settings

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
        stream_host: Annotated[
            str | None,
            typer.Option(help="address of the TCP stream server (default: the --host address)"),
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
        if "FACEGATE_CLUSTER_NODE_URL" not in os.environ:  # how other hosts reach this one
            from facegate.cluster.service import default_url

            os.environ["FACEGATE_CLUSTER_NODE_URL"] = default_url(host, port)
        if stream_host is not None or "FACEGATE_STREAM_HOST" not in os.environ:
            os.environ["FACEGATE_STREAM_HOST"] = stream_host or host
        try:
            # every worker reads the same: fail once, here, with a masked message
            settings = Settings()
        except (InvalidSettings, ValueError) as exc:
            raise typer.BadParameter(str(exc).splitlines()[0]) from None
        _check_ports(host, port, settings)
        metrics_dir = None
        if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # Per-worker metric files, summed by whichever worker answers /metrics.
            metrics_dir = tempfile.mkdtemp(prefix="facegate-metrics-")
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        # Connections cost file descriptors: use all the hard limit allows (workers inherit
        # it); the per-worker connection cap stays below it (api/http_guard.py).
        from facegate.limits import raise_open_files_limit

        raise_open_files_limit()
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
                # Header/body deadlines and connection caps (docs/security.md ("Limits")).
                http="facegate.api.http_guard:GuardedHttpProtocol",
                ws_max_size=64 * 1024,  # the event socket only ever receives keep-alives
                # MJPEG viewers and event sockets never end by themselves: give them a few
                # seconds at shutdown, then close them, instead of waiting forever.
                timeout_graceful_shutdown=5,
                # uvicorn kills a worker that does not answer its health ping within this
                # (default 5 s). On a loaded 2-core machine a worker importing the models took
                # longer: 17 workers were killed and restarted before 2 served (100 s).
                timeout_worker_healthcheck=60,
            )
        finally:
            if metrics_dir is not None:
                shutil.rmtree(metrics_dir, ignore_errors=True)


def _check_ports(host: str, port: int, settings: Settings) -> None:
    """Fail at once, saying which port and how to change it, when a port is taken (uvicorn
    and the stream server would otherwise fail later with a long traceback)."""
    wanted = [(host, port, "HTTP", "--port PORT (make run PORT=...)")]
    if settings.stream_server and settings.stream_port:  # --no-stream turned it off
        wanted.append(
            (
                settings.stream_host,
                settings.stream_port,
                "TCP stream",
                "--stream-port PORT (make run STREAM_PORT=...), or --no-stream",
            )
        )
    for address, number, what, how in wanted:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, number))
            except OSError as exc:
                reason = "is already in use" if exc.errno == errno.EADDRINUSE else f"({exc})"
                typer.secho(
                    f"error: the {what} port {number} on {address} {reason}: another facegate "
                    f"or another program holds it. Choose another with {how}.",
                    fg=typer.colors.RED,
                    err=True,
                )
                raise typer.Exit(EXIT_ENVIRONMENT) from None


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
