"""``linkage neo4j start|stop|status``: the local development server from the shell.

cli.py imports this module at import time, so it must not import cli.py back
(the shared error wrapper lives in ``cliutil``) and loads the server module only when a
command runs, keeping ``linkage --help`` fast.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .. import cliutil
from ..cliutil import echo, friendly_errors, neo4j_options, no_verify_option, seed_option
from ..safetext import json_text, terminal

if TYPE_CHECKING:
    from rich.progress import TaskID

    from ..lineage import KnownRing
    from .connection import Settings
    from .lease import Holder

#: ``linkage neo4j status`` exit code when nothing runs (LSB "program is not running").
NOT_RUNNING = 3


_home_option = click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Server folder (jars, conf, data, logs). Default: $LINKAGE_NEO4J_HOME, else .neo4j in a source "
         "checkout, else ~/.local/share/linkage/neo4j ($XDG_DATA_HOME).",
)


class _StartProgress:
    """The steps of ``neo4j start`` on stderr: a transient spinner with the elapsed time, a line per finished step.

    A first start takes about a minute (jars, password, JVM, database creation);
    without this the command says nothing until it is done.
    """

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True, highlight=False)
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description:<30}"), TimeElapsedColumn(),
                                 console=self.console, transient=True)
        self.current: tuple[str, float] | None = None
        self.task: TaskID | None = None

    def __enter__(self) -> _StartProgress:
        self.progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self._finish()
        self.progress.stop()

    def __call__(self, step: str) -> None:
        self._finish()
        self.current = (step, time.monotonic())
        self.task = self.progress.add_task(step)

    def _finish(self) -> None:
        from rich.text import Text

        if self.current is None:
            return
        step, began = self.current
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.console.print(Text.assemble(("  ✓ ", "green"), f"{step:<30}", (f"{time.monotonic() - began:6.1f}s", "cyan")))
        self.current = self.task = None


@click.group(name="neo4j")
def neo4j_group() -> None:
    """Run a local Neo4j 5.26 Community server (no Docker) for development and tests.

    The first start downloads the server's jars from Maven Central (needs java
    and mvn). The password is $NEO4J_PASSWORD, else linkage-dev-password.
    """


@neo4j_group.command()
@_home_option
@click.option("--bolt-port", type=click.IntRange(1, 65535), default=7687, show_default=True, help="Bolt port on 127.0.0.1.")
@click.option("--http-port", type=click.IntRange(1, 65535), default=7474, show_default=True, help="HTTP port on 127.0.0.1.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors (progress shows only on a terminal anyway).")
@friendly_errors
def start(home: Path | None, bolt_port: int, http_port: int, quiet: bool) -> None:
    """Start the server (or find it running) and wait until it answers.

    On a terminal, each step shows with its elapsed time: downloading the jars
    (first time only), setting the password (new data folder), starting the JVM,
    waiting for Bolt. Then one line: version, pid, URIs and home.
    """
    from . import server

    if quiet or not sys.stderr.isatty():
        info = server.start(home, bolt_port=bolt_port, http_port=http_port)
    else:
        with _StartProgress() as progress:
            info = server.start(home, bolt_port=bolt_port, http_port=http_port, progress=progress)
    if not quiet:
        echo(info.describe())


@neo4j_group.command()
@_home_option
@friendly_errors
def stop(home: Path | None) -> None:
    """Stop the server started from HOME (only that process)."""
    from . import server

    home = home or server.default_home()
    stopped = server.stop(home)
    echo(f"Neo4j stopped (home {home.resolve()})" if stopped else f"Neo4j was not running (home {home.resolve()})")


@neo4j_group.command()
@_home_option
@friendly_errors
def status(home: Path | None) -> None:
    """Say whether the server of HOME runs; exit 3 if it does not."""
    from . import server

    home = home or server.default_home()
    info = server.status(home)
    if info is None:
        echo(f"Neo4j is not running (home {home.resolve()})")
        sys.exit(NOT_RUNNING)
    echo(info.describe())


_wait_option = click.option(
    "--wait", type=click.FloatRange(min=0), default=0, show_default=True, metavar="SECONDS",
    help="If another load or rings write-back holds the Neo4j load lease, wait this long for it (default: refuse).")

_format_option = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                              show_default=True, help="Output format.")


def _waiting(holder: Holder) -> None:
    echo(f"waiting for the load lease: another writer holds it ({holder.describe()})", err=True)


def stored_rings(settings: Settings) -> tuple[KnownRing, ...]:
    """The server's active rings, for ``detect --neo4j`` to continue (read before the run, so a server
    that cannot be reached stops it before minutes of work)."""
    from .connection import connect
    from .rings import known_rings

    driver = connect(settings)
    try:
        return known_rings(driver, settings)
    finally:
        driver.close()


def load_to_neo4j(out: Path, settings: Settings, *, quiet: bool = False, fmt: str = "text", wait: float = 0.0,
                  replace_rings: bool = False) -> dict[str, Any]:
    """Load a detect run's OUT folder, with progress on a terminal. Used by ``load`` and ``detect --neo4j``.

    Text output ends with a per-step table and one total line (unless quiet).
    """
    from contextlib import nullcontext

    from ..run import RunFolder, verification
    from .connection import connect
    from .load import load_run
    from .progress import StoreProgress, summary_table, wanted

    RunFolder(out)  # check the run against its manifest before touching the server
    driver = connect(settings)
    try:
        with (StoreProgress() if wanted(quiet, fmt) else nullcontext()) as progress, verification(False):  # just checked
            stats = load_run(driver, settings, out, report=progress, wait=wait, replace_rings=replace_rings,
                             on_wait=None if quiet or fmt != "text" else _waiting).as_dict()
    finally:
        driver.close()
    if not quiet and fmt == "text":
        echo(summary_table(stats["steps"]))
        echo(f"loaded into {settings.uri} ({settings.database}): {stats['nodes']:,} nodes, "
                   f"{stats['relationships']:,} relationships in {stats['seconds']:.1f}s "
                   f"({stats['relationships_per_s']:,} relationships/s)")
    return stats


@click.command(name="load")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@neo4j_options
@click.option("--bulk", is_flag=True,
              help="First load only: REPLACE the local server's database by a neo4j-admin import (much faster "
                   "at scale); later batches load normally.")
@click.option("--replace-rings", is_flag=True,
              help="Make the stored rings and operations exactly this run's (a re-analysis of the whole period); "
                   "default: add them to the stored ones by lineage.")
@_home_option
@_wait_option
@_format_option
@click.option("--json", "as_json", is_flag=True, hidden=True, help="Same as --format json.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@no_verify_option
@friendly_errors
def load_command(out_dir: Path, settings: Settings, bulk: bool, replace_rings: bool, home: Path | None, wait: float,
                 fmt: str, as_json: bool, quiet: bool) -> None:
    """Load the evidence graph and rings of a `linkage detect` run (OUT_DIR) into Neo4j.

    Incremental: a batch adds to what earlier batches stored. Its run's LINKED
    pairs are created or re-weighted, and stored pairs it does not link stay; its rings are
    added by lineage: a continuing ring keeps its node and gains the new members,
    members the batch saw elsewhere leave it, rings it merged or split are marked,
    not deleted (--replace-rings: the stored rings become exactly this run's).
    Idempotent: loading the same run again changes nothing, and a load that was
    interrupted is completed by running it again. One writer at a time: a second
    load refuses (or waits, --wait) while one runs. The run's files are first checked
    against its manifest (run.json). Password: $NEO4J_PASSWORD.
    """
    fmt = "json" if as_json else fmt
    if bulk:
        from ..run import RunFolder, verification
        from .bulk import import_run

        RunFolder(out_dir)  # check the run against its manifest before replacing the database
        with verification(False):
            stats = import_run(out_dir, home, database=settings.database, password=settings.password)
        if fmt == "text" and not quiet:
            echo(f"bulk-imported into {home or 'the local server'}: {stats.get('nodes', 0):,} nodes, "
                       f"{stats.get('relationships', 0):,} relationships in {stats.get('seconds', 0):.1f}s")
    else:
        stats = load_to_neo4j(out_dir, settings, quiet=quiet, fmt=fmt, wait=wait, replace_rings=replace_rings)
    if fmt == "json" and not quiet:
        echo(json_text(stats, indent=2))


@click.command(name="rings")
@click.option("--neo4j", "use_neo4j", is_flag=True, hidden=True,
              help="Accepted for compatibility: rings are always recomputed over the stored graph.")
@neo4j_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write rings.json and ring_members.csv of the recomputed rings here.")
@seed_option(None, "Seed for community detection (default 42).")
@click.option("--threshold", type=cliutil.PROBABILITY, default=None,
              help="Ring score at or above which a ring is flagged, 0..1 (default 0.5).")
@_wait_option
@_format_option
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@friendly_errors
def rings_command(use_neo4j: bool, settings: Settings, out_dir: Path | None, seed: int | None,
                  threshold: float | None, wait: float, fmt: str,
                  quiet: bool) -> None:
    """Recompute rings over every batch stored in Neo4j and write them back.

    Reads the stored evidence graph, weighs entities, links accounts, finds,
    scores and attributes rings exactly as `linkage detect` does, then makes the
    stored links and ring assignment those of the result (no stale MEMBER_OF
    survives). A ring that continues a stored one keeps its ring_id and says
    its lineage: the stored graph is the state. The embedded engine over files
    is `linkage detect`.
    """
    from contextlib import nullcontext

    from ..config import Config
    from .connection import connect
    from .progress import StoreProgress, wanted
    from .rings import recompute

    overrides: dict[str, Any] = {k: v for k, v in dict(seed=seed, threshold=threshold).items() if v is not None}
    config = Config(**overrides)
    writer = None
    if out_dir is not None:  # OUT is checked before the recompute, not after it
        from ..publish import RunWriter

        writer = RunWriter(out_dir)
    driver = connect(settings)
    try:
        with (StoreProgress() if wanted(quiet, fmt) else nullcontext()) as progress:
            result, stats = recompute(driver, settings, config, report=progress,
                                      rows_read=progress.rows_read if progress else None, writes=progress,
                                      wait=wait, on_wait=None if quiet or fmt != "text" else _waiting)
    finally:
        driver.close()
    if writer is not None:
        from ..outputs import write_rings_run

        write_rings_run(result, writer, source=f"neo4j {settings.uri} ({settings.database})")
    if quiet:
        return
    s = result.summary()
    if fmt == "json":
        echo(json_text({**s, "timings": result.timings, "written": stats.as_dict()}, indent=2))
        return
    echo(f"rings flagged: {s['rings']}   accounts: {s['accounts_flagged']:,}   "
               f"requests covered: {s['requests_covered']:,}   (written back to {settings.uri})")
    for name, e in s["by_operator"].items():
        echo(f"  {terminal(name, one_line=True):<28} {e['rings']:>6,} {e['accounts']:>9,} {e['requests']:>11,}")
