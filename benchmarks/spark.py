"""DuckDB against the Spark engine, side by side in one run: wall time per stage and the same rings.

    python benchmarks/spark.py WORLD --out RESULTS [--masters local[1] local[2]]

Runs ``linkage detect WORLD`` once on DuckDB and once per Spark master, each in its own
process (one Spark session per master; a master is fixed when its session starts), and
writes ``RESULTS/spark.json``: seconds per stage, the total, the ratio to DuckDB, and whether
the rings (ids, members, operators; scores within 1e-6) are the DuckDB run's. Make the world
with ``linkage synth WORLD --seed 7 --accounts 20000`` (or ``--scale seed``: the lead's run).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CHILD = """
import json, sys, time
from linkage import detect
t0 = time.perf_counter()
r = detect(sys.argv[1], out=sys.argv[2], engine=sys.argv[3], spark_master=sys.argv[4] or None)
print(json.dumps({"seconds": round(time.perf_counter() - t0, 1), "timings": r.timings}))
"""


def run_one(world: Path, out: Path, engine: str, master: str) -> dict[str, Any]:
    """One detect run in a child process: its timings (the child's last stdout line)."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, str(world), str(out), engine, master],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1],
                "seconds": round(time.perf_counter() - t0, 1)}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def same_rings(a: Path, b: Path) -> bool:
    """Same ring ids, members and operators, scores within 1e-6."""
    ra = json.loads((a / "rings.json").read_text())["rings"]
    rb = json.loads((b / "rings.json").read_text())["rings"]
    return len(ra) == len(rb) and all(
        x["ring_id"] == y["ring_id"] and x["members"] == y["members"] and x["operator"] == y["operator"]
        and abs(x["score"] - y["score"]) <= 1e-6 for x, y in zip(ra, rb))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("world", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--masters", nargs="+", default=["local[1]", "local[2]"])
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"world": str(args.world)}
    duck = run_one(args.world, args.out / "duckdb", "duckdb", "")
    results["duckdb"] = duck
    for master in args.masters:
        folder = args.out / f"spark-{master.replace('[', '').replace(']', '').replace('*', 'all')}"
        res = run_one(args.world, folder, "spark", master)
        if "error" not in res and "error" not in duck:
            res["ratio_to_duckdb"] = round(res["seconds"] / duck["seconds"], 2)
            res["same_rings"] = same_rings(args.out / "duckdb", folder)
        results[f"spark {master}"] = res
    (args.out / "spark.json").write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
