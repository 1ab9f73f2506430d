"""Stages that say what they read and write, and the runner that holds them to it.

Every stage of a run works on one DuckDB connection, sharing tables by name.
A :class:`Stage` declares the tables it reads and the tables it writes; the
:class:`Runner` checks that a stage's inputs exist before running it (a missing
one is a bug in the producer, named at once instead of as a binder error deep in
some SQL), checks its outputs after, and drops what no later stage needs:

- tables a stage made but did not declare (its scratch) right after it;
- declared tables after their last reader, unless the run keeps them (``keep``:
  what the caller reads at the end) or ``Config.keep_tables`` keeps everything.

A view can rest on tables (``events`` on ``events_checked``): ``backing`` keeps
those as long as the view. Two producers (``pipeline.detect`` and the stored-graph
reader ``store.rings``) satisfy the same analysis contract, ``analysis.INPUTS``.
The runner also times each stage and reports start and end to a callback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import duckdb

from . import engines
from .config import Config
from .errors import LinkageError

log = logging.getLogger(__name__)

#: ``report(stage, None)`` when a stage starts, ``report(stage, seconds)`` when it ends.
Reporter = Callable[[str, "float | None"], None]


class ContractError(LinkageError):
    """A stage ran without an input it declares, or did not produce an output it declares (a bug)."""


@dataclass
class Context:
    """What stages share besides tables: the connection, the config and Python-side results."""

    con: duckdb.DuckDBPyConnection
    config: Config
    counts: dict[str, int] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[Context], None]
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    #: view -> tables it rests on, kept as long as the view.
    backing: dict[str, tuple[str, ...]] = field(default_factory=dict)


def tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Names of the tables and views visible on the connection (temp or not), on either engine."""
    return set(engines.table_kinds(con))


def require(con: duckdb.DuckDBPyConnection, names: Iterable[str], who: str) -> None:
    """Raise ContractError naming the first of ``names`` missing on the connection."""
    present = tables(con)
    missing = [n for n in names if n not in present]
    if missing:
        raise ContractError(f"stage {who} needs table(s) {', '.join(missing)}, which no earlier stage made")


class Timer:
    """Times named steps and reports them; ``timings`` accumulates seconds per step."""

    def __init__(self, report: Reporter | None = None):
        self.report = report
        self.timings: dict[str, float] = {}
        self._name: str | None = None
        self._t0 = 0.0

    def start(self, name: str) -> None:
        self.stop()
        self._name, self._t0 = name, time.perf_counter()
        if self.report:
            self.report(name, None)

    def stop(self) -> None:
        if self._name is not None:
            dt = time.perf_counter() - self._t0
            self.timings[self._name] = round(self.timings.get(self._name, 0.0) + dt, 3)
            log.info("stage %s: %.2fs", self._name, dt)
            if self.report:
                self.report(self._name, dt)
            self._name = None


@contextmanager
def step(name: str) -> Iterator[None]:
    """Log a part of a stage's time (``step NAME: S``): a stage's total does not say which query grew with the batch."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        log.info("step %s: %.2fs", name, time.perf_counter() - t0)


class Runner:
    """Runs stages in order on one context, checking contracts and dropping what is no longer needed."""

    def __init__(self, stages: Sequence[Stage], *, keep: Iterable[str] = (), timer: Timer | None = None):
        self.stages = list(stages)
        self.keep = set(keep)
        self.timer = timer or Timer()

    def run(self, ctx: Context) -> None:
        last_reader: dict[str, int] = {}
        for i, stage in enumerate(self.stages):
            for name in stage.reads:
                last_reader[name] = i
        backing: dict[str, tuple[str, ...]] = {}
        for i, stage in enumerate(self.stages):
            self.timer.start(stage.name)
            require(ctx.con, stage.reads, stage.name)
            before = tables(ctx.con)
            stage.run(ctx)
            require(ctx.con, stage.writes, stage.name)
            backing.update(stage.backing)
            if not ctx.config.keep_tables:
                made = tables(ctx.con) - before
                declared = set(stage.writes) | {t for v in stage.backing.values() for t in v}
                self._drop(ctx.con, made - declared - self.keep)
                done = {t for t, k in last_reader.items() if k == i} - self.keep
                self._drop(ctx.con, done | {b for t in done for b in backing.get(t, ())})
        self.timer.stop()

    @staticmethod
    def _drop(con: duckdb.DuckDBPyConnection, names: Iterable[str]) -> None:
        kinds = engines.table_kinds(con)
        for name in sorted(names, key=lambda n: kinds.get(n) != "VIEW"):  # views before what they rest on
            if name in kinds:
                engines.drop(con, name, kinds[name])


__all__ = ["Stage", "Context", "Runner", "Timer", "ContractError", "require", "step", "tables"]
