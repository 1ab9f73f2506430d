"""Speed baseline: account linkage the straightforward way, with pandas and networkx.

The README compares ``linkage detect`` against this script on the same batch and reports the
ratio. It is the pipeline a competent analyst would write first, not a straw man and not
secretly optimised:

1. ``read``: ``pandas.read_parquet`` of the columns needed (``.csv``/``.csv.gz`` batches
   are read with ``pandas.read_csv``);
2. ``pairs``: for each family (payment instrument, ip, device, email domain except free
   mail), the distinct (entity, account) rows, entities with one account dropped, and every
   shared entity expanded into account pairs by a self-merge on the entity (``a < b``). There
   is no hub cap: a carrier NAT address shared by thousands of accounts gives millions of
   pairs, which is exactly what the engine is built to avoid. The families are concatenated
   and grouped by (a, b) into a weight: shared entities counted 3 for a payment instrument,
   2 for a device, 1.5 for an email domain, 1 for an ip;
3. ``graph``: ``networkx.from_pandas_edgelist``;
4. ``communities``: connected components, then Louvain (``seed=42``) on each component of
   at least 8 accounts; communities of at least 8 accounts are kept. (Louvain iterates sets
   of account ids, so the child runs with ``PYTHONHASHSEED=0`` to give the same communities
   on every run.)

At scale the naive pipeline runs out of time or memory, so ``run`` executes it in a child
process (this same file, run with a hidden ``--child-log`` option), samples the child's RSS
from ``/proc/<pid>/status`` every half second and kills it past either limit. The child
appends one JSON line per stage start and end, so a stopped run still says which stages
finished, how long each took, its peak RSS (``VmHWM``, reset at each stage start through
``/proc/self/clear_refs``; where the reset is refused, the peak so far), and the stage it
was in. On a finished run of a synthetic world (with ``truth.csv``) it also reports the share
of ring accounts that land in a community whose majority are ring accounts.

Not a test: it reports. Run from the repository root:

    python benchmarks/baseline.py WORLD [--time-limit 600] [--memory-limit-gb 16] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import networkx as nx
import pandas as pd

from linkage.config import FREE_MAIL_DOMAINS

REPO = Path(__file__).resolve().parents[1]
STAGES = ("read", "pairs", "graph", "communities")
#: Weight of one shared entity, per family.
FAMILY_WEIGHTS = {"payment": 3.0, "device": 2.0, "email": 1.5, "ip": 1.0}
MIN_COMMUNITY = 8
SEED = 42
SAMPLE_SECONDS = 0.5
GB = 1024 ** 3


# --- the pipeline (runs in the child) ---------------------------------------------------------

def read_table(world: Path, table: str, columns: list[str]):
    """One table of a batch folder, only ``columns``: Parquet, else CSV (plain or gzipped)."""
    if (world / f"{table}.parquet").is_file():
        return pd.read_parquet(world / f"{table}.parquet", columns=columns)
    for suffix in (".csv.gz", ".csv"):
        if (world / f"{table}{suffix}").is_file():
            return pd.read_csv(world / f"{table}{suffix}", usecols=columns)
    raise FileNotFoundError(f"{world}: no {table}.parquet, .csv.gz or .csv")


def read_world(world: Path) -> dict:
    return {
        "events": read_table(world, "events", ["account_id", "ip", "device_id"]),
        "payments": read_table(world, "payments", ["account_id", "instrument_id"]),
        "accounts": read_table(world, "accounts", ["account_id", "email"]),
    }


def memberships(tables: dict) -> dict:
    """Per family, the distinct (entity, account_id) rows."""
    events, payments, accounts = tables["events"], tables["payments"], tables["accounts"]
    domains = accounts.assign(entity=accounts["email"].str.split("@").str[-1].str.lower())
    domains = domains[~domains["entity"].isin(FREE_MAIL_DOMAINS)]
    families = {
        "payment": payments.rename(columns={"instrument_id": "entity"}),
        "ip": events.rename(columns={"ip": "entity"}),
        "device": events.rename(columns={"device_id": "entity"}),
        "email": domains,
    }
    return {name: df[["entity", "account_id"]].dropna().drop_duplicates() for name, df in families.items()}


def expand_pairs(members):
    """Every pair (a < b) of accounts sharing an entity: one row per shared entity."""
    shared = members[members.groupby("entity")["account_id"].transform("size") > 1]
    pairs = shared.merge(shared, on="entity", suffixes=("_a", "_b"))
    pairs = pairs[pairs["account_id_a"] < pairs["account_id_b"]]
    return pairs.rename(columns={"account_id_a": "a", "account_id_b": "b"})[["a", "b"]]


def weighted_pairs(families: dict):
    """(a, b, weight, pair_rows): the weighted count of entities each account pair shares."""
    expanded = [expand_pairs(members).assign(weight=FAMILY_WEIGHTS[name]) for name, members in families.items()]
    rows = sum(len(df) for df in expanded)
    weights = pd.concat(expanded, ignore_index=True).groupby(["a", "b"], as_index=False)["weight"].sum()
    return weights, rows


def communities(graph) -> list[set]:
    """Louvain communities of at least MIN_COMMUNITY accounts, per connected component."""
    found = []
    for component in nx.connected_components(graph):
        if len(component) < MIN_COMMUNITY:
            continue
        parts = nx.community.louvain_communities(graph.subgraph(component), weight="weight", seed=SEED)
        found.extend(part for part in parts if len(part) >= MIN_COMMUNITY)
    return found


@contextmanager
def untimed_stage(name: str):
    yield {}


def run_pipeline(world: Path, stage=untimed_stage) -> list[set]:
    """The four stages in order; ``stage(name)`` wraps each and takes the counts it reports."""
    with stage("read"):
        tables = read_world(world)
    with stage("pairs") as report:
        pairs, report["pairs"] = weighted_pairs(memberships(tables))
        del tables
    with stage("graph") as report:
        graph = nx.from_pandas_edgelist(pairs, "a", "b", edge_attr="weight")
        del pairs
        report.update(nodes=graph.number_of_nodes(), edges=graph.number_of_edges())
    with stage("communities") as report:
        found = communities(graph)
        report.update(communities=len(found), members=sum(len(c) for c in found))
    return found


def child(world: Path, log_path: Path) -> None:
    """Run the pipeline, appending a JSON line at each stage start and end; then the communities."""
    log = open(log_path, "a", buffering=1)

    def emit(record: dict) -> None:
        log.write(json.dumps(record) + "\n")

    @contextmanager
    def stage(name: str):
        reset = reset_peak_rss()
        emit({"stage": name, "event": "start"})
        t0 = time.perf_counter()
        report: dict = {}
        yield report
        emit({"stage": name, "event": "end", "seconds": time.perf_counter() - t0,
              "peak_rss_gb": status_kb("self", "VmHWM") * 1024 / GB, "peak_reset": reset, **report})

    found = run_pipeline(world, stage)
    emit({"event": "communities", "members": [sorted(c) for c in found]})
    log.close()


def reset_peak_rss() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux); False where that is refused."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def status_kb(pid: int | str, field: str) -> int:
    """A kB field of /proc/<pid>/status (VmRSS, VmHWM); 0 when the process or field is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


# --- the supervisor (runs in the parent) ------------------------------------------------------

def run(world: Path, *, time_limit: float, memory_limit_gb: float) -> dict:
    """Run the baseline on ``world`` in a child process, stopped at either limit.

    Returns ``finished``, ``stopped`` (None or which limit), ``stage`` (the one interrupted),
    ``elapsed_s`` (child wall time, interpreter start included), ``peak_rss_gb``, ``stages``
    (the finished ones: seconds and peak RSS), the counts reached (``pairs``: expanded pair
    rows before grouping; ``edges``; ``communities``; ``members``: accounts in them) and, on
    a finished run of a world with ``truth.csv``, ``quality``; ``pid`` is the child's, gone by
    then. A child the kernel kills (SIGKILL between two samples: out of memory) is reported
    as stopped; one that fails otherwise raises RuntimeError with the end of its stderr.
    """
    world = Path(world)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "PYTHONHASHSEED": "0"}  # Louvain walks sets of account ids: fix their order, fix the communities
    with tempfile.TemporaryDirectory(prefix="linkage-baseline-") as tmp:
        log_path, err_path = Path(tmp) / "stages.jsonl", Path(tmp) / "stderr.txt"
        with open(err_path, "w") as err:
            t0 = time.perf_counter()
            proc = subprocess.Popen([sys.executable, __file__, str(world), "--child-log", str(log_path)],
                                    stdout=subprocess.DEVNULL, stderr=err, env=env)
            stopped, sampled_kb = None, 0
            try:
                while stopped is None:
                    remaining = time_limit - (time.perf_counter() - t0)
                    try:
                        proc.wait(timeout=max(0.0, min(SAMPLE_SECONDS, remaining)))
                        break
                    except subprocess.TimeoutExpired:
                        pass
                    rss_kb = status_kb(proc.pid, "VmRSS")
                    sampled_kb = max(sampled_kb, rss_kb)
                    if rss_kb * 1024 > memory_limit_gb * GB:
                        stopped = f"memory limit {memory_limit_gb:g} GB"
                    elif time.perf_counter() - t0 >= time_limit:
                        stopped = f"time limit {time_limit:g} s"
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
            elapsed = time.perf_counter() - t0
        if stopped is None and proc.returncode == -signal.SIGKILL:
            stopped = "killed by the system (SIGKILL, likely out of memory)"
        elif stopped is None and proc.returncode != 0:
            tail = err_path.read_text()[-2000:]
            raise RuntimeError(f"baseline child failed on {world} (exit {proc.returncode}):\n{tail}")
        result = summarise(read_log(log_path), stopped, elapsed, sampled_kb * 1024 / GB)
    if result["finished"] and (world / "truth.csv").is_file():
        result["quality"] = ring_quality(result.pop("_members"), world / "truth.csv")
    result.pop("_members", None)
    result["pid"] = proc.pid
    return result


def read_log(path: Path) -> list[dict]:
    """The child's records; a line cut short by the kill is dropped."""
    records = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return records


def summarise(records: list[dict], stopped: str | None, elapsed: float, sampled_gb: float) -> dict:
    """The result dict of ``run`` from the child's stage records."""
    stages, counts, current, members = {}, {}, None, None
    for rec in records:
        if rec["event"] == "start":
            current = rec["stage"]
        elif rec["event"] == "end":
            current = None
            stages[rec["stage"]] = {"seconds": round(rec["seconds"], 3), "peak_rss_gb": round(rec["peak_rss_gb"], 3)}
            counts.update({k: rec[k] for k in ("pairs", "nodes", "edges", "communities", "members") if k in rec})
        elif rec["event"] == "communities":
            members = [set(c) for c in rec["members"]]
    finished = stopped is None and members is not None
    if not finished and current is None and stopped is not None:
        current = "startup" if not stages else "after " + list(stages)[-1]
    peak = max([sampled_gb] + [s["peak_rss_gb"] for s in stages.values()])
    return {"finished": finished, "stopped": stopped, "stage": None if finished else current,
            "elapsed_s": round(elapsed, 3), "peak_rss_gb": round(peak, 3), "stages": stages,
            "pairs": counts.get("pairs"), "edges": counts.get("edges"), "communities": counts.get("communities"),
            "members": counts.get("members"), "_members": members}


def ring_quality(found: list[set], truth_csv: Path) -> dict:
    """Share of ring accounts (truth ``operator`` set) in a community whose majority are ring accounts."""
    truth = pd.read_csv(truth_csv, dtype=str, keep_default_na=False)
    ring = set(truth.loc[truth["operator"] != "", "account_id"])
    caught = sum(len(c & ring) for c in found if 2 * len(c & ring) > len(c))
    return {"ring_accounts": len(ring), "in_ring_communities": caught,
            "share": round(caught / len(ring), 4) if ring else None}


def format_result(result: dict) -> str:
    lines = [f"{'stage':<12} {'seconds':>9} {'peak RSS GB':>12}"]
    for name in STAGES:
        if name in result["stages"]:
            s = result["stages"][name]
            lines.append(f"{name:<12} {s['seconds']:>9.2f} {s['peak_rss_gb']:>12.2f}")
        elif name == result["stage"]:
            lines.append(f"{name:<12} {'stopped':>9}")
    if result["finished"]:
        lines.append(f"finished in {result['elapsed_s']:.1f} s, peak RSS {result['peak_rss_gb']:.2f} GB")
    else:
        lines.append(f"stopped ({result['stopped']}) in stage {result['stage']} after {result['elapsed_s']:.1f} s, "
                     f"peak RSS {result['peak_rss_gb']:.2f} GB")
    counts = ", ".join(f"{k} {result[k]:,}" for k in ("pairs", "edges", "communities", "members")
                       if result.get(k) is not None)
    if counts:
        lines.append(counts)
    if result.get("quality"):
        q = result["quality"]
        lines.append(f"ring accounts in ring-majority communities: {q['in_ring_communities']:,} of "
                     f"{q['ring_accounts']:,} ({q['share']:.1%})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Naive pandas/networkx account linkage, as a speed baseline "
                                                 "for `linkage detect`, stopped at a time and memory limit.")
    parser.add_argument("world", type=Path, help="batch folder (accounts, events, payments as Parquet or CSV)")
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds before the run is stopped")
    parser.add_argument("--memory-limit-gb", type=float, default=16.0, help="child RSS (GB) at which it is stopped")
    parser.add_argument("--json", type=Path, help="also write the result as JSON here")
    parser.add_argument("--child-log", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_log:
        child(args.world, args.child_log)
        return
    result = run(args.world, time_limit=args.time_limit, memory_limit_gb=args.memory_limit_gb)
    print(format_result(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
