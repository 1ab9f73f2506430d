"""Score a detect run against a synthetic world's truth.

The questions a trust & safety lead asks of a detector, as numbers: of the
accounts it flags, how many are really operator accounts (precision)? How many
operator accounts does it find (recall), per operator? Are its rings clean
(purity)? Does it name the right operator when intel knows it, and decline to
name one when intel does not? Which benign cohort does it hurt, and how much?

Does it keep each true ring together (a true ring *split* over several flagged
rings), and apart from the others (a flagged ring that *merges* several true rings)?

Inputs are the detect output folder (``rings.json``, ``ring_members.csv``) and
``truth.csv`` (``account_id, operator, ring, cohort``; ``operator`` empty for
benign accounts; ``ring`` optional, needed for splits and merges). The world's
``intel`` table next to ``truth.csv`` tells which operators are known. ``evaluate``
is pure bookkeeping over those frames; ``format_metrics`` prints the result as a
table and ``metric_rows`` as rows for ``--format csv``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import InputError
from .safetext import csv_plain

_INTEL_SUFFIXES = (".parquet", ".csv.gz", ".csv", ".jsonl")
BENIGN = "(benign)"


def evaluate(out_dir: str | Path, truth_path: str | Path) -> dict[str, Any]:
    """Metrics of the flagged rings in ``out_dir`` against ``truth_path`` (see module doc).

    Precision is 1.0 when nothing is flagged; recall is 0.0 then. Accuracies
    with no eligible accounts are ``None``.
    """
    truth = read_truth(truth_path)
    rings, members = read_flagged(out_dir)
    intel_ops = read_intel_operators(Path(truth_path).parent)
    return score(truth, rings, members, intel_ops)


def read_truth(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such truth file")
    truth = _read_csv(path)
    missing = [c for c in ("account_id", "operator", "cohort") if c not in truth.columns]
    if missing:
        raise InputError(f"{path.name}: missing column {', '.join(missing)}")
    truth = truth.assign(account_id=truth["account_id"].str.strip(), operator=truth["operator"].str.strip())
    if "ring" in truth.columns:
        truth = truth.assign(ring=truth["ring"].str.strip())
    if truth["account_id"].duplicated().any():
        raise InputError(f"{path.name}: account_id {truth.loc[truth['account_id'].duplicated(), 'account_id'].iloc[0]} "
                         "appears more than once")
    return truth


def _read_csv(path: Path) -> pd.DataFrame:
    """A CSV file as text columns; a binary, non-UTF-8 or malformed file is one InputError naming it."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path.name}: not UTF-8 text (byte {exc.start}); is it a CSV file?") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path.name}: empty (no header row)") from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path.name}: not a readable CSV file ({first})") from None


def read_flagged(out_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Flagged rings ``(ring_id, score, operator)`` and their members ``(ring_id, account_id)``.

    Members come from ``ring_members.csv`` (restricted to rings in ``rings.json``
    when that file exists) together with each ring's ``members`` list.
    """
    out = Path(out_dir)
    rings_path, members_path = out / "rings.json", out / "ring_members.csv"
    if not rings_path.is_file() and not members_path.is_file():
        raise InputError(f"{out}: neither rings.json nor ring_members.csv found; is this a detect output folder?")
    ring_rows, member_rows = [], []
    if rings_path.is_file():
        try:
            doc = json.loads(rings_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"{rings_path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        except (UnicodeDecodeError, OSError) as exc:
            raise InputError(f"{rings_path}: cannot read it ({exc})") from None
        for ring in doc.get("rings", []):
            rid = str(ring["ring_id"])
            ring_rows.append((rid, float(ring.get("score") or 0.0), ring.get("operator") or None))
            member_rows += [(rid, str(a).strip()) for a in ring.get("members") or []]
    rings = pd.DataFrame(ring_rows, columns=["ring_id", "score", "operator"])
    if members_path.is_file():
        rm = _read_csv(members_path)
        if not {"ring_id", "account_id"} <= set(rm.columns):
            raise InputError(f"{members_path.name}: needs columns ring_id and account_id")
        rm = rm[["ring_id", "account_id"]].apply(lambda s: csv_plain(s).str.strip())  # undo formula quoting
        if rings_path.is_file():
            rm = rm[rm["ring_id"].isin(set(rings["ring_id"]))]
        else:
            rings = pd.DataFrame({"ring_id": rm["ring_id"].unique(), "score": 0.0, "operator": None})
        member_rows += list(rm.itertuples(index=False, name=None))
    members = pd.DataFrame(member_rows, columns=["ring_id", "account_id"]).drop_duplicates()
    return rings, members


def read_intel_operators(folder: Path) -> set[str] | None:
    """Operator names in the world's intel table, or None when the world has no intel table."""
    for suffix in _INTEL_SUFFIXES:
        path = folder / f"intel{suffix}"
        if path.is_file():
            if suffix == ".parquet":
                df = pd.read_parquet(path, columns=["operator"])
            elif suffix == ".jsonl":
                df = pd.read_json(path, lines=True)
            else:
                df = _read_csv(path)
            return {str(o).strip() for o in df["operator"] if str(o).strip()}
    return None


def score(truth: pd.DataFrame, rings: pd.DataFrame, members: pd.DataFrame, intel_ops: set[str] | None) -> dict[str, Any]:
    """The metrics from in-memory frames (what ``evaluate`` computes once the files are read)."""
    known = {o.casefold() for o in (intel_ops or set())}
    true_op: dict[str, str] = dict(zip(truth["account_id"], truth["operator"]))
    is_op = truth["operator"] != ""
    op_accounts = set(truth.loc[is_op, "account_id"])

    # one ring per account for attribution: the highest-scoring flagged ring it is in
    ranked = members.merge(rings, on="ring_id", how="left").sort_values(["score", "ring_id"], ascending=[False, True])
    ring_of = ranked.drop_duplicates("account_id").set_index("account_id")["operator"]
    flagged = set(members["account_id"])
    tp = flagged & op_accounts

    # purity: share of each ring's members from its dominant true class (benign is one class)
    labels = members.assign(label=members["account_id"].map(lambda a: true_op.get(a) or BENIGN))
    counts = labels.groupby(["ring_id", "label"]).size()
    sizes = counts.groupby(level=0).sum()
    purity = float(counts.groupby(level=0).max().sum() / sizes.sum()) if len(sizes) else None

    def named(acc: str) -> str | None:
        op = ring_of.get(acc)
        return None if op is None or pd.isna(op) or str(op).strip() == "" else str(op).strip()

    in_intel = [a for a in tp if true_op[a].casefold() in known]
    absent = [a for a in tp if true_op[a].casefold() not in known]
    attributed = sum(1 for a in in_intel if (named(a) or "").casefold() == true_op[a].casefold())
    declined = sum(1 for a in absent if (named(a) or "").casefold() not in known)

    per_operator: dict[str, dict[str, Any]] = {}
    for key, group in truth[is_op].groupby("operator", sort=True):
        op = str(key)
        accs = set(group["account_id"])
        hit = accs & flagged
        per_operator[op] = {"accounts": len(accs), "flagged": len(hit), "recall": len(hit) / len(accs),
                            "in_intel": op.casefold() in known}
    cohorts: dict[str, dict[str, Any]] = {}
    for cohort, group in truth[~is_op].groupby("cohort", sort=True):
        n_hit = len(set(group["account_id"]) & flagged)
        cohorts[str(cohort)] = {"accounts": len(group), "flagged": n_hit, "rate": n_hit / len(group)}
    rates: dict[str, float] = {c: v["rate"] for c, v in cohorts.items()}
    return {
        "rings_flagged": int(rings["ring_id"].nunique()) if len(rings) else int(members["ring_id"].nunique()),
        "accounts_flagged": len(flagged),
        "operator_accounts": len(op_accounts),
        "true_positives": len(tp),
        "other_accounts_flagged": len(flagged - op_accounts),
        "unknown_accounts_flagged": len(flagged - set(true_op)),
        "precision": len(tp) / len(flagged) if flagged else 1.0,
        "recall": len(tp) / len(op_accounts) if op_accounts else 0.0,
        "ring_purity": purity,
        "attribution_accuracy": attributed / len(in_intel) if in_intel else None,
        "attribution_support": len(in_intel),
        "unattributed_correct": declined / len(absent) if absent else None,
        "unattributed_support": len(absent),
        "intel_operators": sorted(intel_ops or []),
        "per_operator": per_operator,
        "benign_cohorts": cohorts,
        "benign_false_flag_rate": rates,
        "max_benign_false_flag_rate": max(rates.values()) if rates else 0.0,
        **ring_structure(truth, members),
    }


def ring_structure(truth: pd.DataFrame, members: pd.DataFrame) -> dict[str, Any]:
    """Splits and merges: true rings spread over several flagged rings, flagged rings holding several true rings.

    Only operator accounts with a true ``ring`` count (benign members are purity's business). Without a
    ``ring`` column in the truth the figures are None. A merge of two rings of one operator is told apart
    from a merge across operators: the first still names one operation, the second mixes two.
    """
    keys = ("true_rings", "true_rings_found", "true_rings_split", "flagged_rings_merged",
            "flagged_rings_merged_across_operators", "splits", "merges")
    if "ring" not in truth.columns:
        return dict.fromkeys(keys)
    ops = truth[(truth["operator"] != "") & (truth["ring"] != "")]
    placed = members.merge(ops[["account_id", "ring", "operator"]], on="account_id")
    spread = placed.groupby("ring")["ring_id"].agg(lambda s: sorted(set(s)))
    held = placed.groupby("ring_id").agg(rings=("ring", lambda s: sorted(set(s))),
                                        operators=("operator", "nunique"))
    splits = {str(t): list(f) for t, f in spread.items() if len(f) > 1}
    merged = held[held["rings"].map(len) > 1]
    return {
        "true_rings": int(ops["ring"].nunique()),
        "true_rings_found": int(len(spread)),
        "true_rings_split": len(splits),
        "flagged_rings_merged": int(len(merged)),
        "flagged_rings_merged_across_operators": int((merged["operators"] > 1).sum()),
        "splits": dict(sorted(splits.items())),
        "merges": {str(r): list(t) for r, t in sorted(merged["rings"].items())},
    }


def _num(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def format_metrics(metrics: dict[str, Any]) -> str:
    """A readable multi-line table of ``evaluate``'s result."""
    m = metrics
    found = min(m["true_positives"], m["operator_accounts"])  # distinct accounts, never more than the truth holds
    lines = [
        f"{'rings flagged':<28}{m['rings_flagged']:>10,}",
        f"{'accounts flagged':<28}{m['accounts_flagged']:>10,}   ({found:,} of the {m['operator_accounts']:,} "
        f"operator accounts, {m['other_accounts_flagged']:,} other{'s' if m['other_accounts_flagged'] != 1 else ''})",
        f"{'precision':<28}{_num(m['precision']):>10}   ({m['true_positives']:,} true operator accounts flagged)",
        f"{'recall':<28}{_num(m['recall']):>10}",
        f"{'ring purity':<28}{_num(m['ring_purity']):>10}",
        f"{'attribution accuracy':<28}{_num(m['attribution_accuracy']):>10}   "
        f"(n={m['attribution_support']:,} flagged accounts of intel operators)",
        f"{'unattributed correct':<28}{_num(m['unattributed_correct']):>10}   "
        f"(n={m['unattributed_support']:,} flagged accounts of operators absent from intel)",
    ]
    lines += _structure_lines(m)
    lines += ["", f"{'operator':<28}{'accounts':>10}{'flagged':>10}{'recall':>9}  intel"]
    for op, v in m["per_operator"].items():
        lines.append(f"  {op:<26}{v['accounts']:>10,}{v['flagged']:>10,}{_num(v['recall']):>9}  "
                     f"{'yes' if v['in_intel'] else 'no'}")
    lines += ["", f"{'benign cohort':<28}{'accounts':>10}{'flagged':>10}{'rate':>9}"]
    for cohort, v in m["benign_cohorts"].items():
        lines.append(f"  {cohort:<26}{v['accounts']:>10,}{v['flagged']:>10,}{_num(v['rate'], 4):>9}")
    worst = max(m["benign_false_flag_rate"], key=m["benign_false_flag_rate"].get, default=None)
    lines.append(f"{'max benign false-flag rate':<28}{_num(m['max_benign_false_flag_rate'], 4):>10}"
                 + (f"   ({worst})" if worst else ""))
    if m.get("unknown_accounts_flagged"):
        lines.append(f"note: {m['unknown_accounts_flagged']:,} flagged account ids are not in truth "
                     "(counted as benign)")
    return "\n".join(lines)


def _structure_lines(m: dict[str, Any], shown: int = 10) -> list[str]:
    """Splits and merges, with the rings involved (the first ``shown`` of each)."""
    if m.get("true_rings") is None:
        return [f"{'splits and merges':<28}{'n/a':>10}   (truth.csv has no ring column)"]
    merged, across = m["flagged_rings_merged"], m["flagged_rings_merged_across_operators"]
    lines = [
        f"{'true rings found':<28}{m['true_rings_found']:>10,}   of {m['true_rings']:,} "
        "(at least one account flagged)",
        f"{'true rings split':<28}{m['true_rings_split']:>10,}   (spread over several flagged rings)",
        f"{'flagged rings merged':<28}{merged:>10,}   (holding several true rings; {across:,} of them "
        "across operators)",
    ]
    for true_ring, flagged in list(m["splits"].items())[:shown]:
        lines.append(f"  split  {true_ring} → {', '.join(flagged)}")
    for ring_id, true_rings in list(m["merges"].items())[:shown]:
        lines.append(f"  merge  {ring_id} ← {', '.join(true_rings)}")
    return lines


def metric_rows(metrics: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    """``evaluate``'s result as ``{"metric", "value"}`` rows (nested keys joined by '.'), for ``--format csv``."""
    rows = []
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows += metric_rows(value, name + ".")
        else:
            rows.append({"metric": name, "value": value})
    return rows
