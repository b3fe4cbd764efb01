"""The schema lock: a lease row in `schema_lock` that lets one migrator at a time change the schema.

ClickHouse has no transactions or row locks across statements; what it does guarantee is insert
deduplication by `insert_deduplication_token`: a second block with a token the table has already
seen is dropped, atomically with the first one's commit (in the table's deduplication log on one
server, in Keeper for a `ReplicatedMergeTree`). The lease is built on that alone:

- Every lease event (acquire, renew, release) claims the next `generation` number, inserting its row
  with the token `lease-<generation>`. Two migrators claiming the same generation both "succeed",
  but only the first block is stored: reading the row of that generation back names the one winner.
- A migrator may claim generation `n + 1` only when generation `n` is a release, or an acquire whose
  `expires` (server time) has passed: a crashed migrator blocks the others for `ttl_s` at most.
- The holder renews (claims `n + 1` for itself) every `ttl_s / 3` from a thread, and checks before
  every statement that it still holds the lease (`check`); a holder that lost it stops with an error.

On a cluster the table is replicated to every node (see `_cluster.GLOBAL_TABLES`), so the tokens are
deduplicated in Keeper. A read that lags (another replica) only delays a decision: a generation's
row, once seen, is the winner. The guarantee ends where the deduplication window does
(`replicated_deduplication_window*`): reads stale by more than 10,000 lease events or a year are
assumed not to happen.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from types import TracebackType

from datatracing.pipeline.store._backend import Backend
from datatracing.pipeline.store._errors import StoreSchemaError
from datatracing.pipeline.store._read import text

__all__ = ["LOCK_TABLE", "MigrationLease"]

log = logging.getLogger(__name__)

#: Created with the ledger, before any lease is taken (`$db` is replaced by the database).
LOCK_TABLE = """
CREATE TABLE IF NOT EXISTS $db.schema_lock
(
    generation UInt64,
    kind Enum8('acquire' = 1, 'release' = 2),
    owner String,
    expires DateTime64(3),
    at DateTime64(3) DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY generation
SETTINGS non_replicated_deduplication_window = 10000, replicated_deduplication_window = 10000,
    replicated_deduplication_window_seconds = 31536000
"""
# The token is a literal (SETTINGS take no parameters): made only of the generation number.
_CLAIM = (
    "INSERT INTO $db.schema_lock (generation, kind, owner, expires) "
    "SETTINGS insert_deduplicate = 1, async_insert = 0, insert_deduplication_token = 'lease-{generation}' "
    "SELECT {{generation:UInt64}}, {{kind:String}}, {{owner:String}}, "
    "now64(3) + toIntervalMillisecond({{ttl_ms:UInt64}})"
)
_LATEST = (
    "SELECT generation, toString(kind) AS kind, owner, expires < now64(3) AS expired "
    "FROM $db.schema_lock ORDER BY generation DESC, at, owner LIMIT 1"
)
_WINNER = (
    "SELECT owner FROM $db.schema_lock WHERE generation = {generation:UInt64} ORDER BY at, owner LIMIT 1"
)


@dataclass(frozen=True, slots=True)
class _Event:
    generation: int
    kind: str
    owner: str
    expired: bool


class MigrationLease:
    """Hold the schema lock of `database` while migrating: `with MigrationLease(...) as lease:`.

    `acquire` waits up to `wait_s` for the current holder to release or for its lease to expire.
    """

    def __init__(
        self,
        backend: Backend,
        database: str,
        *,
        ttl_s: float = 120.0,
        wait_s: float = 900.0,
        poll_s: float = 0.2,
    ) -> None:
        self._backend = backend
        self._db = database
        #: Who holds the lock, as error messages and `schema_lock` name it: host, process, instance.
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._ttl_ms = int(ttl_s * 1000)
        self._wait_s = wait_s
        self._poll_s = poll_s
        self._generation: int | None = None
        self._lost = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def _sql(self, sql: str) -> str:
        return sql.replace("$db", self._db)

    def _latest(self) -> _Event | None:
        rows = self._backend.query(self._sql(_LATEST)).to_pylist()
        if not rows:
            return None
        row = rows[0]
        return _Event(int(row["generation"]), text(row["kind"]), text(row["owner"]), bool(row["expired"]))

    def _claim(self, generation: int, kind: str) -> bool:
        """Insert this owner's event as `generation`; True when it is the one stored."""
        sql = self._sql(_CLAIM.format(generation=int(generation)))
        params: dict[str, str | int] = {
            "generation": generation,
            "kind": kind,
            "owner": self.owner,
            "ttl_ms": self._ttl_ms,
        }
        self._backend.execute(sql, params)
        rows = self._backend.query(self._sql(_WINNER), {"generation": generation}).to_pylist()
        return bool(rows) and text(rows[0]["owner"]) == self.owner

    def acquire(self) -> None:
        """Wait for the lock and take it; `StoreSchemaError` after `wait_s`."""
        deadline = time.monotonic() + self._wait_s
        while True:
            latest = self._latest()
            if latest is None or latest.kind == "release" or latest.expired:
                target = 1 if latest is None else latest.generation + 1
                if self._claim(target, "acquire"):
                    self._generation = target
                    log.debug("schema lock of %s taken by %s (generation %d)", self._db, self.owner, target)
                    return
            elif time.monotonic() > deadline:
                raise StoreSchemaError(
                    f"another migrator ({latest.owner}) holds the schema lock of {self._db}; waited "
                    f"{self._wait_s:.0f}s. A crashed one's lock expires by itself; see schema/README.md"
                )
            time.sleep(self._poll_s)

    def renew(self) -> None:
        """Extend the lease by claiming the next generation; a lost claim marks the lease lost."""
        with self._lock:
            if self._generation is None or self._lost:
                return
            target = self._generation + 1
            if self._claim(target, "acquire"):
                self._generation = target
            else:
                self._lost = True
                log.error("schema lock of %s lost by %s at generation %d", self._db, self.owner, target)

    def check(self) -> None:
        """Raise `StoreSchemaError` if this migrator no longer holds the lock."""
        if self._lost or self._generation is None:
            raise StoreSchemaError(
                f"lost the schema lock of {self._db} (a renewal was late; another migrator may have "
                "taken over): stopped before the next statement; run migrate again"
            )

    def release(self) -> None:
        with self._lock:
            if self._generation is not None and not self._lost:
                self._claim(self._generation + 1, "release")
            self._generation = None

    def _beat(self) -> None:
        interval = self._ttl_ms / 3000
        while not self._stop.wait(interval):
            try:
                self.renew()
            except Exception as exc:  # the next `check` or the expiry decides; keep trying
                log.warning("cannot renew the schema lock of %s: %s", self._db, exc)

    def __enter__(self) -> MigrationLease:
        self.acquire()
        self._stop.clear()
        self._heartbeat = threading.Thread(target=self._beat, name="schema-lock", daemon=True)
        self._heartbeat.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
            self._heartbeat = None
        self.release()
