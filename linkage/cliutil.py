"""What every command group shares: deliberate failures become one line and an exit code.

Kept apart from ``cli.py`` so that command groups living elsewhere (``store.commands``)
can use it without importing the CLI back.
"""

from __future__ import annotations

import functools
import sys

import click

from .errors import LinkageError


def friendly_errors(fn):
    """Turn a LinkageError into ``linkage: error: …`` on stderr and its exit code, no traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LinkageError as exc:
            click.echo(f"linkage: error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


def neo4j_options(fn):
    """``--neo4j-uri/--neo4j-user/--neo4j-database``; each beats its NEO4J_* variable."""

    @click.option("--neo4j-uri", default=None, metavar="URI", help="Bolt URI (default $NEO4J_URI, else bolt://127.0.0.1:7687).")
    @click.option("--neo4j-user", default=None, metavar="USER", help="User (default $NEO4J_USER, else neo4j).")
    @click.option("--neo4j-database", default=None, metavar="DB", help="Database (default $NEO4J_DATABASE, else neo4j).")
    @functools.wraps(fn)
    def wrapper(*args, neo4j_uri, neo4j_user, neo4j_database, **kwargs):
        from .store.connection import Settings

        settings = Settings.from_env(uri=neo4j_uri, user=neo4j_user, database=neo4j_database)
        return fn(*args, settings=settings, **kwargs)

    return wrapper
