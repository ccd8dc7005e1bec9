"""Text narrowed to one of a ``Literal``'s values, in one place.

CLI options, cookies and database columns arrive as plain strings; the code past them works
with ``Literal`` types (scopes, languages, liveness modes). ``one_of`` is the checked step
between the two, so no caller needs a cast or a ``type: ignore``.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T", bound=str)


def one_of(value: object, allowed: tuple[T, ...]) -> T | None:
    """The member of ``allowed`` that ``value`` equals (typed as their Literal), else None."""
    for candidate in allowed:
        if value == candidate:
            return candidate
    return None
