"""Text that leaves linkage safe for where it lands: spreadsheet cells and terminals.

Ids, operator names and intel values come from input files, so they may be written
by the operator being investigated. Two places would act on them:

- **Spreadsheets** run a CSV cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or
  a carriage return as a formula (``=HYPERLINK(…)``, ``+cmd|' /C calc'!A0``). Following
  OWASP's advice on CSV injection, such a cell gets a leading single quote, which
  spreadsheets show as text. A cell that already starts with a quote gets one too, so the
  rule can be undone exactly (:func:`csv_plain_sql`, :func:`csv_plain`). The CSV writer
  (DuckDB) quotes any cell holding a delimiter, quote, CR or LF.
- **JSON** has no NaN or Infinity: :func:`json_text` writes a missing number as ``null``.
- **Terminals** obey control characters: an ANSI escape in an operator name can recolour,
  clear or retitle the screen, and a bare CR can overwrite a line with something else.
  :func:`terminal` shows every control character as a visible escape (``\\x1b``, ``\\r``)
  instead, so what is printed is what the data holds, and it cannot act.

>>> print(csv_cell("=1+2"), csv_cell("ring-1"), csv_cell("'quoted"))
'=1+2 ring-1 ''quoted
>>> csv_plain(csv_cell("-5")) == "-5"
True
>>> terminal("op\\x1b[2Jname")
'op\\\\x1b[2Jname'
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

#: First characters that make a spreadsheet evaluate a cell (OWASP), plus the quote itself
#: so that neutralising stays reversible.
CSV_TRIGGERS = "=+-@\t\r'"
_TRIGGER_CLASS = "[=+\\-@\t\r']"  # one regex class, shared by SQL and Python
_SQL_CLASS = _TRIGGER_CLASS.replace("'", "''")  # the same inside an SQL string literal

#: C0 controls but tab and newline, DEL, C1 controls, and the Unicode bidi overrides and isolates
#: (which reorder what a terminal shows: "Trojan Source").
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def csv_cell_sql(expr: str) -> str:
    """SQL that neutralises one VARCHAR expression for a CSV cell (NULL stays NULL)."""
    return f"CASE WHEN regexp_matches({expr}, '^{_SQL_CLASS}') THEN '''' || {expr} ELSE {expr} END"


def csv_plain_sql(expr: str) -> str:
    """SQL that undoes :func:`csv_cell_sql` on a cell read back from a linkage CSV."""
    return f"CASE WHEN regexp_matches({expr}, '^''{_SQL_CLASS}') THEN substr({expr}, 2) ELSE {expr} END"


def csv_safe_query(con: Any, query: str) -> str:
    """``query`` with every text column neutralised by :func:`csv_cell_sql`: the one CSV rule.

    Columns keep their names and order; numbers, dates and booleans are left alone (a
    negative score stays a number). Columnar: the rule is one SQL expression per column.
    """
    from .sql import ident

    columns = con.execute(f"DESCRIBE SELECT * FROM ({query})").fetchall()
    select = ", ".join(
        f"{csv_cell_sql(ident(name))} AS {ident(name)}" if str(kind).upper() == "VARCHAR" else ident(name)
        for name, kind, *_ in columns)
    return f"SELECT {select} FROM ({query})"


def csv_cell(value: str) -> str:
    """One neutralised cell, for the few CSV rows built in Python (query results on stdout)."""
    return "'" + value if value[:1] and value[0] in CSV_TRIGGERS else value


def csv_plain(value: Any) -> Any:
    """Undo :func:`csv_cell` on one value or, vectorised, on a pandas Series of strings."""
    if hasattr(value, "str"):  # a pandas Series (pandas is not imported for the CLI's sake)
        hit = value.str.match(f"^'{_TRIGGER_CLASS}", na=False)
        return value.where(~hit, value.str.slice(1))
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" and value[1] in CSV_TRIGGERS:
        return value[1:]
    return value


def terminal(text: object, *, one_line: bool = False) -> str:
    """``text`` fit for a terminal: control characters become visible escapes, so none can act.

    Newlines and tabs are kept unless ``one_line`` (error messages are one line however
    odd the value they name).
    """
    pattern = _CONTROL_LINE if one_line else _CONTROL
    return pattern.sub(_escape, str(text))


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float (numpy's too) inside it replaced by None.

    ``json.dumps`` writes those as ``NaN``/``Infinity``, which is not JSON: a strict reader
    (a browser, ``jq``, Go, Java) refuses the whole file. A missing number is ``null``.
    """
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if isinstance(value, float) or type(value).__name__.startswith("float"):  # float, numpy.float32/64
        number = float(value)
        return number if math.isfinite(number) else None
    return value


def json_text(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` that never writes NaN or Infinity (:func:`finite`); anything else unknown becomes its str."""
    kwargs.setdefault("default", str)
    return json.dumps(finite(value), allow_nan=False, **kwargs)


__all__ = ["json_text", "finite", "CSV_TRIGGERS", "csv_cell_sql", "csv_plain_sql", "csv_safe_query", "csv_cell", "csv_plain", "terminal"]
