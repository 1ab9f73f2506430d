"""The one place text becomes SQL: identifiers and literals are quoted here and nowhere else.

Input data (column names from a file's header, JSON keys, file paths, values)
must never be spliced into SQL as it is: a key such as ``x', read_text('/etc/passwd') AS "y``
would run. Everything that reaches DuckDB either travels as a ``?`` parameter or
goes through :func:`ident` / :func:`literal`, which quote the way DuckDB's own
parser expects (doubling the quote character), so any text stays one inert token.

>>> print(ident('a "b" c'))
"a ""b"" c"
>>> print(literal("it's"))
'it''s'

"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def ident(name: str) -> str:
    """A quoted identifier (table or column): any text, NUL excepted, stays one name."""
    text = str(name)
    if "\x00" in text:
        raise ValueError("an SQL identifier cannot hold a NUL character")
    return '"' + text.replace('"', '""') + '"'


def literal(value: str | Path) -> str:
    """A quoted string literal, for the few places DuckDB takes no parameter (COPY targets, file scans)."""
    text = str(value)
    if "\x00" in text:
        raise ValueError("an SQL string literal cannot hold a NUL character")
    return "'" + text.replace("'", "''") + "'"


def strings(values: Iterable[str | Path]) -> str:
    """A parenthesised list of literals, ``('a', 'b')``; ``(NULL)`` when empty so ``IN`` stays valid SQL."""
    items = [literal(v) for v in values]
    return "(" + (", ".join(items) if items else "NULL") + ")"


def among(values: Iterable[str], col: str) -> str:
    """``col IN ('a', 'b')``, or ``false`` when there are none (``IN (NULL)`` would be NULL and drop rows)."""
    items = list(values)
    return f"{col} IN {strings(items)}" if items else "false"


__all__ = ["ident", "literal", "strings", "among"]
