"""The ``linkage`` command line.

Thin: each command parses options, calls the public API and prints. Every
failure (a LinkageError, a bad option, Ctrl-C, a closed pipe, a full disk) becomes
one readable line and an exit code (``linkage.cliutil.LinkageGroup``), and what is
printed has its control characters shown, not obeyed (``cliutil.echo``).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import cliutil
from .cliutil import echo, friendly_errors, neo4j_options, no_verify_option, seed_option
from .safetext import json_text, terminal
from .stix.hashing import DEFAULT_KEY_ENV
from .tabular import format_option, render

if TYPE_CHECKING:
    from rich.console import JustifyMethod
    from rich.progress import TaskID

    from .store.connection import Settings


@click.group(cls=cliutil.LinkageGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="linkage")
def main() -> None:
    """Find coordinated account rings in an AI platform's logs and attribute them to operators."""
    # The server's notifications (a relationship type no load has created yet, in a count query) are for
    # query authors. The driver logs each as a WARNING, which a process without logging set up prints in
    # full, query and all; the command owns this process, so it keeps them out of the user's terminal.
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)


class _StageProgress:
    """Stage events from ``stages.Timer`` on stderr with rich: a spinner while a stage runs, a line when it ends.

    The spinner is transient, so a run that fails leaves only the finished stages and the error line.
    """

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True, highlight=False)
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description:<12}"), TimeElapsedColumn(),
                                 console=self.console, transient=True)
        self.task: TaskID | None = None

    def __enter__(self) -> _StageProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, stage: str, seconds: float | None) -> None:
        from rich.text import Text

        if self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None
        if seconds is None:
            self.task = self.progress.add_task(stage)
        else:
            self.console.print(Text.assemble(("  ✓ ", "green"), f"{stage:<15}", (f"{seconds:7.2f}s", "cyan")))


SUMMARY_COLUMNS = ["operator", "attributed", "rings", "accounts", "requests"]


def summary_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The by-operator table of a run's summary, one row per operator (the tabular part, for csv)."""
    return [{"operator": name, "attributed": e["attributed"], "rings": e["rings"], "accounts": e["accounts"],
             "requests": e["requests"]} for name, e in summary["by_operator"].items()]


def _print_summary(summary: dict[str, Any]) -> None:
    """The run's figures and a table by operator, on stdout (no colour when piped)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False)
    console.print(Text(f"rings flagged: {summary['rings']:,}   accounts: {summary['accounts_flagged']:,}   "
                       f"requests covered: {summary['requests_covered']:,}   rejected rows: {summary['rejected_rows']:,}"),
                  soft_wrap=True)
    if not summary["by_operator"]:
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    columns: tuple[tuple[str, JustifyMethod], ...] = (("operator", "left"), ("kind", "left"), ("rings", "right"),
                                                      ("accounts", "right"), ("requests", "right"))
    for name, justify in columns:
        table.add_column(name, justify=justify)
    for name, e in summary["by_operator"].items():  # names come from intel: Text, never markup, no control codes
        table.add_row(Text(terminal(name, one_line=True), style="bold" if e["attributed"] else "italic"),
                      "intel" if e["attributed"] else "unattributed", f"{e['rings']:,}", f"{e['accounts']:,}",
                      f"{e['requests']:,}")
    console.print(table)



@main.command()
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output folder for rings.json, ring_members.csv, rejected.csv, report.html, evidence/.")
@seed_option(None, "Seed for community detection (default 42).")
@click.option("--threshold", type=cliutil.PROBABILITY, default=None,
              help="Ring score at or above which a ring is flagged, 0..1 (default 0.5).")
@click.option("--min-ring-size", type=cliutil.RING_SIZE, default=None,
              help="Smallest community that can be a ring, at least 2 (default 8).")
@click.option("--resolution", type=cliutil.POSITIVE, default=None,
              help="Leiden CPM resolution, a number above 0: least mean link weight per member pair (default 0.02).")
@click.option("--threads", type=cliutil.THREADS, default=None,
              help="DuckDB threads, 1 to 4 per core (default: all cores); worker processes never exceed the cores.")
@click.option("--memory-limit", type=cliutil.MEMORY, default=None, metavar="SIZE",
              help="Memory DuckDB may hold before spilling to the temp dir, e.g. 8GB (default: 60% of the machine).")
@click.option("--max-field-bytes", type=click.IntRange(min=1), default=None, metavar="BYTES",
              show_default="1048576", help="Largest value one input field may hold; a longer one rejects its row.")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True,
              help="Where the stages run: DuckDB on this machine, or Spark (pip install 'linkage[spark]').")
@click.option("--spark-master", default=None, metavar="URL",
              help="Spark master for --engine spark (default local[*]; Spark Connect: set SPARK_REMOTE instead).")
@click.option("--quiet", is_flag=True, help="Print nothing but errors (and the --format json or csv output).")
@format_option
@click.option("--neo4j", "use_neo4j", is_flag=True,
              help="Also load the evidence graph and rings into Neo4j (see --neo4j-*; password: $NEO4J_PASSWORD); "
                   "rings continuing stored ones keep their ids (DuckDB engine).")
@click.option("--intel", "intel_bundles", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A STIX 2.1 bundle to read as intel (repeatable); DATA/intel.stix.json is read too.")
@click.option("--share-key-env", "key_env", default=DEFAULT_KEY_ENV, show_default=True, metavar="VAR",
              help="Environment variable holding the sharing-group key that matches a bundle's hashed indicators.")
@click.option("--state", "state_dir", type=click.Path(path_type=Path), default=None,
              help="State folder carried from batch to batch (made on first use): earlier accounts, payments, "
                   "recent requests and rings; rings then say their lineage (docs/state.md).")
@click.option("--window-days", type=click.IntRange(1, 3660), default=None,
              help="Days of requests the state keeps, back from the latest request (default 14; needs --state).")
@neo4j_options
@friendly_errors
def detect(data: Path, out_dir: Path, seed: int | None, threshold: float | None, min_ring_size: int | None,
           resolution: float | None, threads: int | None, memory_limit: str | None, max_field_bytes: int | None,
           engine: str, spark_master: str | None, quiet: bool, fmt: str, use_neo4j: bool,
           intel_bundles: tuple[Path, ...], key_env: str, state_dir: Path | None, window_days: int | None,
           settings: Settings) -> None:
    """Find and attribute coordinated account rings in the batch folder DATA.

    With --state, DATA is one batch of a series (say a day's logs): it is detected together with
    what the state carries from earlier batches, rings keep their ids across batches, and each
    ring says its lineage (new, continuing, merged, split; new members).

    With --neo4j (and no --state) the stored graph is the state for ring ids: a ring that continues
    one stored there (by shared members) keeps its ring_id and says its lineage, then the run is
    loaded. The batch itself is detected alone; `linkage rings` recomputes over every stored batch.

    --format text prints the figures and a table by operator; json the whole summary with timings;
    csv the table by operator.
    """

    from .config import Config
    from .pipeline import detect as run_detect
    from .stix.intake import StixIntel

    intel = StixIntel(bundles=tuple(intel_bundles), key_env=key_env)

    given = dict(seed=seed, threshold=threshold, min_ring_size=min_ring_size, resolution=resolution)
    overrides: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    config = Config(**overrides)
    if window_days is not None and state_dir is None:
        raise click.UsageError("--window-days needs --state")
    known = None
    if use_neo4j and state_dir is None and engine == "duckdb":  # the stored graph is the state
        from .store.commands import stored_rings

        known = stored_rings(settings)
    run = functools.partial(run_detect, data, config, out=out_dir, intel=intel, threads=threads,
                            memory_limit=memory_limit, max_field_bytes=max_field_bytes, state=state_dir,
                            window_days=window_days, engine=engine, spark_master=spark_master, known_rings=known)
    if quiet or fmt != "text":
        result = run()
    else:
        with _StageProgress() as progress:
            result = run(report=progress)
    summary = result.summary()
    loaded = None
    if use_neo4j:
        from .store.commands import load_to_neo4j

        loaded = load_to_neo4j(out_dir, settings, quiet=quiet or fmt != "text")
    if fmt == "json":
        echo(json_text({**summary, "timings": result.timings, "out": str(out_dir),
                        **({"neo4j": loaded} if loaded else {}), **({"intel": intel.notes} if intel.notes else {})},
                       indent=2))
    elif fmt == "csv":
        echo(render(SUMMARY_COLUMNS, summary_rows(summary), "csv"), data=True)
    elif not quiet:
        for note in intel.notes:
            echo(note)
        _print_summary(summary)
        if summary["rejected_rows"]:
            echo(f"{summary['rejected_rows']:,} rows rejected: see {out_dir / 'rejected.csv'}")
        echo(f"wrote {out_dir / 'rings.json'} and {out_dir / 'report.html'}")


@main.command()
@click.argument("out_dir", type=click.Path(path_type=Path))
@no_verify_option
@friendly_errors
def report(out_dir: Path) -> None:
    """Rebuild OUT_DIR/report.html from the files a `linkage detect` run left in OUT_DIR.

    The run's other files are first checked against its manifest (run.json).
    """
    from .report import write_report

    path = write_report(out_dir)
    echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


# --- world generator and quality benchmark -------------------------------------------------

#: Worlds smaller than this cannot hold one ring of every operator; larger ones would not fit a machine.
SYNTH_MIN_ACCOUNTS = 100
SYNTH_MAX = 10 ** 8


def _list_presets(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from .synth import ADVERSARIES, TRAPS, describe

    echo(describe(ADVERSARIES, "adversary") + "\n" + describe(TRAPS, "trap"))
    ctx.exit()


@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@seed_option(7, "Random seed; same seed, same world.")
@click.option("--accounts", type=click.IntRange(SYNTH_MIN_ACCOUNTS, SYNTH_MAX), default=20_000, show_default=True,
              help=f"Total accounts ({SYNTH_MIN_ACCOUNTS:,} or more).")
@click.option("--requests", "n_requests", type=click.IntRange(0, SYNTH_MAX * 1000), default=None,
              help="Approximate total requests (default: 35 per account).")
@click.option("--scale", type=click.Choice(["custom", "fixture", "seed"]), default="custom", show_default=True,
              help="Preset sizes: fixture (small, committed), seed (1M accounts, 50M requests).")
@click.option("--format", "fmt", type=click.Choice(["csv", "csv.gz", "parquet"]), default="csv.gz", show_default=True)
@click.option("--adversary", "adversaries", multiple=True, metavar="NAME[:KNOB=V,...]",
              help="Add an operator with this preset's tradecraft (repeatable): stealth-pools, thin-operation, "
                   "mimicry, heavy-paraphrase. Ranges are LO-HI, e.g. stealth-pools:paraphrase=0.4,ips=2-5.")
@click.option("--trap", "traps", multiple=True, metavar="NAME[:KNOB=V,...]",
              help="Add a benign cohort that looks like a ring (repeatable): hackathon, eval-vendor, university-lab, "
                   "households, public-templates.")
@click.option("--no-default-operators", is_flag=True,
              help="Leave out the four default operators, so the world holds only the --adversary operators.")
@click.option("--list-presets", is_flag=True, is_eager=True, expose_value=False, callback=_list_presets,
              help="Print every adversary preset and trap with its knobs and defaults, and exit.")
@friendly_errors
def synth(out_dir: Path, seed: int, accounts: int, n_requests: int | None, scale: str, fmt: str,
          adversaries: tuple[str, ...], traps: tuple[str, ...], no_default_operators: bool) -> None:
    """Write a synthetic world (input contract v1 plus truth.csv) to OUT_DIR.

    \b
    Examples:
      linkage synth W --seed 7 --accounts 20000
      linkage synth W --adversary stealth-pools --adversary mimicry:intel=true --trap hackathon
      linkage synth W --no-default-operators --adversary thin-operation:accounts=1200,ips=2-4
    """
    from .synth import generate

    summary = generate(out_dir, seed=seed, accounts=accounts, requests=n_requests, scale=scale, fmt=fmt,
                       adversaries=adversaries, traps=traps, default_operators=not no_default_operators)
    echo(summary)


@main.command(name="eval")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("truth", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@format_option
@friendly_errors
def eval_(out_dir: Path, truth: Path, fmt: str) -> None:
    """Score a detect run (OUT_DIR) against a world's truth.csv: precision, recall, purity, splits and merges,
    attribution, benign false flags. --format csv gives one row per metric (nested names joined by '.')."""

    from .evaluate import evaluate, format_metrics, metric_rows

    metrics = evaluate(out_dir, truth)
    if fmt == "json":
        echo(json_text(metrics, indent=2))
    elif fmt == "csv":
        echo(render(["metric", "value"], metric_rows(metrics), "csv"), data=True)
    else:
        echo(format_metrics(metrics))


# --- investigators: the query library and explain (linkage/query_commands.py) ---------------

from .query_commands import explain as _explain  # noqa: E402
from .query_commands import query_group as _query_group  # noqa: E402

main.add_command(_query_group)
main.add_command(_explain)

from .validate import validate as _validate  # noqa: E402

main.add_command(_validate)


def _register_store_commands() -> None:
    from .store.commands import load_command, neo4j_group, rings_command

    main.add_command(neo4j_group)
    main.add_command(load_command)
    main.add_command(rings_command)


_register_store_commands()
from .stix.commands import intel_group as _intel_group  # noqa: E402  (linkage intel: STIX 2.1 exchange)

main.add_command(_intel_group)


if __name__ == "__main__":  # python -m linkage.cli
    main()
