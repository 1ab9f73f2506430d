"""Neo4j load benchmark: the batched loader against the bulk (neo4j-admin import) first load.

Not a test: it reports. Run from the repository root:

    python benchmarks/neo4j_load.py [--accounts 20000 | --scale seed] [--no-batched]
    python benchmarks/neo4j_load.py --accounts 100000 --replicate 10 --no-batched   # seed-sized graph
    python benchmarks/neo4j_load.py --baseline ../linkage-before   # also time an older checkout's loader

It generates a synthetic world, runs detect, then loads the run twice into
a server of its own (``--home``, default a folder under the system temp dir,
on ports 7692/7478 so a developer's server is never touched; its ``data/`` is
deleted at the start, so every run begins with an empty store):

(a) batched ``load.load_run`` into the empty database, timed end to end;
(b) bulk ``bulk.import_run``: CSV export, server stop, import, start, schema.

``--baseline TREE`` first loads the same run with the ``load_run`` of another
checkout (e.g. ``git worktree add ../linkage-before <commit>``), in a child
process with that tree first on ``sys.path``, into a fresh store and a freshly
started server, as (a) gets: the before/after rates come from the same run.

``--split DATE`` cuts the world in two batches by request time (``split_by_time``):
the run of everything before DATE is the one loaded, and the run of DATE on is then
loaded onto it as the next day's batch, by each loader in turn (``day2``: its time,
rows and rate). Every load reports the CPU seconds of client and server and the load
average, since the machine is shared: rows per CPU second do not depend on the load.

``--replicate K`` loads K copies of the detect run's evidence instead (ids
suffixed, so K times the accounts, entities and relationships with the same
shapes): a seed-sized graph without running detect at seed scale.

Results are merged (by world size) into ``benchmarks/results/neo4j_load.json``
and ``neo4j_load.md``. The server is stopped at the end unless ``--keep-server``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from linkage import detect, manifest
from linkage.store import bulk, server
from linkage.store.connection import DEV_PASSWORD, Settings, connect, run_query
from linkage.store.load import load_run
from linkage.synth import generate

RESULTS = Path(__file__).resolve().parent / "results"


def share_jars(home: Path) -> None:
    """Hard-link the Neo4j jars of $LINKAGE_TEST_NEO4J_JARS or the default home (else ensure_jars downloads them)."""
    cache = os.environ.get("LINKAGE_TEST_NEO4J_JARS")
    donor = Path(cache) if cache and (Path(cache) / "lib" / ".linkage-jars.json").is_file() else server.default_home()
    if (home / "lib").exists() or not (donor / "lib" / ".linkage-jars.json").is_file():
        return
    for sub in ("lib", "plugins"):
        if (donor / sub).is_dir():
            try:
                shutil.copytree(donor / sub, home / sub, copy_function=os.link)
            except OSError:
                shutil.rmtree(home / sub, ignore_errors=True)
                shutil.copytree(donor / sub, home / sub)


def replicate(src: Path, dst: Path, k: int) -> None:
    """``k`` copies of the evidence in ``src/evidence`` (ids suffixed ``-<copy>``) and its rings, into ``dst``."""
    import duckdb

    (dst / "evidence").mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    ev = src / "evidence"
    n = con.execute(f"SELECT max(aid) + 1 FROM '{ev}/accounts.parquet'").fetchone()[0]

    def sfx(col: str) -> str:
        return f"CASE WHEN c = 0 THEN {col} ELSE {col} || '-' || c END AS {col}"

    changes = {"accounts": [f"aid + c * {n} AS aid", sfx("account_id")],
               "incidence": [f"aid + c * {n} AS aid", sfx("entity")], "entities": [sfx("entity")],
               "links": [f"a + c * {n} AS a", f"b + c * {n} AS b"], "ip_asn": [sfx("ip")],
               "windows": [f"aid + c * {n} AS aid"], "shingle_texts": [sfx("entity")],
               "instruments": [sfx("instrument_id")]}
    for table, replace in changes.items():
        con.execute(f"""COPY (SELECT * EXCLUDE (c) REPLACE ({', '.join(replace)})
                              FROM '{ev}/{table}.parquet', (SELECT range AS c FROM range({k})))
                        TO '{dst}/evidence/{table}.parquet' (FORMAT parquet)""")
    shutil.copy(ev / "intel.parquet", dst / "evidence" / "intel.parquet")
    for name in ("rings.json", "ring_members.csv"):  # rings stay those of the first copy
        shutil.copy(src / name, dst / name)
    # A manifest of its own, so the loaders (which check a run against run.json) take the copy as a run.
    source = manifest.read(src)
    manifest.write(dst, manifest.build(dst, command=f"replicate x{k}", batch_id=source["batch_id"],
                                       input=source["input"], params=source["params"]))


def split_by_time(world: Path, cutoff: str, early: Path, late: Path) -> None:
    """Two batches of one world, as a team receives them: requests before ``cutoff`` and from it on.

    Each batch holds the accounts it has requests of (or that signed up in it), and the
    payments of its time range for those accounts; both get the intel. The late batch
    is a later day's load onto the early one (``linkage load`` adds to what is stored).
    """
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    src = {t: str(world / f"{t}.parquet") for t in ("accounts", "events", "payments", "intel")}
    for folder, cmp in ((early, "<"), (late, ">=")):
        folder.mkdir(parents=True, exist_ok=True)
        con.execute(f"""CREATE OR REPLACE TEMP TABLE ev AS SELECT * FROM read_parquet($1)
                        WHERE CAST(ts AS TIMESTAMPTZ) {cmp} CAST($2 AS TIMESTAMPTZ)""", [src["events"], cutoff])
        con.execute(f"""CREATE OR REPLACE TEMP TABLE acc AS SELECT * FROM read_parquet($1)
                        WHERE account_id IN (SELECT account_id FROM ev)
                           OR CAST(created_at AS TIMESTAMPTZ) {cmp} CAST($2 AS TIMESTAMPTZ)""",
                    [src["accounts"], cutoff])
        con.execute(f"""CREATE OR REPLACE TEMP TABLE pay AS SELECT * FROM read_parquet($1)
                        WHERE account_id IN (SELECT account_id FROM acc)
                          AND (ts IS NULL OR CAST(ts AS TIMESTAMPTZ) {cmp} CAST($2 AS TIMESTAMPTZ))""",
                    [src["payments"], cutoff])
        for table, name in (("ev", "events"), ("acc", "accounts"), ("pay", "payments")):
            con.execute(f"COPY {table} TO '{folder / name}.parquet' (FORMAT parquet)")
        shutil.copy(src["intel"], folder / "intel.parquet")


def fresh_store(home: Path) -> None:
    """Stop the benchmark's server and delete its store: deleting millions of nodes with Cypher is slower."""
    # ``run/`` alone is the start/stop lock a first ``server.stop`` leaves in a new home
    if home == server.default_home() or not (home / "lib").is_dir() and any(p.name != "run" for p in home.iterdir()):
        sys.exit(f"{home}: not a benchmark server home (use --home with a folder this script may wipe)")
    server.stop(home)
    shutil.rmtree(home / "data", ignore_errors=True)


BASELINE = """
import json, sys, time
from linkage.store.connection import Settings, connect
from linkage.store.load import load_run
settings = Settings(uri=sys.argv[1], password=sys.argv[2])
with connect(settings) as driver:
    stats = load_run(driver, settings, sys.argv[3])
print(json.dumps({"steps": {k: v["seconds"] for k, v in stats.steps.items()},
                  "rows": {k: max(v["nodes"], v["relationships"]) for k, v in stats.steps.items()},
                  "sent": stats.relationships}))
"""


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) the server process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client_cpu() -> float:
    """CPU seconds of this process and its finished children (a baseline loader runs as a child)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def load_with(tree: Path | None, settings: Settings, out: Path, pid: int) -> dict:
    """``load_run`` of ``tree`` (None: this checkout); per-step seconds and rows, wall and CPU seconds."""
    c0, s0, t0, load0 = client_cpu(), server_cpu(pid), time.perf_counter(), os.getloadavg()[0]
    if tree is None:
        with connect(settings) as driver:
            stats = load_run(driver, settings, out)
        done = {"steps": {k: v["seconds"] for k, v in stats.steps.items()},
                "rows": {k: max(v["nodes"], v["relationships"]) for k, v in stats.steps.items()},
                "sent": stats.relationships}
    else:
        import subprocess

        env = {**os.environ, "PYTHONPATH": str(tree.resolve())}
        proc = subprocess.run([sys.executable, "-c", BASELINE, settings.uri, settings.password, str(out)], env=env,
                              check=True, capture_output=True, text=True, cwd=tree)
        done = json.loads(proc.stdout.strip().splitlines()[-1])
    wall = time.perf_counter() - t0
    return {**done, "wall_s": round(wall, 1), "client_cpu_s": round(client_cpu() - c0, 1),
            "server_cpu_s": round(server_cpu(pid) - s0, 1), "load_avg": [round(load0, 1), round(os.getloadavg()[0], 1)]}


def batched(args, home: Path, out: Path, password: str, tree: Path | None, late: Path | None = None) -> dict:
    """One batched load into an empty store on a freshly started server; figures from the graph it leaves.

    With ``late``, that run is then loaded onto the first as the next day's batch (``day2``).
    """
    fresh_store(home)
    info = server.start(home, bolt_port=args.bolt_port, http_port=args.http_port, password=password,
                        heap=args.heap, pagecache=args.pagecache)
    settings = Settings(uri=info.bolt_uri, password=password)
    done = load_with(tree, settings, out, info.pid)
    wall = done["wall_s"]
    with connect(settings) as driver:
        nodes, rels = counts(driver, settings)
    cpu = done["client_cpu_s"] + done["server_cpu_s"]
    result = {"nodes": nodes, "relationships": rels, "seconds": round(wall, 1),
              "relationships_per_s": round(rels / wall), "relationships_per_cpu_s": round(rels / cpu) if cpu else None,
              **done, "neo4j": info.version}
    if late is not None:
        day = load_with(tree, settings, late, info.pid)
        cpu = day["client_cpu_s"] + day["server_cpu_s"]
        result["day2"] = {**{k: day[k] for k in ("wall_s", "client_cpu_s", "server_cpu_s", "load_avg", "sent")},
                          "sent_per_s": round(day["sent"] / day["wall_s"]),
                          "sent_per_cpu_s": round(day["sent"] / cpu) if cpu else None, "steps": day["steps"]}
    return result


def counts(driver, settings) -> tuple[int, int]:
    nodes = run_query(driver, settings, "bench nodes", "MATCH (n) RETURN count(n) AS n")[0]["n"]
    rels = run_query(driver, settings, "bench rels", "MATCH ()-[r]->() RETURN count(r) AS n")[0]["n"]
    return nodes, rels


def run(args) -> dict:
    work = Path(args.work)
    world, out = work / "world", work / "out"
    home = Path(args.home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    fresh_store(home)
    share_jars(home)
    password = os.environ.get("NEO4J_PASSWORD") or DEV_PASSWORD
    result: dict = {"accounts": None, "scale": args.scale}

    late = work / "out-late" if args.split else None
    if args.reuse_world and (out / "rings.json").is_file() and (late is None or (late / "rings.json").is_file()):
        print(f"reusing the detect run in {out}" + (f" and {late}" if late else ""))
    else:
        shutil.rmtree(world, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)
        t = time.perf_counter()
        generate(world, seed=args.seed, accounts=args.accounts, scale=args.scale, fmt="parquet")
        result["generate_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        if late is None:
            detect(world, out=out)
        else:
            shutil.rmtree(late, ignore_errors=True)
            split_by_time(world, args.split, work / "early", work / "late")
            detect(work / "early", out=out)
            detect(work / "late", out=late)
        result["detect_s"] = round(time.perf_counter() - t, 1)
        print(f"world and detect: {result['generate_s']}s + {result['detect_s']}s")
    if late is not None:
        doc = json.loads((late / "rings.json").read_text())
        result["day2_input"] = {"split": args.split, "accounts": doc["input"]["accounts"],
                                "requests": doc["input"]["events"], "rings": len(doc["rings"])}
    doc = json.loads((out / "rings.json").read_text())
    result["accounts"], result["requests"] = doc["input"]["accounts"], doc["input"]["events"]
    if args.replicate > 1:
        t = time.perf_counter()
        shutil.rmtree(work / "replicated", ignore_errors=True)
        replicate(out, work / "replicated", args.replicate)
        out = work / "replicated"
        result["replicated"] = args.replicate
        result["accounts"] *= args.replicate
        result["requests"] *= args.replicate
        print(f"replicated the evidence {args.replicate} times in {time.perf_counter() - t:.1f}s")

    try:
        if not args.no_batched:  # this checkout first: anything else the machine runs meanwhile weighs on it
            print("batched load_run ...", flush=True)
            result["batched"] = x = batched(args, home, out, password, None, late)
            print(f"batched: {x['relationships']:,} relationships in {x['seconds']}s = {x['relationships_per_s']:,}/s")
            print(describe(x))
        if args.baseline:
            print(f"batched load_run of {args.baseline} (before) ...", flush=True)
            result["before"] = x = batched(args, home, out, password, Path(args.baseline), late)
            result["before"]["tree"] = str(args.baseline)
            print(f"before: {x['relationships']:,} relationships in {x['seconds']}s = {x['relationships_per_s']:,}/s")
            print(describe(x))
        if "before" in result and "batched" in result:
            result["speedup"] = round(result["before"]["seconds"] / result["batched"]["seconds"], 2)
            b, a = result["before"], result["batched"]
            result["cpu_speedup"] = round((b["client_cpu_s"] + b["server_cpu_s"]) /
                                          (a["client_cpu_s"] + a["server_cpu_s"]), 2)
            print(f"speed-up over before: {result['speedup']}x wall, {result['cpu_speedup']}x CPU")
        if args.no_bulk:
            return result
        print("bulk import_run ...", flush=True)
        t = time.perf_counter()
        done = bulk.import_run(out, home, password=password, csv_dir=work / "csv", compress=args.gzip)
        wall = time.perf_counter() - t
        info = server.status(home)
        settings = Settings(uri=info.bolt_uri, password=password)
        with connect(settings) as driver:
            nodes, rels = counts(driver, settings)
        result["bulk"] = {"nodes": nodes, "relationships": rels, "seconds": round(wall, 1),
                          "relationships_per_s": round(rels / wall),
                          **{k: done[k] for k in ("csv_s", "stop_s", "import_s", "start_s", "schema_s")},
                          "import_relationships_per_s": done["import_relationships_per_s"],
                          "gzip": args.gzip}
        result["command"] = done["command"]
        print(f"bulk: {rels:,} relationships in {wall:.1f}s = {rels / wall:,.0f}/s "
              f"(csv {done['csv_s']}s, stop {done['stop_s']}s, import {done['import_s']}s = "
              f"{done['import_relationships_per_s']:,}/s, start {done['start_s']}s, schema {done['schema_s']}s)")
        if "batched" in result and (result["batched"]["nodes"], result["batched"]["relationships"]) != (nodes, rels):
            print("WARNING: bulk and batched graphs differ in size", file=sys.stderr)
    finally:
        if not args.keep_server:
            server.stop(home)
        shutil.rmtree(work / "csv", ignore_errors=True)
    return result


def describe(x: dict) -> str:
    """CPU and the next day's load of one loader, as one line."""
    line = (f"  CPU client {x['client_cpu_s']}s + server {x['server_cpu_s']}s = "
            f"{x['relationships_per_cpu_s']:,} relationships per CPU s; load average {x['load_avg']}")
    if "day2" in x:
        d = x["day2"]
        line += (f"\n  next day: {d['sent']:,} relationships sent in {d['wall_s']}s = {d['sent_per_s']:,}/s, CPU client "
                 f"{d['client_cpu_s']}s + server {d['server_cpu_s']}s; load average {d['load_avg']}")
    return line


def cpu_table(doc: dict) -> list[str]:
    """Wall and CPU seconds of every batched load (first and next day), and the load average around it."""
    out = ["## CPU time and the next day's batch", "",
           "The machine is shared (two cores, other jobs running): wall-clock rates move with its load, "
           "relationships per CPU second (client + server) much less. `next day`: the run of the requests "
           "from the split date on, loaded onto the first batch (`--split`).", "",
           "| accounts | loader | load | relationships | wall s | client CPU s | server CPU s | per wall s | "
           "per CPU s | load average (start, end) |", "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in doc["runs"]:
        for name in ("before", "batched"):
            x = r.get(name)
            if not x or "client_cpu_s" not in x:
                continue
            cpu = x["client_cpu_s"] + x["server_cpu_s"]
            out.append(f"| {r['accounts']:,} | {name} | first, empty store | {x['relationships']:,} | {x['seconds']} | "
                       f"{x['client_cpu_s']} | {x['server_cpu_s']} | {x['relationships_per_s']:,} | "
                       f"{round(x['relationships'] / cpu):,} | {x['load_avg']} |")
            d = x.get("day2")
            if d:
                day = r.get("day2_input", {})
                out.append(f"| {r['accounts']:,} | {name} | next day from {day.get('split')} "
                           f"({day.get('accounts', 0):,} accounts, {day.get('requests', 0):,} requests) | "
                           f"{d['sent']:,} sent | {d['wall_s']} | {d['client_cpu_s']} | {d['server_cpu_s']} | "
                           f"{d['sent_per_s']:,} | {d['sent_per_cpu_s']:,} | {d['load_avg']} |")
    return out + [""]


def write_results(result: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "neo4j_load.json"
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        doc = {"runs": []}
    doc["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()}
    doc["generated_at"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    same = lambda r: (r.get("accounts"), r.get("replicated")) == (result["accounts"], result.get("replicated"))  # noqa: E731
    # figures this run did not measure (e.g. bulk) stay, if they are of the same world
    earlier = next((r for r in doc["runs"] if same(r) and r.get("requests") == result.get("requests")), {})
    doc["runs"] = sorted([r for r in doc["runs"] if not same(r)] + [{**earlier, **result}], key=lambda r: r["accounts"])
    path.write_text(json.dumps(doc, indent=1) + "\n")

    lines = ["# Neo4j load: batched load_run (before and after) vs bulk import_run", "",
             f"{doc['machine']['cpus']} CPUs, Neo4j server and client on the same machine; "
             f"updated {doc['generated_at']}. `python benchmarks/neo4j_load.py --accounts N`.", "",
             "| accounts | requests | loader | nodes | relationships | seconds | relationships/s | detail |",
             "| ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |"]
    for r in doc["runs"]:
        for name in ("before", "batched", "bulk"):
            x = r.get(name)
            if not x:
                continue
            detail = f"`{x['tree']}`" if name == "before" else f"{r['speedup']}× before" if name == "batched" and \
                r.get("speedup") else "" if name == "batched" else (
                f"csv {x['csv_s']}s, stop {x['stop_s']}s, import {x['import_s']}s "
                f"({x['import_relationships_per_s']:,}/s), start {x['start_s']}s, schema {x['schema_s']}s")
            size = f"{r['accounts']:,}" + (f" ({r['replicated']}× copies)" if r.get("replicated") else "")
            lines.append(f"| {size} | {r['requests']:,} | {name} | {x['nodes']:,} | "
                         f"{x['relationships']:,} | {x['seconds']} | {x['relationships_per_s']:,} | {detail} |")
    lines += ["", "Bulk seconds are end to end: CSV export (DuckDB), server stop, `neo4j-admin database import "
              "full`, server start, constraints and indexes. The import alone is the `import` figure. "
              "`N× copies`: the evidence of a detect run loaded N times with suffixed ids (`--replicate`), "
              "a seed-sized graph without running detect at seed scale. `before`: the batched loader of an "
              "older checkout (`--baseline`), timed in the same run on a fresh store and server.", ""]
    if any("client_cpu_s" in (r.get("batched") or r.get("before") or {}) for r in doc["runs"]):
        lines += cpu_table(doc)
    for r in doc["runs"]:
        if r.get("before") and r.get("batched"):
            lines += step_table(r)
    (RESULTS / "neo4j_load.md").write_text("\n".join(lines))


def step_table(r: dict) -> list[str]:
    """Seconds per step, before and after, with the rows each step wrote (from the batched load)."""
    before, after = r["before"]["steps"], r["batched"]["steps"]
    rows = r["batched"].get("rows", {})
    out = [f"## Per step, {r['accounts']:,} accounts", "",
           "| step | rows | before s | after s | after rows/s |", "| --- | ---: | ---: | ---: | ---: |"]
    for step in dict.fromkeys([*after, *before]):
        n = rows.get(step, 0)
        b, a = before.get(step), after.get(step)
        rate = f"{n / a:,.0f}" if n and a else ""
        out.append(f"| {step} | {n:,} | {'' if b is None else b} | {'' if a is None else a} | {rate} |")
    return out + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--scale", choices=["custom", "seed"], default="custom")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "linkage-bench-neo4j-load"))
    parser.add_argument("--home", default=str(Path(tempfile.gettempdir()) / "linkage-bench-neo4j"))
    parser.add_argument("--bolt-port", type=int, default=7692)
    parser.add_argument("--http-port", type=int, default=7478)
    parser.add_argument("--heap", default="2g")
    parser.add_argument("--pagecache", default="2g")
    parser.add_argument("--split", default=None, metavar="DATE",
                        help="load the requests before DATE as one batch, then those from DATE on as the next day's")
    parser.add_argument("--replicate", type=int, default=1, help="load K suffixed copies of the run's evidence")
    parser.add_argument("--gzip", action="store_true", help="gzip the import CSV files")
    parser.add_argument("--no-batched", action="store_true", help="skip the batched load (slow at seed scale)")
    parser.add_argument("--no-bulk", action="store_true", help="skip the bulk import")
    parser.add_argument("--baseline", default=None, metavar="TREE",
                        help="also time the batched load of another checkout (before/after in the same run)")
    parser.add_argument("--reuse-world", action="store_true", help="reuse the detect run left in --work")
    parser.add_argument("--keep-server", action="store_true")
    args = parser.parse_args()
    Path(args.work).mkdir(parents=True, exist_ok=True)
    result = run(args)
    write_results(result)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
