"""From weighted entities to attributed rings: the stages both producers of the evidence share.

``pipeline.detect`` builds the inputs from a batch folder (read, signals,
activity); ``store.rings`` builds the same tables from the graph stored in Neo4j.
From :data:`INPUTS` on, the very same stages run: evidence graph → communities →
scoring → attribution (which names the flagged rings and gathers their evidence).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import duckdb
import numpy as np
import pandas as pd

from . import attribution, engines, graph, lineage, membership, operations, scoring
from .communities import detect_communities
from .config import Config
from .evidence import ring_evidence
from .frames import rows
from .ids import set_digest
from .results import Operation, Result, Ring
from .stages import Context, Reporter, Runner, Stage, Timer, step

#: What a producer must leave on the connection for the analysis stages (the analysis contract).
INPUTS = ("accounts", "incidence", "entities", "family_params", "acct_activity", "acct_windows", "acct_topics",
          "ip_networks", "template_marks", "intel", "shingle_texts")

#: Tables the outputs (evidence files, Neo4j load) read after the analysis.
RESULTS = ("accounts", "incidence", "entities", "links", "members", "operations", "op_tools", "acct_activity",
           "acct_windows", "acct_topics", "intel", "shingle_texts", "indicator_hits")


def ring_id(account_ids: Iterable[str]) -> str:
    """Stable id from the member set: the same members always give the same id (``linkage.ids``)."""
    return f"ring-{set_digest(account_ids)}"


def _graph(ctx: Context) -> None:
    ctx.values["links"] = graph.build_links(ctx.con, ctx.config)


def _communities(ctx: Context) -> None:
    con, config = ctx.con, ctx.config
    if engines.is_spark(con):  # components in Spark SQL, Leiden per component on the executors
        from .engines.spark_communities import members_table

        members_table(cast(Any, con), config)
        return
    links = con.execute("SELECT a, b, weight FROM links ORDER BY a, b").fetchnumpy()
    workers = con.execute("SELECT current_setting('threads')").fetchall()[0][0]  # one knob: --threads
    # Every community of two accounts or more: a small one can still be part of an operation.
    # fetchnumpy gives a Categorical only for an ENUM column; these are numbers.
    groups = detect_communities(np.asarray(links["a"]), np.asarray(links["b"]), np.asarray(links["weight"]), min_size=2,
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
    # Only candidates are scored: a community smaller than a ring counts only as part of an operation as large as one.
    ctx.values["communities"] = scoring.score(scoring.community_features(ctx.con, ctx.config), ctx.config)


def _attribution(ctx: Context) -> None:
    scored = ctx.values["communities"]
    flagged = scored[scored["score"] >= ctx.config.threshold]
    prior: lineage.Prior | None = ctx.values.get("prior")
    rings, members = assemble(ctx.con, ctx.config, flagged, prior=prior)
    ctx.values["rings"], ctx.values["members"] = rings, members
    with step("attribution.operations"):
        ctx.values["operations"] = operation_summaries(ctx.con, ctx.config, rings, members)
    with step("attribution.watchlist"):
        ctx.values["watchlist"] = watchlist(ctx.con, ctx.config, scored)


STAGES = (
    Stage("graph", _graph, reads=("incidence", "entities", "family_params", "accounts"), writes=("links",)),
    Stage("communities", _communities, reads=("links",), writes=("members",)),
    Stage("operations", _operations, reads=("members", "incidence", "links", "accounts"),
          writes=("operations", "op_tools", "profiles", "card_batches")),
    Stage("scoring", _scoring, reads=("members", "operations", "profiles", "card_batches", "links", "incidence", "entities",
                                      "ip_networks",
                                      "accounts", "acct_activity", "acct_windows", "acct_topics")),
    Stage("attribution", _attribution, reads=("members", "accounts", "intel", "incidence", "entities", "links",
                                              "shingle_texts", "acct_activity", "card_batches"),
          writes=("indicator_hits",)),
)


#: Columns of the watchlist besides the per-family ``cover_``/``excl_``/``pass_`` details.
WATCH_COLUMNS = ("community_id", "size", "score", "coordination", "harvesting", "volume_harvest",
                 "templated_harvest", "procured", "pool_networks", "families", "infra_families", "volume_ratio", "focus", "template_reach",
                 "templated_prompts", "template_rings", "template_networks", "template_placed", "op_size", "op_communities", "payment_share", "template_share", "burst_share",
                 "lockstep_share", "hosting_share", "density", "members")


def watchlist(con: duckdb.DuckDBPyConnection, config: Config, scored: pd.DataFrame) -> pd.DataFrame:
    """Communities that almost got flagged: scored at least ``watch_threshold``, below the threshold.

    An analyst reviews these; each row carries every feature behind its score and its member ids.
    """
    near = scored[(scored["score"] >= config.watch_threshold) & (scored["score"] < config.threshold)]
    names = con.execute(
        "SELECT m.cid, a.account_id FROM members m JOIN accounts a USING (aid) WHERE m.cid IN (SELECT unnest(?))",
        [near["cid"].astype(int).tolist()]).df()
    lists = names.groupby("cid")["account_id"].apply(sorted)
    out = near.assign(members=near["cid"].map(lists),
                      community_id=near["cid"].map(lambda c: "community-" + set_digest(lists[c])))
    detail = [c for c in scored.columns if c.startswith(("cover_", "excl_", "pass_", "chance_"))]
    out = out[[c for c in WATCH_COLUMNS if c in out.columns] + detail]
    return out.sort_values(["score", "community_id"], ascending=[False, True]).reset_index(drop=True)


def operation_summaries(con: duckdb.DuckDBPyConnection, config: Config, rings: list[Ring], members: pd.DataFrame) -> list[Operation]:
    """One :class:`Operation` per operation holding flagged rings, with the tools its rings reuse."""
    by_op: dict[str, list[Ring]] = {}
    for ring in rings:
        by_op.setdefault(ring.operation or ring.ring_id, []).append(ring)
    if not by_op:
        return []
    con.register("op_members_df", members.merge(
        pd.DataFrame([(r.ring_id, r.operation) for r in rings], columns=["ring_id", "operation"]), on="ring_id"))
    tools = con.execute(
        """SELECT m.operation, i.family, i.entity, count(DISTINCT m.aid) AS members, min(e.accounts) AS accounts,
                  count(DISTINCT m.ring_id) AS rings
           FROM incidence i JOIN op_members_df m USING (aid) JOIN entities e USING (family, entity)
           WHERE (i.family, i.entity) IN (SELECT (family, entity) FROM op_tools)
           GROUP BY ALL HAVING count(DISTINCT m.ring_id) >= 2
           ORDER BY m.operation, i.family, rings DESC, members DESC, i.entity""").df()
    texts = dict(con.execute("SELECT entity, text FROM shingle_texts").fetchall())
    con.unregister("op_members_df")
    tools_of = {k: g for k, g in tools.groupby("operation")}
    out = []
    for op_id, op_rings in by_op.items():
        summary: dict[str, dict[str, Any]] = {}
        for family, g in tools_of.get(op_id, tools.iloc[0:0]).groupby("family"):
            summary[str(family)] = {"tools": int(len(g)), "top": [
                {"entity": texts.get(t.entity, t.entity), "rings": int(t.rings), "members": int(t.members),
                 "accounts": int(t.accounts)} for t in rows(g.head(5))]}
        first = op_rings[0]
        out.append(Operation(operation_id=op_id, operator=first.operator,
                             operator_confidence=max(r.operator_confidence for r in op_rings),
                             rings=[r.ring_id for r in op_rings], accounts=sum(r.size for r in op_rings),
                             requests=sum(r.requests for r in op_rings), score=max(r.score for r in op_rings),
                             tools=summary))
    return sorted(out, key=lambda o: (-o.accounts, o.operation_id))


def ring_tools(con: duckdb.DuckDBPyConnection, members: pd.DataFrame) -> dict[int, list[str]]:
    """Each community's linking entities, ``family:entity``: weighted ones two of its ``members`` (cid, aid) use."""
    con.register("ring_tools_df", members[["cid", "aid"]])
    try:
        rows = con.execute(
            """SELECT cid, list(family || ':' || entity ORDER BY family, entity) FROM (
                   SELECT m.cid, i.family, i.entity FROM ring_tools_df m JOIN incidence i USING (aid)
                   JOIN entities e USING (family, entity) WHERE e.pair_weight > 0
                   GROUP BY ALL HAVING count(DISTINCT m.aid) >= 2)
               GROUP BY cid""").fetchall()
    finally:
        con.unregister("ring_tools_df")
    return {int(cid): list(tools) for cid, tools in rows}


def _lineage(con: duckdb.DuckDBPyConnection, names: pd.DataFrame, ids: pd.Series[str], prior: lineage.Prior
             ) -> tuple[pd.Series[str], dict[str, lineage.Lineage], dict[str, list[str]]]:
    """Today's rings matched to the known ones: final ids per cid, lineage and tools per final id."""
    tools = ring_tools(con, names)
    groups = names.groupby("cid")["account_id"]
    today = [lineage.TodayRing(str(ids[cid]), frozenset(g), frozenset(tools.get(int(str(cid)), ())))
             for cid, g in groups]
    matched = lineage.match(today, prior.rings, prior.batch_id)
    final = ids.map(lambda provisional: matched[provisional][0])
    lineages = {final_id: lin for final_id, lin in matched.values()}
    return final, lineages, {str(final[cid]): tools.get(int(cid), []) for cid in ids.index}


def assemble(con: duckdb.DuckDBPyConnection, config: Config, flagged: pd.DataFrame, *, prior: lineage.Prior | None = None
             ) -> tuple[list[Ring], pd.DataFrame]:
    """Name the flagged rings, attribute them, and gather their per-family evidence.

    With ``prior`` (a run with state) each ring is matched to the rings earlier batches found
    (``linkage.lineage``): a ring that continues one keeps its id, and every ring says its lineage.
    """
    with step("attribution.member_tools"):
        names = con.execute(
            "SELECT m.cid, m.aid, a.account_id FROM members m JOIN accounts a USING (aid) WHERE m.cid IN "
            "(SELECT unnest(?))", [flagged["cid"].astype(int).tolist()]
        ).df()
        tools = membership.member_tools(con, config, flagged["cid"].astype(int).tolist())
    names = names.merge(tools, on=["cid", "aid"], how="left")
    thin = names["tools"].fillna(0) < config.scoring.member_min_tools
    thin |= names["cid"].map((~thin).groupby(names["cid"]).sum()) < 2  # one account left is no ring
    outside, names = names[thin], names[~thin].drop(columns="tools")
    # accounts Leiden left outside the rings that carry a member's tools of an operation join it
    with step("attribution.recruits"):
        joined = membership.recruits(con, config, names[["cid", "aid"]])
    names = pd.concat([names, joined[["cid", "aid", "account_id"]]], ignore_index=True)
    bystanders = outside[~outside["aid"].isin(joined["aid"])].groupby("cid")["account_id"].apply(sorted)
    recruits = joined.groupby("cid")["account_id"].apply(sorted)
    flagged = flagged[flagged["cid"].isin(names["cid"])]
    ids = names.groupby("cid")["account_id"].apply(ring_id)
    lineages: dict[str, lineage.Lineage] = {}
    if prior is not None:
        ids, lineages, prior.tools = _lineage(con, names, ids, prior)
    order = flagged.assign(ring_id=flagged["cid"].map(ids)).sort_values(["score", "ring_id"], ascending=[False, True])
    order = order.reset_index(drop=True)
    order["ring"] = np.arange(len(order))
    ring_of_cid = dict(zip(order["cid"], order["ring"]))
    ring_members = names.assign(ring=names["cid"].map(ring_of_cid)).dropna(subset=["ring"])
    ring_members["ring"] = ring_members["ring"].astype(int)
    attr = attribution.attribute(con, config, order[["ring", "ring_id", "op"]], ring_members[["aid", "ring"]])
    with step("attribution.evidence"):
        evidence = ring_evidence(con, config, order, ring_members, attr)
    member_lists = ring_members.groupby("ring")["account_id"].apply(sorted)
    con.register("ring_members_df", ring_members[["aid", "ring"]])
    requests = dict(con.execute("SELECT r.ring, sum(coalesce(v.requests, 0)) FROM ring_members_df r "
                                "LEFT JOIN acct_activity v USING (aid) GROUP BY r.ring").fetchall())
    con.unregister("ring_members_df")
    rings = []
    for row, a in zip(rows(order), rows(attr.rings)):
        ev = evidence[row.ring]
        rings.append(Ring(
            ring_id=row.ring_id,
            score=float(row.score),
            size=len(member_lists.get(row.ring, [])),
            members=list(member_lists.get(row.ring, [])),
            operator=a.operator,
            operator_confidence=float(a.operator_confidence),
            operator_cluster=a.operator_cluster,
            operation=a.operation,
            requests=int(requests.get(row.ring, 0)),
            first_seen=ev["first_seen"],
            last_seen=ev["last_seen"],
            features={k: round(float(getattr(row, k)), 4) for k in
                      (*scoring.FEATURES, "coordination", "harvesting", "volume_harvest", "templated_harvest",
                       "procured", "pool_networks", "median_requests", "template_reach", "template_rings", "templated_prompts", "focus")},
            signals=ev["signals"],
            evidence=ev["paths"],
            attribution={"direct_evidence": a.direct_evidence, "operator_scores": a.operator_scores},
            bystanders=list(bystanders.get(row.cid, [])),
            recruits=list(recruits.get(row.cid, [])),
            lineage=lineages.get(row.ring_id),
        ))
    out_members = ring_members.merge(order[["ring", "ring_id"]], on="ring")[["ring_id", "account_id", "aid"]]
    out_members = out_members.sort_values(["ring_id", "account_id"]).reset_index(drop=True)
    return rings, out_members


def result(ctx: Context, timer: Timer) -> Result:
    """The run's :class:`Result` from what the stages left in ``ctx``."""
    return Result(rings=ctx.values["rings"], members=ctx.values["members"], communities=ctx.values["communities"],
                  counts=ctx.counts, config=ctx.config, timings=timer.timings, con=ctx.con,
                  operations=ctx.values["operations"], watchlist=ctx.values["watchlist"])


def run(con: duckdb.DuckDBPyConnection, config: Config, counts: dict[str, int], *, report: Reporter | None = None,
        prior: lineage.Prior | None = None) -> Result:
    """The analysis stages over tables a producer already made (:data:`INPUTS`), e.g. the stored graph.

    With ``prior``, rings are matched to the known ones and say their lineage (see :func:`assemble`).
    """
    timer = Timer(report)
    ctx = Context(con=con, config=config, counts=dict(counts))
    if prior is not None:
        ctx.values["prior"] = prior
    Runner(STAGES, keep=RESULTS, timer=timer).run(ctx)
    return result(ctx, timer)
