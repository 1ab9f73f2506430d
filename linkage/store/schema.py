"""Apply the packaged ``linkage/cypher/schema/*.cypher``: constraints and indexes, idempotently (``IF NOT EXISTS``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..resources import cypher_dir
from .connection import Settings, run_query

if TYPE_CHECKING:
    import neo4j

SCHEMA_DIR = cypher_dir("schema")


def statements(folder: Path = SCHEMA_DIR) -> list[tuple[str, str]]:
    """``(name, statement)`` for every statement of every schema file, in file order.

    An empty schema is an error, never a silent no-op: a load without its
    uniqueness constraints would MERGE slowly and could duplicate nodes.
    """
    out = []
    for path in sorted(folder.glob("*.cypher")):
        body = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("//"))
        for i, stmt in enumerate(s.strip() for s in body.split(";")):
            if stmt:
                out.append((f"schema {path.stem}#{i + 1}", stmt))
    if not out:
        raise ConfigError(f"{folder}: no schema statements found (is the linkage package installed completely?)")
    return out


def apply(driver: neo4j.Driver, settings: Settings, folder: Path = SCHEMA_DIR, *, only: str | None = None) -> int:
    """Create every constraint and index (schema changes need one auto-commit statement each).

    ``only`` (a label) applies just the statements on that label: the load lease
    needs its own constraint before it can be taken, ahead of the rest of the schema.
    """
    items = statements(folder)
    if only is not None:
        items = [(name, stmt) for name, stmt in items if f"(n:{only})" in stmt]
    for name, stmt in items:
        run_query(driver, settings, name, stmt, write=True)
    run_query(driver, settings, "schema await", "CALL db.awaitIndexes(300)", write=True)
    return len(items)
