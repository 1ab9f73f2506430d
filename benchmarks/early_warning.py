"""Early warning: replay a world one day at a time with state, and measure how soon each operator is caught.

Not a test: it reports. Run from the repository root:

    python benchmarks/early_warning.py                 # a 20,000-account world (about 40 min on 2 loaded cores)
    python benchmarks/early_warning.py --scale seed    # the 1M-account seed world (hours)

It generates a world with ``linkage synth`` (default operators), cuts it into day batches by time
(``linkage.synth.batches.split_days``: sign-ups by sign-up day, requests by day, payments with
their account), and runs ``detect(day, state=STATE)`` on each day in turn. Per operator it
reports the day on which 50% and 90% of its accounts had been flagged and the requests the
operator had sent up to the end of that day (the harvest before detection); per account, the
days from its first request to the first day it was flagged (and the share flagged within 7
days); per day, the wall time of the run and each benign cohort's false-flag rate (flagged
accounts of the cohort over its accounts signed up so far). Results:
``benchmarks/results/early_warning.{json,md,png}`` (the md holds the plot data as tables; the PNG is
drawn when matplotlib is installed: ``pip install -e '.[bench]'``; ``--plot-only`` redraws it from the JSON).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from linkage import Config, detect
from linkage.synth.batches import split_days

RESULTS = Path(__file__).parent / "results"


def _synth(world: Path, scale: str, accounts: int, seed: int) -> None:
    args = ["synth", str(world), "--seed", str(seed), "--format", "parquet"]
    args += ["--scale", "seed"] if scale == "seed" else ["--accounts", str(accounts)]
    subprocess.run([sys.executable, "-c", "from linkage.cli import main; main()", *args], check=True,
                   stdout=subprocess.DEVNULL)


def _truth_tables(world: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(truth with each account's first request day and sign-up day, requests per operator per day, days)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE TABLE truth AS SELECT * FROM read_csv('{world / 'truth.csv'}', all_varchar = true)")
    events = f"read_parquet('{world / 'events.parquet'}')"
    accounts = f"read_parquet('{world / 'accounts.parquet'}')"
    truth = con.execute(f"""
        SELECT t.account_id, nullif(t.operator, '') AS operator, t.cohort,
               CAST(CAST(a.created_at AS TIMESTAMPTZ) AS DATE) AS signup_day, f.first_day
        FROM truth t JOIN {accounts} a USING (account_id)
        LEFT JOIN (SELECT account_id, CAST(min(CAST(ts AS TIMESTAMPTZ)) AS DATE) AS first_day
                   FROM {events} GROUP BY account_id) f USING (account_id)""").df()
    per_day = con.execute(f"""
        SELECT nullif(t.operator, '') AS operator, CAST(CAST(e.ts AS TIMESTAMPTZ) AS DATE) AS day, count(*) AS requests
        FROM {events} e JOIN truth t USING (account_id) WHERE t.operator <> '' GROUP BY ALL ORDER BY ALL""").df()
    for col in ("signup_day", "first_day"):  # python dates, to compare with the batch days
        truth[col] = pd.to_datetime(truth[col]).dt.date
    per_day["day"] = pd.to_datetime(per_day["day"]).dt.date
    return truth, per_day, con.execute(f"SELECT count(*) FROM {events}").df()


def replay(work: Path, world: Path, *, window_days: int, max_days: int | None, threads: int | None) -> dict[str, Any]:
    days = split_days(world, work / "days", days=1)
    if max_days:
        days = days[:max_days]
    state = work / "state"
    shutil.rmtree(state, ignore_errors=True)
    truth, per_day, _ = _truth_tables(world)
    first_flag: dict[str, dt.date] = {}
    daily: list[dict[str, Any]] = []
    benign = truth[truth["operator"].isna()]
    cohorts = sorted(benign["cohort"].unique())
    op_accounts = {op: list(g["account_id"]) for op, g in truth[truth["operator"].notna()].groupby("operator")}
    for day, folder in days:
        out = work / "out" / day.isoformat()
        t0 = time.perf_counter()
        result = detect(folder, Config(), out=out, state=state, window_days=window_days, threads=threads)
        wall = time.perf_counter() - t0
        flagged = set(result.members["account_id"])
        statuses = [r.lineage.status for r in result.rings if r.lineage]
        new_on_known = sum(len(r.lineage.new_members) for r in result.rings
                           if r.lineage and r.lineage.status != "new")
        if result.con is not None:
            result.con.close()
        for acc in flagged:
            first_flag.setdefault(acc, day)
        known = benign[benign["signup_day"] <= day]
        rates = {}
        for cohort in cohorts:
            members = known[known["cohort"] == cohort]["account_id"]
            hit = sum(1 for a in members if a in flagged)
            rates[cohort] = round(hit / len(members), 5) if len(members) else 0.0
        daily.append({"day": day.isoformat(), "wall_s": round(wall, 2), "rings": len(result.rings),
                      "flagged": len(flagged), "new_rings": statuses.count("new"),
                      "continuing": statuses.count("continuing"), "merged": statuses.count("merged"),
                      "split": statuses.count("split"), "new_members_on_known_rings": new_on_known,
                      "false_flag_rate": rates,
                      "operator_flagged_share": {op: round(sum(1 for a in accts if a in first_flag) / len(accts), 4)
                                                 for op, accts in op_accounts.items()}})
        print(f"{day} {wall:6.1f}s rings {len(result.rings):4d} flagged {len(flagged):6d} "
              f"new-on-known {new_on_known:4d} worst benign {max(rates.values(), default=0):.4f}", flush=True)
    return _summarise(truth, per_day, first_flag, daily, window_days)


def _summarise(truth: pd.DataFrame, per_day: pd.DataFrame, first_flag: dict[str, dt.date],
               daily: list[dict[str, Any]], window_days: int) -> dict[str, Any]:
    days = [dt.date.fromisoformat(d["day"]) for d in daily]
    operators = {}
    for op, accts in truth[truth["operator"].notna()].groupby("operator"):
        n = len(accts)
        flagged_on = sorted(first_flag[a] for a in accts["account_id"] if a in first_flag)
        reqs = per_day[per_day["operator"] == op]

        def reached(share: float, flagged_on: list[dt.date] = flagged_on, n: int = n,
                    reqs: pd.DataFrame = reqs) -> dict[str, Any]:
            need = int(-(-share * n // 1))  # ceil
            if len(flagged_on) < need or need == 0:
                return {"day": None, "day_index": None, "requests_before": None}
            day = flagged_on[need - 1]
            return {"day": day.isoformat(), "day_index": days.index(day) + 1,
                    "requests_before": int(reqs[reqs["day"] <= day]["requests"].sum())}

        lags = [(first_flag[a] - f).days for a, f in zip(accts["account_id"], accts["first_day"])
                if a in first_flag and f is not None and not pd.isna(f)]
        within7 = sum(1 for x in lags if x <= 7)
        # accounts whose first request leaves 7 replayed days after it: a short replay (--days) or the
        # quarter's last week cannot show whether the others would have been flagged in time
        seen = [(a, f) for a, f in zip(accts["account_id"], accts["first_day"])
                if f is not None and not pd.isna(f) and days and (days[-1] - f).days >= 7]
        caught = sum(1 for a, f in seen if a in first_flag and (first_flag[a] - f).days <= 7)
        operators[op] = {"accounts": n, "flagged": len(flagged_on), "requests": int(reqs["requests"].sum()),
                         "p50": reached(0.5), "p90": reached(0.9),
                         "median_days_to_flag": float(pd.Series(lags).median()) if lags else None,
                         "flagged_within_7_days": round(within7 / n, 4),
                         "with_7_days_replayed": len(seen),
                         "flagged_within_7_days_of_those": round(caught / len(seen), 4) if seen else None}
    walls = [d["wall_s"] for d in daily]
    worst = {c: max(d["false_flag_rate"][c] for d in daily) for c in daily[0]["false_flag_rate"]} if daily else {}
    return {"days": len(daily), "window_days": window_days, "operators": operators,
            "wall_s": {"max": max(walls, default=0), "median": float(pd.Series(walls).median()) if walls else 0,
                       "total": round(sum(walls), 1)},
            "worst_false_flag_rate": worst, "daily": daily}


def markdown(res: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [f"# Early warning: {meta['world']} replayed day by day with state",
             "", f"{meta['accounts']:,} accounts, {meta['requests']:,} requests, {res['days']} daily batches, "
             f"state window {res['window_days']} days; measured {meta['measured']} on a shared 2-core machine.", "",
             "| operator | accounts | flagged | 50% flagged on day | requests sent by then | 90% flagged on day | "
             "requests sent by then | of all its requests | median days first request → flagged | flagged within 7 days | "
             "accounts with 7 days replayed after their first request | of those, flagged within 7 days |",
             "|---|---:|---:|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for op, o in res["operators"].items():
        def day(p: dict[str, Any]) -> str:
            return f"{p['day']} (day {p['day_index']})" if p["day"] else "not reached"

        def req(p: dict[str, Any]) -> str:
            return f"{p['requests_before']:,}" if p["requests_before"] is not None else "–"
        share = (f"{o['p90']['requests_before'] / o['requests']:.1%}" if o["p90"]["requests_before"] is not None
                 and o["requests"] else "–")
        med = o["median_days_to_flag"]
        lines.append(f"| {op} | {o['accounts']:,} | {o['flagged']:,} | {day(o['p50'])} | {req(o['p50'])} | "
                     f"{day(o['p90'])} | {req(o['p90'])} | {share} | {'–' if med is None else f'{med:g}'} | "
                     f"{o['flagged_within_7_days']:.1%} | {o.get('with_7_days_replayed', 0):,} | "
                     f"{'–' if o.get('flagged_within_7_days_of_those') is None else format(o['flagged_within_7_days_of_those'], '.1%')} |")
    w = res["wall_s"]
    lines += ["", f"Wall time per day (detect with state, outputs written): median {w['median']:.1f} s, "
              f"max {w['max']:.1f} s, total {w['total']:.0f} s.", "",
              "Worst daily false-flag rate per benign cohort: "
              + ", ".join(f"{c} {v:.4%}" for c, v in sorted(res["worst_false_flag_rate"].items())) + ".", "",
              "## Per day (the plot data)", "",
              "| day | wall s | rings | flagged | new rings | continuing | merged | split | new accounts on known rings | "
              "worst benign rate |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for d in res["daily"]:
        worst = max(d["false_flag_rate"].values(), default=0)
        lines.append(f"| {d['day']} | {d['wall_s']} | {d['rings']} | {d['flagged']:,} | {d['new_rings']} | "
                     f"{d['continuing']} | {d['merged']} | {d['split']} | {d['new_members_on_known_rings']} | "
                     f"{worst:.4%} |")
    return "\n".join(lines) + "\n"


def plot(res: dict[str, Any], path: Path) -> bool:
    """A PNG of flagged share per operator and wall time per day, when matplotlib is installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    days = [d["day"] for d in res["daily"]]
    fig, (top, mid, low) = plt.subplots(3, 1, figsize=(9, 9), sharex=True)
    for op in res["operators"]:
        top.plot(days, [d["operator_flagged_share"][op] for d in res["daily"]], label=op)
    top.axhline(0.9, color="grey", lw=0.6, ls="--")
    top.set_ylabel("share of operator's accounts flagged")
    top.legend(fontsize=8)
    for cohort in res["worst_false_flag_rate"]:
        mid.plot(days, [d["false_flag_rate"][cohort] for d in res["daily"]], label=cohort)
    mid.set_ylabel("benign false-flag rate")
    mid.legend(fontsize=7, ncol=3)
    low.bar(days, [d["wall_s"] for d in res["daily"]])
    low.set_ylabel("wall s per day")
    low.set_xticks(days[::7])
    low.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", choices=["20k", "seed"], default="20k")
    ap.add_argument("--accounts", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--window-days", type=int, default=14)
    ap.add_argument("--days", type=int, default=None, help="replay only the first N days")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--work", type=Path, default=Path("/tmp/linkage-early-warning"))
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--plot-only", action="store_true",
                    help="redraw the PNG from the results JSON already in --out, without replaying")
    args = ap.parse_args()
    stem = "early_warning" if args.scale == "20k" else "early_warning_seed"
    if args.plot_only:
        if not plot(json.loads((args.out / f"{stem}.json").read_text()), args.out / f"{stem}.png"):
            sys.exit("early_warning: --plot-only needs matplotlib (pip install -e '.[bench]')")
        print(f"wrote {args.out / (stem + '.png')}")
        return
    work = args.work / args.scale
    world = work / "world"
    if not (world / "truth.csv").exists():
        shutil.rmtree(world, ignore_errors=True)
        _synth(world, args.scale, args.accounts, args.seed)
    shutil.rmtree(work / "out", ignore_errors=True)
    res = replay(work, world, window_days=args.window_days, max_days=args.days, threads=args.threads)
    con = duckdb.connect()
    meta = {"world": f"linkage synth --seed {args.seed} " + ("--scale seed" if args.scale == "seed"
                                                              else f"--accounts {args.accounts:,}"),
            "accounts": con.execute(f"SELECT count(*) FROM read_parquet('{world / 'accounts.parquet'}')").fetchall()[0][0],
            "requests": con.execute(f"SELECT count(*) FROM read_parquet('{world / 'events.parquet'}')").fetchall()[0][0],
            "measured": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps({"meta": meta, **res}, indent=1) + "\n")
    (args.out / f"{stem}.md").write_text(markdown(res, meta))
    drawn = plot(res, args.out / f"{stem}.png")
    print(f"wrote {args.out / (stem + '.md')}" + (" and the PNG" if drawn else " (no matplotlib: no PNG)"))


if __name__ == "__main__":
    main()
