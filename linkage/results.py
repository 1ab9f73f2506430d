"""Typed results handed between layers: a flagged :class:`Ring`, and the :class:`Result` of a run.

``rings.json`` is ``Ring.to_dict`` per ring; readers of a run folder (load, report,
explain, intel export) get ``Ring`` objects back through ``Ring.from_dict``, so no
consumer checks dict keys defensively.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb
import pandas as pd

from .config import Config
from .lineage import Lineage


@dataclass
class Ring:
    """One flagged ring: its members, score, operator and the evidence behind it."""

    ring_id: str
    score: float
    size: int
    members: list[str]
    operator: str | None
    operator_confidence: float
    #: The operator, or a stable ``unattributed-…`` name grouping rings of one unknown operator.
    operator_cluster: str
    #: The operation (``linkage.operations``) the ring belongs to: the rings one operator runs.
    operation: str | None = None
    requests: int = 0
    first_seen: str | None = None
    last_seen: str | None = None
    #: Scoring features (``linkage.scoring.FEATURES``, coordination, harvesting, median_requests).
    features: dict[str, float] = field(default_factory=dict)
    #: Per family: ``shared_entities``, ``weight`` and the ``top`` shared entities.
    signals: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Readable paths: strongest links and indicator / ring-tie paths to the operator.
    evidence: list[dict[str, Any]] = field(default_factory=list)
    #: ``direct_evidence`` and ``operator_scores`` per operator.
    attribution: dict[str, Any] = field(default_factory=dict)
    #: Accounts of the ring's community left unflagged: they share a single thing with the ring
    #: (``linkage.membership``). Worth a look, not an action.
    bystanders: list[str] = field(default_factory=list)
    #: Members the community detection left outside the ring that carry a member's tools of its operation:
    #: two of a card of the batch it pays from, an address, card or mail domain its members use, and its
    #: template phrases (``membership.recruits``).
    recruits: list[str] = field(default_factory=list)
    #: Where the ring comes from across batches (``linkage.lineage``); None for a run without state.
    lineage: Lineage | None = None

    @property
    def cluster(self) -> str:
        """The name the ring is counted under: its operator, else its unattributed cluster."""
        return self.operator or self.operator_cluster

    def to_dict(self) -> dict[str, Any]:
        """The ring as ``rings.json`` holds it; ``lineage`` only when the run had state."""
        doc = asdict(self)
        if self.lineage is None:
            doc.pop("lineage")
        else:
            doc["lineage"] = self.lineage.to_dict()
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Ring:
        """A ring of ``rings.json``; fields an older run did not write take their defaults."""
        known = {k: v for k, v in doc.items() if k in cls.__dataclass_fields__}
        known.setdefault("operator_cluster", doc.get("operator") or "unattributed")
        known.setdefault("members", [])
        known.setdefault("size", len(known["members"]))
        known.setdefault("operator", None)
        known.setdefault("operator_confidence", 0.0)
        known.setdefault("score", 0.0)
        if isinstance(known.get("lineage"), dict):
            known["lineage"] = Lineage.from_dict(known["lineage"])
        elif "lineage" in known:
            known["lineage"] = None
        return cls(**known)


@dataclass
class Operation:
    """The flagged rings one operator runs, grouped by the tools they reuse (``linkage.operations``)."""

    operation_id: str
    operator: str | None
    operator_confidence: float
    rings: list[str]
    accounts: int
    requests: int
    score: float
    #: Per family: how many of the operation's tools (entities used mostly by its rings) it reuses, and the top ones.
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def cluster(self) -> str:
        return self.operator or self.operation_id.replace("operation-", "unattributed-", 1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Operation:
        known = {k: v for k, v in doc.items() if k in cls.__dataclass_fields__}
        known.setdefault("operator", None)
        known.setdefault("operator_confidence", 0.0)
        for key, default in (("rings", []), ("accounts", 0), ("requests", 0), ("score", 0.0)):
            known.setdefault(key, default)
        return cls(**known)


@dataclass
class Result:
    """What a detection run found; ``rings`` are the flagged rings, best first."""

    rings: list[Ring]
    members: pd.DataFrame  # ring_id, account_id, aid
    communities: pd.DataFrame  # every scored community with its features
    counts: dict[str, int]
    config: Config
    timings: dict[str, float] = field(default_factory=dict)
    #: The DuckDB connection holding the run's tables (``Config.keep_tables`` keeps every stage's).
    con: duckdb.DuckDBPyConnection | None = None
    operations: list[Operation] = field(default_factory=list)
    #: Communities scored below the threshold but close to it, with their features (``OUT/watchlist.csv``).
    watchlist: pd.DataFrame | None = None

    def summary(self) -> dict[str, Any]:
        """The figures an escalation needs, per operator and in total."""
        by_op: dict[str, dict[str, Any]] = {}
        for ring in self.rings:
            entry = by_op.setdefault(ring.cluster, {"rings": 0, "accounts": 0, "requests": 0,
                                                    "attributed": ring.operator is not None})
            entry["rings"] += 1
            entry["accounts"] += ring.size
            entry["requests"] += ring.requests
        return {
            "rings": len(self.rings),
            "accounts_flagged": int(sum(r.size for r in self.rings)),
            "requests_covered": int(sum(r.requests for r in self.rings)),
            "operations": len(self.operations),
            "watchlist": 0 if self.watchlist is None else len(self.watchlist),
            "rejected_rows": self.counts.get("rejected", 0),
            "by_operator": dict(sorted(by_op.items(), key=lambda kv: -kv[1]["accounts"])),
        }


__all__ = ["Ring", "Operation", "Result"]
