"""One writer at a time: the load lease, a ``LoadLock`` node every writing command holds while it writes.

Two loads writing at once used to double-count: each checked that a chunk
was not yet recorded, both wrote it, both recorded it. So ``linkage load`` and
``linkage rings`` first take the lease: the one ``LoadLock`` node of the
database (unique ``name``), holding the owner's random token, host, pid, what it
is doing and an expiry a minute ahead. A second writer finds the lease held
and waits (``--wait SECONDS``) or refuses with one line naming the holder.

The lease is renewed while the load runs, by every write transaction and by a
background heartbeat for long reads. A holder that died stops renewing, and
its lease can be taken over once it has expired, or at once when the holder
ran on this host and its process is gone (``kill -9``, then re-run).

Every write transaction of a load ends with :meth:`Lease.fence`: it locks the
``LoadLock`` node, checks that the lease is still this load's and extends it,
all inside the transaction that writes. A writer whose lease was taken over
(it stalled past the expiry) therefore cannot commit a single write more: its
transaction rolls back with :class:`LeaseLost`. Locking before reading is what
makes the check hold under concurrency (a plain read could see the old owner
while the new one commits).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import StoreError
from . import schema
from .connection import Settings, run_query, run_transaction

if TYPE_CHECKING:
    import neo4j

log = logging.getLogger(__name__)

#: The one lease of a database.
NAME = "load"
#: Seconds a lease lives without renewal (``LINKAGE_LOAD_LEASE_SECONDS`` for tests).
TTL = float(os.environ.get("LINKAGE_LOAD_LEASE_SECONDS", "60"))
#: Seconds between two polls of a held lease while waiting.
POLL = 1.0


class LeaseHeld(StoreError):
    """Another writer holds the lease (and it has not expired)."""


class LeaseLost(StoreError):
    """The lease was taken over while this writer still ran: it must stop writing."""


@dataclass(frozen=True)
class Holder:
    """Who holds the lease, as stored on the ``LoadLock`` node."""

    owner: str
    host: str
    pid: int
    started: str | None
    task: str | None
    since: str
    expires: str
    expired: bool

    def describe(self) -> str:
        task = f" ({self.task})" if self.task else ""
        return f"host {self.host} pid {self.pid}{task}, since {self.since}, lease until {self.expires}"


# Lock first (the SET), then read: the documented way to read-then-write one node safely in Cypher.
CLAIM = """
MERGE (l:LoadLock {name: $name})
SET l.lock = true
WITH l, l.owner IS NULL OR l.owner = $token OR l.expires < datetime()
             OR ($dead IS NOT NULL AND l.owner = $dead) AS free,
     CASE WHEN l.owner IS NULL THEN null ELSE {owner: l.owner, host: l.host, pid: l.pid, started: l.started,
          task: l.task, since: toString(datetime.truncate('second', l.since)),
          expires: toString(datetime.truncate('second', l.expires)),
          expired: l.expires < datetime()} END AS before
FOREACH (_ IN CASE WHEN free THEN [1] ELSE [] END |
    SET l.owner = $token, l.host = $host, l.pid = $pid, l.started = $started, l.task = $task,
        l.since = datetime(), l.expires = datetime() + duration({seconds: $ttl}))
REMOVE l.lock
RETURN free, before
"""

FENCE = """
OPTIONAL MATCH (l:LoadLock {name: $name})
SET l.lock = true
WITH l, l.owner = $token AS ours
FOREACH (_ IN CASE WHEN ours THEN [1] ELSE [] END | SET l.expires = datetime() + duration({seconds: $ttl}))
REMOVE l.lock
RETURN coalesce(ours, false) AS ours, l.host AS host, l.pid AS pid
"""

RELEASE = "MATCH (l:LoadLock {name: $name}) WHERE l.owner = $token DELETE l"


def _process_started(pid: int) -> str | None:
    """The start time of ``pid`` (clock ticks since boot, from /proc), so a reused pid is not taken for it."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, started: str | None) -> bool:
    """Is process ``pid`` of this host still the one that took the lease?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    now = _process_started(pid)
    return started is None or now is None or now == started


class Lease:
    """The load lease of one database; use as ``with Lease(...).acquire(wait):``."""

    def __init__(self, driver: neo4j.Driver, settings: Settings, task: str = "", *, ttl: float = TTL, name: str = NAME):
        self.driver, self.settings, self.task, self.ttl, self.name = driver, settings, task, ttl, name
        self.token = secrets.token_hex(16)
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.started = _process_started(self.pid)
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        self.lost: str | None = None
        self.took_over: Holder | None = None

    # --- taking and giving back ------------------------------------------------------

    def acquire(self, wait: float = 0.0, on_wait: Callable[[Holder], None] | None = None) -> Lease:
        """Take the lease, waiting up to ``wait`` seconds for a live holder; LeaseHeld if it stays held."""
        schema.apply(self.driver, self.settings, only="LoadLock")  # MERGE on the lock needs its constraint
        deadline = time.monotonic() + wait
        told = False
        while True:
            holder = self._claim()
            if holder is None:
                break
            if time.monotonic() >= deadline:
                raise LeaseHeld(f"another load is writing to Neo4j at {self.settings.uri} ({holder.describe()}): "
                                f"wait for it, or retry with --wait SECONDS")
            if on_wait and not told:
                on_wait(holder)
                told = True
            time.sleep(min(POLL, max(0.0, deadline - time.monotonic())))
        self._beat = threading.Thread(target=self._heartbeat, name="linkage-lease", daemon=True)
        self._beat.start()
        return self

    def _claim(self, dead: str | None = None) -> Holder | None:
        """One attempt: None when the lease is now ours, else its live holder."""
        params = {"name": self.name, "token": self.token, "host": self.host, "pid": self.pid,
                  "started": self.started, "task": self.task, "ttl": self.ttl, "dead": dead}
        rec = run_query(self.driver, self.settings, "load lease claim", CLAIM, params, write=True)[0]
        before = Holder(**rec["before"]) if rec["before"] else None
        if rec["free"]:
            if before is not None and before.owner != self.token:
                self.took_over = before
                log.warning("took over the load lease of %s", before.describe())
            return None
        assert before is not None
        if before.host == self.host and not _alive(before.pid, before.started):
            log.info("the load lease holder (pid %s) is gone: taking it over", before.pid)
            return self._claim(dead=before.owner)
        return before

    def release(self) -> None:
        """Stop the heartbeat and delete the lock node (only if it is still ours)."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
        try:
            run_query(self.driver, self.settings, "load lease release", RELEASE,
                      {"name": self.name, "token": self.token}, write=True)
        except StoreError as exc:  # the server went away: the lease expires on its own
            log.warning("could not release the load lease: %s", exc)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # --- while writing ---------------------------------------------------------------

    def fence(self, tx: neo4j.ManagedTransaction) -> None:
        """In a write transaction: lock the lease, check it is ours, extend it; LeaseLost rolls the write back."""
        rec = tx.run(FENCE, name=self.name, token=self.token, ttl=self.ttl).single(strict=True)
        if not rec["ours"]:
            self.lost = (f"host {rec['host']} pid {rec['pid']}" if rec["host"] else "nobody (the lock node is gone)")
        self.check()

    def check(self) -> None:
        """Raise LeaseLost if the lease is known to be lost (by a fence or the heartbeat)."""
        if self.lost is not None:
            raise LeaseLost(f"the Neo4j load lease was taken over by {self.lost} after it expired: this load "
                            "stopped writing; run it again to finish (loads are idempotent)")

    def _heartbeat(self) -> None:
        """Renew every third of the lifetime, so reads and pauses between writes do not let it expire."""
        while not self._stop.wait(self.ttl / 3):
            try:
                run_transaction(self.driver, self.settings, "load lease renew", self.fence, write=True)
            except LeaseLost:
                return
            except StoreError as exc:
                log.warning("could not renew the load lease: %s", exc)


__all__ = ["Lease", "LeaseHeld", "LeaseLost", "Holder", "NAME", "TTL"]
