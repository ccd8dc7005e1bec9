"""``facegate stream``: send a camera, video, network stream or folder to a facegate server.

Two threads: the main one reads the source and sends frames (in real time, see
``facegate.stream.sources``), a receiver thread reads results, appends them to
``--json-out`` and writes annotated frames to ``--save``. A lost connection is retried with
exponential backoff (0.5 s doubling to 30 s; to 2 s while the name is ``name_taken``, as
after a failover behind a balancer) while the source keeps running, so frames
during an outage are skipped, not queued. A status line on stderr shows the last seconds'
rates, latency and drops; Ctrl-C says BYE and prints a summary.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated

import cv2
import numpy as np
import typer

from facegate.cli.app import EXIT_BAD_INPUT
from facegate.stream.client import Client, NotAStreamServer, StreamClosed, StreamError
from facegate.stream.messages import to_json
from facegate.stream.protocol import Annotated as AnnotatedMsg
from facegate.stream.protocol import Challenge, ChallengeResult, ChallengeStep, Error, Result
from facegate.stream.sources import FrameSource, SourceError, parse_server
from facegate.stream.stats import percentile

MAX_BACKOFF_S = 30.0
# A refused name (``name_taken``) is usually this stream's own entry on a host that just
# died, freed within the cluster's node timeout (10 s): retry it often, at most every 2 s.
NAME_TAKEN_BACKOFF_S = 2.0
FATAL_CODES = {"unauthorized", "unsupported_version"}


@dataclass
class _Tally:
    """What the status line and the summary report; shared by both threads."""

    started: float = field(default_factory=time.monotonic)
    sent: int = 0
    results: int = 0
    errors: int = 0
    reconnects: int = 0
    drops: dict[str, int] = field(default_factory=lambda: {"replaced": 0, "stale": 0, "results": 0})
    _session_drops: dict[str, int] = field(default_factory=dict)
    sent_at: dict[int, float] = field(default_factory=dict)
    latency: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=2000))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_result(self, result: Result, now: float) -> None:
        with self.lock:
            self.results += 1
            sent = self.sent_at.pop(result.frame_id, None)
            if sent is not None:
                self.latency.append((now, (now - sent) * 1000.0))
            self._session_drops = {
                "replaced": result.drops.replaced,
                "stale": result.drops.stale,
                "results": result.drops.results,
            }

    def end_session(self) -> None:
        with self.lock:
            for k, v in self._session_drops.items():
                self.drops[k] += v
            self._session_drops = {}
            self.sent_at.clear()

    def total_drops(self) -> dict[str, int]:
        return {k: v + self._session_drops.get(k, 0) for k, v in self.drops.items()}

    def line(self, window: float = 3.0) -> str:
        now = time.monotonic()
        recent = [ms for t, ms in self.latency if now - t <= window]
        fps = len(recent) / min(window, max(now - self.started, 1e-3))
        d = self.total_drops()
        return (
            f"sent {self.sent}  results {self.results}  {fps:5.1f} fps  "
            f"latency p50 {percentile(recent, 50):5.0f} ms p95 {percentile(recent, 95):5.0f} ms  "
            f"drops replaced {d['replaced']} stale {d['stale']} results {d['results']}  "
            f"reconnects {self.reconnects}"
        )


def _receive(client: Client, tally: _Tally, json_out: IO[str] | None, video: _Saver | None) -> None:
    """Receiver thread: until the connection ends."""
    while client.connected:
        try:
            message = client.receive(timeout=0.5)
        except TimeoutError:
            continue
        except (StreamClosed, StreamError, OSError):
            return
        now = time.monotonic()
        if isinstance(message, Result):
            tally.on_result(message, now)
            if json_out is not None:
                json_out.write(json.dumps(to_json(message), separators=(",", ":")) + "\n")
        elif isinstance(message, AnnotatedMsg) and video is not None:
            video.write(message.jpeg)
        elif isinstance(message, Error):
            tally.errors += 1
        elif isinstance(message, Challenge | ChallengeStep | ChallengeResult):
            sys.stderr.write("\n" + prompt_text(message) + "\n")
            sys.stderr.flush()
            if json_out is not None:
                record = {"type": message.TYPE.name, **to_json(message)}
                json_out.write(json.dumps(record, separators=(",", ":")) + "\n")


def prompt_text(message: Challenge | ChallengeStep | ChallengeResult) -> str:
    """What ``facegate stream`` shows the person in front of the camera for a prompt."""
    if isinstance(message, Challenge):
        steps = ", then ".join(s.upper() for s in message.steps)
        return (
            f"LIVENESS CHECK (face {message.track_id}): turn your head {steps}, "
            f"back to the centre after each, within {message.timeout_s:.0f} s"
        )
    if isinstance(message, ChallengeStep):
        if not message.passed:
            return f"liveness: step {message.step.upper()} failed ({message.reason})"
        following = f"; now turn {message.next.upper()}" if message.next else ""
        return f"liveness: step {message.step.upper()} done{following}"
    return f"liveness result for face {message.track_id}: {message.state} ({message.reason})"


class _Saver:
    """Annotated frames into a video file, opened at the first frame's size."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path, self.fps = path, fps
        self._writer: cv2.VideoWriter | None = None

    def write(self, jpeg: bytes) -> None:
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            return
        if self._writer is None:
            fourcc = cv2.VideoWriter.fourcc(*"mp4v")
            h, w = image.shape[:2]
            self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (w, h))
        self._writer.write(image)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()


def _status(tally: _Tally, quiet: bool, final: bool = False) -> None:
    if not quiet:
        sys.stderr.write("\r" + tally.line() + ("\n" if final else ""))
        sys.stderr.flush()


def _cannot_connect(host: str, port: int, exc: BaseException, retry_in: float) -> None:
    """Say why this attempt failed and what to check (silence here looked like a hang)."""
    if isinstance(exc, ConnectionRefusedError):
        why = "connection refused (nothing listens there)"
    elif isinstance(exc, socket.gaierror):
        why = f"unknown host ({exc.strerror})"
    elif isinstance(exc, TimeoutError):
        why = "no answer in time"
    elif isinstance(exc, OSError) and exc.strerror:
        why = exc.strerror.lower()
    else:
        why = str(exc) or type(exc).__name__
    typer.echo(
        f"cannot connect to {host}:{port}: {why}; retrying in {retry_in:g} s. Is facegate "
        "serve running, and is this its TCP stream port (--stream-port, default 8001)?",
        err=True,
    )


def run_stream(
    source: FrameSource,
    host: str,
    port: int,
    key: str,
    *,
    stream: str,
    json_out: IO[str] | None,
    saver: _Saver | None,
    quality: int,
    tally: _Tally,
    quiet: bool = False,
) -> None:
    """Stream until the source ends or Ctrl-C; reconnect with backoff in between."""
    frames = iter(source)
    backoff = 0.5
    last_status = 0.0
    done = False
    while not done:
        client = Client(host, port, key, stream, saver is not None, jpeg_quality=quality)
        try:
            client.connect()
        except StreamError as exc:
            if exc.code in FATAL_CODES:
                raise
            _status(tally, quiet)
            time.sleep(backoff)
            cap = NAME_TAKEN_BACKOFF_S if exc.code == "name_taken" else MAX_BACKOFF_S
            backoff = min(backoff * 2, cap)
            continue
        except (OSError, StreamClosed, TimeoutError) as exc:
            _cannot_connect(host, port, exc, backoff)
            time.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)
            continue
        backoff = 0.5
        receiver = threading.Thread(
            target=_receive, args=(client, tally, json_out, saver), daemon=True
        )
        receiver.start()
        try:
            for frame in frames:
                with tally.lock:
                    fid = tally.sent + 1
                    tally.sent_at[fid] = time.monotonic()
                client.send_frame(frame.image, fid, frame.captured)
                tally.sent += 1
                if time.monotonic() - last_status > 0.5:
                    last_status = time.monotonic()
                    _status(tally, quiet)
            else:
                done = True
                receiver.join(timeout=2.0)  # let the last results arrive
        except (StreamClosed, OSError):
            tally.reconnects += 1
        finally:
            client.close("done" if done else "")
            receiver.join(timeout=2.0)
            tally.end_session()


def stream_command(
    source: Annotated[
        str, typer.Option("--source", help="0 (camera) | video.mp4 | rtsp://... | DIR")
    ],
    server: Annotated[str, typer.Option("--server", help="HOST:PORT")] = "127.0.0.1:8001",
    key: Annotated[
        str, typer.Option("--key", envvar="FACEGATE_API_KEY", help="API key with recognize")
    ] = "",
    name: Annotated[str, typer.Option("--stream", help="stream (camera) name")] = "default",
    fps: Annotated[
        float | None, typer.Option("--fps", min=0.1, help="pace files/folders (cap live)")
    ] = None,
    loop: Annotated[bool, typer.Option("--loop", help="repeat a file or folder")] = False,
    save: Annotated[Path | None, typer.Option("--save", help="write annotated video")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json-out", help="append each RESULT as a JSON line")
    ] = None,
    quality: Annotated[int, typer.Option(min=10, max=100, help="JPEG quality sent")] = 85,
    quiet: Annotated[bool, typer.Option("--quiet", help="no status line")] = False,
) -> None:
    """Stream frames to a facegate server and show what it recognises."""
    if not key:
        typer.echo("error: --key (or FACEGATE_API_KEY) is required", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        host, port = parse_server(server)
        src = FrameSource(source, fps=fps, loop=loop)
    except (SourceError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    out = json_out.open("a", encoding="utf-8", buffering=1) if json_out else None  # per line
    saver = _Saver(save, src.fps or 15.0) if save else None
    tally = _Tally()
    try:
        run_stream(
            src,
            host,
            port,
            key,
            stream=name,
            json_out=out,
            saver=saver,
            quality=quality,
            tally=tally,
            quiet=quiet,
        )
    except KeyboardInterrupt:
        pass
    except StreamError as exc:
        typer.echo(f"\nerror ({exc.code}): {exc.message}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except NotAStreamServer as exc:
        typer.echo(f"\nerror: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    finally:
        src.close()
        if out is not None:
            out.close()
        if saver is not None:
            saver.close()
    _status(tally, quiet, final=True)
    elapsed = time.monotonic() - tally.started
    lat = [ms for _, ms in tally.latency]
    summary = {
        "seconds": round(elapsed, 1),
        "sent": tally.sent,
        "results": tally.results,
        "result_fps": round(tally.results / elapsed, 2) if elapsed else 0.0,
        "latency_ms_p50": round(percentile(lat, 50), 1),
        "latency_ms_p95": round(percentile(lat, 95), 1),
        "drops": tally.total_drops(),
        "source_skipped": src.skipped,
        "errors": tally.errors,
        "reconnects": tally.reconnects,
    }
    typer.echo(json.dumps(summary), err=True)


def register(app: typer.Typer) -> None:
    """Attach ``facegate stream`` to the CLI."""
    app.command("stream")(stream_command)
