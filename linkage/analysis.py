"""From weighted entities to attributed rings: the stages both producers of the evidence share.

``pipeline.detect`` builds the inputs from a batch folder (read, signals,
activity); ``store.rings`` builds the same tables from the graph stored in Neo4j.
From :data:`INPUTS` on, the very same stages run: evidence graph → communities →
scoring → attribution (which names the flagged rings and gathers their evidence).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import attribution, graph, operations, scoring
from .communities import detect_communities
from .config import Config
from .evidence import ring_evidence
from .ids import set_digest
from .results import Result, Ring
from .stages import Context, Reporter, Runner, Stage, Timer

#: What a producer must leave on the connection for the analysis stages (the analysis contract).
INPUTS = ("accounts", "incidence", "entities", "family_params", "acct_activity", "acct_windows", "acct_topics",
          "intel", "shingle_texts")

#: Tables the outputs (evidence files, Neo4j load) read after the analysis.
RESULTS = ("accounts", "incidence", "entities", "links", "members", "operations", "op_tools", "acct_activity",
           "acct_windows", "acct_topics", "intel", "shingle_texts", "indicator_hits")


def ring_id(account_ids) -> str:
    """Stable id from the member set: the same members always give the same id (``linkage.ids``)."""
    return f"ring-{set_digest(account_ids)}"


def _graph(ctx: Context) -> None:
    ctx.values["links"] = graph.build_links(ctx.con, ctx.config)


def _communities(ctx: Context) -> None:
    con, config = ctx.con, ctx.config
    links = con.execute("SELECT a, b, weight FROM links ORDER BY a, b").fetchnumpy()
    workers = con.execute("SELECT current_setting('threads')").fetchall()[0][0]  # one knob: --threads
    # Every community of two accounts or more: a small one can still be part of an operation.
    groups = detect_communities(links["a"], links["b"], links["weight"], min_size=2,
                                resolution=config.resolution, seed=config.seed, workers=int(workers))
    members = pd.DataFrame({
        "cid": np.concatenate([np.full(len(g), c, dtype=np.int64) for c, g in groups.items()]) if groups else [],
        "aid": np.concatenate(list(groups.values())) if groups else [],
    }).astype({"cid": "int64", "aid": "int64"})
    con.register("members_df", members)
    con.execute("CREATE OR REPLACE TABLE members AS SELECT * FROM members_df")
    con.unregister("members_df")


def _operations(ctx: Context) -> None:
    operations.build(ctx.con, ctx.config)


def _scoring(ctx: Context) -> None:
    scored = scoring.score(scoring.community_features(ctx.con, ctx.config), ctx.config)
    # A community smaller than a ring counts only as part of an operation as large as one.
    big = (scored["size"] >= ctx.config.min_ring_size) | (
        (scored["op_size"] >= ctx.config.min_ring_size) & (scored["op_communities"] >= 2))
    ctx.values["communities"] = scored[big].reset_index(drop=True)


def _attribution(ctx: Context) -> None:
    scored = ctx.values["communities"]
    flagged = scored[scored["score"] >= ctx.config.threshold]
    ctx.values["rings"], ctx.values["members"] = assemble(ctx.con, ctx.config, flagged)


STAGES = (
    Stage("graph", _graph, reads=("incidence", "entities", "family_params", "accounts"), writes=("links",)),
    Stage("communities", _communities, reads=("links",), writes=("members",)),
    Stage("operations", _operations, reads=("members", "incidence"), writes=("operations", "op_tools", "profiles")),
    Stage("scoring", _scoring, reads=("members", "operations", "profiles", "links", "incidence", "entities",
                                      "accounts", "acct_activity", "acct_windows", "acct_topics")),
    Stage("attribution", _attribution, reads=("members", "accounts", "intel", "incidence", "entities", "links",
                                              "shingle_texts", "acct_activity"), writes=("indicator_hits",)),
)


def assemble(con, config: Config, flagged: pd.DataFrame) -> tuple[list[Ring], pd.DataFrame]:
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
    evidence = ring_evidence(con, config, order, ring_members, attr)
    member_lists = ring_members.groupby("ring")["account_id"].apply(sorted)
    rings = []
    for row, a in zip(order.itertuples(index=False), attr.rings.itertuples(index=False)):
        ev = evidence[row.ring]
        rings.append(Ring(
            ring_id=row.ring_id,
            score=float(row.score),
            size=int(row.size),
            members=list(member_lists.get(row.ring, [])),
            operator=a.operator,
            operator_confidence=float(a.operator_confidence),
            operator_cluster=a.operator_cluster,
            requests=int(row.requests),
            first_seen=ev["first_seen"],
            last_seen=ev["last_seen"],
            features={k: round(float(getattr(row, k)), 4) for k in
                      (*scoring.FEATURES, "coordination", "harvesting", "median_requests")},
            signals=ev["signals"],
            evidence=ev["paths"],
            attribution={"direct_evidence": a.direct_evidence, "operator_scores": a.operator_scores},
        ))
    out_members = ring_members.merge(order[["ring", "ring_id"]], on="ring")[["ring_id", "account_id", "aid"]]
    out_members = out_members.sort_values(["ring_id", "account_id"]).reset_index(drop=True)
    return rings, out_members


def result(ctx: Context, timer: Timer) -> Result:
    """The run's :class:`Result` from what the stages left in ``ctx``."""
    return Result(rings=ctx.values["rings"], members=ctx.values["members"], communities=ctx.values["communities"],
                  counts=ctx.counts, config=ctx.config, timings=timer.timings, con=ctx.con)


def run(con, config: Config, counts: dict[str, int], *, report: Reporter | None = None) -> Result:
    """The analysis stages over tables a producer already made (:data:`INPUTS`), e.g. the stored graph."""
    timer = Timer(report)
    ctx = Context(con=con, config=config, counts=dict(counts))
    Runner(STAGES, keep=RESULTS, timer=timer).run(ctx)
    return result(ctx, timer)
