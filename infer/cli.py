"""`dobae` commands of the infer stage."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root `dobae` app."""
