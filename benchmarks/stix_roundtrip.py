"""Intel exchange round trip: does lab B name its rings with lab A's bundle?

Not a test: it reports (a small version runs in tests/unit/test_stix_roundtrip.py). From the
repository root:

    python benchmarks/stix_roundtrip.py [--accounts 20000] [--seed 7] [--out benchmarks/results]

One synthetic world is split into two labs that face the same operators: lab A gets about half
of each operator's rings, half the benign accounts and the intel table; lab B gets the other
rings and benign accounts and no intel. The rings of one operator share infrastructure and
templates (a proxy pool, a harness build, a sign-up domain, template variants) but no accounts.
Lab A runs detect and exports a bundle with a sharing-group key; lab B runs detect without
intel, then with A's bundle. Attribution is scored on B's truth against A's intel operators,
and every bundle is checked with stix2-validator. Writes ``stix_roundtrip.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd

from linkage.evaluate import read_flagged, read_truth, score
from linkage.ids import digest
from linkage.io import find_table
from linkage.sql import literal
from linkage.synth import generate

TABLES = ("accounts", "events", "payments")
KEY_ENV = "LINKAGE_SHARE_KEY"


def split_world(world: Path, lab_a: Path, lab_b: Path) -> dict[str, int]:
    """Write the two labs' batches (and truth.csv) from ``world``; return their account counts.

    Rings alternate between the labs in the order of their names within each operator; benign
    accounts go by a stable digest of their id. Lab A keeps the intel table minus account
    indicators for accounts it does not hold; lab B gets no intel.
    """
    truth = pd.read_csv(world / "truth.csv", dtype=str, keep_default_na=False)
    ops = truth[truth["operator"] != ""]
    rings = (ops[["operator", "ring"]].drop_duplicates().sort_values(["operator", "ring"])
             .assign(k=lambda d: d.groupby("operator").cumcount()))
    lab_of_ring = {r: "a" if k % 2 == 0 else "b" for r, k in zip(rings["ring"], rings["k"])}
    lab = [lab_of_ring[r] if o else ("a" if int(digest(a, size=2), 16) % 2 == 0 else "b")
           for a, o, r in zip(truth["account_id"], truth["operator"], truth["ring"])]
    truth = truth.assign(lab=lab)
    con = duckdb.connect()
    con.register("labs", truth[["account_id", "lab"]])
    counts = {}
    for name, folder in (("a", lab_a), ("b", lab_b)):
        folder.mkdir(parents=True, exist_ok=True)
        for table in TABLES:
            src = find_table(world, table)
            con.execute(f"""COPY (SELECT t.* FROM read_csv({literal(src)}, all_varchar = true) t
                                  JOIN labs l USING (account_id) WHERE l.lab = ?)
                            TO {literal(folder / (table + '.csv.gz'))} (FORMAT csv, HEADER true)""", [name])
        truth[truth["lab"] == name].drop(columns="lab").to_csv(folder / "truth.csv", index=False)
        counts[name] = int((truth["lab"] == name).sum())
    intel = find_table(world, "intel")
    if intel is not None:
        con.execute(f"""COPY (SELECT i.* FROM read_csv({literal(intel)}, all_varchar = true) i
                              WHERE i.kind <> 'account' OR i.value IN (SELECT account_id FROM labs WHERE lab = 'a'))
                        TO {literal(lab_a / 'intel.csv.gz')} (FORMAT csv, HEADER true)""")
    return counts


def attribution(out: Path, truth: Path, intel_operators: set[str]) -> dict:
    """``linkage.evaluate`` metrics of a run, with A's intel operators as the known ones."""
    m = score(read_truth(truth), *read_flagged(out), intel_operators)
    named = {}
    for ring in json.loads((out / "rings.json").read_text())["rings"]:
        key = ring["operator"] or "(unattributed)"
        named[key] = named.get(key, 0) + ring["size"]
    keep = ("rings_flagged", "accounts_flagged", "precision", "recall", "attribution_accuracy", "attribution_support",
            "unattributed_correct", "unattributed_support")
    return {**{k: m[k] for k in keep}, "accounts_by_name": dict(sorted(named.items()))}


def _linkage(*args: str, env: dict | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "linkage.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    if done.returncode:
        raise SystemExit(f"linkage {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def run(accounts: int, seed: int, work: Path, key: str, validate: bool = True, **knobs) -> dict:
    world, a, b = work / "world", work / "lab_a", work / "lab_b"
    generate(world, seed=seed, accounts=accounts, **knobs)
    sizes = split_world(world, a, b)
    env = {KEY_ENV: key}
    timings = {}
    t = time.perf_counter()
    _linkage("detect", str(a), "--out", str(work / "out_a"), "--quiet")
    timings["detect_a"] = time.perf_counter() - t
    t = time.perf_counter()
    exported = _linkage("intel", "export", str(work / "out_a"), "--to", str(work / "lab_a.stix.json"),
                        "--producer", "lab-a", env=env).strip()
    timings["export"] = time.perf_counter() - t
    checked = "not run"
    if validate:
        t = time.perf_counter()
        checked = _linkage("intel", "validate", str(work / "lab_a.stix.json")).strip().splitlines()[-1]
        timings["stix2_validator"] = time.perf_counter() - t
    _linkage("detect", str(b), "--out", str(work / "out_b_before"), "--quiet")
    t = time.perf_counter()
    _linkage("detect", str(b), "--out", str(work / "out_b_after"), "--quiet", "--intel",
             str(work / "lab_a.stix.json"), env=env)
    timings["detect_b_with_bundle"] = time.perf_counter() - t
    intel_ops = set(pd.read_csv(find_table(a, "intel"), dtype=str)["operator"])
    return {
        "world": {"accounts": accounts, "seed": seed, "lab_a_accounts": sizes["a"], "lab_b_accounts": sizes["b"]},
        "export": exported.splitlines()[-1],
        "validator": checked,
        "lab_a": attribution(work / "out_a", a / "truth.csv", intel_ops),
        "lab_b_before": attribution(work / "out_b_before", b / "truth.csv", intel_ops),
        "lab_b_after": attribution(work / "out_b_after", b / "truth.csv", intel_ops),
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
    }


def _markdown(r: dict) -> str:
    def pct(x):
        return "n/a" if x is None else f"{x:.3f}"

    rows = [("lab A (own intel table)", r["lab_a"]), ("lab B, no intel", r["lab_b_before"]),
            ("lab B, with lab A's bundle", r["lab_b_after"])]
    lines = [f"# STIX round trip ({r['world']['accounts']:,}-account world, seed {r['world']['seed']})", "",
             f"Lab A: {r['world']['lab_a_accounts']:,} accounts; lab B: {r['world']['lab_b_accounts']:,}.",
             f"Export: {r['export']}", f"Official checker: {r['validator']}", "",
             "| run | rings | accounts flagged | attribution accuracy (n) | unknown operator left unnamed (n) |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for name, m in rows:
        lines.append(f"| {name} | {m['rings_flagged']} | {m['accounts_flagged']:,} | "
                     f"{pct(m['attribution_accuracy'])} ({m['attribution_support']:,}) | "
                     f"{pct(m['unattributed_correct'])} ({m['unattributed_support']:,}) |")
    lines += ["", "Accounts of lab B's flagged rings by the name they got, with the bundle:", ""]
    lines += [f"- {name}: {n:,}" for name, n in r["lab_b_after"]["accounts_by_name"].items()]
    lines += ["", "Timings (s): " + ", ".join(f"{k} {v}" for k, v in r["timings_s"].items())]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-validator", action="store_true", help="Do not run stix2-validator on the bundle.")
    parser.add_argument("--work", type=Path, default=Path("/tmp/linkage-stix-roundtrip"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    key = os.environ.get(KEY_ENV) or "benchmark-sharing-group-key"  # a benchmark key; real keys come from the group
    result = run(args.accounts, args.seed, args.work, key, validate=not args.skip_validator)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "stix_roundtrip.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "stix_roundtrip.md").write_text(_markdown(result))
    print(_markdown(result))


if __name__ == "__main__":
    main()
