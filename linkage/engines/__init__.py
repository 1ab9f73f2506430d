"""Engines: where a run's SQL runs. One definition of every stage, two engines.

The stages write their SQL once, in DuckDB's dialect, and hand it to ``ctx.con``:

- ``duckdb`` (the default): an in-process DuckDB connection runs it as written;
- ``spark`` (``--engine spark``): :class:`linkage.engines.spark.SparkConnection` takes the
  same statements, transpiles them with SQLGlot (``linkage.engines.dialect``, the one module
  that knows what DuckDB has and Spark lacks) and runs them as Spark SQL over temp views.

A stage that needs more than SQL (communities) asks :func:`is_spark` and takes the engine's
own path; everything else is unaware of the engine. ``pyspark`` and ``sqlglot`` are an optional
extra (``pip install 'linkage[spark]'``), imported only when the Spark engine is chosen.
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
