"""State across batches: what earlier batches established, carried into the next run (``--state DIR``).

A day's batch holds that day's sign-ups, requests and payments; its rings are found over the
batch *plus* what the state carries (``docs/state.md`` says why this design):

- every account ever seen, with its static attributes (sign-up time, e-mail domain, org,
  country) and its payments, for good: a card shared with last month's accounts still links;
- the requests (IP, ASN, device, prompt) of the last ``window_days`` days (default
  :data:`WINDOW_DAYS`), counted back from the latest request seen: request evidence is the
  bulk of the data, so it is bounded; an account that went quiet keeps its static links;
- the intel rows seen so far;
- the rings found so far (ids, members, linking entities, first batch), for lineage
  (``linkage.lineage``), and one record per batch applied (id, folder, counts, time).

Entities' rarity is then computed over the whole population the state carries, since the
run's ``entities`` table is built from the combined tables.

**Atomic.** The tables live in ``DIR/gen-<n>/`` (Parquet); ``DIR/state.json`` names the current
generation ``n``. A run writes generation ``n + 1`` beside it, then replaces ``state.json`` in
one rename, then deletes generation ``n``. A run killed at any point leaves ``state.json``
naming a complete generation; the half-written one is removed by the next run. The state is
committed after the run's output folder is written, so a run killed in between is simply run
again.

**Once per batch.** A batch is known by the content hash of its files (``Batch.batch_id``);
applying a batch the state already holds is refused with one line, and the state is left as it
was (re-applying it would count its requests twice).

**Nothing of anyone else's is touched.** A folder that holds anything but these names, or whose
``state.json`` is not a linkage state, is refused before the run starts; only linkage's own
names are ever deleted. One writer at a time (an advisory lock on ``DIR/lock``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import duckdb
import pandas as pd

from .errors import ConfigError, LinkageError
from .lineage import KnownRing
from .publish import replace_file
from .safetext import json_text
from .sql import literal

FORMAT = "linkage-state"
VERSION = 1
MANIFEST = "state.json"
LOCK = "lock"
#: Days of request evidence the state keeps, counted back from the latest request seen.
WINDOW_DAYS = 14
_GEN = re.compile(r"gen-(\d{6})")

#: Each table the state keeps: its columns, and the SQL over the run's tables that gives them.
TABLES: dict[str, tuple[str, str]] = {
    "accounts": ("account_id VARCHAR, created_at TIMESTAMPTZ, email_domain VARCHAR, org_id VARCHAR, "
                 "country VARCHAR, first_batch VARCHAR",
                 "SELECT a.account_id, a.created_at, a.email_domain, a.org_id, a.country, "
                 "coalesce(s.first_batch, $batch) AS first_batch FROM accounts a "
                 "LEFT JOIN state_accounts s USING (account_id) ORDER BY a.account_id"),
    "payments": ("account_id VARCHAR, instrument_id VARCHAR, instrument_type VARCHAR, bin VARCHAR, ts TIMESTAMPTZ",
                 "SELECT a.account_id, p.instrument_id, p.instrument_type, p.bin, p.ts FROM payments p "
                 "JOIN accounts a USING (aid) ORDER BY ALL"),
    "events": ("account_id VARCHAR, ts TIMESTAMPTZ, ip VARCHAR, asn BIGINT, device_id VARCHAR, prompt VARCHAR",
               "SELECT a.account_id, e.ts, e.ip, e.asn, e.device_id, e.prompt FROM events e "
               "JOIN accounts a USING (aid) WHERE CAST($since AS TIMESTAMPTZ) IS NULL OR e.ts >= $since"),
    "intel": ("operator VARCHAR, kind VARCHAR, value VARCHAR, note VARCHAR",
              "SELECT DISTINCT operator, kind, value, note FROM intel ORDER BY ALL"),
    "rings": ("ring_id VARCHAR, first_detected VARCHAR, last_detected VARCHAR, status VARCHAR, "
              "operation VARCHAR, operator VARCHAR", ""),
    "ring_members": ("ring_id VARCHAR, account_id VARCHAR", ""),
    "ring_tools": ("ring_id VARCHAR, tool VARCHAR", ""),
}
OWN_FILES = frozenset(f"{t}.parquet" for t in TABLES)


class StateError(LinkageError):
    """The state folder is not one, is in use, or already holds the batch."""

    exit_code = 2


@dataclass
class RingRecord:
    """One ring the state knows, as the next batch's lineage reads it."""

    ring_id: str
    first_detected: str
    last_detected: str
    status: str
    operation: str | None
    operator: str | None
    members: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)


class State:
    """A state folder, opened (checked and locked) for one run; :meth:`commit` writes the next generation."""

    def __init__(self, folder: str | Path, *, window_days: int | None = None):
        self.given = Path(folder)
        if window_days is not None and window_days < 1:
            raise ConfigError(f"window days must be 1 or more, not {window_days}")
        self.folder = self._check(self.given)
        self._lock: IO[str] | None = None
        #: The request window of this run (set by :meth:`extend`, written by :meth:`commit`).
        self._since: dt.datetime | None = None
        self._horizon_value: dt.datetime | None = None
        self.doc: dict[str, Any] = {"format": FORMAT, "version": VERSION, "generation": 0,
                                    "window_days": window_days or WINDOW_DAYS, "horizon": None, "batches": []}
        if (self.folder / MANIFEST).exists():
            self.doc = _read_manifest(self.folder / MANIFEST, self.given)
            if window_days is not None:
                self.doc["window_days"] = window_days

    # -- opening --------------------------------------------------------------------------------------

    @staticmethod
    def _check(given: Path) -> Path:
        """The folder to use: absent (made by the first commit), empty, or a linkage state and nothing else."""
        if given.is_symlink() and not given.resolve().is_dir():
            raise StateError(f"{given}: a symbolic link to something that is not a folder")
        folder = given.resolve()
        if folder.exists() and not folder.is_dir():
            raise StateError(f"{given}: exists and is not a folder, so it cannot be a state folder")
        if not folder.exists():
            return folder
        entries = sorted(os.listdir(folder))
        foreign = [e for e in entries if not _own_top(folder, e)]
        if foreign:
            shown = ", ".join(repr(e) for e in foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise StateError(f"{given}: not a linkage state folder (it holds {shown}); give a new or empty folder")
        # Generations with no state.json naming one are a first run killed before it committed: removed on lock.
        return folder

    def __enter__(self) -> State:
        self.lock()
        return self

    def __exit__(self, *exc: object) -> None:
        self.unlock()

    def lock(self) -> None:
        """Take the folder's advisory lock (one writer at a time); the folder is made here when absent."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fh = open(self.folder / LOCK, "a+")  # noqa: SIM115 (held until unlock)
        except OSError as exc:
            raise StateError(f"{self.given}: cannot use the state folder ({exc.strerror})") from None
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise StateError(f"{self.given}: another linkage run is updating this state; try again when it ends"
                             ) from None
        self._lock = fh
        self._clean()

    def unlock(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def _clean(self) -> None:
        """Remove generations ``state.json`` does not name (left by a run killed before it committed)."""
        for entry in sorted(os.listdir(self.folder)):
            if _GEN.fullmatch(entry) and entry != self.current:
                _remove_generation(self.folder / entry)

    # -- what the state holds ----------------------------------------------------------------------

    @property
    def generation(self) -> int:
        return int(self.doc["generation"])

    @property
    def current(self) -> str | None:
        return f"gen-{self.generation:06d}" if self.generation else None

    @property
    def window_days(self) -> int:
        return int(self.doc["window_days"])

    @property
    def batches(self) -> list[dict[str, Any]]:
        return list(self.doc["batches"])

    def applied(self, batch_id: str) -> dict[str, Any] | None:
        """The record of ``batch_id`` when the state already holds it."""
        return next((b for b in self.doc["batches"] if b.get("batch_id") == batch_id), None)

    def refuse_applied(self, batch_id: str, data: str | Path) -> None:
        """One line and a non-zero exit when the batch is already in the state (it would count twice)."""
        done = self.applied(batch_id)
        if done is not None:
            raise StateError(f"{self.given}: batch {batch_id} ({data}) was already applied on {done.get('applied_at')} "
                             f"(generation {done.get('generation')}); the state is unchanged. A batch is applied "
                             "once: its requests would otherwise count twice")

    def table(self, name: str) -> str:
        """SQL reading one of the state's tables (an empty relation of the right columns before the first batch)."""
        columns, _ = TABLES[name]
        path = self.folder / self.current / f"{name}.parquet" if self.current else None
        if path is not None and path.exists():
            return f"read_parquet({literal(path)})"
        return f"(SELECT {', '.join(f'CAST(NULL AS {t}) AS {c}' for c, t in _columns(columns))} LIMIT 0)"

    def known_rings(self, con: duckdb.DuckDBPyConnection) -> list[KnownRing]:
        """The rings the state knows, for ``linkage.lineage.match``."""
        rows = con.execute(f"""
            SELECT r.ring_id, r.first_detected,
                   (SELECT list(account_id ORDER BY account_id) FROM {self.table('ring_members')} m
                    WHERE m.ring_id = r.ring_id) AS members,
                   (SELECT list(tool ORDER BY tool) FROM {self.table('ring_tools')} t
                    WHERE t.ring_id = r.ring_id) AS tools
            FROM {self.table('rings')} r ORDER BY r.ring_id""").fetchall()
        return [KnownRing(rid, frozenset(m or ()), first, frozenset(t or ())) for rid, first, m, t in rows]

    # -- into the run ----------------------------------------------------------------------------------

    def attach(self, con: duckdb.DuckDBPyConnection) -> None:
        """``state_accounts``: the known accounts, as views for the read (``io.read_batch(known_accounts=…)``)."""
        con.execute(f"CREATE OR REPLACE TEMP VIEW state_accounts AS SELECT * FROM {self.table('accounts')}")

    def extend(self, con: duckdb.DuckDBPyConnection) -> dict[str, int]:
        """Add the state's payments, intel and recent requests to the batch's tables; return what was added.

        ``events`` becomes the batch's requests plus the state's within the window (counted back from
        the latest request of either); ``events_prior`` holds the state's part.
        """
        horizon = self._horizon(con)
        since = horizon - dt.timedelta(days=self.window_days) if horizon is not None else None
        con.execute(f"""CREATE OR REPLACE TABLE events_prior AS
                        SELECT a.aid, e.ts, e.ip, e.asn, e.device_id, e.prompt
                        FROM {self.table('events')} e JOIN accounts a USING (account_id)
                        WHERE e.ts >= ?""", [since])
        con.execute("""CREATE OR REPLACE VIEW events AS
                       SELECT aid, ts, ip, asn, device_id, prompt FROM events_checked WHERE NOT rejected
                       UNION ALL SELECT aid, ts, ip, asn, device_id, prompt FROM events_prior""")
        before = {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]) for t in ("payments", "intel")}
        con.execute(f"""INSERT INTO payments
                        SELECT a.aid, p.instrument_id, p.instrument_type, p.bin, p.ts
                        FROM {self.table('payments')} p JOIN accounts a USING (account_id)
                        EXCEPT SELECT aid, instrument_id, instrument_type, bin, ts FROM payments""")
        con.execute(f"""INSERT INTO intel SELECT * FROM {self.table('intel')}
                        EXCEPT SELECT operator, kind, value, note FROM intel""")
        added = {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]) - n for t, n in before.items()}
        added["events"] = int(con.execute("SELECT count(*) FROM events_prior").fetchall()[0][0])
        self._since = since
        self._horizon_value = horizon
        return added

    def _horizon(self, con: duckdb.DuckDBPyConnection) -> dt.datetime | None:
        latest = con.execute("SELECT max(ts) FROM events_checked WHERE NOT rejected").fetchall()[0][0]
        stored = self.doc.get("horizon")
        known = dt.datetime.fromisoformat(stored) if stored else None
        candidates = [t for t in (latest, known) if t is not None]
        return max(candidates) if candidates else None

    # -- out of the run --------------------------------------------------------------------------------

    def commit(self, con: duckdb.DuckDBPyConnection, *, batch_id: str, data: str | Path, counts: Mapping[str, Any],
               rings: list[RingRecord], retired: list[str]) -> None:
        """Write the next generation from the run's tables and rings, then make it current (one rename).

        ``rings`` are today's rings with their final ids; ``retired`` the known ids merged into one of
        them (they are no longer rings of their own). Known rings today did not continue stay as they were.
        """
        if self._lock is None:
            raise StateError(f"{self.given}: the state must be locked to be committed (a bug)")
        nxt = self.generation + 1
        target = self.folder / f"gen-{nxt:06d}"
        if target.exists():
            _remove_generation(target)
        target.mkdir()
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        params = {"batch": batch_id, "since": self._since}
        try:
            for name in ("accounts", "payments", "events", "intel"):
                _write_table(con, TABLES[name][1], params, target / f"{name}.parquet")
            self._write_rings(con, target, batch_id, rings, retired)
            _sync(target)
        except (duckdb.Error, OSError) as exc:
            _remove_generation(target)
            raise StateError(f"{self.given}: cannot write the state ({str(exc).splitlines()[0]}); "
                             "the state is unchanged") from None
        horizon = self._horizon_value
        doc = {**self.doc, "generation": nxt, "horizon": horizon.isoformat() if horizon is not None else None,
               "updated_at": now,
               "batches": [*self.doc["batches"], {"batch_id": batch_id, "data": str(data), "generation": nxt,
                                                  "applied_at": now, "counts": dict(counts),
                                                  "rings": len(rings)}]}
        previous = self.folder / self.current if self.current else None
        replace_file(self.folder / MANIFEST, json_text(doc, indent=1) + "\n")
        _sync(self.folder)
        self.doc = doc
        if previous is not None:
            _remove_generation(previous)

    def _write_rings(self, con: duckdb.DuckDBPyConnection, target: Path, batch_id: str, rings: list[RingRecord],
                     retired: list[str]) -> None:
        """The ring registry: today's rings, and every known ring neither continued nor retired today."""
        today = {r.ring_id for r in rings}
        dropped = sorted(today | set(retired))
        frames = {
            "state_today": pd.DataFrame(
                [(r.ring_id, r.first_detected, batch_id, r.status, r.operation, r.operator) for r in rings],
                columns=["ring_id", "first_detected", "last_detected", "status", "operation", "operator"], dtype=object),
            "state_today_members": pd.DataFrame([(r.ring_id, m) for r in rings for m in r.members],
                                                columns=["ring_id", "account_id"], dtype=object),
            "state_today_tools": pd.DataFrame([(r.ring_id, t) for r in rings for t in r.tools],
                                              columns=["ring_id", "tool"], dtype=object),
        }
        for (name, table), frame in zip((("rings", "state_today"), ("ring_members", "state_today_members"),
                                         ("ring_tools", "state_today_tools")), frames.values()):
            columns = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in _columns(TABLES[name][0]))
            con.register(table, frame)
            try:
                query = (f"SELECT {columns} FROM {table} UNION ALL SELECT * FROM {self.table(name)} "
                         f"WHERE ring_id NOT IN (SELECT unnest(CAST($dropped AS VARCHAR[]))) ORDER BY ALL")
                _write_table(con, query, {"dropped": dropped}, target / f"{name}.parquet")
            finally:
                con.unregister(table)

    def summary(self) -> dict[str, Any]:
        """What ``rings.json`` says about the state the run started from."""
        last = self.doc["batches"][-1] if self.doc["batches"] else None
        return {"folder": str(self.given), "generation": self.generation, "window_days": self.window_days,
                "batches_before": len(self.doc["batches"]),
                "previous_batch": last.get("batch_id") if last else None,
                # batch id -> its input folder, so a reader can name the batch a ring was first detected in
                "batch_folders": {b.get("batch_id"): b.get("data") for b in self.doc["batches"]}}


def _columns(spec: str) -> Iterator[tuple[str, str]]:
    for part in spec.split(", "):
        name, sql_type = part.split(" ", 1)
        yield name, sql_type


def _write_table(con: duckdb.DuckDBPyConnection, query: str, params: Mapping[str, Any], path: Path) -> None:
    """One state table as Parquet (the query's ``$names`` bound to ``params``)."""
    used = {k: v for k, v in params.items() if f"${k}" in query}
    con.execute(f"COPY ({query}) TO {literal(path)} (FORMAT parquet, COMPRESSION zstd)", used)


def _own_top(folder: Path, name: str) -> bool:
    """Whether ``name`` at the top of a state folder is one linkage writes there (never a link)."""
    path = folder / name
    if path.is_symlink():
        return False
    if name in (MANIFEST, LOCK) or (name.startswith(f".{MANIFEST}.linkage-tmp-")):
        return path.is_file()
    if _GEN.fullmatch(name) and path.is_dir():
        return all(e in OWN_FILES and not (path / e).is_symlink() for e in os.listdir(path))
    return False


def _remove_generation(folder: Path) -> None:
    """Delete a generation folder by linkage's own names only."""
    for name in OWN_FILES:
        with contextlib.suppress(FileNotFoundError):
            (folder / name).unlink()
    with contextlib.suppress(OSError):
        folder.rmdir()


def _read_manifest(path: Path, given: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StateError(f"{given}: not a linkage state folder ({MANIFEST} is unreadable: {exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise StateError(f"{given}: not a linkage state folder ({MANIFEST} is not a linkage state manifest)")
    if doc.get("version") != VERSION:
        raise StateError(f"{given}: state version {doc.get('version')!r} is not {VERSION}, which this linkage reads")
    gen, batches = doc.get("generation"), doc.get("batches")
    if not isinstance(gen, int) or gen < 0 or not isinstance(batches, list) or not isinstance(doc.get("window_days"), int):
        raise StateError(f"{given}: {MANIFEST} is damaged (generation, window_days or batches missing)")
    if gen and not (path.parent / f"gen-{gen:06d}").is_dir():
        raise StateError(f"{given}: {MANIFEST} names generation {gen}, which is missing")
    return doc


def _sync(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


__all__ = ["State", "StateError", "RingRecord", "WINDOW_DAYS", "TABLES"]
