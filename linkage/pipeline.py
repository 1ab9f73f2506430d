"""``detect``: the batch ring-detection pipeline, from an input folder to flagged rings.

read + validate → signals (one stage per family) → activity → evidence graph →
communities → scoring → attribution → outputs. Every stage but communities is SQL on
one in-process DuckDB connection; each declares what it reads and writes
(``linkage.stages``), and the result keeps the connection so a notebook user can
query what the run produced (``Config(keep_tables=True)`` keeps every stage's tables).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from . import activity, analysis, io, limits, signals
from .config import Config
from .publish import RunWriter
from .results import Result
from .stages import Context, Reporter, Runner, Stage, Timer

if TYPE_CHECKING:
    from .stix.intake import StixIntel

#: Batch tables the outputs read besides the analysis results (request-derived evidence, instruments, rejects).
BATCH_RESULTS = ("events", "payments", "rejected")


def detect(data: str | Path, config: Config | None = None, *, out: str | Path | None = None,
           report: Reporter | None = None, threads: int | None = None,
           memory_limit: str | None = None, max_field_bytes: int | None = None,
           intel: StixIntel | None = None) -> Result:
    """Run the whole pipeline on the batch folder ``data``; write outputs to ``out`` if given.

    ``max_field_bytes`` is the input field size limit (``io.read_batch``; default 1 MB): like the
    memory limit it bounds the run, not the detection, so it is not part of ``Config``.
    ``intel`` (a :class:`linkage.stix.intake.StixIntel`) adds STIX bundles to the batch's intel.

    >>> from linkage import detect
    >>> result = detect("fixtures/world")               # doctest: +SKIP
    >>> [r.operator for r in result.rings][:3]          # doctest: +SKIP
    """
    config = config or Config()
    threads, memory_limit = limits.check_threads(threads), limits.check_memory_limit(memory_limit)
    # OUT is checked now (a file, a mount point, someone else's files), not after a long run.
    writer = RunWriter(out) if out is not None else None
    timer = Timer(report)
    con = io.connect(threads=threads, memory_limit=memory_limit)
    ctx = Context(con=con, config=config)

    def read(ctx: Context) -> None:
        batch = io.read_batch(data, ctx.con, max_field_bytes=max_field_bytes or io.MAX_FIELD_BYTES,
                              extra_intel=intel)
        ctx.values["batch"] = batch
        ctx.counts.update(batch.counts())

    stages = [
        Stage("read", read, writes=("accounts", "events", "payments", "intel", "rejected"),
              backing={"events": ("events_checked",)}),
        *signals.stages(config),
        activity.STAGE,
        *analysis.STAGES,
    ]
    if writer is not None:
        stages.append(Stage("outputs", lambda ctx: _write(ctx, writer),
                            reads=(*analysis.RESULTS, *BATCH_RESULTS)))
    Runner(stages, keep=(*analysis.RESULTS, *BATCH_RESULTS), timer=timer).run(ctx)
    return _result(ctx, timer)


def _result(ctx: Context, timer: Timer) -> Result:
    return analysis.result(ctx, timer)


def _write(ctx: Context, out: RunWriter) -> None:
    from .outputs import write_outputs

    write_outputs(_result(ctx, Timer()), out, ctx.values["batch"])


__all__ = ["detect", "Result"]
