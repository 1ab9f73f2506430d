"""``detect``: the batch ring-detection pipeline, from an input folder to flagged rings.

read + validate → signals (one stage per family) → activity → evidence graph →
communities → scoring → attribution → outputs. Every stage but communities is SQL on
one in-process DuckDB connection; each declares what it reads and writes
(``linkage.stages``), and the result keeps the connection so a notebook user can
query what the run produced (``Config(keep_tables=True)`` keeps every stage's tables).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from . import activity, analysis, engines, io, limits, signals
from .config import Config
from .errors import ConfigError
from .lineage import KnownRing, Prior
from .publish import RunWriter
from .results import Result
from .stages import Context, Reporter, Runner, Stage, Timer
from .state import RingRecord, State

if TYPE_CHECKING:
    from .stix.intake import StixIntel

#: Batch tables the outputs read besides the analysis results (request-derived evidence, instruments, rejects).
BATCH_RESULTS = ("events", "payments", "rejected")


def detect(data: str | Path, config: Config | None = None, *, out: str | Path | None = None,
           report: Reporter | None = None, threads: int | None = None,
           memory_limit: str | None = None, max_field_bytes: int | None = None,
           intel: StixIntel | None = None, state: str | Path | None = None,
           window_days: int | None = None, engine: str | None = None, spark_master: str | None = None,
           known_rings: Sequence[KnownRing] | None = None) -> Result:
    """Run the whole pipeline on the batch folder ``data``; write outputs to ``out`` if given.

    ``state`` is a state folder (``linkage.state``): the batch is detected together with what
    earlier batches left there (accounts, payments, the last ``window_days`` days of requests,
    intel), each ring says its lineage against the rings found before, and the state is updated
    once the outputs are written. Without it the run stands alone, unless ``known_rings`` are
    given: rings found before elsewhere (``detect --neo4j`` passes the stored graph's,
    ``linkage.store.rings.known_rings``); each ring is matched to them and says its lineage, and
    nothing is recorded (the load records it).

    ``max_field_bytes`` is the input field size limit (``io.read_batch``; default 1 MB): like the
    memory limit it bounds the run, not the detection, so it is not part of ``Config``.
    ``intel`` (a :class:`linkage.stix.intake.StixIntel`) adds STIX bundles to the batch's intel.
    ``engine`` is ``duckdb`` (default) or ``spark`` (``linkage.engines``; ``spark_master`` is the
    Spark master URL, default ``local[*]``, or Spark Connect through ``SPARK_REMOTE``): the same
    stages, the same rings.

    >>> from linkage import detect
    >>> result = detect("fixtures/world")               # doctest: +SKIP
    >>> [r.operator for r in result.rings][:3]          # doctest: +SKIP
    """
    config = config or Config()
    engine = engines.check_engine(engine)
    if engine == "spark" and state is not None:
        raise ConfigError("--state is not supported on the Spark engine yet (run batches of a series with DuckDB)")
    if engine == "spark" and known_rings is not None:
        raise ConfigError("matching rings to known ones is not supported on the Spark engine yet")
    if state is not None and known_rings is not None:
        raise ConfigError("give the known rings by a state folder or by known_rings, not both")
    threads, memory_limit = limits.check_threads(threads), limits.check_memory_limit(memory_limit)
    # OUT and the state are checked now (a file, a mount point, someone else's files), not after a long run.
    store = State(state, window_days=window_days) if state is not None else None
    writer = RunWriter(out) if out is not None else None
    if store is None:
        return _run(data, config, writer, None, report=report, threads=threads, memory_limit=memory_limit,
                    max_field_bytes=max_field_bytes, intel=intel, engine=engine, spark_master=spark_master,
                    known_rings=known_rings)
    with store:
        return _run(data, config, writer, store, report=report, threads=threads, memory_limit=memory_limit,
                    max_field_bytes=max_field_bytes, intel=intel)


def _run(data: str | Path, config: Config, writer: RunWriter | None, store: State | None, *,
         report: Reporter | None, threads: int | None, memory_limit: str | None, max_field_bytes: int | None,
         intel: StixIntel | None, engine: str = "duckdb", spark_master: str | None = None,
         known_rings: Sequence[KnownRing] | None = None) -> Result:
    timer = Timer(report)
    con = io.connect(threads=threads, memory_limit=memory_limit)
    if engine == "spark":
        from .engines.spark import connect

        con = cast(Any, connect(con, spark_master))  # DuckDB-shaped: the stages take it as a connection
    ctx = Context(con=con, config=config)
    if store is not None:
        store.attach(con)

    def read(ctx: Context) -> None:
        # The read stage's rules run on DuckDB: on the Spark engine, on the driver's (see the README).
        batch = io.read_batch(data, engines.driver(ctx.con), max_field_bytes=max_field_bytes or io.MAX_FIELD_BYTES,
                              extra_intel=intel, known_accounts="state_accounts" if store is not None else None)
        ctx.values["batch"] = batch
        ctx.counts.update(batch.counts())
        if store is not None:
            store.refuse_applied(batch.batch_id, data)
            added = store.extend(ctx.con)
            ctx.counts["state"] = {**store.summary(), "carried": added}  # type: ignore[assignment]
            ctx.values["prior"] = Prior(tuple(store.known_rings(ctx.con)), batch.batch_id)
        elif known_rings is not None:
            ctx.values["prior"] = Prior(tuple(known_rings), batch.batch_id)

    stages = [
        Stage("read", read, writes=("accounts", "events", "payments", "intel", "rejected"),
              backing={"events": ("events_checked", "events_prior") if store is not None else ("events_checked",)}),
        *signals.stages(config),
        activity.STAGE,
        *analysis.STAGES,
    ]
    if writer is not None:
        stages.append(Stage("outputs", lambda ctx: _write(ctx, writer),
                            reads=(*analysis.RESULTS, *BATCH_RESULTS)))
    if store is not None:
        stages.append(Stage("state", lambda ctx: _commit(ctx, store, data),
                            reads=("accounts", "events", "payments", "intel")))
    Runner(stages, keep=(*analysis.RESULTS, *BATCH_RESULTS), timer=timer).run(ctx)
    return _result(ctx, timer)


def _commit(ctx: Context, store: State, data: str | Path) -> None:
    """Record the batch and its rings in the state (after the outputs: a run killed before is run again)."""
    rings, prior = ctx.values["rings"], ctx.values["prior"]
    today = {r.ring_id for r in rings}
    retired = sorted({p for r in rings if r.lineage for p in r.lineage.previous_ids} - today)
    records = [RingRecord(ring_id=r.ring_id, first_detected=r.lineage.first_detected if r.lineage else "",
                          last_detected=prior.batch_id, status=r.lineage.status if r.lineage else "new",
                          operation=r.operation, operator=r.operator, members=list(r.members),
                          tools=prior.tools.get(r.ring_id, [])) for r in rings]
    counts = {k: v for k, v in ctx.counts.items() if k in ("accounts", "events", "payments", "intel", "rejected")}
    store.commit(ctx.con, batch_id=prior.batch_id, data=data, counts=counts, rings=records, retired=retired)


def _result(ctx: Context, timer: Timer) -> Result:
    return analysis.result(ctx, timer)


def _write(ctx: Context, out: RunWriter) -> None:
    from .outputs import write_outputs

    write_outputs(_result(ctx, Timer()), out, ctx.values["batch"])


__all__ = ["detect", "Result"]
