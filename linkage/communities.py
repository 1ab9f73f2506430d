"""Communities of the evidence graph: Leiden, seeded, one connected component at a time.

The quality function is the Constant Potts Model, not modularity: its
resolution is a density threshold (a community's members must average at
least ``resolution`` link weight per pair), so a ring stays whole however its
cards split it, and an outsider tied to a large ring by one weak link costs
more than it adds. CPM has no global term, so optimising each connected
component on its own is exact; that keeps memory bounded by the largest
component and gives the same partition whatever else is in the batch. The
seed and a fixed vertex order (by account id) make the same input give the
same communities.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import igraph as ig
import leidenalg
import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from . import limits

log = logging.getLogger(__name__)


#: Leiden passes stop once a pass improves the partition's quality by less than this share,
#: or after MAX_PASSES. Running to a strict fixed point costs many passes on a large benign
#: component (148 s against 8 s on a 48k-account one) for a quality gain under 1%.
MIN_GAIN = 1e-3
MAX_PASSES = 10


#: Below this many edges in all, components are optimised in this process: starting workers costs
#: more than it saves on a small batch.
PARALLEL_MIN_EDGES = 500_000


def _optimise(graph: ig.Graph, resolution: float, seed: int) -> leidenalg.VertexPartition.MutableVertexPartition:
    partition = leidenalg.CPMVertexPartition(graph, weights="weight", resolution_parameter=resolution)
    optimiser = leidenalg.Optimiser()
    optimiser.set_rng_seed(seed)
    for _ in range(MAX_PASSES):
        gain = optimiser.optimise_partition(partition, n_iterations=1)
        if gain <= MIN_GAIN * abs(partition.quality()):
            break
    return partition


#: Vertex ids (or per-vertex community numbers) and edge weights.
Ids = npt.NDArray[np.integer[Any]]
Weights = npt.NDArray[np.floating[Any]]
#: One component's Leiden job, the arguments of ``component_membership``: vertex count, local edge pairs
#: (an (m, 2) array), their weights, resolution and seed.
Job = tuple[int, Ids, Weights, float, int]


def component_membership(n: int, edges: Ids, weights: Weights, resolution: float, seed: int) -> Ids:
    """Leiden on one component given as local edge pairs; runs in a worker process, and on Spark's executors."""
    graph = ig.Graph(n=n, edges=edges.tolist(), directed=False)
    graph.es["weight"] = weights.tolist()
    return np.asarray(_optimise(graph, resolution, seed).membership)


def detect_communities(a: Ids, b: Ids, w: Weights, *, min_size: int,
                       resolution: float = 0.02, seed: int = 42, workers: int | None = None) -> dict[int, Ids]:
    """Return ``{community_index: sorted vertex ids}`` for communities of at least ``min_size``.

    Vertices are the integer ids in ``a`` and ``b``; communities are numbered
    by their smallest vertex, so numbering is stable for the same input.
    Components are independent, so large batches spread them over ``workers``
    processes (default: one per core; leidenalg holds the GIL, so threads would not help);
    each component's result depends only on its own edges and the seed, so the
    communities are the same whatever the number of workers.
    """
    if len(a) == 0:
        return {}
    vertices = np.unique(np.concatenate([a, b]))
    ai = np.searchsorted(vertices, a)
    bi = np.searchsorted(vertices, b)
    n = len(vertices)
    _, label = connected_components(coo_matrix((np.ones(len(ai)), (ai, bi)), shape=(n, n)), directed=False)
    sizes = np.bincount(label)
    # Vertices and edges grouped by component (stable sorts: ids ascending, edges in input order), so each
    # component's graph is built from its own slice instead of cutting it out of one big graph.
    by_vertex = np.argsort(label, kind="stable")
    first_vertex = np.concatenate([[0], np.cumsum(sizes)])
    local = np.empty(n, dtype=np.int64)
    local[by_vertex] = np.arange(n) - first_vertex[label[by_vertex]]
    edge_label = label[ai]
    by_edge = np.argsort(edge_label, kind="stable")
    first_edge = np.searchsorted(edge_label[by_edge], np.arange(len(sizes) + 1))
    groups: list[Ids] = _pairs(sizes, by_edge[first_edge[:-1]], vertices[ai], vertices[bi], w, min_size, resolution)
    jobs: dict[int, Job] = {}
    for c in np.flatnonzero((sizes >= min_size) & (sizes > 2)):
        edges = by_edge[first_edge[c]:first_edge[c + 1]]
        jobs[int(c)] = (int(sizes[c]), np.column_stack([local[ai[edges]], local[bi[edges]]]),
                        w[edges].astype(float), resolution, seed)
    memberships = _run(jobs, limits.workers(workers or limits.cores()))
    for comp_id, membership in memberships.items():
        comp = by_vertex[first_vertex[comp_id]:first_vertex[comp_id + 1]]
        order = np.argsort(membership, kind="stable")
        cuts = np.flatnonzero(np.diff(membership[order])) + 1
        for members in np.split(comp[order], cuts):
            if len(members) >= min_size:
                groups.append(np.sort(vertices[members]))
    groups.sort(key=lambda g: int(g[0]))
    return {i: g for i, g in enumerate(groups)}


def _pairs(sizes: Ids, first: Ids, a: Ids, b: Ids, w: Weights, min_size: int, resolution: float) -> list[Ids]:
    """The communities of the two-account components, without Leiden: most components of a batch are pairs.

    A pair's one link (``first[c]`` is the first edge of component ``c``) joins the two accounts
    exactly when its weight beats the CPM cost of a two-member community, ``resolution``: that is
    the one move Leiden can make on it, so the answer is Leiden's, without building a graph per pair.
    """
    pairs = np.flatnonzero(sizes == 2)
    edge = first[pairs]
    joined = w[edge] > resolution
    out: list[Ids] = []
    if min_size <= 2:
        out += [np.array(sorted(p)) for p in zip(a[edge[joined]].tolist(), b[edge[joined]].tolist())]
    if min_size <= 1:
        out += [np.array([v]) for v in np.concatenate([a[edge[~joined]], b[edge[~joined]]]).tolist()]
    return out


def _run(jobs: dict[int, Job], workers: int) -> dict[int, Ids]:
    """Each component's membership; with several workers, components are shared out by edge count.

    Extra workers are plain ``python -c`` child processes fed through a temp file, not a
    multiprocessing pool: a pool would re-import the caller's main module, which breaks any
    script that calls ``detect`` without a ``__main__`` guard. A worker that fails is not fatal:
    its components are then optimised here.
    """
    order = sorted(jobs, key=lambda c: -len(jobs[c][1]))
    if workers <= 1 or sum(len(job[1]) for job in jobs.values()) < PARALLEL_MIN_EDGES:
        return {c: component_membership(*jobs[c]) for c in order}
    bins: list[list[int]] = [[] for _ in range(workers)]
    load = [0] * workers
    for c in order:  # largest first into the lightest bin
        k = load.index(min(load))
        bins[k].append(c)
        load[k] += len(jobs[c][1]) + 1
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH")]))}
    result: dict[int, Ids] = {}
    with tempfile.TemporaryDirectory(prefix="linkage-leiden-") as tmp:
        children: list[tuple[subprocess.Popen[bytes], list[int], Path]] = []
        try:
            for k, part in enumerate(bins[1:], start=1):
                src, dst = Path(tmp) / f"in{k}.pkl", Path(tmp) / f"out{k}.pkl"
                src.write_bytes(pickle.dumps({c: jobs[c] for c in part}))
                proc = subprocess.Popen([sys.executable, "-c", "from linkage.communities import _worker; _worker()",
                                         str(src), str(dst)], env=env, stdout=subprocess.DEVNULL)
                children.append((proc, part, dst))
            result.update({c: component_membership(*jobs[c]) for c in bins[0]})
            for proc, part, dst in children:
                if proc.wait() == 0 and dst.is_file():
                    result.update(pickle.loads(dst.read_bytes()))
                else:
                    log.warning("communities: a worker failed (exit %s); optimising its components here",
                                proc.returncode)
                    result.update({c: component_membership(*jobs[c]) for c in part})
        finally:  # interrupted or failed: no worker outlives the run
            for proc, _, _ in children:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    return result


def _worker() -> None:
    """Entry of a worker process: ``python -c ... IN OUT`` with pickled jobs in, memberships out."""
    # Ctrl-C reaches the whole process group: the parent reports it and stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    jobs = pickle.loads(src.read_bytes())
    dst.write_bytes(pickle.dumps({c: component_membership(*job) for c, job in jobs.items()}))
