"""chdb opens a data path from one process at a time: runs in its own module, with no path open here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from datatracing.pipeline.errors import StoreUnavailableError
from datatracing.pipeline.store import open_store


def test_open_store_chdb_path_held_by_other_process_raises_unavailable(tmp_path: Path) -> None:
    url = "chdb://" + str(tmp_path / "held")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from datatracing.pipeline.store import open_store; s = open_store({url!r}); "
            "print('ready', flush=True); input()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"

        with pytest.raises(StoreUnavailableError, match="another process"):
            open_store(url)
    finally:
        holder.communicate("\n", timeout=30)
