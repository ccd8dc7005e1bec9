"""Placeholder replaced in this session."""

import typer


def register(app: typer.Typer) -> None:
    """Register nothing yet."""
