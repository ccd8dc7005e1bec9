"""The process's open-files limit, shared by the HTTP server and the stream port.

Every connection is a file descriptor, and a low soft ``RLIMIT_NOFILE`` (often 1024) would
run out before the connection caps are reached: ``facegate serve`` raises it to the hard
limit before starting uvicorn (workers inherit it) and the stream server does the same when
it starts. Both keep ``FD_RESERVE`` descriptors out of their connection caps.
"""

from __future__ import annotations

import logging
import resource

log = logging.getLogger(__name__)

FD_RESERVE = 256  # descriptors kept for the database, models, logs: never given to connections


def raise_open_files_limit() -> int:
    """Raise this process's soft limit of open files to its hard limit (idempotent); returns
    the soft limit now in force (the old one, with a warning, when it cannot be raised)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        log.warning("could not raise the open files limit from %d: %s", soft, exc)
        return soft
    log.info("open files limit raised from %d to %d", soft, target)
    return target
