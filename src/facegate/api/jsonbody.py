"""Strict JSON for request bodies: what cannot be stored or answered is refused up front (400).

Python's ``json`` accepts more than facegate can keep: a lone UTF-16 surrogate (``"\\ud800"``)
parses into a ``str`` that cannot be encoded as UTF-8 (it was committed, then every listing
answered 500), ``NaN``/``Infinity`` are not JSON, integers of thousands of digits cost
quadratic time to convert and cannot be stored in a database column, and nesting thousands of
levels deep ends in ``RecursionError``. ``parse_json`` refuses all of these with
``BadRequest`` before any handler sees the value.

Parsing is CPU work proportional to the body, so ``parse_json_async`` runs it on a worker
thread: a large JSON body (base64 images) never stalls the event loop.
"""

from __future__ import annotations

import json
from typing import Any

import anyio.to_thread

from facegate.api.errors import BadRequest

MAX_DEPTH = 32  # objects and arrays inside each other
MAX_INT_DIGITS = 19  # |n| < 2**63 fits every database's 64-bit integer
MAX_INT = 2**63


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise BadRequest(f"integer of {len(text)} characters: at most {MAX_INT_DIGITS} digits")
    value = int(text)
    if not -MAX_INT <= value < MAX_INT:
        raise BadRequest("integer out of the 64-bit range")
    return value


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise BadRequest(f"number {text[:20]} is out of range")
    return value


def _constant(name: str) -> None:
    raise BadRequest(f"{name} is not JSON")


def _check(value: Any, depth: int) -> None:
    """Depth and text of every value (iterative over siblings, recursive in depth only)."""
    if depth > MAX_DEPTH:
        raise BadRequest(f"JSON is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        _text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _text(key)
            if isinstance(item, dict | list):
                _check(item, depth + 1)
            elif isinstance(item, str):
                _text(item)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                _check(item, depth + 1)
            elif isinstance(item, str):
                _text(item)


def _text(value: str) -> None:
    if value.isascii():
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("JSON text holds a lone UTF-16 surrogate (not a character)") from None


def parse_json(body: bytes) -> Any:
    """The value of a JSON body, or ``BadRequest`` saying what is wrong with it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        value = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"body is not valid JSON: {exc.msg} at character {exc.pos}") from None
    except RecursionError:
        raise BadRequest(f"JSON is nested more than {MAX_DEPTH} levels deep") from None
    _check(value, 0)
    return value


async def parse_json_async(body: bytes) -> Any:
    """``parse_json`` on a worker thread (parsing is CPU work proportional to the body)."""
    return await anyio.to_thread.run_sync(parse_json, body)
