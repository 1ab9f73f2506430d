"""One output convention for every command that prints rows: ``--format text|json|csv``.

``text`` is for people: aligned columns, counts with thousands separators, weights
to four decimals. ``json`` and ``csv`` are for programs: plain numbers at full
precision, every column, and a CSV header even when there are no rows (a script
reading the header of an empty answer should not break). Every tabular command
takes :func:`format_option` and prints with :func:`render`, so the three formats
mean the same thing everywhere.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import click

from .errors import ConfigError
from .safetext import csv_cell, json_text

FORMATS = ("text", "json", "csv")
#: Older spellings still accepted (``query run --format table``).
ALIASES = {"table": "text"}


R = TypeVar("R")


class FormatChoice(click.Choice[str]):
    """``text|json|csv``; the old ``table`` is accepted as ``text`` without being advertised."""

    def __init__(self) -> None:
        super().__init__(FORMATS)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return super().convert(ALIASES.get(value, value), param, ctx)


def format_option(fn: Callable[..., R]) -> Callable[..., R]:
    """``--format text|json|csv`` (default text) and ``--json``, a hidden alias of ``--format json``.

    The wrapped command receives ``fmt``. ``--json`` stays for scripts written before
    the convention; it cannot be combined with ``--format csv``.
    """

    @click.option("--format", "fmt", type=FormatChoice(), default="text", show_default=True,
                  help="Output: text for people; json or csv (plain numbers, header always) for programs.")
    @click.option("--json", "as_json", is_flag=True, hidden=True, help="Same as --format json.")
    @functools.wraps(fn)
    def wrapper(*args: Any, fmt: str, as_json: bool, **kwargs: Any) -> R:
        if as_json and fmt == "csv":
            raise click.UsageError("--json and --format csv disagree: give one")
        return fn(*args, fmt="json" if as_json else fmt, **kwargs)

    return wrapper


# --- one value ----------------------------------------------------------------------------------


def count(n: int | None) -> str:
    """A count for people: ``12,345``."""
    return "" if n is None else f"{int(n):,}"


def weight(x: float | None, digits: int = 4) -> str:
    """A weight or score for people: at most ``digits`` decimals, trailing zeros dropped (``0.5``, ``1.9079``)."""
    if x is None:
        return ""
    if not math.isfinite(x):
        return str(x)
    text = f"{x:,.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def cell(value: Any) -> str:
    """One cell of a text table: ints with separators, floats to 4 decimals, lists joined by ', ', None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return count(value)
    if isinstance(value, float):
        return weight(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value, default=str, sort_keys=True)
    return str(value)


def _csv_cell(value: Any) -> Any:
    """Plain values for programs: full-precision numbers, lists and maps as JSON, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, Mapping)):
        return json.dumps(value, default=str)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, str):  # neutralised against spreadsheet formulas, like every CSV linkage writes
        return csv_cell(value)
    return value


# --- rows -----------------------------------------------------------------------------------------


def render(columns: Sequence[str], rows: Sequence[Mapping[str, Any]], fmt: str = "text", *, width: int = 80) -> str:
    """Rows as an aligned text table, a JSON array of objects, or CSV with its header (even with no rows)."""
    fmt = ALIASES.get(fmt, fmt)
    if fmt == "json":
        return json_text([{c: r.get(c) for c in columns} for r in rows], indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        for r in rows:
            writer.writerow([_csv_cell(r.get(c)) for c in columns])
        return buf.getvalue().rstrip("\n")
    if fmt != "text":
        raise ConfigError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    if not columns:
        return "(no rows)"
    cells = [[_clip(cell(r.get(c)), width) for c in columns] for r in rows]
    right = [bool(rows) and all(isinstance(r.get(c), (int, float)) and not isinstance(r.get(c), bool)
                                for r in rows if r.get(c) is not None) for c in columns]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)).rstrip()

    lines = [line(columns), "  ".join("-" * w for w in widths)] + [line(row) for row in cells]
    lines.append(f"({count(len(rows))} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


__all__ = ["FORMATS", "FormatChoice", "format_option", "count", "weight", "cell", "render"]
