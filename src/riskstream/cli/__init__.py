"""The ``riskstream`` command line (Typer + rich)."""

from riskstream.cli.app import app, main

__all__ = ["app", "main"]
