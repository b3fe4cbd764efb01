"""Migrations: load the numbered SQL files, fill placeholders, split statements, rewrite for a cluster.

The files in `schema/` are the single source of the DDL. `${database}` and `${retention_days}` are the
only placeholders; both are validated before substitution, so no caller text reaches the DDL.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from datatracing.pipeline.errors import ConfigError

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_MIGRATION_NAME = re.compile(r"^\d{4}_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered SQL file: its name, checksum of the raw text, and the raw text."""

    name: str
    checksum: str
    text: str

    def statements(self, database: str, retention_days: int) -> list[str]:
        """The file's statements with placeholders filled, ready to run one by one."""
        return split_statements(render(self.text, database, retention_days))


def check_identifier(value: str, what: str = "database") -> str:
    """Return `value` if it is a plain ClickHouse identifier, else raise `ConfigError`."""
    if not _IDENTIFIER.match(value):
        raise ConfigError(f"{what} name {value!r} must match {_IDENTIFIER.pattern}")
    return value


def render(text: str, database: str, retention_days: int) -> str:
    """Fill `${database}` and `${retention_days}` after validating both."""
    if isinstance(retention_days, bool) or not isinstance(retention_days, int) or retention_days < 1:
        raise ConfigError(f"retention_days must be a positive integer, got {retention_days!r}")
    return Template(text).substitute(database=check_identifier(database), retention_days=retention_days)


def default_schema_dir() -> Path:
    """Where the migrations live: bundled beside this module in a wheel, else the repository's `schema/`."""
    bundled = Path(__file__).with_name("schema")
    if bundled.is_dir():
        return bundled
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "schema"
        if candidate.is_dir() and any(candidate.glob("0001_*.sql")):
            return candidate
    raise ConfigError("cannot find the schema/ migrations folder; pass schema_dir explicitly")


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """All `NNNN_name.sql` files of `directory`, in order."""
    folder = directory or default_schema_dir()
    found: list[Migration] = []
    for path in sorted(folder.glob("*.sql")):
        if not _MIGRATION_NAME.match(path.name):
            raise ConfigError(f"migration file {path.name!r} must be named like 0001_name.sql")
        text = path.read_text(encoding="utf-8")
        found.append(Migration(path.name, hashlib.sha256(text.encode()).hexdigest(), text))
    if not found:
        raise ConfigError(f"no migrations found in {folder}")
    return found


def quoted_end(sql: str, start: int) -> int:
    """The index just past the quote closing the literal or identifier opened at `start` (`'`, `"`
    or a backtick; backslash escapes and doubled quotes inside), or -1 when it is not closed."""
    quote, j, n = sql[start], start + 1, len(sql)
    while j < n:
        c = sql[j]
        if c == "\\":
            j += 2
        elif c != quote:
            j += 1
        elif j + 1 < n and sql[j + 1] == quote:  # a doubled quote inside the literal
            j += 2
        else:
            return j + 1
    return -1


def split_statements(sql: str) -> list[str]:
    """Split on `;` outside quotes, backticks and comments; drop empty and comment-only pieces."""
    statements: list[str] = []
    current: list[str] = []
    has_code = False
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
            current.append(sql[i:end])
            i = end
            continue
        if ch == "/" and sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end == -1 else end + 2
            current.append(sql[i:end])
            i = end
            continue
        if ch in "'\"`":
            end = quoted_end(sql, i)
            end = n if end < 0 else end
            current.append(sql[i:end])
            has_code = True
            i = end
            continue
        if ch == ";":
            if has_code:
                statements.append("".join(current).strip())
            current, has_code = [], False
            i += 1
            continue
        if not ch.isspace():
            has_code = True
        current.append(ch)
        i += 1
    if has_code:
        statements.append("".join(current).strip())
    return statements
