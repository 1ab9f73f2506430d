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
