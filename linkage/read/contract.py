"""Data contract v1, input side: the tables, their columns, the limits, and how a file's columns are matched.

``docs/input.md`` is the user's version of this module; keep the two in step.
"""

from __future__ import annotations

import datetime as dt

from ..errors import InputError

#: File types a table may come in, by suffix (one file per table).
SUFFIXES = (".parquet", ".csv.gz", ".csv", ".jsonl")

#: table -> (required columns, optional columns)
CONTRACT: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "accounts": (("account_id", "created_at"), ("email", "org_id", "country")),
    "events": (("account_id", "ts"), ("ip", "asn", "device_id", "user_agent", "prompt")),
    "payments": (("account_id", "instrument_id"), ("instrument_type", "bin", "ts")),
    "intel": (("operator", "kind", "value"), ("note",)),
}
OPTIONAL_TABLES = frozenset({"intel"})
#: Columns the contract accepts but no stage reads: matched (a duplicate is still an error), never scanned.
UNUSED = frozenset({"user_agent"})
INTEL_KINDS = ("account", "ip", "asn", "device", "instrument", "email_domain", "prompt")

#: Largest value of one field, in bytes (UTF-8). A longer value rejects its row with that reason.
MAX_FIELD_BYTES = 1 << 20
#: Largest record (a CSV row or a JSON line). A longer one is rejected whole without being held in memory.
MAX_RECORD_BYTES = 64 << 20

#: Accepted time range, [start, end): anything outside is rejected, never carried into the graph.
TIME_RANGE = (dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc))


def record_limit(max_field_bytes: int) -> int:
    """The record size limit that goes with a field limit: a record may hold a few full fields."""
    return max(MAX_RECORD_BYTES, 4 * max_field_bytes)


def size_text(n: int) -> str:
    """``1 MB`` for 1,048,576 bytes: limits as a user would write them."""
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n:,} bytes"


def normalise(name: str) -> str:
    """How a header or key is compared with a contract column: trimmed, case-folded, BOM dropped."""
    return name.replace("\ufeff", "").strip().casefold()


def match_columns(table: str, file: str, names: list[str]) -> dict[str, int]:
    """Contract column -> position of the one input column that carries it.

    Matching is by name only (trimmed, case-insensitive), never by position, and input
    names are only ever compared here, never put into SQL. Columns outside the contract
    are ignored. A contract column given twice, or a required one missing, stops the run.
    """
    required, optional = CONTRACT[table]
    found: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        key = normalise(name)
        if key in required or key in optional:
            found.setdefault(key, []).append(i)
    twice = {c: idx for c, idx in found.items() if len(idx) > 1}
    if twice:
        parts = [f"{c} ({', '.join(repr(names[i]) for i in idx)})" for c, idx in twice.items()]
        raise InputError(f"{file}: column given more than once: {'; '.join(parts)}")
    missing = [c for c in required if c not in found]
    if missing:
        plural = "columns" if len(missing) > 1 else "column"
        raise InputError(f"{file}: missing required {plural} {', '.join(missing)}")
    return {c: found[c][0] for c in (*required, *optional) if c in found}
