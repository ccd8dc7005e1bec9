"""Debian's Chromium for the browser tests (Playwright drives it; its own download is never
used), with the flags this closed-network machine needs.

A browser test module calls ``skip_without_chromium()`` at import and makes its ``browser``
fixture with ``launched(...)`` (extra flags, e.g. a fake camera, after ``FLAGS``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# a fake camera (a moving test pattern, or --use-file-for-fake-video-capture=...) and no
# permission prompt, for the pages that call getUserMedia
FAKE_CAMERA = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")


def skip_without_chromium() -> None:
    """Skip the calling test module when Playwright or Debian's Chromium is missing."""
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed: run `make chromium`", allow_module_level=True)


@contextmanager
def launched(*extra_flags: str) -> Iterator[Any]:
    """A headless Chromium with ``FLAGS`` and ``extra_flags``, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=[*FLAGS, *extra_flags]
        )
        yield chromium
        chromium.close()
