"""Applying the schema: the migration ledger (`schema_migrations`), the schema lock around every change,
the retention (`ALTER TABLE ... MODIFY TTL` when `retention_days` changes) and the status report.

The ledger records every migration twice, `started` then `applied`. A migration is applied by one
migrator only: whoever finds work to do takes the schema lock (`MigrationLease`), reads the ledger
again under it, and applies what is still pending; the others wait for the lock, then find nothing
left. Readers of the ledger need no lock.

The retention is a ledger entry of its own, named `retention`, whose checksum field holds the days
in force. The first migration creates the tables with the configured retention; a later change
applies `MODIFY TTL` to every table that has a TTL, then records the new value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from datatracing.pipeline.store._backend import Backend
from datatracing.pipeline.store._errors import StoreSchemaError
from datatracing.pipeline.store._lease import LOCK_TABLE, MigrationLease
from datatracing.pipeline.store._read import text
from datatracing.pipeline.store._schema import Migration, load_migrations, render, split_statements

__all__ = ["RETENTION", "MigrationStatus", "Migrator"]

log = logging.getLogger(__name__)

#: The ledger name of the retention entry (its checksum field holds the days).
RETENTION = "retention"

MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS $db.schema_migrations
(
    name String,
    checksum String,
    state Enum8('started' = 1, 'applied' = 2),
    at DateTime64(3) DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (name, at)
"""
_RECORD = (
    "INSERT INTO $db.schema_migrations (name, checksum, state) "
    "SELECT {name:String}, {checksum:String}, {state:String}"
)
_RECORDED = (
    "SELECT name, checksum, toString(state) AS state, at FROM $db.schema_migrations ORDER BY name, at, state"
)
_HAS_LEDGER = (
    "SELECT count() AS n FROM system.tables WHERE database = {db:String} AND name = 'schema_migrations'"
)
# The TTL of every table that has one, as the numbered migrations create it.
_RETENTION_SQL = """
ALTER TABLE ${database}.spans MODIFY TTL toDateTime(timestamp) + INTERVAL ${retention_days} DAY;
ALTER TABLE ${database}.traces MODIFY TTL toDateTime(start_time) + INTERVAL ${retention_days} DAY;
ALTER TABLE ${database}.operations MODIFY TTL last_seen + INTERVAL ${retention_days} DAY;
"""


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    """What `migrate` has done to a database and what it would do next."""

    #: Applied migrations, in order, with when they finished.
    applied: list[tuple[str, datetime | None]] = field(default_factory=list)
    #: Migrations this version would apply.
    pending: list[str] = field(default_factory=list)
    #: Migrations started and never finished (they stop `migrate`; see schema/README.md).
    half_applied: list[str] = field(default_factory=list)
    #: The retention in force (None before the first migration).
    retention_days: int | None = None
    #: The retention the settings ask for; `migrate` applies it when it differs.
    configured_retention_days: int = 30

    def lines(self) -> list[str]:
        """The status as text lines (what `datatracing migrate --status` prints)."""
        out = [
            f"{len(self.applied)} applied, {len(self.pending)} pending, {len(self.half_applied)} half-applied"
        ]
        out += [f"applied       {name}  {'' if at is None else at}".rstrip() for name, at in self.applied]
        out += [f"half-applied  {name}" for name in self.half_applied]
        out += [f"pending       {name}" for name in self.pending]
        in_force = "none yet" if self.retention_days is None else f"{self.retention_days} days"
        retention = f"retention     {in_force}"
        if self.retention_days != self.configured_retention_days:
            retention += f" (settings ask for {self.configured_retention_days} days: pending)"
        out.append(retention)
        return out

    @property
    def up_to_date(self) -> bool:
        return (
            not self.pending
            and not self.half_applied
            and self.retention_days == self.configured_retention_days
        )


@dataclass(slots=True)
class _Ledger:
    applied: dict[str, tuple[str, datetime | None]] = field(default_factory=dict)
    started: dict[str, str] = field(default_factory=dict)
    #: (state, days) of the last retention entry.
    retention: tuple[str, int] | None = None


class Migrator:
    """Applies `schema/` to one database of `backend` (see the module docstring)."""

    def __init__(
        self,
        backend: Backend,
        database: str,
        retention_days: int,
        *,
        schema_dir: Path | None = None,
        for_cluster: Callable[[list[str]], list[str]] = lambda statements: statements,
        lease: Callable[[], MigrationLease] | None = None,
    ) -> None:
        self._backend = backend
        self._db = database
        self._retention_days = retention_days
        self._schema_dir = schema_dir
        self._for_cluster = for_cluster
        self._lease = lease or (lambda: MigrationLease(backend, database))

    def _sql(self, sql: str) -> str:
        return sql.replace("$db", self._db)

    def _read(self) -> _Ledger:
        ledger = _Ledger()
        rows: list[dict[str, Any]] = self._backend.query(self._sql(_RECORDED)).to_pylist()
        for row in rows:
            name, checksum, state = text(row["name"]), text(row["checksum"]), text(row["state"])
            if name == RETENTION:
                ledger.retention = (state, int(checksum))
            elif state == "applied":
                ledger.applied[name] = (checksum, row["at"])
            else:
                ledger.started[name] = checksum
        return ledger

    def _check(self, ledger: _Ledger, migrations: list[Migration]) -> list[Migration]:
        """The pending migrations; raises on unknown, edited or half-applied ones."""
        unknown = sorted(set(ledger.applied) - {m.name for m in migrations})
        if unknown:
            raise StoreSchemaError(
                f"database {self._db} has migrations this version does not know: {', '.join(unknown)}; "
                "run a newer version"
            )
        pending: list[Migration] = []
        for migration in migrations:
            if migration.name in ledger.applied:
                if ledger.applied[migration.name][0] != migration.checksum:
                    raise StoreSchemaError(
                        f"migration {migration.name} was edited after it was applied to {self._db}; "
                        "add a new numbered migration instead of changing an applied one"
                    )
                continue
            if migration.name in ledger.started:
                raise StoreSchemaError(
                    f"migration {migration.name} is half-applied in {self._db} (started, never finished); "
                    "check its objects by hand, then delete its row from schema_migrations and migrate again "
                    "(see schema/README.md)"
                )
            pending.append(migration)
        return pending

    def _retention_due(self, ledger: _Ledger) -> bool:
        return ledger.retention != ("applied", self._retention_days)

    def _record(self, name: str, checksum: str, state: str) -> None:
        self._backend.execute(self._sql(_RECORD), {"name": name, "checksum": checksum, "state": state})

    def migrate(self) -> list[str]:
        """Apply what is pending under the schema lock; returns what this call applied."""
        migrations = load_migrations(self._schema_dir)
        for statement in self._for_cluster(
            [f"CREATE DATABASE IF NOT EXISTS {self._db}", self._sql(MIGRATIONS_TABLE), self._sql(LOCK_TABLE)]
        ):
            self._backend.execute(statement)
        ledger = self._read()
        if all(m.name in ledger.applied for m in migrations) and not self._retention_due(ledger):
            self._check(ledger, migrations)  # refuses edited or unknown migrations
            return []  # the common start-up: nothing to do, no lock taken
        # Something is pending or in progress: decide under the lock (a `started` entry seen here
        # may be another migrator's work in progress, not a half-applied migration).
        with self._lease() as lease:
            ledger = self._read()  # another migrator may have finished while we waited
            done: list[str] = []
            fresh = "0001_spans.sql" not in ledger.applied
            for migration in self._check(ledger, migrations):
                lease.check()
                self._record(migration.name, migration.checksum, "started")
                for statement in self._for_cluster(migration.statements(self._db, self._retention_days)):
                    lease.check()
                    self._backend.execute(statement)
                self._record(migration.name, migration.checksum, "applied")
                log.info("applied migration %s to %s", migration.name, self._db)
                done.append(migration.name)
            if self._retention_due(ledger):
                lease.check()
                if self._apply_retention(fresh=fresh):
                    done.append(f"{RETENTION} {self._retention_days} days")
        return done

    def _apply_retention(self, *, fresh: bool) -> bool:
        """Record the retention; on a database created with another one, `MODIFY TTL` first.
        True when tables were altered."""
        days = str(self._retention_days)
        if fresh:
            self._record(RETENTION, days, "applied")  # the tables were just created with it
            return False
        self._record(RETENTION, days, "started")
        for statement in self._for_cluster(
            split_statements(render(_RETENTION_SQL, self._db, self._retention_days))
        ):
            self._backend.execute(statement)
        self._record(RETENTION, days, "applied")
        log.info("retention of %s set to %d days", self._db, self._retention_days)
        return True

    def status(self) -> MigrationStatus:
        """The ledger against this version's migrations; changes nothing."""
        migrations = load_migrations(self._schema_dir)
        rows = self._backend.query(_HAS_LEDGER, {"db": self._db}).to_pylist()
        ledger = self._read() if rows and int(rows[0]["n"]) else _Ledger()
        order = {m.name: i for i, m in enumerate(migrations)}
        applied = sorted(ledger.applied.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
        half = [m.name for m in migrations if m.name in ledger.started and m.name not in ledger.applied]
        pending = [m.name for m in migrations if m.name not in ledger.applied and m.name not in half]
        in_force = None
        if ledger.retention is not None and ledger.retention[0] == "applied":
            in_force = ledger.retention[1]
        return MigrationStatus(
            applied=[(name, at) for name, (_, at) in applied],
            pending=pending,
            half_applied=half,
            retention_days=in_force,
            configured_retention_days=self._retention_days,
        )
