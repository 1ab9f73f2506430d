"""Adversary presets: operations built the way careful operators build them, to measure what a detector misses.

The four default operators (``operators.py``) are fixed. These presets are
operations with tradecraft chosen to defeat one detection habit each, and
every piece of that tradecraft is a knob, so a benchmark can turn it up
until detection breaks:

- ``stealth-pools``: many small rings, each on its own residential proxy pool,
  with its own anti-detect browser profiles, one card and one named free-mail
  address per account, sign-ups spread over days. Rings share only the
  operation's (paraphrased) templates. Defeats "rings share infrastructure".
- ``thin-operation``: one operation-wide residential pool spread so thinly that
  each account shares a few addresses with a few others, three paraphrased
  templates used by every account, modest volume. Defeats "a ring is dense".
- ``mimicry``: volume close to a regular user, sign-ups spread over weeks, a
  fresh card per account from one virtual-card issuer whose BIN also serves
  many ordinary customers. Defeats "rings are loud" and "the BIN is theirs".
- ``heavy-paraphrase``: otherwise moderate tradecraft, but every prompt is
  reworded (synonyms, dropped words, filler, reordered clauses) so exact word
  4-grams rarely survive. Defeats exact template matching.

An adversary's per-account volume is relative to a regular user's median
(``volume=1`` sends what a typical home user sends) and is added on top of the
world's request budget. Intel, when the operator is in it, covers only some of
its rings; rings with no indicator of their own are tied to covered ones only
by what the operation reuses (for ``stealth-pools``: the templates alone).
"""

from __future__ import annotations

import numpy as np

from .knobs import Knob, Preset
from .operators import throwaway_domains
from .paraphrase import one_instance, template_set
from .people import countries, free_domains, localparts, residential_asn
from .plan import DAY, GEN_CODING, GEN_SET, SPAN_DAYS, T0, T1, Plan, groups_of, pick_distinct, ragged
from .playbooks import OPERATION_SETS
from .vocab import BROWSER_UAS, CONSUMER_BINS, HARNESS_UAS, PREPAID_BINS, PROXY_ASNS_RESELLER, VIRTUAL_BINS

KNOBS: dict[str, Knob] = {
    "name": Knob("name", "operator codename in truth.csv and intel (default: the preset name in capitals)"),
    "accounts": Knob("int", "accounts in the operation", low=8),
    "rings": Knob("int", "rings in the operation (0: accounts / mean ring size)", low=0),
    "ring_size": Knob("range", "accounts per ring, LO-HI", low=2),
    "volume": Knob("float", "median requests per account, in multiples of a regular user's median", low=0.05),
    "paraphrase": Knob("share", "share of template words reworded per prompt"),
    "reorder": Knob("share", "share of prompts whose clauses are reordered"),
    "filler": Knob("share", "chance of a filler sentence at each clause boundary"),
    "template_share": Knob("share", "share of prompts drawn from the operation's templates (rest: ordinary coding)"),
    "templates": Knob("int", "template variants the operation uses", low=1, high=4),
    "favour": Knob("share", "share of a ring's templated prompts from its own variant (0: all variants alike)"),
    "template_set": Knob("int", f"operation template set 0-{len(OPERATION_SETS) - 1} (-1: a different one each)",
                         low=-1, high=len(OPERATION_SETS) - 1),
    "proxy": Knob("choice", "proxy exits on residential ISPs or on datacenter hosting",
                  choices=("residential", "datacenter")),
    "pool_scope": Knob("choice", "one proxy pool per ring, or one for the whole operation",
                       choices=("ring", "operation")),
    "pool": Knob("int", "proxy exits per pool (0: its accounts x mean IPs per account / reuse)", low=0),
    "reuse": Knob("float", "accounts per proxy exit, when pool is 0", low=0.1),
    "ips": Knob("range", "proxy exits each account uses, LO-HI", low=1),
    "benign_overlap": Knob("share", "share of residential exits that are also ordinary users' home leases"),
    "accounts_per_card": Knob("range", "accounts sharing one card, LO-HI (1: a fresh card per account)", low=1),
    "pay_rate": Knob("share", "share of accounts that pay at all"),
    "bin_share": Knob("share", "BIN concentration: share of the operation's cards from its one issuer BIN"),
    "bin_benign": Knob("share", "share of ordinary customers' cards that the operation's BIN also issued"),
    "spread": Knob("float", "days over which one ring's accounts sign up", low=0, high=80),
    "lockstep": Knob("share", "share of requests fired in ring-wide synchronous waves"),
    "jitter": Knob("int", "seconds over which one wave's requests spread", low=0),
    "diurnal": Knob("bool", "requests follow a human day in the account's time zone"),
    "devices": Knob("choice", "anti-detect browsers (fresh fingerprints) or a scripted harness per ring",
                    choices=("antidetect", "harness")),
    "device_slip": Knob("share", "share of accounts that also touch one fingerprint shared across their ring"),
    "email": Knob("choice", "named free-mail addresses, or the operation's throwaway domains",
                  choices=("free", "throwaway")),
    "retire": Knob("share", "share of accounts burned (banned, abandoned) before the batch ends"),
    "intel": Knob("bool", "the operator is in intel"),
    "coverage": Knob("share", "share of its rings that intel indicators touch (never all of them)"),
}

_COMMON = dict(name=None, rings=0, template_set=-1, pool=0, benign_overlap=0.05, pay_rate=1.0, bin_benign=0.0,
               jitter=120, retire=0.15, template_share=0.85, templates=3)

PRESET_DEFAULTS: dict[str, dict] = {
    "stealth-pools": dict(
        _COMMON, accounts=1000, ring_size=(20, 60), volume=15.0, paraphrase=0.25, reorder=0.1, filler=0.1,
        templates=4, favour=0.8, proxy="residential", pool_scope="ring", reuse=3.0, ips=(4, 10),
        accounts_per_card=(1, 1), bin_share=0.3, spread=4.0, lockstep=0.1, diurnal=True, devices="antidetect",
        device_slip=0.0, email="free", intel=True, coverage=0.4),
    "thin-operation": dict(
        _COMMON, accounts=1200, ring_size=(30, 80), volume=5.0, paraphrase=0.25, reorder=0.1, filler=0.1,
        template_share=0.9, favour=0.0, proxy="residential", pool_scope="operation", reuse=2.5, ips=(2, 5),
        accounts_per_card=(1, 1), bin_share=0.2, spread=2.0, lockstep=0.05, jitter=300, diurnal=True,
        devices="antidetect", device_slip=0.0, email="free", intel=True, coverage=0.3),
    "mimicry": dict(
        _COMMON, accounts=600, ring_size=(30, 80), volume=1.5, paraphrase=0.3, reorder=0.15, filler=0.15,
        template_share=0.6, favour=0.6, proxy="residential", pool_scope="operation", reuse=2.0, ips=(1, 3),
        benign_overlap=0.1, accounts_per_card=(1, 1), bin_share=1.0, bin_benign=0.04, spread=35.0, lockstep=0.0,
        diurnal=True, devices="antidetect", device_slip=0.0, email="free", retire=0.05, intel=False, coverage=0.4),
    "heavy-paraphrase": dict(
        _COMMON, accounts=800, ring_size=(60, 150), volume=25.0, paraphrase=0.6, reorder=0.5, filler=0.4,
        template_share=0.9, favour=0.7, proxy="residential", pool_scope="operation", reuse=6.0, ips=(5, 12),
        benign_overlap=0.03, accounts_per_card=(1, 3), bin_share=0.6, spread=0.25, lockstep=0.25, jitter=90,
        diurnal=False, devices="antidetect", device_slip=0.15, email="free", intel=True, coverage=0.5),
}
_DOCS = {
    "stealth-pools": "many 20-60-account rings, each on its own residential proxy pool and browser profiles, "
                     "one card and one free-mail address per account; rings share only paraphrased templates",
    "thin-operation": "one operation-wide residential pool spread thinly (a few shared IPs per account) and "
                      "three paraphrased templates used by every account; modest volume",
    "mimicry": "near-regular volume, sign-ups over weeks, a fresh card per account from one virtual-card BIN "
               "that also serves many ordinary customers",
    "heavy-paraphrase": "moderate tradecraft, but templates reworded so heavily that exact 4-grams rarely survive",
}
OPERATION_BINS = np.concatenate([VIRTUAL_BINS, PREPAID_BINS])


def build(plan: Plan, name: str, k: dict, tset_family: int) -> None:
    """Add one operation (``k``: resolved knob values) under operator ``name``, using template set ``tset_family``."""
    rng = plan.rng
    sizes = ring_sizes(rng, k["accounts"], k["rings"], *k["ring_size"])
    variants = OPERATION_SETS[tset_family][: k["templates"]]
    tset = len(plan.template_sets)
    tpl = template_set(variants, paraphrase=k["paraphrase"], reorder=k["reorder"], filler=k["filler"],
                       favour=k["favour"])
    plan.template_sets.append(tpl)
    lo_ip, hi_ip = k["ips"]
    op_bin = OPERATION_BINS[rng.integers(len(OPERATION_BINS))]
    op_pool = _exits(plan, _pool_size(k, int(sizes.sum())), k) if k["pool_scope"] == "operation" else None
    op_domain = throwaway_domains(rng, 1)[0]
    starts = T0 + rng.uniform(-25, max(-24.0, SPAN_DAYS - 3 - k["spread"]), size=len(sizes)) * DAY
    rings = []
    for r, size in enumerate(sizes):
        ring_idx = len(plan.rings)
        label = f"{name}-r{r + 1}"
        pool = op_pool if op_pool is not None else _exits(plan, _pool_size(k, int(size)), k)
        k_ip = np.minimum(rng.integers(lo_ip, hi_ip + 1, size=size), len(pool))
        ip_flat = pick_distinct(rng, pool, k_ip)
        dev_len, dev_flat = _devices(plan, int(size), k)
        emails, domains = _emails(rng, int(size), k["email"], op_domain)
        created = np.minimum(starts[r] + rng.random(size) * k["spread"] * DAY, T1 - 2 * DAY).astype(np.int64)
        retire = rng.random(size) < k["retire"]
        end = np.where(retire, np.minimum(T1, np.maximum(created, T0) + rng.uniform(15, 60, size) * DAY), T1)
        variant = r % len(variants)
        acc = plan.add(int(size), cohort="operator", operator=name, ring=label, ring_idx=ring_idx, created=created,
                       email=emails, country=countries(rng, int(size)),
                       weight=k["volume"] * rng.lognormal(0.0, 0.4, size), ip_menu=(k_ip, ip_flat),
                       dev_menu=(dev_len, dev_flat), pgen=GEN_SET, tset=tset, tvariant=variant, pparam=ring_idx,
                       pshare=k["template_share"], base_gen=GEN_CODING, lock_share=k["lockstep"],
                       jitter=k["jitter"], diurnal=k["diurnal"], end=end.astype(np.int64), regular_scale=True)
        cards = _cards(plan, acc, k, op_bin)
        plan.rings.append(dict(name=label, operator=name, members=acc, ips=np.unique(ip_flat),
                               devices=np.unique(dev_flat), instruments=cards, domains=domains, variant=variant,
                               template=one_instance(tpl.variants[variant], rng, k["paraphrase"])))
        rings.append(ring_idx)
    net = "dc" if k["proxy"] == "datacenter" else "resi"
    plan.operators[name] = dict(in_intel=k["intel"], rings=rings, coverage=k["coverage"],
                                spec=dict(net=net, asns=PROXY_ASNS_RESELLER) if net == "dc" else dict(net=net),
                                bin=op_bin)
    if k["bin_benign"] > 0:
        _share_bin(plan, op_bin, k["bin_benign"])


def ring_sizes(rng: np.random.Generator, accounts: int, rings: int, lo: int, hi: int) -> np.ndarray:
    """Split ``accounts`` into rings of about ``lo..hi`` (their number from the mean size unless given)."""
    k = rings or max(1, int(round(accounts / ((lo + hi) / 2))))
    k = min(k, accounts // 2)
    raw = rng.integers(lo, hi + 1, size=k).astype(float)
    sizes = np.floor(raw / raw.sum() * accounts).astype(np.int64)
    sizes[np.argsort(-(raw / raw.sum() * accounts - sizes), kind="stable")[: accounts - sizes.sum()]] += 1
    return np.maximum(sizes, 1)


def _pool_size(k: dict, accounts: int) -> int:
    if k["pool"]:
        return int(k["pool"])
    return max(4, int(np.ceil(accounts * (k["ips"][0] + k["ips"][1]) / 2 / k["reuse"])))


def _exits(plan: Plan, n: int, k: dict) -> np.ndarray:
    """``n`` proxy exits: residential leases across many ISPs and countries, or reseller datacenter ranges.

    Residential proxies are real households' connections, so a ``benign_overlap``
    share of them are addresses ordinary users of the same ISP also hold.
    """
    rng = plan.rng
    if k["proxy"] == "datacenter":
        asns = np.array(PROXY_ASNS_RESELLER)
        asn = asns[rng.integers(len(asns), size=n)]
    else:
        asn = residential_asn(rng, countries(rng, n))
    out = np.empty(n, dtype=np.int64)
    for a in np.unique(asn):
        sel = np.flatnonzero(asn == a)
        pooled = plan.asn_pools.get(int(a))
        take = rng.random(len(sel)) < k["benign_overlap"]
        if pooled is None or k["proxy"] != "residential":
            take[:] = False
        if (~take).any():
            out[sel[~take]] = plan.new_ips(int(a), int((~take).sum()))
        if take.any():
            out[sel[take]] = pooled[rng.integers(len(pooled), size=int(take.sum()))]
    return np.unique(out)


def _devices(plan: Plan, n: int, k: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per-account device menus: fresh anti-detect profiles or the ring's harness, plus an optional slip."""
    rng = plan.rng
    if k["devices"] == "harness":
        m = int(rng.integers(1, 4))
        fps = plan.new_devices(plan.fingerprints(m), HARNESS_UAS[rng.integers(len(HARNESS_UAS), size=m)])
        own_len = np.minimum(1 + (rng.random(n) < 0.4), len(fps))
        own = pick_distinct(rng, fps, own_len)
    else:
        own_len = rng.integers(1, 4, size=n)
        own = plan.new_browsers(int(own_len.sum()), BROWSER_UAS)
    slip = rng.random(n) < k["device_slip"]
    if not slip.any():
        return own_len, own
    shared = plan.new_browsers(1, BROWSER_UAS)[0]
    lengths = own_len + slip
    rows, pos = ragged(lengths)
    is_shared = pos == own_len[rows]
    flat = np.empty(len(rows), dtype=np.int64)
    flat[~is_shared] = own
    flat[is_shared] = shared
    return lengths, flat


def _emails(rng: np.random.Generator, n: int, kind: str, op_domain: str) -> tuple[np.ndarray, np.ndarray]:
    if kind == "throwaway":
        doms = throwaway_domains(rng, int(rng.integers(2, 5)))
        dom = np.where(rng.random(n) < 0.2, op_domain, doms[rng.integers(len(doms), size=n)])
        return localparts(rng, n, scripted=True) + "@" + dom, np.unique(np.append(doms, op_domain))
    tail = np.where(rng.random(n) < 0.5, rng.integers(1, 999, size=n).astype(str).astype(object), "")
    return localparts(rng, n) + tail + "@" + free_domains(rng, n), np.empty(0, dtype=object)


def _cards(plan: Plan, acc: np.ndarray, k: dict, op_bin: str) -> np.ndarray:
    """Cards for the paying accounts: ``accounts_per_card`` per card, a ``bin_share`` of them on the operation's BIN."""
    rng = plan.rng
    payers = acc[rng.random(len(acc)) < k["pay_rate"]]
    if not len(payers):
        return np.empty(0, dtype=np.int64)
    lo, hi = k["accounts_per_card"]
    group = groups_of(rng, len(payers), lo, hi) if hi > 1 else np.arange(len(payers))
    n = int(group.max()) + 1
    bins = np.where(rng.random(n) < k["bin_share"], op_bin, CONSUMER_BINS[rng.integers(len(CONSUMER_BINS), size=n)])
    cards = plan.new_instruments(n, "card", bins)
    plan.pay(payers, cards[group])
    return cards


def _share_bin(plan: Plan, op_bin: str, share: float) -> None:
    """Re-issue a ``share`` of ordinary customers' cards under the operation's BIN (one issuer, many customers)."""
    cols = plan.columns()
    benign = np.flatnonzero((cols["operator"] == "") & (cols["org_id"] == ""))
    cards = plan.cards_of(benign)
    chosen = cards[plan.rng.random(len(cards)) < share]
    if len(chosen):
        plan.set_bins(chosen, op_bin)


PRESETS: dict[str, Preset] = {name: Preset(name, _DOCS[name], KNOBS, defaults, build)
                              for name, defaults in PRESET_DEFAULTS.items()}

__all__ = ["KNOBS", "PRESETS", "build", "ring_sizes"]
