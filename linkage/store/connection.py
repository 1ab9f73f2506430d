"""Where Neo4j is, how to reach it, and the one place a query runs.

Settings come from the environment (``NEO4J_URI``, ``NEO4J_USER``,
``NEO4J_PASSWORD``, ``NEO4J_DATABASE``) so the same code talks to the local
dev server, a Docker container or a production cluster. Every driver failure
becomes a ``StoreError`` with one line that says what to do, because an
investigator reading a traceback from the driver's connection pool learns
nothing. The password never appears in a repr, a log line or an error.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import neo4j
from neo4j.exceptions import AuthError, ClientError, DriverError, Neo4jError, ServiceUnavailable, SessionExpired

from ..errors import ConfigError, StoreError

log = logging.getLogger(__name__)

#: Password of the local development server (``linkage neo4j start``) when
#: ``NEO4J_PASSWORD`` is not set. Neo4j 5 wants at least 8 characters. Dev only:
#: the server listens on 127.0.0.1 and nothing else.
DEV_PASSWORD = "linkage-dev-password"
DEFAULT_URI = "bolt://127.0.0.1:7687"
DEFAULT_USER = "neo4j"
DEFAULT_DATABASE = "neo4j"

_SCHEMES = {f"{base}{tls}" for base in ("bolt", "neo4j") for tls in ("", "+s", "+ssc")}
_ENV = {"uri": "NEO4J_URI", "user": "NEO4J_USER", "password": "NEO4J_PASSWORD", "database": "NEO4J_DATABASE"}


@dataclass(frozen=True)
class Settings:
    """How to reach one Neo4j database. Build it with :meth:`from_env`.

    >>> s = Settings(password="s3cret-pw")
    >>> "s3cret" in repr(s)
    False
    """

    uri: str = DEFAULT_URI
    user: str = DEFAULT_USER
    password: str = DEV_PASSWORD
    database: str = DEFAULT_DATABASE

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Read ``NEO4J_*`` variables; a non-None keyword beats the environment.

        Empty variables count as unset, so ``NEO4J_PASSWORD=`` in a compose
        file falls back to the default instead of an empty password.
        """
        unknown = set(overrides) - set(_ENV)
        if unknown:
            raise ConfigError(f"unknown Neo4j setting(s): {', '.join(sorted(unknown))}")
        values = {name: os.environ.get(var) or None for name, var in _ENV.items()}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**{k: v for k, v in values.items() if v is not None})

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def __repr__(self) -> str:
        return f"Settings(uri={self.uri!r}, user={self.user!r}, database={self.database!r}, password=<hidden>)"

    __str__ = __repr__


def connect(settings: Settings, **driver_config: Any) -> neo4j.Driver:
    """Open a driver and prove it works: server up, credentials good, database there.

    The caller owns the driver (``with connect(s) as driver: ...``). Extra
    keywords go to ``neo4j.GraphDatabase.driver``.
    """
    driver_config.setdefault("connection_timeout", 10.0)
    scheme = settings.uri.partition("://")[0]
    if scheme not in _SCHEMES:  # the driver would also take http:// (a preview API needing aiohttp)
        raise StoreError(f"invalid Neo4j URI {settings.uri!r}: NEO4J_URI must start with bolt:// or neo4j:// (+s, +ssc)")
    try:
        driver = neo4j.GraphDatabase.driver(settings.uri, auth=(settings.user, settings.password), **driver_config)
    except (ValueError, DriverError) as exc:  # bad scheme, malformed address...
        raise StoreError(f"invalid Neo4j URI {settings.uri!r}: {_one_line(exc)}") from exc
    try:
        driver.verify_connectivity()
        driver.execute_query("RETURN 1", database_=settings.database, routing_=neo4j.RoutingControl.READ)
    except (Neo4jError, DriverError) as exc:
        driver.close()
        raise _translate(exc, settings, during=None) from exc
    except ValueError as exc:  # the driver's word for an address it cannot resolve
        driver.close()
        raise StoreError(f"invalid Neo4j URI {settings.uri!r}: {_one_line(exc)}") from exc
    return driver


def run_query(
    driver: neo4j.Driver,
    settings: Settings,
    name: str,
    cypher: str,
    params: dict[str, Any] | None = None,
    *,
    write: bool = False,
) -> list[neo4j.Record]:
    """Run one named query in a managed transaction and return all its records.

    The transaction function only runs the query and drains it, so the
    driver may retry it on a transient failure; callers keep their Cypher
    idempotent (``MERGE`` on keys). Only ``name`` is logged, never the
    parameters. Failures come back as ``StoreError`` naming the query.
    """

    def work(tx: neo4j.ManagedTransaction) -> list[neo4j.Record]:
        return list(tx.run(cypher, params or {}))

    return run_transaction(driver, settings, name, work, write=write)


T = TypeVar("T")


def run_transaction(driver: neo4j.Driver, settings: Settings, name: str,
                    work: Callable[[neo4j.ManagedTransaction], T], *, write: bool = False) -> T:
    """Run a transaction function (several statements, one transaction) with the same logging and errors.

    ``work`` may be retried by the driver, so it must be idempotent.
    """
    started = time.perf_counter()
    log.debug("neo4j transaction %s (%s) starting", name, "write" if write else "read")
    try:
        with driver.session(database=settings.database) as session:
            result = session.execute_write(work) if write else session.execute_read(work)
    except (Neo4jError, DriverError) as exc:
        log.debug("neo4j transaction %s failed: %s", name, type(exc).__name__)
        raise _translate(exc, settings, during=name) from exc
    log.info("neo4j transaction %s done in %.2fs", name, time.perf_counter() - started)
    return result


def _translate(exc: Exception, settings: Settings, *, during: str | None) -> StoreError:
    """One readable line for a driver failure; ``during`` names the query, if any."""
    if isinstance(exc, AuthError):
        return StoreError(
            f"Neo4j refused the credentials for user {settings.user!r} at {settings.uri}: check NEO4J_USER / NEO4J_PASSWORD"
        )
    if isinstance(exc, ClientError) and exc.code == "Neo.ClientError.Database.DatabaseNotFound":
        return StoreError(f"Neo4j has no database named {settings.database!r} at {settings.uri}: check NEO4J_DATABASE")
    if isinstance(exc, (ServiceUnavailable, SessionExpired)):
        if during is None:
            return StoreError(f"cannot reach Neo4j at {settings.uri}: is it running? (linkage neo4j start)")
        return StoreError(f"lost the connection to Neo4j during {during}: re-run to repair (writes are idempotent)")
    what = f"query {during}" if during else f"connecting to {settings.uri}"
    code = getattr(exc, "code", None)
    return StoreError(f"Neo4j failed {what}: {code + ': ' if code else ''}{_one_line(exc)}")


def _one_line(exc: Exception, limit: int = 300) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
