"""Secrets out of logs, error messages and answers: one masking rule for every URL.

Camera sources and webhook URLs carry credentials in two places: the userinfo
(``rtsp://admin:pa@ss/word@10.0.0.5/...``) and the query string (``?user=admin&pwd=...``,
``?token=...``, signed URLs' ``signature=``). ``mask_url`` hides both; ``mask_text`` does it to
every URL inside a longer text (an exception message, a validation error).

A password may legally hold ``@``, ``/``, ``?`` or ``#`` when a camera's configuration tool
wrote it unescaped, and a strict parser would then end the authority too early and show the
rest. So the userinfo is taken as everything up to the *last* ``@`` of the URL: when in doubt
more is hidden, never less. Query (and fragment) parameters are masked by name: any name
containing one of ``SENSITIVE_WORDS``.

``quiet_leaky_loggers`` keeps httpx/httpcore (webhook deliveries) from logging full URLs and
``StripQueryFilter`` keeps query strings out of uvicorn's access log.
"""

from __future__ import annotations

import logging
import os
import re
from urllib.parse import unquote

MASK = "***"
SENSITIVE_WORDS = (
    "pass",
    "pwd",
    "token",
    "secret",
    "key",
    "auth",
    "sig",
    "user",
    "login",
    "cred",
    "session",
)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*$")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://\S+")
NOISY_LOGGERS = ("httpx", "httpcore", "hpack")


def sensitive(name: str) -> bool:
    """Whether a query parameter's value should be hidden, by its name."""
    lowered = unquote(name).lower()
    return any(word in lowered for word in SENSITIVE_WORDS)


def _mask_params(params: str) -> str:
    parts = []
    for part in re.split(r"([&;])", params):
        name, eq, _ = part.partition("=")
        parts.append(f"{name}={MASK}" if eq and sensitive(name) else part)
    return "".join(parts)


def mask_url(url: str) -> str:
    """``url`` with its userinfo replaced by ``***`` and the values of sensitive query and
    fragment parameters by ``***``; anything that is not a URL (a device index, a file
    path) is returned unchanged."""
    scheme, sep, rest = url.partition("://")
    if not sep or not _SCHEME.match(scheme):
        return url
    at = rest.rfind("@")
    userinfo = at != -1
    if userinfo:
        rest = rest[at + 1 :]
    location, qmark, query = rest.partition("?")
    if not qmark:
        location, hash_, fragment = rest.partition("#")
        query = ""
    else:
        query, hash_, fragment = query.partition("#")
    shown = f"{scheme}://{MASK + '@' if userinfo else ''}{location}"
    if qmark:
        shown += "?" + _mask_params(query)
    if hash_:
        shown += "#" + _mask_params(fragment)
    return shown


def mask_text(text: str) -> str:
    """``text`` with every URL in it masked as by ``mask_url`` (a URL runs to whitespace)."""
    return _URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), text)


def quiet_leaky_loggers() -> None:
    """httpx logs every request's full URL at INFO (webhook tokens in paths, basic auth):
    keep such loggers at WARNING. FFmpeg (under OpenCV's camera capture) prints parts of a
    camera URL it cannot parse or reach to stderr ("Failed to resolve hostname ..." quotes
    what follows an unescaped ``@`` of a password): silence it unless the operator set
    ``OPENCV_FFMPEG_LOGLEVEL`` (docs/security.md: how to debug a camera)."""
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET


class StripQueryFilter(logging.Filter):
    """For uvicorn's access log: the request path without its query string (which may hold
    a key or a camera password); the record's other fields are kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True
