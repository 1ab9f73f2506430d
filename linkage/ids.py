"""Stable ids: the one hash function behind every id that outlives a run.

Ring ids, operation ids, prompt-template node keys and indicator ids cross
batches and go into Neo4j, so they must be the same on every machine, with any
Python, DuckDB or Spark version. Python's ``hash()`` and DuckDB's ``hash()`` are
not documented as stable; SHA-256 is, and all three compute it identically
(``hashlib.sha256``, DuckDB ``sha256()``, Spark ``sha2(x, 256)``).

The id of one or more text parts is the first ``2 * size`` lower-case hex digits
of SHA-256 over their UTF-8 bytes, several parts joined by the unit separator
U+001F (a control character no id or text holds). :func:`digest` computes it in
Python and :func:`sql_digest` writes the same expression for SQL, used where ids
are derived column-wise over many rows.

>>> digest("abc", size=4)
'ba7816bf'
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

SEP = "\x1f"


def digest(*parts: str, size: int = 8) -> str:
    """Lower-case hex of SHA-256 over the parts, truncated to ``size`` bytes (``2 * size`` hex digits)."""
    return hashlib.sha256(SEP.join(parts).encode("utf-8")).hexdigest()[: 2 * size]


def set_digest(items: Iterable[str], size: int = 6) -> str:
    """Digest of a set of strings, independent of their order (sorted, then joined)."""
    return digest(*sorted(items), size=size)


def sql_digest(*exprs: str, size: int = 8) -> str:
    """The SQL expression computing :func:`digest` over SQL text expressions (DuckDB and Spark SQL alike)."""
    joined = exprs[0] if len(exprs) == 1 else "concat_ws(chr(31), " + ", ".join(exprs) + ")"
    return f"substr(sha256({joined}), 1, {2 * size})"


__all__ = ["digest", "set_digest", "sql_digest", "SEP"]
