"""Engines: where a run's SQL runs. One definition of every stage, whatever runs it.

The stages write their SQL once, in DuckDB's dialect, and hand it to ``ctx.con``. The default
engine is an in-process DuckDB connection, which runs it as written. A second engine (Spark,
issue 14) supplies a connection of the same shape that says ``engine = "spark"``; the few
places that look at the catalog (the stage runner's table listing and drops) ask this module
instead of querying DuckDB's ``information_schema`` themselves, and a stage that needs more than
SQL (communities) asks :func:`is_spark`.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError

#: Engine names ``--engine`` accepts; the first is the default.
ENGINES = ("duckdb", "spark")


def check_engine(name: str | None) -> str:
    """The engine's name, or ConfigError naming the choices."""
    engine = name or ENGINES[0]
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r} (choose one of {', '.join(ENGINES)})")
    return engine


def is_spark(con: Any) -> bool:
    """True when ``con`` is the Spark engine's connection (checked without importing pyspark)."""
    return getattr(con, "engine", "duckdb") == "spark"


def driver(con: Any) -> Any:
    """The DuckDB connection on this machine: ``con`` itself, or the Spark engine's driver-side DuckDB."""
    return con.driver if is_spark(con) else con


def table_kinds(con: Any) -> dict[str, str]:
    """``{name: 'VIEW' | 'BASE TABLE' | ...}`` of the relations visible on ``con`` (either engine)."""
    if is_spark(con):
        return dict(con.table_kinds())
    rows = con.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall()
    return {str(name): str(kind) for name, kind in rows}


def drop(con: Any, name: str, kind: str | None = None) -> None:
    """Drop the table or view ``name`` if it exists (either engine); ``kind`` if the caller knows it."""
    if is_spark(con):
        con.drop(name)
        return
    from ..sql import ident

    kind = kind or table_kinds(con).get(name)
    if kind is not None:
        con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} IF EXISTS {ident(name)}")


__all__ = ["ENGINES", "check_engine", "is_spark", "driver", "table_kinds", "drop"]
