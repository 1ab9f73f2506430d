"""What every command group shares: failures as one line, safe printing, validated options.

Kept apart from ``cli.py`` so that command groups living elsewhere (``store.commands``)
can use it without importing the CLI back.

- :class:`LinkageGroup` runs a command and turns every way it can end badly into one
  line on stderr and an exit code, never a traceback: a bad option (2), a LinkageError
  (its code), Ctrl-C (``linkage: interrupted``, 130), SIGTERM (143), a reader that closed
  the pipe (quiet, 141, like a process killed by SIGPIPE), stdout on a full disk (1).
- :func:`echo` is how commands print: control characters in the text (an ANSI escape
  in an operator name) are shown, not obeyed (``linkage.safetext.terminal``).
- Option types with ranges (``SEED``, ``THREADS``, ``MEMORY``, ``finite``…) refuse
  ``nan``, ``inf``, negative sizes and absurd thread counts before any work starts.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import math
import os
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar, cast

import click

from . import limits
from .errors import ConfigError, LinkageError
from .safetext import terminal

F = TypeVar("F", bound=Callable[..., Any])

#: Exit codes of a run stopped by a signal: 128 + the signal's number, as shells report them.
EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM
EXIT_PIPE = 128 + signal.SIGPIPE


class Stopped(Exception):
    """The run was stopped by a signal (Ctrl-C or SIGTERM); raised instead of whatever that broke."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class PipeClosed(Exception):
    """Whoever reads our stdout stopped reading (``linkage query list | head -1``)."""


_stopped: list[int] = []  # the signal that stopped this run, once one has


def _on_signal(signum: int, frame: Any) -> None:
    """First Ctrl-C/SIGTERM: unwind (temporary files are removed on the way). A second one: leave now."""
    if _stopped:
        os.write(2, b"linkage: interrupted\n")
        os._exit(EXIT_INTERRUPTED if signum == signal.SIGINT else EXIT_TERMINATED)
    _stopped.append(signum)
    raise KeyboardInterrupt


@contextlib.contextmanager
def _signals() -> Iterator[None]:
    """Route SIGINT and SIGTERM through :func:`_on_signal` while a command runs (main thread only)."""
    saved = {}
    with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
        for sig in (signal.SIGINT, signal.SIGTERM):
            saved[sig] = signal.signal(sig, _on_signal)
    _stopped.clear()
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def stopped() -> int | None:
    """The signal that is stopping this run, if any: whatever error it caused is not the story."""
    return _stopped[0] if _stopped else None


class LinkageGroup(click.Group):
    """The ``linkage`` group: one line and an exit code for every failure, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        # Catch Ctrl-C before click does (it would print a blank line and "Aborted!").
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Stopped(stopped() or signal.SIGINT) from None
        except BrokenPipeError as exc:  # ... and before it turns a closed pipe into exit 1
            raise PipeClosed() from exc

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        with _signals():
            try:
                code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            except BaseException as exc:  # noqa: BLE001 - every ending gets its one line
                _exit_for(exc)
        sys.exit(code if isinstance(code, int) else 0)


def _exit_for(exc: BaseException) -> NoReturn:
    """Print the one line ``exc`` deserves and exit with its code."""
    if isinstance(exc, SystemExit):
        raise exc
    signum = exc.signum if isinstance(exc, Stopped) else stopped()
    if signum is None and isinstance(exc, (KeyboardInterrupt, click.Abort)):
        signum = signal.SIGINT
    if signum is not None:
        _say("linkage: interrupted" if signum == signal.SIGINT else "linkage: terminated")
        sys.exit(EXIT_INTERRUPTED if signum == signal.SIGINT else EXIT_TERMINATED)
    if isinstance(exc, click.ClickException):
        hint = ""
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f" (see: {' '.join(['linkage', *exc.ctx.command_path.split()[1:]])} --help)"
        _say(f"linkage: error: {exc.format_message().rstrip('.')}{hint}")
        sys.exit(exc.exit_code)
    if isinstance(exc, LinkageError):
        _say(f"linkage: error: {exc}")
        sys.exit(exc.exit_code)
    if isinstance(exc, PipeClosed) or (isinstance(exc, OSError) and exc.errno == errno.EPIPE):
        _silence_stdout()  # the reader has what it wanted (`| head -1`)
        sys.exit(EXIT_PIPE)
    if isinstance(exc, OSError):
        _silence_stdout()
        where = f": {exc.filename}" if exc.filename else " (standard output)"
        _say(f"linkage: error: cannot write{where}: {exc.strerror or exc}")
        sys.exit(1)
    raise exc  # a bug: the traceback is the report


def _say(line: str) -> None:
    """One line on stderr, control characters shown, not obeyed; a dead stderr is not a second error."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(terminal(line, one_line=True) + "\n")
        sys.stderr.flush()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush of what is left cannot fail again."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        fd = sys.stdout.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)


def friendly_errors(fn: F) -> F:
    """Turn a LinkageError into ``linkage: error: …`` on stderr and its exit code, no traceback.

    Inside :class:`LinkageGroup` the group does this too; the wrapper keeps a command
    that is called on its own (tests, other groups) as polite. An error raised because
    the run was being stopped (a query interrupted, a file half read) is reported as the stop.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LinkageError as exc:
            if stopped() is not None:
                raise Stopped(stopped() or signal.SIGINT) from None
            _say(f"linkage: error: {exc}")
            sys.exit(exc.exit_code)
        except Exception:
            if stopped() is not None:
                raise Stopped(stopped() or signal.SIGINT) from None
            raise

    return cast(F, wrapper)


def echo(text: Any = "", *, err: bool = False, data: bool = False) -> None:
    """Print a line for a person: control characters in it are shown as escapes, never obeyed.

    ``data`` marks machine output (CSV rows): it is left exactly as it is unless it goes to a terminal.
    """
    stream = sys.stderr if err else sys.stdout
    text = str(text)
    if not data or _isatty(stream):
        text = terminal(text)
    click.echo(text, err=err)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# --- option types ----------------------------------------------------------------------------

class FiniteFloat(click.FloatRange):
    """A float range that also refuses ``nan`` and ``inf`` (which pass any comparison-based range)."""

    name = "finite float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)


class MemorySize(click.ParamType):
    """A positive memory size such as ``8GB`` or ``512MiB`` (``linkage.limits.parse_size``)."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return limits.check_memory_limit(str(value))
        except ConfigError as exc:
            self.fail(str(exc).removeprefix("memory limit "), param, ctx)


class Threads(click.IntRange):
    """1 to :func:`linkage.limits.max_threads` (a few per core); checked when used, so the cores are this machine's."""

    def __init__(self) -> None:
        super().__init__(min=1, max=limits.max_threads())


SEED = click.IntRange(0, 2 ** 31 - 1)
PROBABILITY = FiniteFloat(0.0, 1.0)
POSITIVE = FiniteFloat(0.0, min_open=True)
RING_SIZE = click.IntRange(2, 2 ** 31 - 1)
THREADS = Threads()
MEMORY = MemorySize()


def seed_option(default: int | None, help: str) -> Callable[[F], F]:
    return click.option("--seed", type=SEED, default=default, show_default=default is not None,
                        metavar="0..2147483647", help=help)


def neo4j_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--neo4j-uri/--neo4j-user/--neo4j-database``; each beats its NEO4J_* variable."""

    @click.option("--neo4j-uri", default=None, metavar="URI", help="Bolt URI (default $NEO4J_URI, else bolt://127.0.0.1:7687).")
    @click.option("--neo4j-user", default=None, metavar="USER", help="User (default $NEO4J_USER, else neo4j).")
    @click.option("--neo4j-database", default=None, metavar="DB", help="Database (default $NEO4J_DATABASE, else neo4j).")
    @functools.wraps(fn)
    def wrapper(*args: Any, neo4j_uri: str | None, neo4j_user: str | None, neo4j_database: str | None,
                **kwargs: Any) -> Any:
        from .store.connection import Settings

        settings = Settings.from_env(uri=neo4j_uri, user=neo4j_user, database=neo4j_database)
        return fn(*args, settings=settings, **kwargs)

    return wrapper


def no_verify_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--no-verify``: read a run folder without checking it against its manifest (run.json)."""

    @click.option("--no-verify", "no_verify", is_flag=True,
                  help="Do not check the run's files against its manifest (run.json) first.")
    @functools.wraps(fn)
    def wrapper(*args: Any, no_verify: bool, **kwargs: Any) -> Any:
        from .run import verification

        with verification(not no_verify):
            return fn(*args, **kwargs)

    return wrapper
