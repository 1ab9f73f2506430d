"""Communities on Spark: connected components in SQL, then seeded Leiden per component on the executors.

The same partition as :func:`linkage.communities.detect_communities`, built the same way:

1. Connected components of ``links`` by min-label propagation with pointer jumping, in Spark
   SQL: each account takes the smallest label among itself and its neighbours, then the label
   of its label; at the fixed point every account holds its component's smallest account id.
   Each round is checkpointed (the lineage stays one round long).
2. ``groupBy(component).applyInPandas``: one pandas call per component on an executor, which
   numbers the component's accounts by id, keeps its edges in ``(a, b)`` order and calls
   :func:`linkage.communities.component_membership`, the very code the DuckDB engine runs,
   with the run's seed. Same edges, same order, same seed: same communities.
3. Communities of two accounts or more are numbered by their smallest account, as
   ``detect_communities`` numbers them.

A component is optimised whole in one executor's memory (CPM has no global term, so only a whole
component gives the exact partition). A component over ``max_component_links`` links stops the
run with a clear error naming its size and the setting, before any executor is asked to hold
it: raise the setting (and the executors' memory), or raise ``min_link_weight`` so fewer weak
links join it. It is never split silently, since a split would change the rings.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..communities import component_membership
from ..errors import LinkageError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from ..config import Config
    from .spark import SparkConnection

log = logging.getLogger(__name__)

#: The most links one component may have: igraph and leidenalg hold about 100 bytes a link, so
#: 50 million links is about 5 GB in one Python worker, on one executor.
MAX_COMPONENT_LINKS = 50_000_000
#: Rounds of label propagation before giving up (pointer jumping halves distances each round).
MAX_ROUNDS = 64


class ComponentTooLarge(LinkageError):
    """A connected component of the evidence graph is larger than one executor is allowed to optimise."""


def components(con: SparkConnection, links: DataFrame) -> DataFrame:
    """``(aid, comp)``: each linked account and its component's smallest account id."""
    spark = con.spark
    edges = links.selectExpr("CAST(a AS BIGINT) AS a", "CAST(b AS BIGINT) AS b").localCheckpoint(eager=True)
    edges.createOrReplaceTempView("__cc_edges")
    labels = spark.sql("SELECT a AS aid, a AS comp FROM __cc_edges UNION SELECT b, b FROM __cc_edges")
    labels = labels.localCheckpoint(eager=True)
    for round_ in range(1, MAX_ROUNDS + 1):
        labels.createOrReplaceTempView("__cc_labels")
        # Smallest label among the account and its neighbours, then the label of that label (jumping).
        step = spark.sql("""
            WITH nb AS (
                SELECT e.a AS aid, l.comp FROM __cc_edges e JOIN __cc_labels l ON l.aid = e.b
                UNION ALL SELECT e.b AS aid, l.comp FROM __cc_edges e JOIN __cc_labels l ON l.aid = e.a
                UNION ALL SELECT aid, comp FROM __cc_labels
            ),
            low AS (SELECT aid, min(comp) AS comp FROM nb GROUP BY aid)
            SELECT x.aid, least(x.comp, coalesce(j.comp, x.comp)) AS comp
            FROM low x LEFT JOIN low j ON j.aid = x.comp""").localCheckpoint(eager=True)
        step.createOrReplaceTempView("__cc_step")
        changed = spark.sql("SELECT count(*) FROM __cc_step s JOIN __cc_labels l USING (aid) "
                            "WHERE s.comp <> l.comp").collect()[0][0]
        labels = step
        if changed == 0:
            log.info("components: converged after %d rounds", round_)
            break
    else:
        raise LinkageError(f"connected components did not converge in {MAX_ROUNDS} rounds (please report this)")
    for view in ("__cc_edges", "__cc_labels", "__cc_step"):
        spark.catalog.dropTempView(view)
    return labels


def members_table(con: SparkConnection, config: Config, *, max_component_links: int = MAX_COMPONENT_LINKS) -> None:
    """Make ``members(cid, aid)`` on Spark from ``links``: every community of two accounts or more."""
    links = con.table("links").select("a", "b", "weight")
    comp = components(con, links)
    comp.createOrReplaceTempView("__cc_comp")
    links.createOrReplaceTempView("__cc_links")
    edges = con.spark.sql("""
        SELECT c.comp, CAST(l.a AS BIGINT) AS a, CAST(l.b AS BIGINT) AS b, CAST(l.weight AS DOUBLE) AS weight
        FROM __cc_links l JOIN __cc_comp c ON c.aid = l.a""")
    biggest = edges.groupBy("comp").count().orderBy("count", ascending=False).take(1)
    if biggest and biggest[0]["count"] > max_component_links:
        raise ComponentTooLarge(
            f"a connected component of the evidence graph has {biggest[0]['count']:,} links, more than one "
            f"executor may optimise ({max_component_links:,}); raise --spark-max-component-links and the "
            f"executors' memory, or raise min_link_weight")
    resolution, seed = float(config.resolution), int(config.seed)

    def optimise(frame: pd.DataFrame) -> pd.DataFrame:
        return _component_communities(frame, resolution, seed)

    groups = edges.groupBy("comp").applyInPandas(optimise, schema="aid long, first long, size long")
    groups.createOrReplaceTempView("__cc_groups")
    members = con.spark.sql("""
        SELECT CAST(dense_rank() OVER (ORDER BY first) - 1 AS BIGINT) AS cid, aid
        FROM __cc_groups WHERE size >= 2""")
    con._store("members", members)
    for view in ("__cc_comp", "__cc_links", "__cc_groups"):
        con.spark.catalog.dropTempView(view)


def _component_communities(frame: pd.DataFrame, resolution: float, seed: int) -> pd.DataFrame:
    """One component's edges ``(comp, a, b, weight)`` → ``(aid, first, size)`` of each account's community.

    Accounts are numbered by id and edges ordered by ``(a, b)``, as ``detect_communities`` orders
    them, so Leiden sees the same graph in the same order.
    """
    frame = frame.sort_values(["a", "b"], kind="stable")
    a, b = frame["a"].to_numpy(np.int64), frame["b"].to_numpy(np.int64)
    vertices = np.unique(np.concatenate([a, b]))
    local = np.column_stack([np.searchsorted(vertices, a), np.searchsorted(vertices, b)])
    membership = component_membership(len(vertices), local, frame["weight"].to_numpy(float), resolution, seed)
    out = pd.DataFrame({"aid": vertices, "label": membership})
    grouped = out.groupby("label")["aid"]
    out["first"] = grouped.transform("min")
    out["size"] = grouped.transform("size")
    return out[["aid", "first", "size"]].astype("int64")
