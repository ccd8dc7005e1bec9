"""``facegate serve``: the HTTP API and pages under uvicorn, on one or several processes.

Settings: defaults < config file (``--config FILE`` or ``FACEGATE_CONFIG``) < ``FACEGATE_*``
environment < these options (docs/configuration.md). They are resolved once, here, and every
worker process receives the same ``Settings`` object with uvicorn's config (pickled to the
spawned worker), never through the environment: ``facegate.worker_app.build_app`` builds each
worker's own ``Services``. The workers share the gallery through its database.

Secrets stay out of argv (``ps`` shows every process's arguments to every local user): the
database URL's password, webhook and MQTT secrets and camera URLs with passwords belong in
the config file (mode 0600), ``FACEGATE_<NAME>_FILE`` (systemd ``LoadCredential=``) or the
cameras file; given as an option they work but warn. Logs never show a query string or a
URL's credentials (facegate.redact).
"""

from __future__ import annotations

import copy
import errno
import functools
import logging
import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from facegate.cli.app import EXIT_BAD_INPUT, EXIT_ENVIRONMENT
from facegate.cli.options import ConfigOption, DatabaseUrlOption, DataDirOption

if TYPE_CHECKING:
    from facegate.config import Settings

log = logging.getLogger("facegate.serve")


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        config: ConfigOption = None,
        host: Annotated[
            str | None, typer.Option(help="address to listen on [server.host, 127.0.0.1]")
        ] = None,
        port: Annotated[
            int | None, typer.Option(min=1, max=65535, help="HTTP port [server.port, 8000]")
        ] = None,
        workers: Annotated[
            int | None,
            typer.Option(min=1, help="processes; they share the gallery database [1]"),
        ] = None,
        data_dir: DataDirOption = None,
        database_url: DatabaseUrlOption = None,
        no_auth: Annotated[
            bool, typer.Option("--no-auth", help="no API keys: local experiments ONLY")
        ] = False,
        log_level: Annotated[
            str | None, typer.Option(help="uvicorn log level [server.log_level, info]")
        ] = None,
        stream_port: Annotated[
            int | None,
            typer.Option(min=0, max=65535, help="TCP stream server port [stream.port, 8001]"),
        ] = None,
        stream_host: Annotated[
            str | None,
            typer.Option(help="address of the TCP stream server (default: the HTTP address)"),
        ] = None,
        no_stream: Annotated[
            bool, typer.Option("--no-stream", help="do not run the TCP stream server")
        ] = False,
        camera: Annotated[
            list[str] | None,
            typer.Option(
                help="NAME=SOURCE (device index, video file, RTSP/HTTP URL, image folder); "
                "repeatable; added to the configured cameras. A password here is visible in "
                "the process list: use the config file or --cameras-file for those"
            ),
        ] = None,
        cameras_file: Annotated[
            Path | None,
            typer.Option(
                help="JSON list of cameras ({name, source, always_on, direction}); "
                "keep it mode 0600 [live.cameras_file]"
            ),
        ] = None,
    ) -> None:
        """Serve the HTTP API (/api/v1, docs at /docs) and the admin pages."""
        import uvicorn
        from uvicorn.supervisors import Multiprocess

        from facegate.redact import quiet_leaky_loggers
        from facegate.worker_app import build_app

        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        quiet_leaky_loggers()
        options: dict[str, Any] = {
            "server_host": host,
            "server_port": port,
            "live_workers": workers,
            "server_log_level": log_level,
            "data_dir": data_dir,
            "database_url": database_url,
            "api_auth": False if no_auth else None,
            "stream_port": stream_port,
            "stream_host": stream_host,
            "stream_server": False if no_stream else None,
            "cameras_file": cameras_file.resolve() if cameras_file is not None else None,
        }
        settings = _effective_settings(
            config, {k: v for k, v in options.items() if v is not None}, camera or []
        )
        _warn_secrets_in_argv(database_url)
        server = settings.server
        if settings.cluster.node_url is None:  # how other hosts reach this one
            from facegate.cluster.service import default_url

            settings = settings.replace(cluster_node_url=default_url(server.host, server.port))
        if no_auth:
            typer.secho(
                "WARNING: --no-auth: the API and pages are open to anyone who can reach "
                f"{server.host}:{server.port}. Never use this outside a local experiment.",
                fg=typer.colors.RED,
                bold=True,
                err=True,
            )
        _check_ports(server.host, server.port, settings)
        metrics_dir = None
        if server.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # Per-worker metric files, summed by whichever worker answers /metrics (the
            # prometheus client reads this variable itself: a location, not a setting).
            metrics_dir = tempfile.mkdtemp(prefix="facegate-metrics-")
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        # Connections cost file descriptors: use all the hard limit allows (workers inherit
        # it); the per-worker connection cap stays below it (api/http_guard.py).
        from facegate.limits import raise_open_files_limit

        raise_open_files_limit()
        shown = "localhost" if server.host in ("127.0.0.1", "0.0.0.0", "::") else server.host
        typer.echo(
            f"facegate: http://{shown}:{server.port}/ (API docs: http://{shown}:{server.port}/docs)"
        )
        uv_config = uvicorn.Config(
            functools.partial(build_app, settings),
            factory=True,
            host=server.host,
            port=server.port,
            workers=server.workers,
            log_level=server.log_level,
            proxy_headers=False,  # api.trusted_proxies does it inside the app
            log_config=log_config(),
            # Header/body deadlines and connection caps (docs/security.md ("Limits")).
            http="facegate.api.http_guard:GuardedHttpProtocol",
            ws_max_size=64 * 1024,  # the event socket only ever receives keep-alives
            # MJPEG viewers and event sockets never end by themselves: give them a few
            # seconds at shutdown, then close them, instead of waiting forever.
            timeout_graceful_shutdown=5,
            # A worker loads the models before it serves; on a busy small machine that took
            # 35 s (measured with 8 test runs sharing 2 cores), and uvicorn's default of 5 s
            # killed and restarted such workers forever.
            timeout_worker_healthcheck=120,
        )
        uv_config.facegate_settings = settings  # type: ignore[attr-defined]  # http_guard
        try:
            if server.workers > 1:
                Multiprocess(uv_config, sockets=[uv_config.bind_socket()]).run()
            else:
                uvicorn.Server(uv_config).run()
        except KeyboardInterrupt:
            pass
        finally:
            if metrics_dir is not None:
                shutil.rmtree(metrics_dir, ignore_errors=True)


def _effective_settings(
    config: Path | None, options: dict[str, Any], cameras: list[str]
) -> Settings:
    """The settings every worker gets: file < environment < options, and ``--camera``s
    added to the configured cameras. A bad setting is reported once, here, masked."""
    from facegate.config import InvalidSettings, Settings
    from facegate.config.sources import gather
    from facegate.live.cameras import parse_camera_option
    from facegate.redact import mask_text, mask_url

    try:
        configured = gather(config, None, {})
        if "stream_host" not in options and ("stream", "host") not in configured.origins:
            # The stream port listens where HTTP does unless told otherwise.
            host = options.get("server_host")
            if host is None:
                host = configured.values.get("server", {}).get("host")
            if host is not None:
                options["stream_host"] = host
        settings = Settings.load(config, None, options)
    except InvalidSettings as exc:
        # one plain line (a boxed usage error would wrap the file name and key)
        typer.secho(f"error: {str(exc).splitlines()[0]}", fg=typer.colors.RED, err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if not cameras:
        return settings
    try:
        added = [parse_camera_option(text) for text in cameras]
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        message = mask_text(str(exc).splitlines()[0])
        raise typer.BadParameter(message, param_hint="--camera") from None
    names = [c.name for c in settings.live.all_cameras + added]
    if len(set(names)) != len(names):
        raise typer.BadParameter("camera names must be unique", param_hint="--camera")
    for c in added:
        log.info("camera %s: %s", c.name, mask_url(c.source))
        if mask_url(c.source) != c.source:
            log.warning(
                "camera %s: its source has credentials on the command line, where any local "
                "user can read them (ps); move it to the config file or --cameras-file",
                c.name,
            )
    try:
        return settings.replace(cameras=[*settings.live.cameras, *added])
    except InvalidSettings as exc:
        raise typer.BadParameter(str(exc).splitlines()[0], param_hint="--camera") from None


def _warn_secrets_in_argv(database_url: str | None) -> None:
    """Say so when a secret was given as an option (``ps`` shows it to every local user)."""
    from facegate.redact import mask_url

    if database_url is not None and mask_url(database_url) != database_url:
        log.warning(
            "--database-url holds a password, which any local user can read in the process "
            "list: put it in the config file ([storage] database_url, mode 0600) or in a file "
            "named by FACEGATE_DATABASE_URL_FILE"
        )


def _check_ports(host: str, port: int, settings: Settings) -> None:
    """Fail at once, saying which port and how to change it, when a port is taken (uvicorn
    and the stream server would otherwise fail later with a long traceback)."""
    wanted = [(host, port, "HTTP", "--port PORT (make run PORT=...)")]
    if settings.stream.enabled and settings.stream.port:  # --no-stream turned it off
        wanted.append(
            (
                settings.stream.host,
                settings.stream.port,
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
