from __future__ import annotations

from datatracing.pipeline.cli import main

main()
