"""Benign cohorts: ordinary people whose honest sharing looks like a ring if read naively.

Every cohort is a trap for one signal family: families share a card, IP and
device; companies share billing, office IPs, templates and cloud egress;
campuses share NAT addresses, lab machines, assignment templates and sign up
in term-start bursts; API developers share SDK fingerprints and hosting ASNs;
mobile users share carrier-grade NAT; public-template users share a prompt;
prepaid users share operators' card issuers. A detector that flags any of them
is reading one signal, not a ring.

Each function adds one cohort to the plan with a handful of vectorised calls.
Volume ``weight`` is relative (a typical regular user is 1); the world scales
all weights to the requested request total.
"""

from __future__ import annotations

import numpy as np

from .people import countries, free_domains, leases, localparts, residential_asn, signup_times
from .plan import GEN_CODING, GEN_GENERAL, GEN_PUBLIC, Plan, groups_of, pick_distinct
from .vocab import (
    BROWSER_UAS,
    CLOUD_ASNS_DEV,
    CLOUD_WEIGHTS_DEV,
    CONSUMER_BINS,
    FIRST,
    LAST,
    MOBILE_ASNS,
    MOBILE_UAS,
    PREPAID_BINS,
    SDKS,
)

ALL_UAS = np.concatenate([BROWSER_UAS, BROWSER_UAS, MOBILE_UAS])
TLDS = np.array([".dev", ".io", ".me", ".net", ".com"], dtype=object)
SDK_WEIGHTS = np.array([w for _, _, w in SDKS]) / sum(w for _, _, w in SDKS)


def lognormal(rng, n, median=1.0, sigma=1.0):
    return median * rng.lognormal(0.0, sigma, size=n)


def _own_devices(plan: Plan, k: np.ndarray, uas=ALL_UAS) -> tuple[np.ndarray, np.ndarray]:
    return k, plan.new_browsers(int(k.sum()), uas)


def pay_own(plan: Plan, accounts: np.ndarray, rate: float, bins: np.ndarray, wallet_share: float = 0.15) -> None:
    """Each paying account gets its own card (or wallet): no sharing."""
    rng = plan.rng
    payers = accounts[rng.random(len(accounts)) < rate]
    wallet = rng.random(len(payers)) < wallet_share
    n_cards = int((~wallet).sum())
    if n_cards:
        plan.pay(payers[~wallet], plan.new_instruments(n_cards, "card", bins[rng.integers(len(bins), size=n_cards)]))
    if wallet.any():
        plan.pay(payers[wallet], plan.new_instruments(int(wallet.sum()), "wallet", None))


def _emails(rng, n: int, free_share: float = 1.0, last: np.ndarray | None = None) -> np.ndarray:
    """Mostly free-mail; the rest on a personal domain of their own (``garciaj42.dev``)."""
    initial = FIRST[rng.integers(len(FIRST), size=n)].astype("U1").astype(object)
    personal = (LAST[rng.integers(len(LAST), size=n)] + initial + rng.integers(10, 99, size=n).astype(str).astype(object)
                + TLDS[rng.integers(len(TLDS), size=n)])
    domain = np.where(rng.random(n) < free_share, free_domains(rng, n), personal)
    return localparts(rng, n, last=last) + "@" + domain


def regular(plan: Plan, n: int, kn: dict, *, cohort: str = "regular", pgen: int = GEN_GENERAL,
            pshare: float = 0.0, bins: np.ndarray = CONSUMER_BINS, pay_rate: float = 0.5) -> np.ndarray:
    """Home users on a residential ISP with dynamic leases; the base for public_template and prepaid."""
    rng = plan.rng
    country = countries(rng, n)
    k_ip = 1 + (rng.random(n) < 0.35) + (rng.random(n) < 0.1)
    ip_flat = leases(plan, residential_asn(rng, country), k_ip, kn["dynamic_ip_reuse"])
    weight = lognormal(rng, n, 1.0, 0.8)
    power = rng.random(n) < 0.005  # a few power users in the hundreds or thousands
    weight[power] *= rng.uniform(15, 60, size=int(power.sum()))
    acc = plan.add(n, cohort=cohort, created=signup_times(rng, n), email=_emails(rng, n, 0.88), country=country,
                   weight=weight, ip_menu=(k_ip, ip_flat), ip_seq=True,
                   dev_menu=_own_devices(plan, 1 + (rng.random(n) < 0.4)),
                   pgen=pgen, pshare=pshare, base_gen=np.where(rng.random(n) < 0.3, GEN_CODING, GEN_GENERAL))
    is_prepaid = cohort == "prepaid"
    pay_own(plan, acc, 1.0 if is_prepaid else pay_rate, bins, 0.0 if is_prepaid else 0.15)
    return acc


def public_template(plan: Plan, n: int, kn: dict) -> np.ndarray:
    """Regular users who paste a popular public prompt template with their own code appended."""
    return regular(plan, n, kn, cohort="public_template", pgen=GEN_PUBLIC, pshare=0.6)


def prepaid(plan: Plan, n: int, kn: dict) -> np.ndarray:
    """Regular users paying with prepaid cards from the very issuers (BINs) operators buy from."""
    return regular(plan, n, kn, cohort="prepaid", bins=PREPAID_BINS)


def family(plan: Plan, n: int, kn: dict) -> np.ndarray:
    """Households of 2-5: one card, one home IP (sometimes a second lease), often one shared device."""
    rng = plan.rng
    fam = groups_of(rng, n, 2, 5)
    nf = int(fam.max()) + 1
    f_country = countries(rng, nf)
    f_asn = residential_asn(rng, f_country)
    home, second = np.empty(nf, dtype=np.int64), np.empty(nf, dtype=np.int64)
    for a in np.unique(f_asn):
        sel = np.flatnonzero(f_asn == a)
        ips = plan.new_ips(int(a), 2 * len(sel))
        home[sel], second[sel] = ips[: len(sel)], ips[len(sel):]
    moved = (rng.random(nf) < 0.3)[fam]
    ip_flat = _interleave(home[fam], second[fam], moved)
    shared_dev = plan.new_browsers(nf, ALL_UAS)
    has_shared = (rng.random(nf) < 0.6)[fam]
    dev_flat = _interleave(plan.new_browsers(n, ALL_UAS), shared_dev[fam], has_shared)
    surname = LAST[rng.integers(len(LAST), size=nf)]
    acc = plan.add(n, cohort="family", created=signup_times(rng, n), email=_emails(rng, n, 1.0, surname[fam]),
                   country=f_country[fam], weight=lognormal(rng, n, 0.8, 1.0),
                   ip_menu=(1 + moved, ip_flat), ip_seq=True, dev_menu=(1 + has_shared, dev_flat))
    payers = (rng.random(nf) < 0.85)[fam]
    cards = plan.new_instruments(nf, "card", CONSUMER_BINS[rng.integers(len(CONSUMER_BINS), size=nf)])
    plan.pay(acc[payers], cards[fam[payers]])
    return acc


def _interleave(first: np.ndarray, second: np.ndarray, keep_second: np.ndarray) -> np.ndarray:
    """Flat menu ``[first_i, (second_i if keep_second_i)]`` for every row i."""
    both = np.stack([first, second], axis=1).ravel()
    return both[np.stack([np.ones(len(first), bool), keep_second], axis=1).ravel()]


def sdk_devices(plan: Plan) -> np.ndarray:
    """The official SDK fingerprints, created once per world: each is shared by thousands of accounts."""
    if plan.sdk_idx is None:
        plan.sdk_idx = plan.new_devices(np.array([d for d, _, _ in SDKS], dtype=object),
                                        np.array([u for _, u, _ in SDKS], dtype=object))
    return plan.sdk_idx


def cloud_ips(plan: Plan, k: np.ndarray) -> np.ndarray:
    """``k[i]`` fresh hosting-ASN addresses per account (their own VMs), flat in account order."""
    asn = np.array(CLOUD_ASNS_DEV)[plan.rng.choice(len(CLOUD_ASNS_DEV), size=len(k), p=CLOUD_WEIGHTS_DEV)]
    rows = np.repeat(np.arange(len(k)), k)
    out = np.empty(len(rows), dtype=np.int64)
    for a in np.unique(asn):
        sel = np.flatnonzero(asn[rows] == a)
        out[sel] = plan.new_ips(int(a), len(sel))
    return out


def api_dev(plan: Plan, n: int, kn: dict) -> np.ndarray:
    """Developers calling the API from their own cloud VMs through official SDKs (shared fingerprints)."""
    rng = plan.rng
    sdk = sdk_devices(plan)
    k_ip = rng.integers(1, 4, size=n)
    k_sdk = 1 + (rng.random(n) < 0.35)
    console = rng.random(n) < 0.3  # also uses the web console from a browser
    sdk_flat = pick_distinct(rng, sdk, k_sdk) if n else np.empty(0, np.int64)
    dev_len = k_sdk + console
    dev_flat = np.empty(int(dev_len.sum()), dtype=np.int64)
    is_console = np.zeros(len(dev_flat), bool)
    is_console[np.cumsum(dev_len)[console] - 1] = True
    dev_flat[~is_console] = sdk_flat
    dev_flat[is_console] = plan.new_browsers(int(console.sum()), BROWSER_UAS)
    acc = plan.add(n, cohort="api_dev", created=signup_times(rng, n, during=0.08), email=_emails(rng, n, 0.6),
                   country=countries(rng, n), weight=rng.lognormal(np.log(kn["api_dev_volume"]), 0.8, size=n),
                   ip_menu=(k_ip, cloud_ips(plan, k_ip)), dev_menu=(dev_len, dev_flat),
                   base_gen=GEN_CODING, diurnal=rng.random(n) < 0.5)
    pay_own(plan, acc, 0.9, CONSUMER_BINS, 0.05)
    return acc


def mobile(plan: Plan, n: int, kn: dict) -> np.ndarray:
    """Phone users behind carrier-grade NAT: a small pool of carrier IPs shared by hundreds of accounts each."""
    rng = plan.rng
    carriers = np.array(list(MOBILE_ASNS))
    carrier = carriers[rng.integers(len(carriers), size=n)]
    k_ip = rng.integers(3, 11, size=n)
    ip_flat = np.empty(int(k_ip.sum()), dtype=np.int64)
    rows = np.repeat(np.arange(n), k_ip)
    country = np.empty(n, dtype=object)
    for a in np.unique(carrier):
        members = np.flatnonzero(carrier == a)
        country[members] = MOBILE_ASNS[int(a)]
        pool_size = max(3, int(np.ceil(k_ip[members].sum() / kn["cgnat_accounts_per_ip"])))
        pool = plan.pool(int(a), pool_size)
        sel = np.flatnonzero(carrier[rows] == a)
        ip_flat[sel] = pool[rng.integers(len(pool), size=len(sel))]
    acc = plan.add(n, cohort="mobile", created=signup_times(rng, n), email=_emails(rng, n, 1.0), country=country,
                   weight=rng.lognormal(np.log(0.7), 1.0, size=n), ip_menu=(k_ip, ip_flat),
                   dev_menu=_own_devices(plan, np.ones(n, dtype=np.int64), MOBILE_UAS))
    pay_own(plan, acc, 0.35, CONSUMER_BINS, 0.3)
    return acc
