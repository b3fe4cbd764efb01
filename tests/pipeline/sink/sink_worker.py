"""The sink worker with a `FaultInjectingStore` in front of its real chdb store (run as a script).

Usage: python sink_worker.py SETTINGS.yaml STATUS.json OUTAGE_SECONDS (its group: `sink.group_id`)

The first insert starts an outage of OUTAGE_SECONDS; the store's counters go to STATUS.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

import faust

from datatracing.pipeline.config import load_settings
from datatracing.pipeline.runtime import workers
from datatracing.pipeline.sink import FaultInjectingStore
from datatracing.pipeline.store import open_store


def main() -> None:
    settings = load_settings(Path(sys.argv[1]))
    store = open_store(settings.store_url, retention_days=settings.store.retention_days)
    store.migrate()
    faulty = FaultInjectingStore(store, status_file=Path(sys.argv[2]))
    faulty.fail_from_next_insert(float(sys.argv[3]))
    app, _ = workers.build_store_app(settings, faulty, with_query=False)
    try:
        faust.Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()
    finally:
        store.close()


if __name__ == "__main__":
    main()
