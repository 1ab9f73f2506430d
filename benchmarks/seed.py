"""Seed-scale benchmark: a million accounts and fifty million requests on one machine.

Not a test: it reports. Run from the repository root (about 25 minutes with the baseline):

    python benchmarks/seed.py [--world /tmp/linkage-seed/world] [--baseline-time-limit 900]
                              [--no-baseline] [--no-neo4j]

1. **World**: ``linkage synth --scale seed`` (seed 7, Parquet) into ``--world`` unless it is
   already there; generation time and peak memory are recorded when it runs.
2. **Detect**: ``linkage.detect`` in a child process that appends one JSON line per stage
   with its wall time and peak RSS (``VmHWM``, reset at each stage start through
   ``/proc/self/clear_refs``), so every stage's own peak shows, not just the run's; the
   run's peak is the child's ``ru_maxrss``. Then ``linkage.evaluate`` against ``truth.csv``.
3. **Baseline**: ``benchmarks/baseline.py`` (pandas pair expansion, networkx components and
   Louvain) on the same world, in its own child stopped at a time and memory limit; the
   ratio is baseline time over detect time (a lower bound when the baseline was stopped).
4. **Neo4j**: the bulk first load (``linkage load --bulk``: neo4j-admin import) of the
   detect run into a server of its own, then an incremental batched reload of one day's
   flagged rings with ``load_run`` (what a daily batch costs after the first load); both in
   relationships per second.

Results go to ``benchmarks/results/seed.json`` and ``seed.md``, which the README quotes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import baseline  # noqa: E402  (benchmarks/ is not a package)

RESULTS = HERE / "results"
GB = 1024 ** 3
TARGETS = {"seconds": 300, "peak_gb": 16, "precision": 0.97, "recall": 0.95, "attribution": 0.95,
           "max_benign": 0.01, "neo4j_seconds": 600}


def child_detect(world: Path, out: Path, log_path: Path) -> None:
    """Runs in the child: detect with a stage reporter that logs wall time and peak RSS per stage."""
    import logging

    from linkage import detect

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    log = open(log_path, "a", buffering=1)

    def report(stage: str, seconds: float | None) -> None:
        if seconds is None:
            baseline.reset_peak_rss()
            return
        peak = baseline.status_kb("self", "VmHWM") * 1024 / GB
        log.write(json.dumps({"stage": stage, "seconds": round(seconds, 2), "peak_rss_gb": round(peak, 2)}) + "\n")

    result = detect(world, out=out, report=report)
    log.write(json.dumps({"summary": result.summary()}) + "\n")
    log.close()


def run_child(args: list[str]) -> tuple[float, float]:
    """Run this file with ``args`` in a child; return (wall seconds, peak RSS in GB from its rusage)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")]))}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *args], env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"child {' '.join(args[:2])} failed with exit {os.waitstatus_to_exitcode(status)}")
    return seconds, usage.ru_maxrss * 1024 / GB


def generate_world(world: Path) -> dict | None:
    if (world / "truth.csv").is_file():
        return None
    seconds, peak = run_child(["--child-generate", str(world)])
    return {"seconds": round(seconds, 1), "peak_gb": round(peak, 2)}


def run_detect(world: Path, out: Path) -> dict:
    from linkage.evaluate import evaluate

    log_path = out.parent / "detect-stages.jsonl"
    log_path.unlink(missing_ok=True)
    seconds, peak = run_child(["--child-detect", str(world), str(out), str(log_path)])
    records = [json.loads(line) for line in log_path.read_text().splitlines()]
    stages = {r["stage"]: {"seconds": r["seconds"], "peak_rss_gb": r["peak_rss_gb"]} for r in records if "stage" in r}
    summary = next(r["summary"] for r in records if "summary" in r)
    quality = evaluate(out, world / "truth.csv")
    return {"seconds": round(seconds, 1), "peak_gb": round(peak, 2), "stages": stages, "summary": summary,
            "quality": quality}


def run_neo4j(out: Path, world: Path, work: Path) -> dict:
    """Bulk first load of the detect run, then a batched incremental reload of one day's rings."""
    import neo4j_load  # noqa: E402

    from linkage.store import bulk, server
    from linkage.store.connection import DEV_PASSWORD, Settings, connect, run_query
    from linkage.store.load import load_run

    home = work / "neo4j"
    neo4j_load.share_jars(home)
    neo4j_load.fresh_store(home)
    password = os.environ.get("NEO4J_PASSWORD", DEV_PASSWORD)
    t0 = time.perf_counter()
    done = bulk.import_run(out, home, password=password, csv_dir=work / "csv", bolt_port=7693, http_port=7479)
    bulk_s = time.perf_counter() - t0
    settings = Settings(uri="bolt://127.0.0.1:7693", user="neo4j", password=password, database="neo4j")
    result = {"bulk": {"seconds": round(bulk_s, 1), **done}}
    try:
        day = work / "day"
        seconds, _ = run_child(["--child-day", str(world), str(day)])
        with connect(settings) as driver:
            t0 = time.perf_counter()
            stats = load_run(driver, settings, day)
            batched_s = time.perf_counter() - t0
            rels = run_query(driver, settings, "MATCH ()-[r]->() RETURN count(r) AS n")[0]["n"]
        written = sum(v for k, v in stats.items() if k.endswith("relationships")) if isinstance(stats, dict) else None
        result["batched_incremental"] = {"seconds": round(batched_s, 1), "detect_seconds": round(seconds, 1),
                                         "stats": stats, "relationships_after": rels,
                                         "relationships_per_s": round(written / batched_s) if written else None}
    finally:
        server.stop(home)
    return result


def child_day(world: Path, day: Path) -> None:
    """One day's batch: the requests of 2026-05-01, the accounts active that day and their payments."""
    import duckdb

    from linkage import detect

    src = day / "batch"
    src.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"""CREATE TABLE ev AS SELECT * FROM read_parquet('{world / 'events.parquet'}')
                    WHERE ts LIKE '2026-05-01%'""")
    con.execute(f"COPY ev TO '{src / 'events.parquet'}'")
    for table in ("accounts", "payments"):
        con.execute(f"""COPY (SELECT * FROM read_parquet('{world / (table + '.parquet')}')
                              WHERE account_id IN (SELECT account_id FROM ev)) TO '{src / (table + '.parquet')}'""")
    con.execute(f"COPY (SELECT * FROM read_parquet('{world / 'intel.parquet'}')) TO '{src / 'intel.parquet'}'")
    detect(src, out=day)


def write_results(result: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "seed.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    d, q = result["detect"], result["detect"]["quality"]
    lines = ["# Seed scale: 1M accounts, 50M requests", "",
             f"Measured {result['when']} on {result['machine']}. Reproduce: `python benchmarks/seed.py`.", "",
             "| measure | target | measured |", "|---|---|---|",
             f"| detect wall time | ≤ {TARGETS['seconds']} s | {d['seconds']} s |",
             f"| detect peak memory (RSS) | ≤ {TARGETS['peak_gb']} GB | {d['peak_gb']} GB |",
             f"| precision | ≥ {TARGETS['precision']} | {q['precision']:.4f} |",
             f"| recall | ≥ {TARGETS['recall']} | {q['recall']:.4f} |",
             f"| attribution accuracy | ≥ {TARGETS['attribution']} | {q['attribution_accuracy']:.4f} |",
             f"| worst benign cohort flagged | ≤ 1% | {q['max_benign_false_flag_rate']:.4%} |"]
    if "neo4j" in result:
        n = result["neo4j"]
        lines.append(f"| Neo4j first load (bulk) | ≤ {TARGETS['neo4j_seconds']} s | {n['bulk']['seconds']} s |")
    b = result.get("baseline")
    if b:
        ratio = b["elapsed_s"] / d["seconds"]
        bound = "≥ " if not b["finished"] else ""
        lines.append(f"| baseline (pandas pairs + networkx) | — | {b['elapsed_s']:.0f} s"
                     f"{' (stopped: ' + b['stopped'] + ' in ' + str(b['stage']) + ')' if not b['finished'] else ''}"
                     f", {bound}{ratio:.1f}× detect |")
    lines += ["", "## Detect by stage", "", "| stage | seconds | peak RSS GB |", "|---|---|---|"]
    lines += [f"| {k} | {v['seconds']} | {v['peak_rss_gb']} |" for k, v in d["stages"].items()]
    lines += ["", "## Per operator", "", "| operator | accounts | flagged | recall |", "|---|---|---|---|"]
    for op, v in sorted(q.get("per_operator", {}).items()):
        lines.append(f"| {op} | {v['accounts']} | {v['flagged']} | {v['recall']:.3f} |")
    if b:
        lines += ["", "## Baseline by stage", "", "| stage | seconds | peak RSS GB |", "|---|---|---|"]
        lines += [f"| {k} | {v['seconds']:.1f} | {v['peak_rss_gb']:.2f} |" for k, v in b["stages"].items()]
        if not b["finished"]:
            lines.append(f"| {b['stage']} | stopped ({b['stopped']}) | {b['peak_rss_gb']:.2f} |")
    if "neo4j" in result:
        n = result["neo4j"]
        bulk_rels = n["bulk"].get("relationships")
        lines += ["", "## Neo4j", "",
                  f"- bulk first load: {n['bulk']['seconds']} s end to end"
                  + (f", {bulk_rels:,} relationships, {bulk_rels / n['bulk']['seconds']:,.0f}/s" if bulk_rels else "")]
        inc = n.get("batched_incremental")
        if inc:
            lines.append(f"- batched incremental reload of one day's run: {inc['seconds']} s, "
                         f"{inc['relationships_per_s']}/s relationships written; "
                         f"{inc['relationships_after']:,} relationships stored after it")
    if result.get("generate"):
        g = result["generate"]
        lines += ["", f"World generation: {g['seconds']} s, {g['peak_gb']} GB peak."]
    (RESULTS / "seed.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child-generate":
        from linkage.synth import generate

        print(generate(argv[1], seed=7, scale="seed", fmt="parquet"))
        return
    if argv and argv[0] == "--child-detect":
        child_detect(Path(argv[1]), Path(argv[2]), Path(argv[3]))
        return
    if argv and argv[0] == "--child-day":
        child_day(Path(argv[1]), Path(argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, default=Path(tempfile.gettempdir()) / "linkage-seed" / "world")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: beside the world)")
    parser.add_argument("--baseline-time-limit", type=float, default=900.0)
    parser.add_argument("--baseline-memory-limit-gb", type=float, default=20.0)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--no-neo4j", action="store_true")
    args = parser.parse_args(argv)
    work = args.work or args.world.parent
    work.mkdir(parents=True, exist_ok=True)
    result: dict = {"when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                    "machine": f"{os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / GB:.0f} GB, "
                               f"{platform.system()} {platform.machine()}",
                    "targets": TARGETS}
    print(f"world {args.world} ...", flush=True)
    result["generate"] = generate_world(args.world)
    print("detect ...", flush=True)
    result["detect"] = run_detect(args.world, work / "out")
    print(f"  {result['detect']['seconds']} s, {result['detect']['peak_gb']} GB", flush=True)
    write_results(result)
    if not args.no_baseline:
        print("baseline ...", flush=True)
        result["baseline"] = baseline.run(args.world, time_limit=args.baseline_time_limit,
                                          memory_limit_gb=args.baseline_memory_limit_gb)
        write_results(result)
    if not args.no_neo4j:
        print("neo4j ...", flush=True)
        result["neo4j"] = run_neo4j(work / "out", args.world, work)
        write_results(result)
    print((RESULTS / "seed.md").read_text())


if __name__ == "__main__":
    main()
