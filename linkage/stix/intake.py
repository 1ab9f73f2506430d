"""Add STIX bundles to a batch's intel: the hook ``io.read_batch`` calls after the intel table is built.

Bundles come from ``linkage detect --intel FILE`` (repeatable) and from ``intel.stix.json`` in the
batch folder (the intel slot; it may sit beside an ``intel.csv``, and both are used).

Plain rows (IPs, ASNs, domains, template excerpts, plain account ids) are appended to ``intel``
as they are. Hashed rows are resolved here, so the matcher needs no change: the batch's own
distinct account ids, device fingerprints or payment tokens (only the kinds the bundles hold)
are hashed with the sharing-group key, and each digest that a bundle names becomes a plain
intel row for the local value. IP prefixes are resolved the same way against the batch's IPs.
Without a key, hashed rows are left out and ``notes`` says so in one line.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pandas as pd

from .hashing import DEFAULT_KEY_ENV, load_key
from .importer import BundleIntel, load_bundle, parse_bundle

if TYPE_CHECKING:
    from ..io import Batch

log = logging.getLogger(__name__)

#: The intel slot of a batch folder for a STIX bundle.
FOLDER_BUNDLE = "intel.stix.json"
#: hashed kind -> (plain kind, the batch's distinct local values of it)
LOCAL_VALUES = {
    "account_hmac": ("account", "SELECT account_id AS value FROM accounts"),
    "device_hmac": ("device", "SELECT DISTINCT device_id AS value FROM events WHERE device_id IS NOT NULL"),
    "instrument_hmac": ("instrument", "SELECT DISTINCT instrument_id AS value FROM payments"),
}
_INTEL_COLUMNS = ["operator", "kind", "value", "note"]


@dataclass
class StixIntel:
    """What ``detect`` passes down: bundle files and the variable holding the key; collects one-line notes."""

    bundles: tuple[Path, ...] = ()
    key_env: str = DEFAULT_KEY_ENV
    notes: list[str] = field(default_factory=list)


def add_bundle_intel(con: duckdb.DuckDBPyConnection, batch: Batch, sources: StixIntel | None = None) -> None:
    """Append the intel of every bundle for ``batch`` (see the module doc); rejects go to ``rejected``."""
    sources = sources or StixIntel()
    paths = [Path(p) for p in sources.bundles]
    slot = Path(batch.folder) / FOLDER_BUNDLE
    if slot.is_file():
        paths.append(slot)
        batch.files["intel.stix"] = FOLDER_BUNDLE
    if not paths:
        return
    parsed = [parse_bundle(load_bundle(p), p.name) for p in paths]
    for b in parsed:
        if b.rejects:
            con.executemany("INSERT INTO rejected VALUES (?, ?, ?, ?, ?)",
                            [(b.name, r.line, r.column, r.reason, r.value) for r in b.rejects])
    rows = pd.DataFrame([r for b in parsed for r in b.rows], columns=_INTEL_COLUMNS)
    hashed = rows["kind"].isin(list(LOCAL_VALUES))
    prefixes = rows["kind"] == "ip_prefix"
    _insert(con, rows[~hashed & ~prefixes])
    matched = _resolve_hashed(con, rows[hashed], parsed, sources) if hashed.any() else 0
    if prefixes.any():
        _insert(con, _resolve_prefixes(con, rows[prefixes]))
    operators = sorted({o for b in parsed for o in b.operators})
    rejected = sum(len(b.rejects) for b in parsed)
    sources.notes.insert(0, f"intel from {len(parsed)} STIX bundle{'s' if len(parsed) != 1 else ''}: "
                            f"{len(rows):,} indicator values of {len(operators)} operators"
                            + (f", {matched:,} local values matched by keyed hash" if hashed.any() else "")
                            + (f"; {rejected:,} objects rejected (see rejected.csv)" if rejected else ""))
    for note in sources.notes:
        log.info("stix intake: %s", note)


def _insert(con: duckdb.DuckDBPyConnection, rows: pd.DataFrame) -> None:
    if len(rows):
        con.register("stix_rows", rows[_INTEL_COLUMNS].reset_index(drop=True))
        con.execute("INSERT INTO intel SELECT operator, kind, value, note FROM stix_rows")
        con.unregister("stix_rows")


def _resolve_hashed(con: duckdb.DuckDBPyConnection, rows: pd.DataFrame, parsed: list[BundleIntel], sources: StixIntel) -> int:
    """Turn hashed rows into plain rows for the local values whose digest they name; return how many matched."""
    key = load_key(sources.key_env)
    if key is None:
        sources.notes.append(f"no sharing-group key in ${sources.key_env}: {len(rows):,} hashed indicator values "
                             "(accounts, devices, payment tokens) were not matched")
        return 0
    foreign = sorted({k for b in parsed for k in b.key_ids} - {key.key_id})
    if foreign:
        sources.notes.append(f"bundle hashes were made with another key (key id {', '.join(foreign)}; "
                             f"${sources.key_env} is {key.key_id}): those hashed values cannot match")
    con.register("stix_hashed", rows.reset_index(drop=True))
    matched = 0
    for hashed_kind in sorted(set(rows["kind"])):
        kind, query = LOCAL_VALUES[hashed_kind]
        local = [v for (v,) in con.execute(query).fetchall()]
        con.register("stix_local", pd.DataFrame({"value": local, "digest": key.digests(kind, local)}))
        con.execute("""INSERT INTO intel SELECT h.operator, ?, l.value, h.note FROM stix_hashed h
                       JOIN stix_local l ON l.digest = h.value WHERE h.kind = ?""", [kind, hashed_kind])
        matched += con.execute("""SELECT count(DISTINCT l.value) FROM stix_hashed h JOIN stix_local l
                                  ON l.digest = h.value WHERE h.kind = ?""", [hashed_kind]).fetchall()[0][0]
        con.unregister("stix_local")
    con.unregister("stix_hashed")
    return matched


def _resolve_prefixes(con: duckdb.DuckDBPyConnection, rows: pd.DataFrame) -> pd.DataFrame:
    """``ip`` rows for the batch's addresses inside each prefix (IPv4 ranges in SQL, IPv6 in Python: few)."""
    nets = [(r.operator, ipaddress.ip_network(str(r.value)), r.note) for r in rows.itertuples(index=False)]
    v4 = pd.DataFrame([(op, int(n.network_address), int(n.broadcast_address), note)
                       for op, n, note in nets if n.version == 4], columns=["operator", "lo", "hi", "note"])
    out = []
    if len(v4):
        con.register("stix_prefixes", v4)
        out.append(con.execute(
            """WITH ips AS (
                   SELECT ip, (CAST(split_part(ip, '.', 1) AS BIGINT) << 24) + (CAST(split_part(ip, '.', 2) AS BIGINT) << 16)
                              + (CAST(split_part(ip, '.', 3) AS BIGINT) << 8) + CAST(split_part(ip, '.', 4) AS BIGINT) AS n
                   FROM (SELECT DISTINCT ip FROM events WHERE ip IS NOT NULL AND ip NOT LIKE '%:%'))
               SELECT DISTINCT p.operator, 'ip' AS kind, ips.ip AS value, p.note
               FROM stix_prefixes p JOIN ips ON ips.n BETWEEN p.lo AND p.hi ORDER BY ALL""").df())
        con.unregister("stix_prefixes")
    v6 = [(op, n, note) for op, n, note in nets if n.version == 6]
    if v6:
        local = [ip for (ip,) in con.execute("SELECT DISTINCT ip FROM events WHERE ip LIKE '%:%'").fetchall()]
        addrs = [(ip, a) for ip in local if (a := _address(ip)) is not None]
        out.append(pd.DataFrame([(op, "ip", ip, note) for op, n, note in v6 for ip, a in addrs if a in n],
                                columns=_INTEL_COLUMNS))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=_INTEL_COLUMNS)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


__all__ = ["FOLDER_BUNDLE", "StixIntel", "add_bundle_intel"]
