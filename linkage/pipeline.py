"""``detect``: the batch ring-detection pipeline, from an input folder to flagged rings.

read + validate → signals (one stage per family) → activity → evidence graph → communities → scoring → attribution → outputs.
Every stage but communities is SQL on one in-process DuckDB connection; the
result object keeps that connection so a notebook user can query any stage.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import activity, attribution, graph, io, scoring, signals
from .communities import detect_communities
from .config import Config
from .signals.prompt import shingle_texts_sql

log = logging.getLogger(__name__)


@dataclass
class Result:
    """What a detection run found; ``rings`` are the flagged rings, best first."""

    rings: list[dict]
    members: pd.DataFrame  # ring_id, account_id, aid
    communities: pd.DataFrame  # every scored community with its features
    counts: dict[str, int]
    config: Config
    timings: dict[str, float] = field(default_factory=dict)
    con: object = None  # the DuckDB connection holding every stage's tables

    def summary(self) -> dict:
        """The figures an escalation needs, per operator and in total."""
        by_op: dict[str, dict] = {}
        for ring in self.rings:
            key = ring["operator"] or ring["operator_cluster"]
            entry = by_op.setdefault(key, {"rings": 0, "accounts": 0, "requests": 0,
                                           "attributed": ring["operator"] is not None})
            entry["rings"] += 1
            entry["accounts"] += ring["size"]
            entry["requests"] += ring["requests"]
        return {
            "rings": len(self.rings),
            "accounts_flagged": int(sum(r["size"] for r in self.rings)),
            "requests_covered": int(sum(r["requests"] for r in self.rings)),
            "rejected_rows": self.counts.get("rejected", 0),
            "by_operator": dict(sorted(by_op.items(), key=lambda kv: -kv[1]["accounts"])),
        }


class Stages:
    """Times each stage and reports it; ``report`` gets (stage name, seconds or None at start)."""

    def __init__(self, report: Callable[[str, float | None], None] | None = None):
        self.report = report
        self.timings: dict[str, float] = {}
        self._name: str | None = None
        self._t0 = 0.0

    def start(self, name: str) -> None:
        self.stop()
        self._name, self._t0 = name, time.perf_counter()
        if self.report:
            self.report(name, None)

    def stop(self) -> None:
        if self._name is not None:
            dt = time.perf_counter() - self._t0
            self.timings[self._name] = round(self.timings.get(self._name, 0.0) + dt, 3)
            log.info("stage %s: %.2fs", self._name, dt)
            if self.report:
                self.report(self._name, dt)
            self._name = None


def ring_id(account_ids) -> str:
    """Stable id from the member set: the same members always give the same id."""
    digest = hashlib.sha1("\n".join(sorted(account_ids)).encode()).hexdigest()
    return f"ring-{digest[:12]}"


def detect(data: str | Path, config: Config | None = None, *, out: str | Path | None = None,
           report: Callable[[str, float | None], None] | None = None, threads: int | None = None,
           memory_limit: str | None = None, intel=None) -> Result:
    """Run the whole pipeline on the batch folder ``data``; write outputs to ``out`` if given.

    ``intel`` (a :class:`linkage.stix.intake.StixIntel`) adds STIX bundles to the batch's intel.

    >>> from linkage import detect
    >>> result = detect("fixtures/world")               # doctest: +SKIP
    >>> [r["operator"] for r in result.rings][:3]       # doctest: +SKIP
    """
    config = config or Config()
    stages = Stages(report)
    stages.start("read")
    con = io.connect(threads=threads, memory_limit=memory_limit)
    batch = io.read_batch(data, con, extra_intel=intel)
    counts = batch.counts()

    # One stage per family, so a slow signal shows by name.
    signals.extract(con, config, progress=lambda step: stages.start(f"signal.{step}"))
    con.execute(f"CREATE OR REPLACE TABLE shingle_texts AS {shingle_texts_sql(config)}")
    stages.start("activity")
    activity.from_events(con, config)
    result = analyse(con, config, stages, counts)
    if out is not None:
        from .outputs import write_outputs

        stages.start("outputs")
        write_outputs(result, out, batch)
        stages.stop()
        result.timings = stages.timings
    return result


def analyse(con, config: Config, stages: Stages, counts: dict[str, int]) -> Result:
    """From weighted entities to attributed rings; needs only the tables a stored graph can give back.

    Tables: ``accounts``, ``incidence``, ``entities``, ``acct_activity``,
    ``acct_windows``, ``intel`` and ``shingle_texts``.
    """

    stages.start("graph")
    graph.build_links(con, config)

    stages.start("communities")
    links = con.execute("SELECT a, b, weight FROM links").fetchnumpy()
    workers = con.execute("SELECT current_setting('threads')").fetchall()[0][0]  # one knob: --threads
    groups = detect_communities(links["a"], links["b"], links["weight"], min_size=config.min_ring_size,
                                resolution=config.resolution, seed=config.seed, workers=int(workers))
    members = pd.DataFrame({
        "cid": np.concatenate([np.full(len(g), c, dtype=np.int64) for c, g in groups.items()]) if groups else [],
        "aid": np.concatenate(list(groups.values())) if groups else [],
    }).astype({"cid": "int64", "aid": "int64"})
    con.register("members_df", members)
    con.execute("CREATE OR REPLACE TABLE members AS SELECT * FROM members_df")
    con.unregister("members_df")

    stages.start("scoring")
    scored = scoring.score(scoring.community_features(con, config))
    flagged = scored[scored["score"] >= config.threshold]

    stages.start("attribution")
    rings, ring_members = _assemble(con, config, scored, flagged)

    stages.stop()
    return Result(rings=rings, members=ring_members, communities=scored, counts=counts,
                  config=config, timings=stages.timings, con=con)


def _assemble(con, config: Config, scored: pd.DataFrame, flagged: pd.DataFrame):
    """Name the flagged rings, attribute them, and gather their per-family evidence."""
    names = con.execute(
        "SELECT m.cid, m.aid, a.account_id FROM members m JOIN accounts a USING (aid) WHERE m.cid IN "
        "(SELECT unnest(?))", [flagged["cid"].astype(int).tolist()]
    ).df()
    ids = names.groupby("cid")["account_id"].apply(ring_id)
    order = flagged.assign(ring_id=flagged["cid"].map(ids)).sort_values(["score", "ring_id"], ascending=[False, True])
    order = order.reset_index(drop=True)
    order["ring"] = np.arange(len(order))
    ring_of_cid = dict(zip(order["cid"], order["ring"]))
    ring_members = names.assign(ring=names["cid"].map(ring_of_cid)).dropna(subset=["ring"])
    ring_members["ring"] = ring_members["ring"].astype(int)
    attr = attribution.attribute(con, config, order[["ring", "ring_id"]], ring_members[["aid", "ring"]])
    from .evidence import ring_evidence

    evidence = ring_evidence(con, config, order, ring_members, attr)
    rings = []
    for row, a in zip(order.itertuples(index=False), attr.itertuples(index=False)):
        ev = evidence[row.ring]
        rings.append({
            "ring_id": row.ring_id,
            "score": float(row.score),
            "size": int(row.size),
            "members": sorted(ring_members.loc[ring_members.ring == row.ring, "account_id"]),
            "operator": a.operator,
            "operator_confidence": float(a.operator_confidence),
            "operator_cluster": a.operator_cluster,
            "requests": int(row.requests),
            "first_seen": ev["first_seen"],
            "last_seen": ev["last_seen"],
            "features": {k: round(float(getattr(row, k)), 4) for k in
                         (*scoring.FEATURES, "coordination", "harvesting", "median_requests")},
            "signals": ev["signals"],
            "evidence": ev["paths"],
            "attribution": {"direct_evidence": a.direct_evidence, "operator_scores": a.operator_scores},
        })
    out_members = ring_members.merge(order[["ring", "ring_id"]], on="ring")[["ring_id", "account_id", "aid"]]
    out_members = out_members.sort_values(["ring_id", "account_id"]).reset_index(drop=True)
    return rings, out_members
