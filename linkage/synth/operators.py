"""Operators: each runs several rings, each ring a batch of accounts sharing its tradecraft.

Four operators with different tradecraft, so a detector is tested on more
than one kind of ring:

- ``CRIMSON-LATHE`` (in intel): datacenter proxies, scripted harness, card batches,
  throwaway domains, sign-up bursts, tight lockstep waves, 24/7 activity.
- ``VELVET-MONSOON`` (in intel): residential proxies with moderate reuse,
  anti-detect browsers (unique fingerprints), cards shared by 2-4 accounts,
  free-mail, looser waves and bursts.
- ``GLASS-HERON`` (in intel): stealthy; paraphrased templates, one card per
  account, a residential pool reused across the ring, spread-out sign-ups,
  lower volume, partial lockstep.
- ``COPPER-TIDE`` (absent from intel): datacenter proxies on other hosting
  ASNs, harness, its own data-generation templates, cards and crypto.

Rings of one operator overlap a little (a shared proxy pool, an operator-wide
harness build or domain, a card carried over from the previous batch), which
is what lets attribution reach rings that no intel indicator touches.
"""

from __future__ import annotations

import numpy as np

from .people import countries, free_domains, localparts, residential_asn, spread_burst
from .plan import DAY, GEN_CODING, T0, T1, Plan, groups_of, pick_distinct
from .prompts import OPERATOR_TEMPLATES
from .vocab import BROWSER_UAS, HARNESS_UAS, PREPAID_BINS, PROXY_ASNS_DC, PROXY_ASNS_DC2

#: codename -> tradecraft. ``share`` of ring accounts, relative ``volume`` per account,
#: ``ips`` per account (lo, hi), ``reuse``: accounts per proxy IP, ``cards``: accounts per card (lo, hi).
OPERATORS: dict[str, dict] = {
    "CRIMSON-LATHE": dict(in_intel=True, share=0.38, volume=1.4, net="dc", asns=PROXY_ASNS_DC,
                          asn_p=(0.4, 0.25, 0.15, 0.1, 0.1), ips=(15, 40), reuse=30, devices="harness",
                          cards=(4, 15), email="throwaway", signup=(20, 60, 120, 600), lock=0.6, jitter=20,
                          diurnal=False),
    "VELVET-MONSOON": dict(in_intel=True, share=0.25, volume=1.0, net="resi", ips=(5, 15), reuse=4,
                           devices="antidetect", cards=(2, 4), email="free", signup=(5, 20, 3600, 3 * 3600),
                           lock=0.3, jitter=150, diurnal=True),
    "GLASS-HERON": dict(in_intel=True, share=0.2, volume=0.45, net="resi", ips=(6, 14), reuse=10,
                        devices="unique", cards=(1, 1), email="free", signup=None, lock=0.15, jitter=90,
                        diurnal=True),
    "COPPER-TIDE": dict(in_intel=False, share=0.17, volume=1.2, net="dc", asns=PROXY_ASNS_DC2,
                        asn_p=(0.4, 0.3, 0.2, 0.1), ips=(10, 30), reuse=20, devices="harness", cards=(3, 8),
                        crypto=0.3, email="throwaway", signup=(30, 80, 60, 300), lock=0.5, jitter=30,
                        diurnal=False),
}
OPERATOR_GEN = {name: 5 + i for i, name in enumerate(OPERATORS)}
_SYL = np.array("mail box post drop zen nova pix quik swift vex lum tor kry vel zar quo mek ryn dax fyn".split(),
                dtype=object)
_TLD = np.array([".com", ".net", ".io", ".xyz", ".site", ".online", ".top"], dtype=object)


def ring_sizes(rng: np.random.Generator, n: int, target: int, n_rings: int | None) -> np.ndarray:
    """Split an operator's ``n`` accounts into several rings of at least 8 (tens to hundreds)."""
    if n < 16:
        return np.array([n], dtype=np.int64)
    k = n_rings or max(2, int(round(n / target)))
    k = max(1, min(k, n // 8))
    sizes = 8 + rng.multinomial(n - 8 * k, rng.dirichlet(np.full(k, 3.0)))
    return sizes.astype(np.int64)


def throwaway_domains(rng: np.random.Generator, k: int) -> np.ndarray:
    return (_SYL[rng.integers(len(_SYL), size=k)] + _SYL[rng.integers(len(_SYL), size=k)]
            + rng.integers(2, 99, size=k).astype(str).astype(object) + _TLD[rng.integers(len(_TLD), size=k)])


def _proxy_pool(plan: Plan, spec: dict, n: int, benign_overlap: float) -> np.ndarray:
    """An operator's proxy exits: hosting ASNs for datacenter proxies, many ISPs for residential ones.

    Residential exits are real households' lines, so a share is drawn from the
    same ISP lease pools benign users sit in.
    """
    rng = plan.rng
    if spec["net"] == "dc":
        asn = np.array(spec["asns"])[rng.choice(len(spec["asns"]), size=n, p=spec["asn_p"])]
    else:
        asn = residential_asn(rng, countries(rng, n))
    out = np.empty(n, dtype=np.int64)
    for a in np.unique(asn):
        sel = np.flatnonzero(asn == a)
        pooled = plan.asn_pools.get(int(a))
        take = rng.random(len(sel)) < benign_overlap
        if pooled is None or spec["net"] != "resi":
            take[:] = False
        out[sel[~take]] = plan.new_ips(int(a), int((~take).sum()))
        if take.any():
            out[sel[take]] = pooled[rng.integers(len(pooled), size=int(take.sum()))]
    return out


def build(plan: Plan, name: str, n: int, kn: dict) -> None:
    """Add operator ``name`` with ``n`` accounts in several rings; record each ring's infrastructure."""
    rng = plan.rng
    spec = {**OPERATORS[name], **kn["operator_overrides"].get(name, {})}
    sizes = ring_sizes(rng, n, kn["ring_size"], kn["rings_per_operator"])
    reuse = max(1.0, spec["reuse"] * kn["proxy_reuse"])
    lo, hi = spec["ips"]
    pool_sizes = np.maximum(4, np.ceil(sizes * (lo + hi) / 2 / reuse)).astype(np.int64)
    op_pool = _proxy_pool(plan, spec, int(np.ceil(pool_sizes.sum() * 0.85)), kn["proxy_benign_overlap"])
    op_harness = plan.new_devices(plan.fingerprints(1), HARNESS_UAS[rng.integers(len(HARNESS_UAS), size=1)])
    op_domain = throwaway_domains(rng, 1)
    op_bins = PREPAID_BINS[rng.permutation(len(PREPAID_BINS))[:3]]
    plan.operators[name] = dict(in_intel=spec["in_intel"], rings=[], harness=op_harness, domain=op_domain[0])
    prev_cards = None
    for r, size in enumerate(sizes):
        ring_idx = len(plan.rings)
        label = f"{name}-r{r + 1}"
        # network: a subset of the operator pool; each account draws many of the ring's exits
        ring_pool = op_pool[rng.permutation(len(op_pool))[: min(pool_sizes[r], len(op_pool))]]
        k_ip = rng.integers(lo, hi + 1, size=size)
        ip_flat = pick_distinct(rng, ring_pool, k_ip)
        k_ip = np.minimum(k_ip, len(ring_pool))
        # devices
        if spec["devices"] == "harness":
            ring_fps = _harness(plan, int(rng.integers(1, 4)))
            k_dev = np.minimum(1 + (rng.random(size) < 0.4), len(ring_fps))
            dev_flat = pick_distinct(rng, ring_fps, k_dev)
            use_op = rng.random(size) < 0.25  # the operator-wide build, shared across rings
            dev_flat[np.cumsum(k_dev)[use_op] - 1] = op_harness[0]
        else:
            k_dev = rng.integers(1, 4, size=size) if spec["devices"] == "antidetect" else 1 + (rng.random(size) < 0.3)
            dev_flat = plan.new_browsers(int(k_dev.sum()), BROWSER_UAS)
            ring_fps = dev_flat
        # e-mail
        if spec["email"] == "throwaway":
            doms = throwaway_domains(rng, int(rng.integers(2, 5)))
            dom = np.where(rng.random(size) < 0.2, op_domain[0], doms[rng.integers(len(doms), size=size)])
            emails = localparts(rng, size, scripted=True) + "@" + dom
        else:
            doms = np.empty(0, dtype=object)
            emails = localparts(rng, size) + _digit_tail(rng, size) + "@" + free_domains(rng, size)
        created = _signups(rng, size, spec["signup"])
        retire = rng.random(size) < 0.15
        end = np.where(retire, np.minimum(T1, np.maximum(created, T0) + rng.uniform(20, 60, size) * DAY), T1)
        acc = plan.add(size, cohort="operator", operator=name, ring=label, ring_idx=ring_idx, created=created,
                       email=emails, country=countries(rng, size),
                       weight=spec["volume"] * kn["operator_volume"].get(name, 1.0) * rng.lognormal(0, 0.35, size),
                       ip_menu=(k_ip, ip_flat), dev_menu=(k_dev, dev_flat), pgen=OPERATOR_GEN[name],
                       pparam=ring_idx, pshare=0.92, base_gen=GEN_CODING,
                       lock_share=min(1.0, spec["lock"] * kn["lockstep"]), jitter=spec["jitter"],
                       diurnal=spec["diurnal"], end=end.astype(np.int64))
        cards = _cards(plan, acc, spec, op_bins, prev_cards)
        prev_cards = cards
        plan.rings.append(dict(name=label, operator=name, members=acc, ips=np.unique(ring_pool),
                               devices=np.unique(ring_fps), instruments=cards, domains=doms,
                               variant=r % len(OPERATOR_TEMPLATES[name])))
        plan.operators[name]["rings"].append(ring_idx)


def _harness(plan: Plan, k: int) -> np.ndarray:
    """``k`` scripted-client fingerprints of one ring, each with an HTTP-library user agent."""
    rng = plan.rng
    return plan.new_devices(plan.fingerprints(k), HARNESS_UAS[rng.integers(len(HARNESS_UAS), size=k)])


def _digit_tail(rng, n):
    return np.where(rng.random(n) < 0.5, rng.integers(1, 999, size=n).astype(str).astype(object), "")


def _signups(rng: np.random.Generator, n: int, burst: tuple | None) -> np.ndarray:
    """Bursts of ``lo..hi`` accounts within ``w_lo..w_hi`` seconds, or spread out when ``burst`` is None."""
    if burst is None:
        return (T0 + rng.uniform(-60, 45, size=n) * DAY).astype(np.int64)
    lo, hi, w_lo, w_hi = burst
    group = groups_of(rng, n, lo, hi)
    k = int(group.max()) + 1
    starts = (T0 + rng.uniform(-30, 50, size=k) * DAY).astype(np.int64)
    return spread_burst(rng, group, starts, rng.uniform(w_lo, w_hi, size=k))


def _cards(plan: Plan, acc: np.ndarray, spec: dict, op_bins: np.ndarray, prev: np.ndarray | None) -> np.ndarray:
    """Card batches (one BIN per batch, each card on ``lo..hi`` accounts) or one card each; some crypto."""
    rng = plan.rng
    lo, hi = spec["cards"]
    crypto = rng.random(len(acc)) < spec.get("crypto", 0.0)
    carded = acc[~crypto]
    group = groups_of(rng, len(carded), lo, hi) if hi > 1 else np.arange(len(carded))
    k = int(group.max()) + 1 if len(group) else 0
    bin_ = op_bins[rng.integers(len(op_bins))] if hi > 1 else None
    bins = np.full(k, bin_, dtype=object) if bin_ else op_bins[rng.integers(len(op_bins), size=k)]
    cards = plan.new_instruments(k, "card", bins)
    plan.pay(carded, cards[group])
    if crypto.any():
        plan.pay(acc[crypto], plan.new_instruments(int(crypto.sum()), "crypto", None))
    if prev is not None and len(prev) and hi > 1:  # leftover cards from the previous batch
        carry = acc[rng.permutation(len(acc))[:2]]
        plan.pay(carry, prev[rng.integers(len(prev), size=len(carry))])
    return cards


__all__ = ["OPERATORS", "OPERATOR_GEN", "build", "ring_sizes"]
