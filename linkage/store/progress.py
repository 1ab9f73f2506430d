"""What ``linkage load`` and ``linkage rings`` show while they work, and the summary after.

A load of a 20k-account world used to print nothing for two minutes. Now each
step shows a transient bar on stderr (rows, rate, time) and leaves one line when
it ends, the way ``linkage detect`` shows its stages; ``rings`` also shows the
rows it reads from the graph. Nothing is drawn when stderr is not a terminal
or the caller asked for quiet or JSON output (:func:`wanted`).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.progress import TaskID


def wanted(quiet: bool, fmt: str) -> bool:
    """Show progress only to a person: text output, not quiet, stderr a terminal."""
    return not quiet and fmt == "text" and sys.stderr.isatty()


def rate(rows: int, seconds: float) -> str:
    """Rows per second, readable; pure.

    >>> rate(49117, 2.0), rate(0, 0.0)
    ('24,558/s', '')
    """
    return f"{rows / seconds:,.0f}/s" if seconds > 0 and rows else ""


class StoreProgress:
    """Rich progress on stderr for load steps (``load.Report``), read queries and pipeline stages."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True, highlight=False)
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description:<32}"), BarColumn(bar_width=24),
                                 MofNCompleteColumn(), TextColumn("{task.fields[rate]:>10}"), TimeElapsedColumn(),
                                 console=self.console, transient=True)
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> StoreProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def _line(self, name: str, rows: int | None, seconds: float) -> None:
        from rich.text import Text

        figures = f"{rows:>12,} rows  {rate(rows, seconds):>10}" if rows is not None else " " * 29
        self.console.print(Text.assemble(("  ✓ ", "green"), f"{name:<32}", figures, (f"{seconds:8.2f}s", "cyan")))

    # --- load steps (load.Report) ------------------------------------------------------

    def start(self, step: str, total: int | None) -> None:
        self.tasks[step] = self.progress.add_task(step, total=total, rate="")

    def advance(self, step: str, rows: int) -> None:
        task = self.tasks.get(step)
        if task is not None:
            elapsed = self.progress.tasks[self._index(task)].elapsed or 0.0
            self.progress.update(task, completed=rows, rate=rate(rows, elapsed))

    def end(self, step: str, rows: int, seconds: float) -> None:
        task = self.tasks.pop(step, None)
        if task is not None:
            self.progress.remove_task(task)
        self._line(step, rows, seconds)

    def _index(self, task: TaskID) -> int:
        return next(i for i, t in enumerate(self.progress.tasks) if t.id == task)

    # --- rows read from the graph (rings.RowsRead) ----------------------------------------

    def rows_read(self, name: str, rows: int) -> None:
        key = f"read {name}"
        if key not in self.tasks:
            self.start(key, None)
        self.advance(key, rows)

    def reads_done(self) -> None:
        """Close the read bars (their rows are part of the 'read graph' stage line)."""
        for key in [k for k in self.tasks if k.startswith("read ")]:
            self.progress.remove_task(self.tasks.pop(key))

    # --- pipeline stages (stages.Reporter) ---------------------------------------------------

    def __call__(self, stage: str, seconds: float | None) -> None:
        if seconds is None:
            self.start(f"stage {stage}", None)
            return
        self.reads_done()
        task = self.tasks.pop(f"stage {stage}", None)
        if task is not None:
            self.progress.remove_task(task)
        self._line(stage, None, seconds)


def summary_table(steps: dict[str, dict[str, Any]]) -> str:
    """Per-step rows, seconds and rate as aligned text (the load's closing summary); pure.

    >>> print(summary_table({"accounts": {"nodes": 10, "relationships": 0, "seconds": 2.0}}))
    step                                     rows   seconds         rate
    accounts                                   10      2.00          5/s
    """
    lines = [f"{'step':<32} {'rows':>12} {'seconds':>9} {'rate':>12}"]
    for name, s in steps.items():
        rows = max(s.get("nodes", 0), s.get("relationships", 0))
        lines.append(f"{name:<32} {rows:>12,} {s['seconds']:>9.2f} {rate(rows, s['seconds']):>12}")
    return "\n".join(lines)


__all__ = ["StoreProgress", "wanted", "rate", "summary_table"]
