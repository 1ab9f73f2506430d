"""Robustness benchmark: detection on adversarial worlds the engine was not fitted to.

Not a test: it reports. Run from the repository root:

    python benchmarks/robustness.py                       # the whole suite (tuning and held-out worlds)
    python benchmarks/robustness.py --tuning-only         # only the worlds you may look at while tuning
    python benchmarks/robustness.py --heldout-only        # only the held-out worlds
    python benchmarks/robustness.py --worlds T03,H2       # some worlds
    python benchmarks/robustness.py --sweep stealth-pools:paraphrase=0,0.2,0.4,0.6
    python benchmarks/robustness.py --sweep standard      # every sweep in SWEEPS

Each suite world is a default benign population (17,000 accounts, with or
without the four default operators) plus some adversary presets and benign
traps (``linkage synth --adversary/--trap``; see docs/synth.md), about 20,000
accounts in all. Every preset and every trap appears in both splits.

**Tuning and held-out seeds.** Worlds ``T01``-``T18`` (seeds 1001-1018) are the
tuning set: look at them, debug on them, fit to them. Worlds ``H1``-``H10``
(seeds 7301-7310; H7-H10 added on 2026-12-02) are held out: run them to report, never to tune. A change
that helps the tuning worlds and not the held-out ones is fitted to the
generator, not to operators.

A sweep varies one knob of one preset (or trap) over a range on one base
world (seed 5150, no default operators, households and public templates as
background traps) and reports the curve.

For each world it runs ``linkage detect WORLD --out OUT --json`` as a
subprocess, scores the output with ``linkage.evaluate.evaluate`` and writes
``results/robustness.json`` and ``results/robustness.md``. A run replaces the
rows it re-ran and keeps the others; each row records the engine commit.
Generated worlds are cached under ``--work`` by their spec and the
generator's source, so re-runs after an engine change only re-detect.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from linkage.evaluate import evaluate, read_flagged, read_intel_operators, read_truth
from linkage.synth import ADVERSARIES, TRAPS, generate

ROOT = Path(__file__).resolve().parent.parent
POPULATION = 17_000  # default benign population (plus default operators where on) of every world

# name -> world. "ops": the four default operators present. Adversaries get neutral codenames, so no
# preset name reaches the detector through intel; PRESET_OF maps them back for the report.
TUNING = {
    "T01": dict(seed=1001, ops=True, adversaries=["stealth-pools:name=ASH-LANTERN"], traps=["hackathon", "households"]),
    "T02": dict(seed=1002, ops=False, adversaries=["thin-operation:name=BRASS-WREN"],
                traps=["eval-vendor", "public-templates"]),
    "T03": dict(seed=1003, ops=False, adversaries=["mimicry:name=CEDAR-MOTH,intel=true",
                                                   "heavy-paraphrase:name=DUSK-OTTER"],
                traps=["university-lab", "hackathon"]),
    "T04": dict(seed=1004, ops=True, adversaries=["heavy-paraphrase:name=EMBER-QUAIL"],
                traps=["public-templates", "households"]),
    "T05": dict(seed=1005, ops=False, adversaries=["stealth-pools:name=FLINT-HARE,paraphrase=0.35,ring_size=20-40",
                                                   "thin-operation:name=GARNET-LYNX,intel=false"],
                traps=["eval-vendor", "university-lab"]),
    "T06": dict(seed=1006, ops=False, adversaries=["mimicry:name=HAZEL-KITE,volume=1.0,bin_benign=0.08"],
                traps=["households:size=1000", "public-templates"]),
    "T07": dict(seed=1007, ops=True, adversaries=["thin-operation:name=IRON-PIKE,ips=1-3,coverage=0.2"],
                traps=["hackathon:size=500,ips=1"]),
    "T08": dict(seed=1008, ops=False, adversaries=["stealth-pools:name=JADE-ROOK,intel=false",
                                                   "heavy-paraphrase:name=KELP-VIPER,coverage=0.3"],
                traps=["eval-vendor:size=150", "households"]),
    "T09": dict(seed=1009, ops=False, adversaries=["stealth-pools:name=LOAM-FINCH,accounts=500",
                                                   "thin-operation:name=MOSS-HERON,accounts=600",
                                                   "mimicry:name=NICKEL-ASP,accounts=300",
                                                   "heavy-paraphrase:name=OPAL-STOAT,accounts=400"],
                traps=["hackathon:size=200", "eval-vendor:size=50", "university-lab", "households:size=300",
                       "public-templates:size=400"]),
    "T10": dict(seed=1010, ops=True, adversaries=["stealth-pools:name=PEWTER-CRANE,volume=8,coverage=0.2",
                                                  "mimicry:name=QUARTZ-MINK"],
                traps=["university-lab:labs=4,size=150", "public-templates"]),
    "T11": dict(seed=1011, ops=False, adversaries=["thin-operation:name=RUST-PLOVER,accounts=2000,reuse=2"],
                traps=["hackathon", "eval-vendor"]),
    "T12": dict(seed=1012, ops=False, adversaries=["heavy-paraphrase:name=SABLE-GECKO,paraphrase=0.7,ring_size=30-80",
                                                   "stealth-pools:name=TEAL-BADGER"],
                traps=["households", "university-lab"]),
    "T13": dict(seed=1013, ops=True, adversaries=["mimicry:name=UMBER-SWIFT,spread=60,intel=true,coverage=0.3"],
                traps=["public-templates:size=1500", "hackathon"]),
    "T14": dict(seed=1014, ops=False, adversaries=["stealth-pools:name=VIOLET-EGRET,accounts=1500,ips=2-5"],
                traps=["eval-vendor", "households"]),
    "T15": dict(seed=1015, ops=False, adversaries=["thin-operation:name=WILLOW-SHRIKE,volume=3,paraphrase=0.35",
                                                   "heavy-paraphrase:name=XENON-TAPIR"],
                traps=["university-lab", "public-templates"]),
    "T16": dict(seed=1016, ops=True, adversaries=["stealth-pools:name=YEW-MARTEN", "thin-operation:name=ZINC-TERN"],
                traps=["hackathon", "households"]),
    "T17": dict(seed=1017, ops=False, adversaries=["mimicry:name=AMBER-GROUSE",
                                                   "stealth-pools:name=BASALT-NEWT,bin_share=0.8"],
                traps=["eval-vendor", "university-lab"]),
    "T18": dict(seed=1018, ops=False, adversaries=["heavy-paraphrase:name=COBALT-IBIS,lockstep=0.1,volume=12",
                                                   "mimicry:name=DAMSON-VOLE"],
                traps=["hackathon:window=1", "public-templates"]),
}
HELD_OUT = {  # never looked at while tuning: report only
    "H1": dict(seed=7301, ops=True, adversaries=["stealth-pools:name=ELM-CORMORANT", "thin-operation:name=FERN-GAR"],
               traps=["eval-vendor", "households"]),
    "H2": dict(seed=7302, ops=False, adversaries=["mimicry:name=GRANITE-TEAL,intel=true",
                                                  "heavy-paraphrase:name=HEMLOCK-SKINK"],
               traps=["hackathon", "university-lab"]),
    "H3": dict(seed=7303, ops=False, adversaries=["stealth-pools:name=INDIGO-LOON,intel=false"],
               traps=["public-templates", "eval-vendor"]),
    "H4": dict(seed=7304, ops=True, adversaries=["thin-operation:name=JUNIPER-DACE", "mimicry:name=KHAKI-PIPIT"],
               traps=["households", "hackathon"]),
    "H5": dict(seed=7305, ops=False, adversaries=["heavy-paraphrase:name=LICHEN-BOAR,coverage=0.3",
                                                  "stealth-pools:name=MAPLE-SMELT,ring_size=25-45"],
               traps=["university-lab", "public-templates"]),
    "H6": dict(seed=7306, ops=False, adversaries=["stealth-pools:name=NUTMEG-ORCA,accounts=500",
                                                  "thin-operation:name=OCHRE-RAIL,accounts=600",
                                                  "mimicry:name=PUMICE-WASP,accounts=300",
                                                  "heavy-paraphrase:name=QUILL-BISON,accounts=400"],
               traps=["hackathon:size=200", "eval-vendor:size=50", "university-lab", "households:size=300",
                      "public-templates:size=400"]),
    # Added 2026-12-02 and run once, to report: new seeds and knob settings no world above uses.
    "H7": dict(seed=7307, ops=True, adversaries=["stealth-pools:name=ROWAN-SKUA,paraphrase=0.45,ips=2-6,template_share=0.7",
                                                 "mimicry:name=SLATE-MOTH,volume=2,intel=true"],
               traps=["hackathon:size=400", "public-templates:size=800"]),
    "H8": dict(seed=7308, ops=False, adversaries=["thin-operation:name=TAWNY-GULL,accounts=1500,paraphrase=0.4,volume=3",
                                                  "heavy-paraphrase:name=UMBRA-NEWT,intel=false"],
               traps=["university-lab", "eval-vendor:size=100", "households:size=600"]),
    "H9": dict(seed=7309, ops=True, adversaries=["mimicry:name=VERDANT-OWL,spread=45,bin_benign=0.05",
                                                 "thin-operation:name=WHEAT-LARK,ips=1-3,coverage=0.5"],
               traps=["public-templates", "hackathon:window=1"]),
    "H10": dict(seed=7310, ops=False, adversaries=["stealth-pools:name=XYLEM-DOVE,accounts=800,ring_size=20-30,devices=harness",
                                                   "heavy-paraphrase:name=YARROW-ELK,coverage=0.5",
                                                   "mimicry:name=ZIRCON-BAT"],
                traps=["eval-vendor", "households", "university-lab"]),
}
SUITE = {**TUNING, **HELD_OUT}
DEFAULT_OPERATORS = ("CRIMSON-LATHE", "VELVET-MONSOON", "GLASS-HERON", "COPPER-TIDE")

SWEEP_BASE = dict(seed=5150, ops=False, traps=["households", "public-templates"])
SWEEPS = [  # --sweep standard
    "stealth-pools:paraphrase=0,0.15,0.3,0.45,0.6",
    "stealth-pools:ips=1-2,2-4,4-10,8-16",
    "stealth-pools:ring_size=8-15,20-60,60-120",
    "stealth-pools:pool_scope=ring,operation",
    "thin-operation:reuse=1.5,2.5,4,8",
    "mimicry:volume=0.5,1,2,5,15",
    "mimicry:bin_share=0,0.3,0.6,1",
    "heavy-paraphrase:paraphrase=0.2,0.4,0.6,0.8",
    "heavy-paraphrase:accounts=200,400,800,1600",
    "hackathon:size=100,300,600",
]


def preset_of(spec: str) -> tuple[str, str]:
    """``(preset, operator name)`` of an adversary spec (the name knob, or the preset's default name)."""
    preset, _, knobs = spec.partition(":")
    values = dict(item.split("=", 1) for item in knobs.split(",") if item)
    return preset, values.get("name", preset.upper())


def trap_cohort(spec: str) -> tuple[str, str]:
    trap, _, knobs = spec.partition(":")
    values = dict(item.split("=", 1) for item in knobs.split(",") if item)
    return trap, values.get("name", trap.replace("-", "_"))


def _source_digest() -> str:
    h = hashlib.sha256()
    for path in sorted((ROOT / "linkage" / "synth").glob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def _commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "linkage"],
                               capture_output=True, text=True).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def build_world(name: str, spec: dict, work: Path) -> Path:
    """Generate (or reuse from the cache) the world for ``spec``."""
    key = json.dumps({**spec, "population": POPULATION, "synth": _source_digest()}, sort_keys=True)
    folder = work / "worlds" / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"
    if (folder / "data" / "truth.csv").is_file() and (folder / "spec.json").is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    generate(folder / "data", seed=spec["seed"], accounts=POPULATION, fmt="csv.gz", default_operators=spec["ops"],
             adversaries=spec.get("adversaries", ()), traps=spec.get("traps", ()))
    (folder / "spec.json").write_text(key + "\n")
    return folder


def detect(world: Path, out: Path, threads: int | None) -> tuple[float, dict]:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "linkage.cli", "detect", str(world / "data"), "--out", str(out), "--json"]
    if threads:
        cmd += ["--threads", str(threads)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"linkage detect failed on {world}:\n{proc.stderr[-2000:]}")
    return wall, json.loads(proc.stdout)


def per_operator_attribution(out: Path, truth_path: Path) -> dict[str, float | None]:
    """Per operator: share of its flagged accounts named right (intel operators) or left unnamed (the rest).

    An account counts in its highest-scoring flagged ring, as in ``linkage.evaluate.score``.
    """
    truth = read_truth(truth_path)
    rings, members = read_flagged(out)
    known = {o.casefold() for o in (read_intel_operators(truth_path.parent) or set())}
    ranked = members.merge(rings, on="ring_id", how="left").sort_values(["score", "ring_id"], ascending=[False, True])
    named = ranked.drop_duplicates("account_id").set_index("account_id")["operator"]
    ops = truth[truth["operator"] != ""]
    result: dict[str, float | None] = {}
    for op, group in ops.groupby("operator"):
        hit = group["account_id"][group["account_id"].isin(named.index)]
        if not len(hit):
            result[op] = None
            continue
        got = named.reindex(hit).fillna("").astype(str).str.strip().str.casefold()
        ok = got == op.casefold() if op.casefold() in known else ~got.isin(known)
        result[op] = float(ok.mean())
    return result


def run_world(name: str, spec: dict, split: str, work: Path, threads: int | None) -> dict:
    world = build_world(name, spec, work)
    out = work / "out" / name
    wall, summary = detect(world, out, threads)
    truth = world / "data" / "truth.csv"  # next to the world's intel, which evaluate reads
    m = evaluate(out, truth)
    attribution = per_operator_attribution(out, truth)
    operators = {}
    for spec_text in spec.get("adversaries", ()):
        preset, op = preset_of(spec_text)
        operators[op] = dict(preset=preset, **m["per_operator"][op], attribution=attribution.get(op))
    for op in DEFAULT_OPERATORS if spec["ops"] else ():
        if op in m["per_operator"]:
            operators[op] = dict(preset="default", **m["per_operator"][op], attribution=attribution.get(op))
    traps = {}
    for trap_text in spec.get("traps", ()):
        trap, cohort = trap_cohort(trap_text)
        traps[cohort] = dict(trap=trap, **m["benign_cohorts"][cohort])
    rates = m["benign_false_flag_rate"]
    worst = max(rates, key=rates.get) if rates else None
    counts = json.loads((out / "rings.json").read_text())["input"]
    return {
        "world": name, "split": split, "seed": spec["seed"], "spec": spec, "engine": _commit(),
        "accounts": counts["accounts"], "requests": counts["events"], "wall_s": round(wall, 1),
        "rings_flagged": m["rings_flagged"], "accounts_flagged": m["accounts_flagged"],
        "operator_accounts": m["operator_accounts"], "true_positives": m["true_positives"],
        "precision": m["precision"], "recall": m["recall"],
        "attribution_accuracy": m["attribution_accuracy"], "attribution_support": m["attribution_support"],
        "unattributed_correct": m["unattributed_correct"], "unattributed_support": m["unattributed_support"],
        "max_benign_false_flag_rate": m["max_benign_false_flag_rate"], "worst_cohort": worst,
        "operators": operators, "traps": traps, "benign_false_flag_rate": rates,
        "stages": summary.get("timings"),
    }


# --- sweeps ----------------------------------------------------------------------------------


def parse_sweep(text: str) -> tuple[str, str, list[str]]:
    """``PRESET:KNOB=v1,v2,...`` -> (preset, knob, values); ranges stay ``LO-HI`` strings."""
    preset, _, rest = text.partition(":")
    knob, eq, values = rest.partition("=")
    if preset not in ADVERSARIES and preset not in TRAPS:
        raise SystemExit(f"--sweep: unknown preset or trap {preset!r} "
                         f"(known: {', '.join(list(ADVERSARIES) + list(TRAPS))})")
    knobs = (ADVERSARIES.get(preset) or TRAPS[preset]).knobs
    if not eq or knob not in knobs:
        raise SystemExit(f"--sweep {text!r}: expected {preset}:KNOB=v1,v2,... with KNOB one of {', '.join(knobs)}")
    return preset, knob, [v.strip() for v in values.split(",") if v.strip()]


def run_sweep(text: str, work: Path, threads: int | None) -> dict:
    preset, knob, values = parse_sweep(text)
    points = []
    for i, value in enumerate(values):
        spec = dict(SWEEP_BASE)
        if preset in ADVERSARIES:
            spec["adversaries"] = [f"{preset}:name=SWEEP-OP,{knob}={value}"]
        else:
            spec["adversaries"] = ["stealth-pools:name=SWEEP-OP"]
            spec["traps"] = list(spec["traps"]) + [f"{preset}:name=swept,{knob}={value}"]
        row = run_world(f"sweep-{preset}-{knob}-{i}", spec, "sweep", work, threads)
        op = row["operators"]["SWEEP-OP"]
        point = {"value": value, "precision": row["precision"], "recall": op["recall"],
                 "attribution": op["attribution"], "in_intel": op["in_intel"],
                 "max_benign_false_flag_rate": row["max_benign_false_flag_rate"], "worst_cohort": row["worst_cohort"],
                 "wall_s": row["wall_s"]}
        if preset in TRAPS:
            point["trap_flag_rate"] = row["traps"]["swept"]["rate"]
        points.append(point)
        print(json.dumps({"sweep": text, **point}), flush=True)
    return {"preset": preset, "knob": knob, "base": SWEEP_BASE, "engine": _commit(), "points": points}


# --- report ----------------------------------------------------------------------------------


def _f(x, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def aggregate(rows: list[dict]) -> dict:
    """Pooled figures over worlds: sums of counts, not means of ratios."""
    flagged = sum(r["accounts_flagged"] for r in rows)
    tp = sum(r["true_positives"] for r in rows)
    ops = sum(r["operator_accounts"] for r in rows)
    att_n = sum(r["attribution_support"] for r in rows)
    att_ok = sum((r["attribution_accuracy"] or 0) * r["attribution_support"] for r in rows)
    un_n = sum(r["unattributed_support"] for r in rows)
    un_ok = sum((r["unattributed_correct"] or 0) * r["unattributed_support"] for r in rows)
    presets: dict[str, list[int]] = {}
    for r in rows:
        for v in r["operators"].values():
            acc = presets.setdefault(v["preset"], [0, 0])
            acc[0] += v["flagged"]
            acc[1] += v["accounts"]
    traps: dict[str, list[float]] = {}
    for r in rows:
        for v in r["traps"].values():
            traps.setdefault(v["trap"], []).append(v["rate"])
    return {
        "worlds": len(rows), "precision": tp / flagged if flagged else 1.0, "recall": tp / ops if ops else 0.0,
        "attribution_accuracy": att_ok / att_n if att_n else None,
        "unattributed_correct": un_ok / un_n if un_n else None,
        "max_benign_false_flag_rate": max((r["max_benign_false_flag_rate"] for r in rows), default=0.0),
        "preset_recall": {p: f / n for p, (f, n) in presets.items()},
        "preset_worst_world_recall": {p: min(v["recall"] for r in rows for v in r["operators"].values()
                                             if v["preset"] == p) for p in presets},
        "trap_max_flag_rate": {t: max(v) for t, v in traps.items()},
        "wall_s": round(sum(r["wall_s"] for r in rows), 1),
    }


def to_markdown(doc: dict) -> str:
    suite = doc.get("suite", {})
    lines = ["# Robustness benchmark", "",
             "Generated by `python benchmarks/robustness.py`: adversarial worlds (`linkage synth --adversary/--trap`, "
             "see docs/synth.md), each scored with `linkage.evaluate`. Tuning worlds T01-T18 (seeds 1001-1018); "
             "held-out worlds H1-H10 (seeds 7301-7310), never used for tuning.", ""]
    splits = [(s, [suite[k] for k in sorted(suite, key=lambda k: (k[0], int(k[1:]))) if suite[k]["split"] == s]) for s in ("tuning", "held-out")]
    if suite:
        presets = sorted({v["preset"] for r in suite.values() for v in r["operators"].values()},
                         key=lambda p: (p == "default", p))
        traps = sorted({v["trap"] for r in suite.values() for v in r["traps"].values()})
        lines += ["## Summary", "", "| split | worlds | precision | recall | attribution | unattributed ok | "
                  "max benign flag | " + " | ".join(f"{p} recall" for p in presets) + " | detect s |",
                  "|---" * (7 + len(presets)) + "|"]
        for split, rows in splits:
            if not rows:
                continue
            a = aggregate(rows)
            lines.append(f"| {split} | {a['worlds']} | {_f(a['precision'])} | {_f(a['recall'])} | "
                         f"{_f(a['attribution_accuracy'])} | {_f(a['unattributed_correct'])} | "
                         f"{_f(a['max_benign_false_flag_rate'], 4)} | "
                         + " | ".join(_f(a["preset_recall"].get(p)) for p in presets) + f" | {a['wall_s']} |")
        lines += ["", "Pooled over worlds (sums of accounts). Preset recall: flagged / accounts of every operator "
                  "built from that preset; `default` is the four default operators where a world has them.", "",
                  "| split | " + " | ".join(f"{t} max flag" for t in traps) + " |", "|---" * (1 + len(traps)) + "|"]
        for split, rows in splits:
            if rows:
                a = aggregate(rows)
                lines.append(f"| {split} | " + " | ".join(_f(a["trap_max_flag_rate"].get(t), 4) for t in traps)
                             + " |")
        lines += ["", "## Worlds", "", "| world | seed | accounts | requests | adversaries (recall / attribution) "
                  "| traps (flag rate) | precision | recall | attribution | unattributed ok | max benign flag "
                  "| detect s |", "|---" * 12 + "|"]
        for _, rows in splits:
            for r in rows:
                ops = "; ".join(f"{op} {v['preset']}{'' if v['in_intel'] else ' (no intel)'} "
                                f"{_f(v['recall'], 2)} / {_f(v['attribution'], 2)}"
                                for op, v in r["operators"].items() if v["preset"] != "default")
                if any(v["preset"] == "default" for v in r["operators"].values()):
                    dflt = [v for v in r["operators"].values() if v["preset"] == "default"]
                    rec = sum(v["flagged"] for v in dflt) / sum(v["accounts"] for v in dflt)
                    ops += f"; +4 default ops {_f(rec, 2)}"
                traps_txt = "; ".join(f"{c} {_f(v['rate'], 3)}" for c, v in r["traps"].items())
                worst = f" ({r['worst_cohort']})" if r["max_benign_false_flag_rate"] else ""
                lines.append(f"| {r['world']} | {r['seed']} | {r['accounts']:,} | {r['requests']:,} | {ops} | "
                             f"{traps_txt} | {_f(r['precision'])} | {_f(r['recall'])} | "
                             f"{_f(r['attribution_accuracy'])} | {_f(r['unattributed_correct'])} | "
                             f"{_f(r['max_benign_false_flag_rate'], 4)}{worst} | {r['wall_s']} |")
        engines = sorted({r["engine"] for r in suite.values()})
        lines += ["", f"Engine commit(s): {', '.join(engines)}."]
    for text, sweep in doc.get("sweeps", {}).items():
        trap = sweep["preset"] in TRAPS
        lines += ["", f"## Sweep `{text}`", "",
                  f"Base world: seed {sweep['base']['seed']}, {POPULATION:,} default benign accounts, traps "
                  f"{', '.join(sweep['base']['traps'])}; engine {sweep['engine']}.", "",
                  f"| {sweep['knob']} | " + ("trap flag rate | " if trap else "recall | attribution | ")
                  + "precision | max benign flag |", "|---" * (4 if trap else 5) + "|"]
        for p in sweep["points"]:
            mid = f"{_f(p.get('trap_flag_rate'), 4)} | " if trap else f"{_f(p['recall'])} | {_f(p['attribution'])} | "
            lines.append(f"| {p['value']} | {mid}{_f(p['precision'])} | {_f(p['max_benign_false_flag_rate'], 4)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", help="comma-separated world names (default: the whole suite)")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--tuning-only", action="store_true", help="only the tuning worlds T01-T18")
    group.add_argument("--heldout-only", action="store_true", help="only the held-out worlds H1-H10")
    ap.add_argument("--sweep", action="append", default=[], metavar="PRESET:KNOB=v1,v2,...",
                    help="vary one knob of one preset or trap (repeatable; 'standard' runs every sweep in SWEEPS); "
                         "with --sweep and no --worlds/--*-only, no suite worlds run")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--work", default="/tmp/linkage-robustness")
    ap.add_argument("--threads", type=int, default=None, help="passed to linkage detect --threads")
    args = ap.parse_args()
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    sweeps = [s for text in args.sweep for s in (SWEEPS if text == "standard" else [text])]
    for text in sweeps:
        parse_sweep(text)  # fail before spending time on worlds
    if args.worlds:
        names = [w.strip() for w in args.worlds.split(",") if w.strip()]
        unknown = [w for w in names if w not in SUITE]
        if unknown:
            raise SystemExit(f"unknown worlds: {', '.join(unknown)} (known: {', '.join(SUITE)})")
    elif args.tuning_only:
        names = list(TUNING)
    elif args.heldout_only:
        names = list(HELD_OUT)
    else:
        names = [] if sweeps else list(SUITE)

    path = out / "robustness.json"
    doc = json.loads(path.read_text()) if path.is_file() else {}
    doc.setdefault("suite", {})
    doc.setdefault("sweeps", {})
    for name in names:
        split = "tuning" if name in TUNING else "held-out"
        row = run_world(name, SUITE[name], split, work, args.threads)
        doc["suite"][name] = row
        print(json.dumps({k: row[k] for k in ("world", "split", "precision", "recall", "attribution_accuracy",
                                               "unattributed_correct", "max_benign_false_flag_rate", "wall_s")}),
              flush=True)
        _save(doc, out)
    for text in sweeps:
        doc["sweeps"][text] = run_sweep(text, work, args.threads)
        _save(doc, out)
    print(to_markdown(doc))


def _save(doc: dict, out: Path) -> None:
    (out / "robustness.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
    (out / "robustness.md").write_text(to_markdown(doc))


if __name__ == "__main__":
    sys.exit(main())
