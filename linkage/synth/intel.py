"""Threat-intel indicators: partial, operator-level, and a little wrong, like the real thing.

For each operator marked ``in_intel`` only some of its rings are covered
(``intel_coverage``, or an adversary's own ``coverage``), so an attribution engine must carry an operator name
from a covered ring to uncovered ones through shared infrastructure and
templates. Indicators: a few member accounts, proxy IPs, devices,
instruments, throwaway domains, the proxy ASN, and prompt excerpts (10-25
words of a template, sometimes lower-cased or trimmed). Noise: stale
indicators that match nothing in the batch, and one shared-hosting ASN that
benign API developers also use. Operators not in intel get nothing.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .operators import OPERATORS
from .plan import ip_strings, payment_tokens
from .prompts import COMPILED, slot
from .traffic import Frozen
from .vocab import SHARED_HOSTING_ASN


def _some(rng, values: np.ndarray, lo: int, hi: int) -> np.ndarray:
    k = min(len(values), int(rng.integers(lo, hi + 1)))
    return values[rng.permutation(len(values))[:k]] if k else values[:0]


def excerpt(rng: np.random.Generator, template, alter: bool) -> str:
    """10-25 words of one rendered template, the window holding the most fixed (non-slot) words.

    ``alter`` lower-cases it and drops punctuation, as an analyst retyping it would.
    """
    pieces = []
    for lit, field in template:
        pieces.append((lit, True))
        if field is not None:
            pieces.append((str(slot(field, 1, rng)[0]), False))
    full = "".join(text for text, _ in pieces)
    flags = np.concatenate([np.full(len(text), fixed) for text, fixed in pieces])
    spans = [m.span() for m in re.finditer(r"\S+", full)]
    words = [full[a:b] for a, b in spans]
    fixed = [bool(flags[a:b].all()) for a, b in spans]
    k = int(rng.integers(10, min(25, len(words)) + 1))
    score = np.convolve(np.array(fixed, dtype=float), np.ones(k), mode="valid")
    best = np.flatnonzero(score == score.max())
    i = int(best[rng.integers(len(best))])
    text = " ".join(words[i:i + k])
    if alter:
        text = "".join(ch for ch in text.lower() if ch.isalnum() or ch.isspace())
    return text


def _spec(plan, op: str) -> dict:
    """An operator's tradecraft: its own record for adversaries, the fixed table for the four defaults."""
    return plan.operators[op].get("spec") or OPERATORS[op]


def build_intel(plan, frozen: Frozen, coverage: float) -> pd.DataFrame:
    """The ``intel`` table (operator, kind, value, note), rows shuffled."""
    rng = plan.rng
    rows: list[tuple[str, str, str, str]] = []
    ids = np.asarray(frozen.ids.to_pylist(), dtype=object)
    tokens = plan.instrument_table()["token"]
    in_intel = [op for op, info in plan.operators.items() if info["in_intel"]]
    for op in in_intel:
        info = plan.operators[op]
        rings = np.array(info["rings"])
        cover = info.get("coverage", coverage)  # adversaries carry their own
        k = max(1, int(round(cover * len(rings))))
        if len(rings) > 1:
            k = min(k, len(rings) - 1)  # never every ring: attribution has to generalise
        covered = rings[rng.permutation(len(rings))[:k]] if cover > 0 else rings[:0]
        for r in covered:
            ring = plan.rings[int(r)]
            case = f"case {int(rng.integers(2023, 2026))}-{int(rng.integers(100, 1000))}"
            for a in _some(rng, ring["members"], 2, 3):
                rows.append((op, "account", ids[a], f"account closed in {case}"))
            for ip in _some(rng, ring["ips"], 3, 5):
                rows.append((op, "ip", frozen.ip_str[int(ip)].as_py(), "proxy exit seen in partner report"))
            for d in _some(rng, ring["devices"], 1, 2):
                rows.append((op, "device", frozen.dev_id[int(d)].as_py(), f"client fingerprint from {case}"))
            for t in _some(rng, ring["instruments"], 1, 3):
                rows.append((op, "instrument", tokens[t], "card token from issuer chargeback list"))
            for dom in _some(rng, ring["domains"], 1, 2):
                rows.append((op, "email_domain", dom, "sign-up domain"))
            tpl = ring["template"] if "template" in ring else COMPILED[op][ring["variant"]]
            text = excerpt(rng, tpl, alter=bool(rng.random() < 0.5))
            rows.append((op, "prompt", text, "harvesting template excerpt"))
        spec = _spec(plan, op)
        if len(covered) and spec["net"] == "dc":
            rows.append((op, "asn", str(spec["asns"][0]), "proxy provider used by this operator"))
            if SHARED_HOSTING_ASN in spec["asns"]:
                rows.append((op, "asn", str(SHARED_HOSTING_ASN), "hosting provider seen in one campaign"))
    if in_intel:  # stale indicators from older cases that point at nothing in this batch
        stale_ip = ip_strings(plan.ipspace.alloc(int(_spec(plan, in_intel[0]).get("asns", (9009,))[0]), 2))
        for ip in stale_ip:
            rows.append((in_intel[0], "ip", ip, "stale: proxy exit from 2024 case"))
        stale_tok = payment_tokens(np.arange(2), plan.seed * 31 + 99991)
        rows.append((in_intel[-1], "instrument", stale_tok[0], "stale: card token, expired"))
        existing = set(ids)
        stale_acc = next(a for a in (f"acc_{int(x):08x}" for x in rng.integers(1 << 32, size=64)) if a not in existing)
        rows.append((in_intel[-1], "account", stale_acc, "stale: account from 2024 case"))
    df = pd.DataFrame(rows, columns=["operator", "kind", "value", "note"])
    return df.iloc[rng.permutation(len(df))].reset_index(drop=True)
