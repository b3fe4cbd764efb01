"""The `datatracing` command line."""

from __future__ import annotations

from datatracing.pipeline.cli._main import app, main

__all__ = ["app", "main"]
