"""The Spark engine: the stages' DuckDB statements run as Spark SQL over temp views.

:class:`SparkConnection` stands where a stage expects a DuckDB connection (``execute``,
``executemany``, ``register``) and decides, statement by statement, where it runs:

- on Spark, transpiled by ``linkage.engines.dialect``: ``CREATE TABLE … AS`` becomes a
  checkpointed DataFrame (computed once, lineage cut) behind a temp view of that name,
  ``INSERT INTO`` a union with the table's columns and types, a query a lazy DataFrame;
- on the driver's DuckDB, when the dialect module says Spark has no equivalent giving the same
  values (``dialect.driver_only``): its input tables are copied to the driver through Arrow,
  and a table it makes is copied to Spark when a Spark statement first reads it.

Each table lives on Spark, on the driver or both; a table made again on one side is dropped
from the other, so both copies are always the same rows. The driver's DuckDB is also where the
batch is read and validated (the read stage's rules run there; see the README) and where the
output files are written from.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import duckdb
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from ..errors import ConfigError, LinkageError
from ..sql import ident
from . import dialect

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

#: Shuffle partitions per core of a local master: Spark's default (200) costs more in task start-up
#: than it saves on anything a few machines hold.
PARTITIONS_PER_CORE = 2


class SparkEngineError(LinkageError):
    """A statement failed on Spark (named with the statement's first line), or Spark could not start."""


def session(master: str | None = None, *, partitions: int | None = None) -> SparkSession:
    """The Spark session of a run: ``SPARK_REMOTE`` (Spark Connect) if set, else ``master`` (default ``local[*]``).

    UTC session time zone (as the DuckDB engine), Arrow transfers, no UI, ANSI mode off so that
    a division by zero or a failed cast gives NULL as it does in DuckDB, and ``size(NULL)`` NULL.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError("the Spark engine needs pyspark and sqlglot: pip install 'linkage[spark]'") from None
    builder = SparkSession.builder.appName("linkage")
    remote = os.environ.get("SPARK_REMOTE")
    if remote:
        builder = builder.remote(remote)
    else:
        master = master or "local[*]"
        builder = builder.master(master).config("spark.ui.enabled", "false")
        # Local workers run this interpreter (it has linkage's dependencies), not whatever python3 is first
        # on PATH: PySpark reads PYSPARK_PYTHON when the context starts; a value the user set still wins.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = builder.config("spark.sql.shuffle.partitions", str(partitions or _local_partitions(master)))
    builder = (builder.config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.sql.ansi.enabled", "false")
               .config("spark.sql.legacy.sizeOfNull", "false"))  # size(NULL) is NULL, as array_length in DuckDB
    try:
        spark: SparkSession = builder.getOrCreate()
        return spark
    except Exception as exc:  # py4j and JVM start-up failures have no common base class
        raise SparkEngineError(f"cannot start Spark ({str(exc).strip().splitlines()[0] if str(exc) else exc})"
                               ) from None


def _local_partitions(master: str) -> int:
    inside = master[master.find("[") + 1:master.find("]")] if "[" in master else ""
    cores = os.cpu_count() or 1 if inside in ("", "*") else int(inside.split(",")[0])
    return max(1, cores * PARTITIONS_PER_CORE)


class SparkResult:
    """The rows of a Spark query, fetched the ways stages fetch a DuckDB result."""

    def __init__(self, frame: DataFrame):
        self.frame = frame

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.frame.collect()]

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self.frame.take(1)
        return tuple(rows[0]) if rows else None

    def df(self) -> pd.DataFrame:
        frame: pd.DataFrame = _arrow(self.frame).to_pandas()
        return frame

    def fetchnumpy(self) -> dict[str, npt.NDArray[Any]]:
        table = _arrow(self.frame)
        return {name: table.column(name).to_numpy() for name in table.column_names}

    def arrow(self) -> pa.Table:
        return _arrow(self.frame)


def _arrow(frame: DataFrame) -> pa.Table:
    """A DataFrame's rows as an Arrow table (``toArrow`` from Spark 4; through pandas before)."""
    if hasattr(frame, "toArrow"):
        return frame.toArrow()
    return pa.Table.from_pandas(frame.toPandas(), preserve_index=False)  # pragma: no cover (Spark 3.5)


class SparkConnection:
    """A DuckDB-shaped connection whose statements run on Spark, or on the driver (see the module docstring)."""

    engine = "spark"

    def __init__(self, spark: SparkSession, driver: duckdb.DuckDBPyConnection):
        self.spark = spark
        self.driver = driver
        self._tables: dict[str, DataFrame] = {}
        self._views: set[str] = set()
        self._frames: dict[str, pd.DataFrame] = {}
        #: Statements run on each side (logged at the end of a run: how much of it Spark ran).
        self.statements = {"spark": 0, "driver": 0}

    # -- the DuckDB-shaped surface ---------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """Run one statement where it can run (see the module docstring); a query returns its result."""
        try:
            tree = dialect.parse(sql)
        except Exception as exc:  # noqa: BLE001  SQLGlot's errors: the driver reads what SQLGlot cannot
            log.debug("spark engine: SQLGlot cannot read a statement (%s); it runs on the driver", exc)
            return self._on_driver(sql, params, None)
        reason = dialect.driver_only(tree)
        if reason is not None:
            log.debug("spark engine: on the driver (%s): %s", reason, _first_line(sql))
            return self._on_driver(sql, params, tree)
        return self._on_spark(dialect.bind(tree, params), sql)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """``INSERT INTO t VALUES (?, …)`` for many rows: one union of a frame of them."""
        tree = dialect.parse(sql)
        target = dialect.target_of(tree)
        if not isinstance(tree, exp_insert()) or target is None:
            raise SparkEngineError(f"executemany takes an INSERT statement, not: {_first_line(sql)}")
        existing = self.table(target)
        frame = pd.DataFrame([list(r) for r in rows], columns=existing.columns)
        if frame.empty:
            return
        self._store(target, self._conform(self.spark.createDataFrame(frame), existing))

    def register(self, name: str, frame: pd.DataFrame) -> None:
        """A pandas frame as a relation named ``name`` (sent to Spark when a Spark statement reads it)."""
        self._frames[name] = frame
        self.driver.register(name, frame)

    def unregister(self, name: str) -> None:
        self._frames.pop(name, None)
        self.driver.unregister(name)
        if name in self._views:
            self.spark.catalog.dropTempView(name)
            self._views.discard(name)

    # -- tables ------------------------------------------------------------------------------------------

    def table_kinds(self) -> dict[str, str]:
        """Every table on either side (a registered frame is not a table)."""
        kinds = {name: "BASE TABLE" for name in self._tables}
        rows = self.driver.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall()
        kinds.update({str(n): str(k) for n, k in rows})
        return kinds

    def drop(self, name: str) -> None:
        """Drop ``name`` on both sides."""
        self._drop_spark(name)
        self._drop_driver(name)

    def table(self, name: str) -> DataFrame:
        """The Spark DataFrame of table ``name``, copied from the driver the first time Spark needs it."""
        if name in self._tables:
            return self._tables[name]
        if name in self._frames:
            frame = self._from_pandas(self._frames[name])
            frame.createOrReplaceTempView(name)
            self._views.add(name)
            return frame
        kinds = self._driver_kinds()
        if name not in kinds:
            raise SparkEngineError(f"no table {name} on Spark or on the driver")
        result = self.driver.execute(f"SELECT * FROM {ident(name)}")
        arrow = result.to_arrow_table()  # duckdb >= 1.5 (the floor)
        frame = self._from_arrow(arrow)
        self._tables[name] = frame
        frame.createOrReplaceTempView(name)
        return frame

    def to_driver(self, name: str) -> None:
        """Copy Spark's table ``name`` to the driver unless the driver has it already."""
        if name in self._frames or name in self._driver_kinds() or name not in self._tables:
            return
        arrow = _arrow(self._tables[name])
        scratch = f"__from_spark_{name}"
        self.driver.register(scratch, arrow)
        try:
            self.driver.execute(f"CREATE TABLE {ident(name)} AS SELECT * FROM {ident(scratch)}")
        finally:
            self.driver.unregister(scratch)

    def close(self) -> None:
        """Unpersist this run's tables (the session stays, for the next run in the same process)."""
        for name in list(self._tables):
            self._drop_spark(name)

    # -- where statements run ----------------------------------------------------------------------------

    def _on_driver(self, sql: str, params: Sequence[Any] | None, tree: Any) -> Any:
        self.statements["driver"] += 1
        if tree is not None:
            for name in dialect.tables_read(tree):
                self.to_driver(name)
        result = self.driver.execute(sql, list(params) if params is not None else [])
        target = dialect.target_of(tree) if tree is not None else None
        if target is not None:
            self._drop_spark(target)
        return result

    def _on_spark(self, tree: Any, sql: str) -> SparkResult | None:
        from sqlglot import exp

        self.statements["spark"] += 1
        for name in dialect.tables_read(tree):
            self.table(name)
        target = dialect.target_of(tree)
        try:
            if isinstance(tree, exp.Drop):
                self.drop(target or "")
                return None
            if isinstance(tree, exp.Create) and target is not None:
                kind = str(tree.args.get("kind") or "TABLE").upper()
                query = tree.expression
                frame = self._query(query) if query is not None else self._empty(tree)
                if kind == "VIEW":
                    self._store(target, frame, checkpoint=False)
                else:
                    self._store(target, frame)
                return None
            if isinstance(tree, exp.Insert) and target is not None:
                existing = self.table(target)
                self._store(target, self._conform(self._query(tree.expression), existing))
                return None
            return SparkResult(self._query(tree))
        except SparkEngineError:
            raise
        except Exception as exc:  # noqa: BLE001  pyspark's AnalysisException and py4j errors
            raise SparkEngineError(f"Spark failed on: {_first_line(sql)} ({_reason(exc)})") from exc

    def _query(self, tree: Any) -> DataFrame:
        text = dialect.to_spark(tree)
        log.debug("spark sql: %s", text)
        return self.spark.sql(text)

    def _empty(self, tree: Any) -> DataFrame:
        """``CREATE TABLE t (col TYPE, …)``: an empty DataFrame of those columns."""
        from sqlglot import exp

        schema = tree.this
        cols = [exp.cast(exp.null(), c.args["kind"]).as_(c.name) for c in schema.expressions
                if isinstance(c, exp.ColumnDef)]
        return self.spark.sql(dialect.to_spark(exp.select(*cols).where(exp.false())))

    def _store(self, name: str, frame: DataFrame, *, checkpoint: bool = True) -> None:
        """Make ``frame`` the table ``name`` on Spark (computed now unless a view) and drop the driver's copy."""
        if checkpoint:
            frame = frame.localCheckpoint(eager=True)
        self._drop_spark(name)
        self._tables[name] = frame
        frame.createOrReplaceTempView(name)
        self._drop_driver(name)

    @staticmethod
    def _conform(new: DataFrame, existing: DataFrame) -> DataFrame:
        """``new`` with ``existing``'s column names and types, by position (as ``INSERT`` matches columns)."""
        from pyspark.sql.functions import col

        if len(new.columns) != len(existing.columns):
            raise SparkEngineError(f"INSERT of {len(new.columns)} columns into a table of {len(existing.columns)}")
        typed = [col(f"`{n}`").cast(f.dataType).alias(f.name)
                 for n, f in zip(new.columns, existing.schema.fields)]
        return existing.unionAll(new.select(*typed))

    def _from_pandas(self, frame: pd.DataFrame) -> DataFrame:
        return self._from_arrow(pa.Table.from_pandas(frame, preserve_index=False))

    def _from_arrow(self, table: pa.Table) -> DataFrame:
        """A Spark DataFrame of an Arrow table, its columns in types Spark has (see :func:`_spark_type`)."""
        table = table.cast(pa.schema([pa.field(f.name, _spark_type(f.type)) for f in table.schema]))
        if _spark_takes_arrow(self.spark):
            return self.spark.createDataFrame(table)
        return self.spark.createDataFrame(table.to_pandas())  # pragma: no cover (Spark 3.5)

    def _driver_kinds(self) -> dict[str, str]:
        rows = self.driver.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall()
        return {str(n): str(k) for n, k in rows}

    def _drop_spark(self, name: str) -> None:
        frame = self._tables.pop(name, None)
        if frame is not None:
            self.spark.catalog.dropTempView(name)
            frame.unpersist()

    def _drop_driver(self, name: str) -> None:
        kind = self._driver_kinds().get(name)
        if kind is not None:
            self.driver.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} IF EXISTS {ident(name)}")


#: Unsigned integers (DuckDB's ``hash`` is a UBIGINT) into the signed or decimal type that holds every value.
_UNSIGNED = {pa.uint8(): pa.int16(), pa.uint16(): pa.int32(), pa.uint32(): pa.int64(), pa.uint64(): pa.decimal128(20, 0)}


def _spark_type(kind: pa.DataType) -> pa.DataType:
    """The Arrow type Spark takes for ``kind``: unsigned integers widened, text views and NULL columns as text."""
    if kind in _UNSIGNED:
        return _UNSIGNED[kind]
    if pa.types.is_null(kind) or pa.types.is_string_view(kind) or pa.types.is_large_string(kind):
        return pa.string()
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return pa.list_(_spark_type(kind.value_type))
    return kind


def exp_insert() -> type:
    from sqlglot import exp

    insert: type = exp.Insert
    return insert


def _spark_takes_arrow(spark: SparkSession) -> bool:
    """Spark 4 builds a DataFrame from an Arrow table directly."""
    return int(spark.version.split(".")[0]) >= 4


def _first_line(sql: str) -> str:
    text = " ".join(sql.split())
    return text[:120] + ("…" if len(text) > 120 else "")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def connect(driver: duckdb.DuckDBPyConnection, master: str | None = None) -> SparkConnection:
    """A Spark connection over a new or running session, with ``driver`` for reading and driver-only statements."""
    return SparkConnection(session(master), driver)


__all__ = ["SparkConnection", "SparkResult", "SparkEngineError", "session", "connect"]
