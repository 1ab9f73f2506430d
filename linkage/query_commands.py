"""``linkage query list|show|run`` and ``linkage explain``: the investigator's commands.

Registered on the main group by ``cli.py``. Thin: options in, library and
explain functions called, text out. The Neo4j password comes only from
``NEO4J_PASSWORD`` (never an option, never echoed).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .cliutil import echo, friendly_errors, neo4j_options, no_verify_option
from .errors import ConfigError
from .safetext import json_text
from .tabular import format_option, render

if TYPE_CHECKING:
    from .queries import Query
    from .store.connection import Settings

_library_option = click.option(
    "--library", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
    help="Folder of *.cypher query files (default: the shipped linkage/cypher/queries).")


@click.group(name="query")
def query_group() -> None:
    """The investigator query library (linkage/cypher/queries/*.cypher) against Neo4j.

    Values are always passed as query parameters, never spliced into the Cypher.
    The password is read from $NEO4J_PASSWORD only.
    """


@query_group.command(name="list")
@_library_option
@format_option
@friendly_errors
def list_(library: Path | None, fmt: str) -> None:
    """List every query: id, mode, parameters and name."""
    from . import queries

    lib = queries.load_library(library)
    columns = ["id", "mode", "params", "name", "description", "bloom"] if fmt != "text" else ["id", "mode", "params", "name"]
    rows = [{"id": q.id, "mode": q.mode, "name": q.name, "description": q.description, "bloom": q.bloom,
             "params": (", ".join(f"{p.name}:{p.type}" for p in q.params) or "-") if fmt == "text" else
             [{"name": p.name, "type": p.type, "example": queries.example_text(p.example), "one_of": list(p.choices)}
              for p in q.params]}
            for q in lib.values()]
    echo(render(columns, rows, fmt, width=100), data=fmt != "text")


def example_command(q: Query) -> str:
    """The ``linkage query run`` line that runs ``q`` with its header's examples (shell-quoted)."""
    from . import queries

    parts = ["linkage", "query", "run", q.id]
    for p in q.params:
        parts += ["-p", f"{p.name}={queries.example_text(p.example)}"]
    return " ".join(shlex.quote(x) for x in parts)


@query_group.command()
@click.argument("name")
@_library_option
@friendly_errors
def show(name: str, library: Path | None) -> None:
    """Show one query: description, parameters with examples, a command that runs it, and its Cypher."""
    from . import queries

    q = queries.get(queries.load_library(library), name)
    echo(f"{q.id}: {q.name} ({q.mode})")
    echo(q.description)
    for p in q.params:
        echo(f"  --param {p.name}=…   {p.describe()}")
    if q.bloom:
        echo(f"Bloom search phrase: {q.bloom}")
    echo(f"Example: {example_command(q)}")
    echo("")
    echo(q.cypher)


@query_group.command()
@click.argument("name")
@click.option("--param", "-p", "params", multiple=True, metavar="KEY=VALUE",
              help="A query parameter; repeat for each. Typed from the query's header.")
@format_option
@click.option("--allow-write", is_flag=True, help="Allow a query whose header says 'mode: write'.")
@_library_option
@neo4j_options
@friendly_errors
def run(name: str, params: tuple[str, ...], fmt: str, allow_write: bool, library: Path | None, settings: Settings) -> None:
    """Run the library query NAME against Neo4j and print its rows."""
    from . import queries
    from .store.connection import connect

    q = queries.get(queries.load_library(library), name)
    bound = queries.bind(q, queries.split_assignments(params))
    if q.mode == "write" and not allow_write:
        raise ConfigError(f"query {q.id} writes to the graph: pass --allow-write to run it")
    with connect(settings) as driver:
        columns, rows = queries.run_table(driver, settings, q, bound, allow_write=allow_write)
    echo(render(columns, rows, fmt), data=fmt != "text")


@click.command()
@click.argument("account_a")
@click.argument("account_b")
@click.option("--from", "out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="A `linkage detect` output folder (its rings.json and evidence/*.parquet).")
@click.option("--neo4j", "use_neo4j", is_flag=True, help="Ask the Neo4j graph instead (see the --neo4j-* options).")
@click.option("--paths", "top", type=click.IntRange(1, 25), default=5, show_default=True,
              help="How many evidence paths to show when the two share nothing of weight.")
@format_option
@_library_option
@neo4j_options
@no_verify_option
@friendly_errors
def explain(account_a: str, account_b: str, out_dir: Path | None, use_neo4j: bool, top: int, fmt: str,
            library: Path | None, settings: Settings) -> None:
    """Why are ACCOUNT_A and ACCOUNT_B linked, or not?

    Names the flagged rings each is in; shows how each signal family's shared entities make its share of the
    link weight (sum or mean, the family cap, the org discount) and, with no link, which cut removed it and
    what it would have weighed; explains hubs; and, when they share nothing of weight, the shortest evidence
    paths through at most 2 intermediate accounts. --format csv lists the shared entities.
    """
    from . import explain as ex

    if (out_dir is None) == (not use_neo4j):
        raise ConfigError("give exactly one of --from OUT or --neo4j")
    if out_dir is not None:
        result = ex.explain_from_out(out_dir, account_a, account_b, top=top)
    else:
        from . import queries
        from .store.connection import connect

        lib = queries.load_library(library)
        with connect(settings) as driver:
            result = ex.explain_from_neo4j(driver, settings, account_a, account_b, library=lib, top=top)
    if fmt == "text":
        echo(ex.format_explanation(result))
    elif fmt == "json":
        echo(json_text(result.to_dict(), indent=2))
    else:
        echo(render(ex.SHARED_COLUMNS, ex.shared_rows(result), "csv"), data=True)
