"""The ``linkage`` command line.

Thin: each command parses options, calls the public API and prints. Every
``LinkageError`` becomes one readable line and a non-zero exit.
"""

from __future__ import annotations

from pathlib import Path

import click

from .cliutil import friendly_errors


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="linkage")
def main() -> None:
    """Find coordinated account rings in an AI platform's logs and attribute them to operators."""


def _stage_printer(quiet: bool):
    if quiet:
        return None

    def report(stage: str, seconds: float | None) -> None:
        if seconds is not None:
            click.echo(f"  {stage:<12} {seconds:7.2f}s", err=True)

    return report


def _summary_lines(summary: dict) -> list[str]:
    lines = [
        f"rings flagged: {summary['rings']}   accounts: {summary['accounts_flagged']}   "
        f"requests covered: {summary['requests_covered']}   rejected rows: {summary['rejected_rows']}",
    ]
    if summary["by_operator"]:
        lines.append(f"  {'operator':<28} {'rings':>6} {'accounts':>9} {'requests':>11}")
        for name, e in summary["by_operator"].items():
            lines.append(f"  {name:<28} {e['rings']:>6} {e['accounts']:>9} {e['requests']:>11}")
    return lines


@main.command()
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output folder for rings.json, ring_members.csv, rejected.csv.")
@click.option("--seed", type=int, default=None, help="Seed for community detection (default 42).")
@click.option("--threshold", type=float, default=None, help="Ring score at or above which a ring is flagged (default 0.5).")
@click.option("--min-ring-size", type=int, default=None, help="Smallest community that can be a ring (default 8).")
@click.option("--resolution", type=float, default=None, help="Leiden CPM resolution: least mean link weight per member pair (default 0.02).")
@click.option("--threads", type=int, default=None, help="DuckDB threads (default: all cores).")
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@friendly_errors
def detect(data: Path, out_dir: Path, seed, threshold, min_ring_size, resolution, threads, quiet, as_json) -> None:
    """Find and attribute coordinated account rings in the batch folder DATA."""
    import json

    from .config import Config
    from .pipeline import detect as run_detect

    overrides = {k: v for k, v in dict(seed=seed, threshold=threshold, min_ring_size=min_ring_size,
                                       resolution=resolution).items() if v is not None}
    config = Config(**overrides)
    result = run_detect(data, config, out=out_dir, report=_stage_printer(quiet or as_json), threads=threads)
    summary = result.summary()
    if as_json:
        click.echo(json.dumps({**summary, "timings": result.timings, "out": str(out_dir)}, indent=2))
    elif not quiet:
        for line in _summary_lines(summary):
            click.echo(line)
        if summary["rejected_rows"]:
            click.echo(f"{summary['rejected_rows']} rows rejected: see {out_dir / 'rejected.csv'}")
        click.echo(f"wrote {out_dir / 'rings.json'}")


# --- world generator and quality benchmark -------------------------------------------------


@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed; same seed, same world.")
@click.option("--accounts", type=int, default=20_000, show_default=True, help="Total accounts.")
@click.option("--requests", "n_requests", type=int, default=None, help="Approximate total requests (default: 35 per account).")
@click.option("--scale", type=click.Choice(["custom", "fixture", "seed"]), default="custom", show_default=True,
              help="Preset sizes: fixture (small, committed), seed (1M accounts, 50M requests).")
@click.option("--format", "fmt", type=click.Choice(["csv", "csv.gz", "parquet"]), default="csv.gz", show_default=True)
@friendly_errors
def synth(out_dir: Path, seed: int, accounts: int, n_requests: int | None, scale: str, fmt: str) -> None:
    """Write a synthetic world (input contract v1 plus truth.csv) to OUT_DIR."""
    from .synth import generate

    summary = generate(out_dir, seed=seed, accounts=accounts, requests=n_requests, scale=scale, fmt=fmt)
    click.echo(summary)


@main.command(name="eval")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("truth", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@friendly_errors
def eval_(out_dir: Path, truth: Path, as_json: bool) -> None:
    """Score a detect run (OUT_DIR) against a world's truth.csv."""
    import json

    from .evaluate import evaluate, format_metrics

    metrics = evaluate(out_dir, truth)
    click.echo(json.dumps(metrics, indent=2) if as_json else format_metrics(metrics))


def _register_optional_groups() -> None:
    from .store.commands import neo4j_group

    main.add_command(neo4j_group)


try:
    _register_optional_groups()
except ImportError:  # pragma: no cover - store commands arrive with the Neo4j work
    pass
