"""Stable ids: the one hash function behind every id that outlives a run.

Ring ids, operation ids, prompt-template node keys and indicator ids cross
batches and go into Neo4j, so they must be the same on every machine, Python
and DuckDB version. ``hash()`` of either is not documented as stable; BLAKE2b
over a canonical UTF-8 form is. The canonical form of several parts is the
parts joined by the unit separator (U+001F), which no id or text part holds.

DuckDB computes the same digests in SQL: see :func:`sql_digest`, used where the
ids are derived column-wise over millions of rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

SEP = "\x1f"


def digest(*parts: str, size: int = 8) -> str:
    """Lower-case hex BLAKE2b of the parts (``size`` bytes, so ``2 * size`` hex digits)."""
    return hashlib.blake2b(SEP.join(parts).encode("utf-8"), digest_size=size).hexdigest()


def set_digest(items: Iterable[str], size: int = 6) -> str:
    """Digest of a set of strings, independent of their order (sorted, then joined)."""
    return digest(*sorted(items), size=size)


__all__ = ["digest", "set_digest", "SEP"]
