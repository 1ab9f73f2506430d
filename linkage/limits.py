"""Ranges of the run-time knobs that are not detection parameters: threads and memory.

The CLI's option types (``linkage.cliutil``) and the library entry point
(``linkage.pipeline.detect``) share these checks, so ``--threads 99999999999``
and ``detect(threads=-1)`` are refused the same way, before DuckDB sees them
(which would abort on the first and silently ignore the sign of ``-5GB``).

>>> parse_size("8GB"), parse_size("512 MiB")
(8000000000, 536870912)
>>> check_memory_limit("1.5GB")
'1500000000B'
"""

from __future__ import annotations

import math
import os
import re

from .errors import ConfigError

#: DuckDB threads per core at most: more only adds contention (and each costs memory).
THREADS_PER_CORE = 4
#: Size units as DuckDB reads them: K/KB, M/MB... are powers of 1000, KiB/MiB/... powers of 1024.
UNITS = {"": 1, "b": 1, "bytes": 1, "k": 10 ** 3, "kb": 10 ** 3, "m": 10 ** 6, "mb": 10 ** 6, "g": 10 ** 9,
         "gb": 10 ** 9, "t": 10 ** 12, "tb": 10 ** 12, "kib": 2 ** 10, "mib": 2 ** 20, "gib": 2 ** 30, "tib": 2 ** 40}
#: Below this DuckDB cannot run a batch at all; past it the limit is only a ceiling.
MIN_MEMORY = 64 * 2 ** 20
MAX_MEMORY = 2 ** 60
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Z]*)\s*")


def cores() -> int:
    """Cores this process may run on (its CPU affinity, not the whole machine's)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def max_threads() -> int:
    return THREADS_PER_CORE * cores()


def check_threads(threads: int | None) -> int | None:
    """``threads`` if it is a whole number in 1..:func:`max_threads` (None: DuckDB's default)."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= max_threads():
        raise ConfigError(f"threads must be a whole number from 1 to {max_threads()} "
                          f"({THREADS_PER_CORE} per core), got {threads!r}")
    return threads


def parse_size(text: str) -> int:
    """Bytes in a size such as ``8GB``, ``512MiB`` or ``1.5 GB``; a sign, NaN or unknown unit is an error."""
    match = _SIZE.fullmatch(str(text))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in UNITS:
        raise ConfigError(f"memory limit {text!r} is not a size like 8GB, 512MB or 16GiB")
    value = float(match.group(1)) * UNITS[unit]
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"memory limit {text!r} must be more than zero")
    return int(value)


def check_memory_limit(text: str | None) -> str | None:
    """A memory limit DuckDB reads unambiguously (bytes), or None for the default share of the machine."""
    if text is None:
        return None
    size = parse_size(text)
    if not MIN_MEMORY <= size <= MAX_MEMORY:
        raise ConfigError(f"memory limit {text!r} is out of range: give at least 64MiB")
    return f"{size}B"


def workers(requested: int) -> int:
    """Worker processes for CPU-bound work: never more than the cores, however many threads DuckDB has."""
    return max(1, min(int(requested), cores()))


__all__ = ["cores", "max_threads", "check_threads", "parse_size", "check_memory_limit", "workers", "MIN_MEMORY"]
