"""Neo4j: connection settings, the query runner and a local server.

The names below load on first use, so importing ``linkage`` (or running the
CLI) does not pay for the Neo4j driver until something needs it.

- :class:`Settings`, :func:`connect`, :func:`run_query` — ``linkage.store.connection``
- :func:`start`, :func:`stop`, :func:`status`, :class:`ServerInfo` — ``linkage.store.server``
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Settings": "connection",
    "connect": "connection",
    "run_query": "connection",
    "DEV_PASSWORD": "connection",
    "ServerInfo": "server",
    "start": "server",
    "stop": "server",
    "status": "server",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
