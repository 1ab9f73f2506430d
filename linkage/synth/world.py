"""``generate``: write one synthetic, adversarial world in data contract v1, plus its truth.

A world is benign cohorts (each a realistic trap for one signal) and operators
running rings (each with its own tradecraft), over 91 days from 2026-04-01.
Knobs change the mix so a detector can be checked on worlds it was not tuned
on. Everything random comes from one seed; the same seed and knobs give the
same files, byte for byte.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import ConfigError
from . import benign, institutions, operators
from .adversaries import PRESETS as ADVERSARIES
from .intel import build_intel
from .knobs import Preset, resolve
from .plan import Plan
from .playbooks import OPERATION_SETS
from .traffic import EVENT_SCHEMA, chunks, events_table, freeze, iso
from .traps import TRAPS
from .writer import FORMATS, TableWriter, write_table

COHORTS = {  # benign cohort -> (default share of benign accounts, builder, minimum size)
    "regular": (0.56, benign.regular, 1),
    "family": (0.06, benign.family, 2),
    "company": (0.12, institutions.company, 10),
    "campus": (0.10, institutions.campus, 20),
    "api_dev": (0.04, benign.api_dev, 1),
    "mobile": (0.08, benign.mobile, 1),
    "public_template": (0.025, benign.public_template, 1),
    "prepaid": (0.015, benign.prepaid, 1),
}
DEFAULT_KNOBS = dict(
    ring_share=0.05, ring_request_share=0.5, prompt_rate=0.3, cohort_mix=None, operator_mix=None,
    operator_volume={}, operator_overrides={}, ring_size=120, rings_per_operator=None, proxy_reuse=1.0,
    proxy_benign_overlap=0.02, lockstep=1.0, dynamic_ip_reuse=0.15, cgnat_accounts_per_ip=300,
    lab_students_per_device=20, company_api_share=0.05, api_dev_volume=15.0, intel_coverage=0.5,
    chunk_events=2_000_000,
)
SCALES = {
    "custom": {},
    "fixture": dict(accounts=2_000, requests=60_000),
    "seed": dict(accounts=1_000_000, requests=50_000_000, ring_share=0.025, ring_request_share=0.576),
}
ACCOUNT_SCHEMA = pa.schema([("account_id", pa.string()), ("created_at", pa.string()), ("email", pa.string()),
                            ("org_id", pa.string()), ("country", pa.string())])
PAYMENT_SCHEMA = pa.schema([("account_id", pa.string()), ("instrument_id", pa.string()),
                            ("instrument_type", pa.string()), ("bin", pa.string()), ("ts", pa.string())])
INTEL_SCHEMA = pa.schema([("operator", pa.string()), ("kind", pa.string()), ("value", pa.string()),
                          ("note", pa.string())])


def generate(out_dir, *, seed: int = 7, accounts: int = 20_000, requests: int | None = None, scale: str = "custom",
             fmt: str = "csv.gz", adversaries=(), traps=(), default_operators: bool = True, **knobs) -> str:
    """Write ``accounts``, ``events``, ``payments``, ``intel`` and ``truth.csv`` to ``out_dir``; return a summary.

    ``scale``: ``"custom"`` uses ``accounts``/``requests``; ``"fixture"`` is 2,000 accounts and
    60,000 requests; ``"seed"`` is 1,000,000 accounts and 50,000,000 requests (2.5% of accounts in
    rings sending 57.6% of requests), always written as Parquet in chunks. Presets ignore
    ``accounts``; a given ``requests`` overrides their total. ``requests=None`` means 35 per account.
    ``fmt`` is ``csv``, ``csv.gz`` or ``parquet``; ``truth.csv`` is always plain CSV. Table files of
    another format left in ``out_dir`` by an earlier run are removed (a reader refuses two files
    for one table).

    Volumes are relative weights scaled to the request budget: at the default 35 requests per
    account with rings sending half, a typical regular user sends ~7-9 requests over the 91 days,
    API developers hundreds, ring accounts hundreds to ~1,500 (seed scale). Worlds under ~700
    accounts fold operators that would get fewer than 8 accounts into the first operator.

    Knobs (defaults in ``DEFAULT_KNOBS``):

    - ``ring_share`` (0.05): share of accounts in operator rings.
    - ``ring_request_share`` (0.5): share of all requests sent by ring accounts; per-account volumes of
      every cohort are relative weights scaled to this split and to the request total.
    - ``prompt_rate`` (0.3): share of requests carrying prompt text (the rest are null/empty).
    - ``cohort_mix``: ``{cohort: share}`` overriding the benign mix (see ``COHORTS``); renormalised.
    - ``operator_mix``: ``{operator: share}`` of ring accounts; an operator given 0 is left out.
    - ``operator_volume``: ``{operator: multiplier}`` on its per-account volume weight.
    - ``operator_overrides``: ``{operator: {tradecraft key: value}}`` (see ``operators.OPERATORS``).
    - ``ring_size`` (120) / ``rings_per_operator`` (None = from ring_size, at least 2): ring layout.
    - ``proxy_reuse`` (1.0): multiplies how many ring accounts share each proxy IP.
    - ``proxy_benign_overlap`` (0.02): share of residential proxy exits that are benign users' leases.
    - ``lockstep`` (1.0): multiplies the share of ring requests fired in synchronous waves.
    - ``dynamic_ip_reuse`` (0.15): leases per pool address in residential ISPs (DHCP reassignment).
    - ``cgnat_accounts_per_ip`` (300), ``lab_students_per_device`` (20): benign hub sizes.
    - ``company_api_share`` (0.05), ``api_dev_volume`` (15.0): benign heavy users (volume relative to
      a typical regular user).
    - ``intel_coverage`` (0.5): share of an intel operator's rings that indicators touch (never all).
    - ``chunk_events`` (2,000,000): events per written chunk (bounded memory).

    Adversaries and traps (``adversaries.py``, ``traps.py``; ``docs/synth.md``) come on top of that
    population: ``adversaries`` and ``traps`` are lists of specs, each ``"NAME[:knob=value,...]"`` or
    ``(NAME, {knob: value})``. Each adversary is one more operator (cohort ``operator`` in truth.csv,
    named by its ``name`` knob, default the preset in capitals); each trap one more benign cohort named
    after it. Their accounts are added to ``accounts`` and their requests to the request budget, at
    volumes relative to a regular user. ``default_operators=False`` leaves the four default operators
    out (their request share too), so a world can hold only the adversaries. Without adversaries or traps
    a world is exactly what it was before they existed.

    Example (ring accounts are cohort ``operator`` in truth.csv, with their operator and ring)::

        >>> import tempfile
        >>> from linkage.synth import generate
        >>> summary = generate(tempfile.mkdtemp(), accounts=1500, seed=1)
        >>> print(summary.splitlines()[1])
        rings: 5.0% of accounts send 50.0% of requests; regular median 7 requests/account
    """
    started = time.perf_counter()
    if scale not in SCALES:
        raise ConfigError(f"scale must be one of {', '.join(SCALES)}, got {scale!r}")
    preset = dict(SCALES[scale])
    if scale != "custom":
        accounts = preset.pop("accounts")
        requests = preset.pop("requests") if requests is None else requests
    if scale == "seed":
        fmt = "parquet"
    unknown = set(knobs) - set(DEFAULT_KNOBS)
    if unknown:
        raise ConfigError(f"unknown synth knobs: {', '.join(sorted(unknown))} (known: {', '.join(DEFAULT_KNOBS)})")
    kn = {**DEFAULT_KNOBS, **preset, **knobs}
    _check(kn, accounts, fmt)
    trap_list = _traps(traps)
    adversary_list = _adversaries(adversaries, default_operators, seed)
    total = int(requests if requests is not None else 35 * accounts)
    if not default_operators:  # the benign population keeps its usual budget
        total = int(round(total * (1 - kn["ring_request_share"])))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stem in ("accounts", "events", "payments", "intel"):  # a reader refuses two files for one table
        for suffix in (".csv", ".csv.gz", ".parquet", ".jsonl"):
            if suffix != f".{fmt}":
                (out / f"{stem}{suffix}").unlink(missing_ok=True)

    plan = Plan(np.random.default_rng(seed), seed)
    n_ring = int(round(accounts * kn["ring_share"])) if default_operators else 0
    for cohort, n in _split(_benign_mix(kn), accounts - n_ring, {c: v[2] for c, v in COHORTS.items()}).items():
        if n:
            COHORTS[cohort][1](plan, n, kn)
    op_mix = kn["operator_mix"] or {name: spec["share"] for name, spec in operators.OPERATORS.items()}
    for name, n in (_split(op_mix, n_ring, {name: 8 for name in op_mix}).items() if default_operators else ()):
        if n:
            operators.build(plan, name, n, kn)
    for i, (trap, values, name) in enumerate(trap_list):
        with plan.stream(31, i):
            trap.build(plan, name, values, kn)
    for i, (adversary, values, name, family) in enumerate(adversary_list):
        with plan.stream(37, i):
            adversary.build(plan, name, values, family)
        plan.operators[name]["preset"] = adversary.name
    frozen = freeze(plan, total, kn["ring_request_share"], kn["prompt_rate"])

    order = frozen.order
    cols = frozen.cols
    write_table(out, "accounts", fmt, pa.table({
        "account_id": frozen.ids.take(pa.array(order)), "created_at": iso(cols["created"][order].astype(np.int64)),
        "email": _dedupe_emails(cols["email"], plan.rng)[order], "org_id": _nullable(cols["org_id"][order]),
        "country": _nullable(cols["country"][order])}, schema=ACCOUNT_SCHEMA))
    write_table(out, "payments", fmt, _payments(plan, frozen))
    n_events = 0
    with TableWriter(out, "events", fmt, EVENT_SCHEMA) as w:
        for i, block in enumerate(chunks(frozen, int(kn["chunk_events"]))):
            w.write(events_table(frozen, block, np.random.default_rng([seed, 2, i])))
        n_events = w.rows
    intel = build_intel(plan, frozen, kn["intel_coverage"])
    write_table(out, "intel", fmt, pa.Table.from_pandas(intel, preserve_index=False,
                                                        schema=None if len(intel) else INTEL_SCHEMA))
    truth = pd.DataFrame({"account_id": np.asarray(frozen.ids.take(pa.array(order))),
                          "operator": cols["operator"][order], "ring": cols["ring"][order],
                          "cohort": cols["cohort"][order]})
    truth.to_csv(out / "truth.csv", index=False)
    presets = {name: info["preset"] for name, info in plan.operators.items() if "preset" in info}
    return _summary(seed, out, fmt, frozen, truth, intel, n_events, time.perf_counter() - started, presets)


def _check(kn: dict, accounts: int, fmt: str) -> None:
    if fmt not in FORMATS:
        raise ConfigError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if accounts < 100:
        raise ConfigError(f"accounts must be at least 100, got {accounts}")
    for key in ("ring_share", "ring_request_share", "prompt_rate", "intel_coverage", "proxy_benign_overlap"):
        if not 0.0 <= float(kn[key]) <= 1.0:
            raise ConfigError(f"{key} must be in [0, 1], got {kn[key]}")
    unknown_ops = set(kn["operator_mix"] or {}) | set(kn["operator_volume"]) | set(kn["operator_overrides"])
    unknown_ops -= set(operators.OPERATORS)
    if unknown_ops:
        raise ConfigError(f"unknown operators: {', '.join(sorted(unknown_ops))} "
                          f"(known: {', '.join(operators.OPERATORS)})")


def _traps(specs) -> list[tuple[Preset, dict, str]]:
    """Resolved trap specs with their cohort names (unique, and never a default cohort's name)."""
    out, taken = [], set(COHORTS) | {"operator"}
    for spec in specs:
        trap, values = resolve(spec, TRAPS, "trap")
        name = values["name"] or _free_name(trap.name.replace("-", "_"), taken)
        if name in taken:
            raise ConfigError(f"trap {trap.name}: cohort name {name!r} is already in use")
        taken.add(name)
        out.append((trap, values, name))
    return out


def _adversaries(specs, default_operators: bool, seed: int) -> list[tuple[Preset, dict, str, int]]:
    """Resolved adversary specs with unique operator names and template sets (distinct unless pinned)."""
    resolved = [resolve(spec, ADVERSARIES, "adversary") for spec in specs]
    taken = set(operators.OPERATORS) if default_operators else set()
    for adversary, values in resolved:
        if values["name"]:
            if values["name"] in taken:
                raise ConfigError(f"adversary {adversary.name}: operator name {values['name']!r} is already in use")
            taken.add(values["name"])
    pinned = {v["template_set"] for _, v in resolved if v["template_set"] >= 0}
    free = [s for s in range(len(OPERATION_SETS)) if s not in pinned] or list(range(len(OPERATION_SETS)))
    out, auto = [], 0
    for adversary, values in resolved:
        name = values["name"] or _free_name(adversary.name.upper(), taken)
        taken.add(name)
        family = values["template_set"]
        if family < 0:
            family = free[(seed + auto) % len(free)]
            auto += 1
        out.append((adversary, values, name, family))
    return out


def _free_name(base: str, taken: set[str]) -> str:
    name, j = base, 2
    while name in taken:
        name, j = f"{base}-{j}", j + 1
    return name


def _benign_mix(kn: dict) -> dict[str, float]:
    mix = {c: v[0] for c, v in COHORTS.items()}
    if kn["cohort_mix"]:
        bad = set(kn["cohort_mix"]) - set(mix)
        if bad:
            raise ConfigError(f"unknown cohorts: {', '.join(sorted(bad))} (known: {', '.join(mix)})")
        mix.update(kn["cohort_mix"])
    return mix


def _split(shares: dict[str, float], n: int, minimum: dict[str, int]) -> dict[str, int]:
    """Largest-remainder split of ``n``; a group below its minimum size goes to the first group."""
    keys = list(shares)
    w = np.array([max(float(shares[k]), 0.0) for k in keys])
    if n <= 0 or w.sum() == 0:
        return {k: 0 for k in keys}
    x = w / w.sum() * n
    out = np.floor(x).astype(int)
    out[np.argsort(-(x - out), kind="stable")[: n - out.sum()]] += 1
    counts = dict(zip(keys, out.tolist()))
    for k in keys[1:]:
        if 0 < counts[k] < minimum.get(k, 1):
            counts[keys[0]] += counts[k]
            counts[k] = 0
    if counts[keys[0]] < minimum.get(keys[0], 1):
        counts[keys[0]] = 0
    return counts


def _nullable(values: np.ndarray) -> pa.Array:
    missing = pd.isna(values) | (values == "")
    return pa.array(np.where(missing, None, values), type=pa.string())


def _dedupe_emails(emails: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sign-up e-mails are unique on a platform: a taken address gets digits, as people do."""
    s = pd.Series(emails, dtype=object)
    for _ in range(20):  # a loop per round of collisions, not per address
        dup = s.duplicated(keep="first").to_numpy()
        if not dup.any():
            break
        parts = s[dup].str.partition("@")
        digits = rng.integers(1, 10_000, size=int(dup.sum())).astype(str).astype(object)
        s[dup] = (parts[0] + digits + "@" + parts[2]).to_numpy(dtype=object)
    return s.to_numpy(dtype=object)


def _payments(plan: Plan, frozen) -> pa.Table:
    """1-3 payment rows per (account, instrument) pair at times inside the account's window."""
    rng = plan.rng
    acc, ins = plan.payment_pairs()
    reps = rng.integers(1, 4, size=len(acc))
    acc, ins = np.repeat(acc, reps), np.repeat(ins, reps)
    start, end = frozen.start[acc], frozen.end[acc]
    ts = start + (rng.random(len(acc)) * (end - start)).astype(np.int64)
    order = np.argsort(ts, kind="stable")
    acc, ins, ts = acc[order], ins[order], ts[order]
    table = plan.instrument_table()
    return pa.table({"account_id": frozen.ids.take(pa.array(acc)),
                     "instrument_id": pa.array(table["token"][ins], type=pa.string()),
                     "instrument_type": pa.array(table["type"][ins], type=pa.string()),
                     "bin": pa.array(table["bin"][ins], type=pa.string()), "ts": iso(ts)}, schema=PAYMENT_SCHEMA)


def _summary(seed, out, fmt, frozen, truth, intel, n_events, seconds, presets) -> str:
    n_req = frozen.n_req[frozen.order]
    truth = truth.assign(requests=n_req)
    ring = truth["operator"] != ""
    lines = [f"world seed={seed}: {len(truth):,} accounts, {n_events:,} requests, 91 days from 2026-04-01 "
             f"-> {out} ({fmt})",
             f"rings: {ring.mean():.1%} of accounts send {truth.loc[ring, 'requests'].sum() / max(n_events, 1):.1%} "
             f"of requests; regular median {int(truth.loc[truth.cohort == 'regular', 'requests'].median() or 0)} "
             f"requests/account"]
    cohorts = truth[~ring].groupby("cohort", sort=False)["requests"].agg(["size", "sum"])
    lines.append("benign: " + ", ".join(f"{c} {int(r['size']):,} ({int(r['sum']):,} req)"
                                        for c, r in cohorts.iterrows()))
    named = set(intel["operator"])
    for op, g in truth[ring].groupby("operator", sort=False):
        kind = f" ({presets[op]})" if op in presets else ""
        lines.append(f"operator {op}{kind}{' [intel]' if op in named else ' [not in intel]'}: {g['ring'].nunique()} rings, "
                     f"{len(g):,} accounts, {int(g['requests'].sum()):,} requests "
                     f"(median {int(g['requests'].median())}/account)")
    lines.append(f"intel: {len(intel)} indicators for {len(named)} operators; wrote in {seconds:.1f}s")
    return "\n".join(lines)


__all__ = ["generate", "COHORTS", "DEFAULT_KNOBS", "SCALES"]
