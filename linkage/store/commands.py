"""``linkage neo4j start|stop|status``: the local development server from the shell.

cli.py imports this module at import time, so it must not import cli.py back
(the shared error wrapper lives in ``cliutil``) and loads the server module only when a
command runs, keeping ``linkage --help`` fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..cliutil import friendly_errors

#: ``linkage neo4j status`` exit code when nothing runs (LSB "program is not running").
NOT_RUNNING = 3


_home_option = click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Server folder (jars, conf, data, logs). Default: $LINKAGE_NEO4J_HOME, else .neo4j in the project.",
)


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
@friendly_errors
def start(home: Path | None, bolt_port: int, http_port: int) -> None:
    """Start the server (or find it running) and wait until it answers."""
    from . import server

    info = server.start(home, bolt_port=bolt_port, http_port=http_port)
    click.echo(info.describe())


@neo4j_group.command()
@_home_option
@friendly_errors
def stop(home: Path | None) -> None:
    """Stop the server started from HOME (only that process)."""
    from . import server

    home = home or server.default_home()
    stopped = server.stop(home)
    click.echo(f"Neo4j stopped (home {home.resolve()})" if stopped else f"Neo4j was not running (home {home.resolve()})")


@neo4j_group.command()
@_home_option
@friendly_errors
def status(home: Path | None) -> None:
    """Say whether the server of HOME runs; exit 3 if it does not."""
    from . import server

    home = home or server.default_home()
    info = server.status(home)
    if info is None:
        click.echo(f"Neo4j is not running (home {home.resolve()})")
        sys.exit(NOT_RUNNING)
    click.echo(info.describe())
