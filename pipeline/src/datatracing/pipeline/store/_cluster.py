"""Derive the cluster schema from the single-node migrations, so there is one DDL source.

For a cluster named `c`, every rendered statement is rewritten:

- `CREATE DATABASE d` -> `CREATE DATABASE d ON CLUSTER 'c'`;
- `CREATE TABLE d.t (...) ENGINE = XMergeTree(args)` -> a replicated local table
  `d.t_local ON CLUSTER 'c' ... ENGINE = ReplicatedXMergeTree('/clickhouse/tables/{shard}/d/t_local',
  '{replica}', args)` plus `d.t ON CLUSTER 'c' AS d.t_local ENGINE = Distributed('c', 'd', 't_local',
  key)`, sharded by `cityHash64(trace_id)` when the table has a trace id (a trace lives on one shard,
  so per-trace aggregates stay exact), else `rand()`;
- `CREATE MATERIALIZED VIEW d.v TO d.t AS SELECT ... FROM d.s` -> the view on every node, reading and
  writing the local tables;
- `ALTER TABLE d.t MODIFY COLUMN|MODIFY SETTING|MODIFY TTL ...` (codecs, types, storage settings,
  retention) -> the same on
  `d.t_local ON CLUSTER 'c'` (a Distributed table stores nothing, so only the local tables change);
- `ALTER TABLE d.t ADD COLUMN ...` -> the same on `d.t_local` and on `d.t`, both `ON CLUSTER 'c'`
  (the Distributed table was created `AS` the local one, and keeps its columns);
- `INSERT INTO d.a SELECT * FROM d.b` (a table rebuild's copy) -> the same over the Distributed tables
  with `parallel_distributed_insert_select = 2`: every shard copies its own rows locally;
- `EXCHANGE TABLES d.a AND d.b` -> the local tables exchanged `ON CLUSTER`, then both Distributed
  tables re-created `AS` their (new) local tables, so their columns match again. Only tables sharded
  by trace id are ever rebuilt, so both are sharded by `cityHash64(trace_id)`;
- `DROP VIEW d.v` -> `ON CLUSTER`; `DROP TABLE d.t` -> the Distributed and the local table, both
  `ON CLUSTER` (the local one `SYNC`, so its replication path is free at once).

Queries and inserts keep using the plain names (`d.spans`), which are the Distributed tables.
Tables in `GLOBAL_TABLES` (the migration ledger and the schema lock) are replicated to every node
and not sharded.
"""

from __future__ import annotations

import re

__all__ = ["GLOBAL_TABLES", "cluster_statements"]

GLOBAL_TABLES = frozenset({"schema_migrations", "schema_lock"})

_DATABASE = re.compile(r"^CREATE DATABASE IF NOT EXISTS (\w+)$")
_TABLE = re.compile(r"^CREATE TABLE IF NOT EXISTS (\w+)\.(\w+)(\s*\()", re.DOTALL)
_ENGINE = re.compile(r"ENGINE = (\w*)MergeTree(?:\(([^)]*)\))?")
_VIEW = re.compile(r"^CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+)\.(\w+) TO (\w+)\.(\w+) AS(.*)$", re.DOTALL)
_ALTER = re.compile(r"^ALTER TABLE (\w+)\.(\w+)(\s+(?:MODIFY|ADD) .*)$", re.DOTALL)
_COPY = re.compile(r"^INSERT INTO (\w+)\.(\w+) SELECT \* FROM (\w+)\.(\w+)$")
_EXCHANGE = re.compile(r"^EXCHANGE TABLES (\w+)\.(\w+) AND (\w+)\.(\w+)$")
_DROP = re.compile(r"^DROP (TABLE|VIEW) IF EXISTS (\w+)\.(\w+)$")
_FROM = re.compile(r"\bFROM (\w+)\.(\w+)")
_COMMENT = re.compile(r"^\s*--[^\n]*\n", re.MULTILINE)
_CLUSTER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


def _strip_comments(statement: str) -> str:
    previous = None
    while previous != statement:
        previous, statement = statement, _COMMENT.sub("", statement, count=1).lstrip()
    return statement


def cluster_statements(statements: list[str], cluster: str) -> list[str]:
    """Rewrite rendered single-node statements for `cluster`; raise `ValueError` on any statement
    this rewriter does not know (a new migration form must be taught here, and tested)."""
    if not _CLUSTER_NAME.match(cluster):
        raise ValueError(f"cluster name {cluster!r} must match {_CLUSTER_NAME.pattern}")
    on = f" ON CLUSTER '{cluster}'"
    out: list[str] = []
    for raw in statements:
        statement = _strip_comments(raw)
        if m := _DATABASE.match(statement):
            out.append(statement + on)
        elif m := _TABLE.match(statement):
            out.extend(_table(statement, m, cluster, on))
        elif m := _VIEW.match(statement):
            db, view, tdb, target, body = m.groups()
            body = _FROM.sub(lambda f: f"FROM {f.group(1)}.{f.group(2)}_local", body)
            out.append(
                f"CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{view}{on} TO {tdb}.{target}_local AS{body}"
            )
        elif (m := _ALTER.match(statement)) and (kind := _alter_kind(m.group(3))) is not None:
            db, name, commands = m.groups()
            local = name if name in GLOBAL_TABLES else f"{name}_local"
            out.append(f"ALTER TABLE {db}.{local}{on}{commands}")
            if kind == "columns" and local != name:
                out.append(f"ALTER TABLE {db}.{name}{on}{commands}")
        elif _COPY.match(statement):
            out.append(statement + " SETTINGS parallel_distributed_insert_select = 2")
        elif m := _EXCHANGE.match(statement):
            out.extend(_exchange(m.group(1), m.group(2), m.group(3), m.group(4), cluster, on))
        elif m := _DROP.match(statement):
            kind, db, name = m.groups()
            out.append(f"DROP {kind} IF EXISTS {db}.{name}{on}")
            if kind == "TABLE" and name not in GLOBAL_TABLES:
                out.append(f"DROP TABLE IF EXISTS {db}.{name}_local{on} SYNC")
        else:
            raise ValueError(f"cannot rewrite for a cluster: {statement[:80]!r}")
    return out


def _alter_kind(commands: str) -> str | None:
    """ "storage" when every comma-separated command is MODIFY COLUMN, SETTING or TTL, "columns"
    when every one is ADD COLUMN, else None (commas inside parentheses do not separate)."""
    depth, parts, current = 0, [], ""
    for ch in commands:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    heads: set[str] = set()
    for part in parts:
        if re.match(r"^\s*\w+\s*=", part) and "MODIFY SETTING" in heads:
            continue  # the next `name = value` of a MODIFY SETTING list
        heads.add(" ".join(part.split()[:2]))
    if heads <= {"MODIFY COLUMN", "MODIFY SETTING", "MODIFY TTL"}:
        return "storage"
    if heads == {"ADD COLUMN"}:
        return "columns"
    return None


def _distributed(db: str, name: str, cluster: str, on: str, key: str, *, replace: bool = False) -> str:
    create = "CREATE OR REPLACE TABLE" if replace else "CREATE TABLE IF NOT EXISTS"
    return (
        f"{create} {db}.{name}{on} AS {db}.{name}_local "
        f"ENGINE = Distributed('{cluster}', '{db}', '{name}_local', {key})"
    )


def _exchange(db: str, a: str, db_b: str, b: str, cluster: str, on: str) -> list[str]:
    if db != db_b or a in GLOBAL_TABLES or b in GLOBAL_TABLES:
        raise ValueError(f"cannot rewrite for a cluster: EXCHANGE of {db}.{a} and {db_b}.{b}")
    key = "cityHash64(trace_id)"
    return [
        f"EXCHANGE TABLES {db}.{a}_local AND {db}.{b}_local{on}",
        _distributed(db, a, cluster, on, key, replace=True),
        _distributed(db, b, cluster, on, key, replace=True),
    ]


def _table(statement: str, m: re.Match[str], cluster: str, on: str) -> list[str]:
    db, name, paren = m.groups()
    engine = _ENGINE.search(statement)
    if engine is None:
        raise ValueError(f"table {db}.{name} has no MergeTree engine to replicate")
    variant, args = engine.group(1), (engine.group(2) or "").strip()
    is_global = name in GLOBAL_TABLES
    local = name if is_global else f"{name}_local"
    path = f"/clickhouse/tables/{'all' if is_global else '{shard}'}/{db}/{local}"
    replicated_args = ", ".join([f"'{path}'", "'{replica}'"] + ([args] if args else []))
    body = statement[m.end() :]
    head = f"CREATE TABLE IF NOT EXISTS {db}.{local}{on}{paren}"
    engine_text = f"ENGINE = Replicated{variant}MergeTree({replicated_args})"
    local_sql = head + _ENGINE.sub(lambda _: engine_text, body, count=1)
    if is_global:
        return [local_sql]
    key = "cityHash64(trace_id)" if re.search(r"^\s*trace_id\s", body, re.MULTILINE) else "rand()"
    return [local_sql, _distributed(db, name, cluster, on, key)]
