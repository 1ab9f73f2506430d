"""Seed-scale benchmark: a million accounts and fifty million requests on one machine.

Not a test: it reports. Run from the repository root (about 25 minutes in all):

    python benchmarks/seed.py [--world /tmp/linkage-seed/world] [--baseline-time-limit 900]
                              [--parts detect,baseline,ratio,neo4j]

1. **World**: ``linkage synth --scale seed`` (seed 7, Parquet) into ``--world`` unless it is
   already there; generation time and peak memory are recorded when it runs.
2. **Detect**: ``linkage.detect`` in a child process that appends one JSON line per stage
   with its wall time and peak RSS (``VmHWM``, reset at each stage start through
   ``/proc/self/clear_refs``), so every stage's own peak shows; the run's peak is the largest
   of them (the reset also resets what ``ru_maxrss`` reports). Then ``linkage.evaluate``
   against ``truth.csv``.
3. **Baseline**: ``benchmarks/baseline.py`` (pandas pair expansion, networkx components and
   Louvain) on the same world, in its own child stopped at a time and memory limit. Where it
   cannot finish at seed scale, the same comparison runs on a smaller world of the same
   make-up (``--ratio-accounts``, default 100,000) so that there is a ratio (baseline time
   over detect time; a lower bound when the baseline hit the time limit).
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
PARTS = ("detect", "baseline", "ratio", "neo4j")
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


def generate_world(world: Path, accounts: int | None = None) -> dict | None:
    if (world / "truth.csv").is_file():
        return None
    seconds, peak = run_child(["--child-generate", str(world), *([str(accounts)] if accounts else [])])
    return {"seconds": round(seconds, 1), "peak_gb": round(peak, 2)}


def run_detect(world: Path, out: Path) -> dict:
    from linkage.evaluate import evaluate

    log_path = out.parent / "detect-stages.jsonl"
    log_path.unlink(missing_ok=True)
    seconds, peak = run_child(["--child-detect", str(world), str(out), str(log_path)])
    records = [json.loads(line) for line in log_path.read_text().splitlines()]
    stages = {r["stage"]: {"seconds": r["seconds"], "peak_rss_gb": r["peak_rss_gb"]} for r in records if "stage" in r}
    summary = next(r["summary"] for r in records if "summary" in r)
    # Resetting VmHWM per stage resets the kernel's high-water mark that ru_maxrss reports too, so the
    # run's peak is the largest stage peak.
    peak = max([peak, *(v["peak_rss_gb"] for v in stages.values())])
    quality = evaluate(out, world / "truth.csv")
    return {"seconds": round(seconds, 1), "peak_gb": round(peak, 2), "stages": stages, "summary": summary,
            "quality": quality}


def run_neo4j(out: Path, world: Path, work: Path) -> dict:
    """Bulk first load of the detect run, then a batched incremental load of one day's batch on top."""
    import shutil

    import neo4j_load

    from linkage.store import bulk, server
    from linkage.store.connection import DEV_PASSWORD, Settings, connect
    from linkage.store.load import load_run

    home = work / "neo4j"
    home.mkdir(parents=True, exist_ok=True)
    neo4j_load.fresh_store(home)
    neo4j_load.share_jars(home)
    password = os.environ.get("NEO4J_PASSWORD") or DEV_PASSWORD
    day = work / "day"
    shutil.rmtree(day, ignore_errors=True)
    day_detect_s, _ = run_child(["--child-day", str(world), str(day)])
    server.start(home, bolt_port=7693, http_port=7479, password=password, heap="2g", pagecache="2g")
    result: dict = {}
    try:
        t0 = time.perf_counter()
        done = bulk.import_run(out, home, password=password, csv_dir=work / "csv")
        wall = time.perf_counter() - t0
        settings = Settings(uri=server.status(home).bolt_uri, password=password)
        with connect(settings) as driver:
            nodes, rels = neo4j_load.counts(driver, settings)
            result["bulk"] = {"nodes": nodes, "relationships": rels, "seconds": round(wall, 1),
                              "relationships_per_s": round(rels / wall),
                              **{k: done[k] for k in ("csv_s", "stop_s", "import_s", "start_s", "schema_s")}}
            print(f"  bulk: {rels:,} relationships in {wall:.1f} s", flush=True)
            t0 = time.perf_counter()
            stats = load_run(driver, settings, day)
            wall = time.perf_counter() - t0
            nodes_after, rels_after = neo4j_load.counts(driver, settings)
        result["batched_incremental"] = {
            "seconds": round(wall, 1), "day_detect_s": round(day_detect_s, 1), "sent": stats.as_dict(),
            "relationships_per_s": round(stats.relationships / wall), "nodes_after": nodes_after,
            "relationships_after": rels_after}
        print(f"  batched incremental: {stats.relationships:,} relationships sent in {wall:.1f} s", flush=True)
    finally:
        server.stop(home)
        shutil.rmtree(work / "csv", ignore_errors=True)
    return result


def child_day(world: Path, day: Path) -> None:
    """One day's batch: the requests of 2026-05-01, the accounts active that day and their payments."""
    import duckdb

    from linkage import detect

    src = day.with_name(f"{day.name}-batch")  # beside the run folder: detect replaces that folder whole
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


def _versus(b: dict, detect_s: float) -> str:
    """The baseline against detect: a ratio when it finished, a lower bound at the time limit, none past memory."""
    if b["finished"]:
        return f"{b['elapsed_s']:.0f} s, {b['peak_rss_gb']:.1f} GB: {b['elapsed_s'] / detect_s:.1f}× detect's time"
    if b["stopped"].startswith("time"):
        return f"stopped at {b['elapsed_s']:.0f} s in {b['stage']}: ≥ {b['elapsed_s'] / detect_s:.1f}× detect's time"
    return f"did not finish: {b['stopped']} reached in {b['stage']} after {b['elapsed_s']:.0f} s"


def write_results(result: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "seed.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    d, q = result["detect"], result["detect"]["quality"]
    for run in (d, result.get("ratio_world", {}).get("detect")):
        if run:  # results written before the peak was taken over the stages
            run["peak_gb"] = max([run["peak_gb"], *(v["peak_rss_gb"] for v in run["stages"].values())])
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
        lines.append(f"| Neo4j incremental day (batched) | — | {n['batched_incremental']['seconds']} s |")
    b = result.get("baseline")
    if b:
        lines.append(f"| baseline (pandas pairs + networkx) | — | {_versus(b, d['seconds'])} |")
    r = result.get("ratio_world")
    if r:
        rd, rb = r["detect"], r["baseline"]
        lines.append(f"| baseline at {r['accounts']:,} accounts (detect {rd['seconds']} s, {rd['peak_gb']} GB) | — | "
                     f"{_versus(rb, rd['seconds'])} |")
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
        bk, inc = n["bulk"], n["batched_incremental"]
        lines += ["", "## Neo4j", "",
                  f"- bulk first load (`linkage load OUT --bulk`): {bk['seconds']} s end to end for {bk['nodes']:,} nodes "
                  f"and {bk['relationships']:,} relationships, {bk['relationships_per_s']:,}/s (csv {bk['csv_s']} s, "
                  f"stop {bk['stop_s']} s, import {bk['import_s']} s, start {bk['start_s']} s, schema {bk['schema_s']} s)",
                  f"- batched incremental load of one day's batch (`linkage load`, requests of 2026-05-01, "
                  f"detect {inc['day_detect_s']} s): {inc['seconds']} s, {inc['sent']['relationships']:,} relationships "
                  f"sent ({inc['relationships_per_s']:,}/s); {inc['nodes_after']:,} nodes and "
                  f"{inc['relationships_after']:,} relationships stored after it"]
    if result.get("generate"):
        g = result["generate"]
        lines += ["", f"World generation: {g['seconds']} s, {g['peak_gb']} GB peak."]
    (RESULTS / "seed.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child-generate":
        from linkage.synth import generate

        if len(argv) > 2:  # a smaller world of the same make-up, for a ratio the baseline can finish
            print(generate(argv[1], seed=7, accounts=int(argv[2]), fmt="parquet"))
        else:
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
    parser.add_argument("--ratio-accounts", type=int, default=100_000,
                        help="also compare on a world this size, where the baseline can finish")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated subset of {','.join(PARTS)}; the others keep their last results")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    work = args.work or args.world.parent
    work.mkdir(parents=True, exist_ok=True)
    previous = RESULTS / "seed.json"
    result: dict = json.loads(previous.read_text()) if previous.is_file() and parts != set(PARTS) else {}
    result.update({"when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                   "machine": f"{os.cpu_count()} cores, "
                              f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / GB:.0f} GB, "
                              f"{platform.system()} {platform.machine()}",
                   "targets": TARGETS})
    print(f"world {args.world} ...", flush=True)
    generated = generate_world(args.world)
    if generated:
        result["generate"] = generated
    if "detect" in parts:
        print("detect ...", flush=True)
        result["detect"] = run_detect(args.world, work / "out")
        print(f"  {result['detect']['seconds']} s, {result['detect']['peak_gb']} GB", flush=True)
        write_results(result)
    if "baseline" in parts:
        print("baseline ...", flush=True)
        result["baseline"] = baseline.run(args.world, time_limit=args.baseline_time_limit,
                                          memory_limit_gb=args.baseline_memory_limit_gb)
        write_results(result)
    if "ratio" in parts:
        print(f"baseline and detect on {args.ratio_accounts:,} accounts ...", flush=True)
        small = work / f"ratio-{args.ratio_accounts}"
        generate_world(small / "world", args.ratio_accounts)
        result["ratio_world"] = {"accounts": args.ratio_accounts,
                                 "detect": run_detect(small / "world", small / "out"),
                                 "baseline": baseline.run(small / "world", time_limit=args.baseline_time_limit,
                                                          memory_limit_gb=args.baseline_memory_limit_gb)}
        write_results(result)
    if "neo4j" in parts:
        print("neo4j ...", flush=True)
        result["neo4j"] = run_neo4j(work / "out", args.world, work)
    write_results(result)
    print((RESULTS / "seed.md").read_text())


if __name__ == "__main__":
    main()
