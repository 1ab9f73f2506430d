"""Benign institutions: companies and campuses, where dense honest sharing is the norm.

A verified company shares billing, office egress, internal prompt templates and
cloud egress for its API-heavy staff, and onboards whole teams in an hour. A
campus puts hundreds of students behind a few NAT addresses and a lab of shared
machines, hands a class one assignment text, and sees a sign-up rush at term
start. Both are dense, multi-signal clusters: exactly what a ring detector must
learn to leave alone (companies carry a verified ``org_id``; campuses do not).
"""

from __future__ import annotations

import numpy as np

from .benign import SDK_WEIGHTS, lognormal, pay_own, sdk_devices
from .people import leases, localparts, residential_asn, signup_times, spread_burst
from .plan import DAY, GEN_CLASS, GEN_CODING, GEN_GENERAL, GEN_ORG, T0, T1, Plan, groups_of, hash64, hex_tokens, ragged
from .prompts import ORG_TEMPLATES
from .vocab import (
    ASSIGNMENTS,
    BROWSER_UAS,
    CLOUD_ASNS_DEV,
    CLOUD_WEIGHTS_DEV,
    CONSUMER_BINS,
    CORPORATE_BINS,
    COURSES,
    EDU_ASNS,
    MOBILE_UAS,
    OFFICE_ASNS,
    ORG_STEMS,
    ORG_SUFFIXES,
    UNIVERSITIES,
)


def group_sizes(rng: np.random.Generator, n: int, lo: int, hi: int, median: float) -> np.ndarray:
    """Split ``n`` into groups of ``lo..hi`` (lognormal around ``median``); tiny worlds get one smaller group."""
    sizes, left = [], n
    while left > 0:
        s = int(np.clip(rng.lognormal(np.log(median), 0.6), lo, hi))
        s = left if left - s < lo else s
        sizes.append(s)
        left -= s
    return np.array(sizes, dtype=np.int64)


def _per_group(values: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat array, offsets and lengths of a list of per-group arrays."""
    lens = np.array([len(v) for v in values], dtype=np.int64)
    return np.concatenate(values), np.cumsum(lens) - lens, lens


def company(plan: Plan, n: int, kn: dict) -> np.ndarray:
    """Verified organisations of 10-200 staff (see module doc)."""
    rng = plan.rng
    sizes = group_sizes(rng, n, 10, 200, 45)
    nc = len(sizes)
    org = np.repeat(np.arange(nc), sizes)
    stems = ORG_STEMS[rng.permutation(len(ORG_STEMS))[np.arange(nc) % len(ORG_STEMS)]]
    suffix = ORG_SUFFIXES[rng.integers(len(ORG_SUFFIXES), size=nc)]
    serial = np.arange(nc) // len(ORG_STEMS)
    domains = stems + np.where(serial > 0, serial.astype(str).astype(object), "") + "-" + suffix + ".com"
    org_ids = hex_tokens("org_", hash64(np.arange(nc), plan.seed + 977))
    office_countries = np.array(sorted(set(OFFICE_ASNS.values())), dtype=object)
    country = office_countries[rng.integers(len(office_countries), size=nc)]
    offices, clouds = [], []
    first_prompt = len(plan.org_prompts)
    for c in range(nc):  # a loop per company: allocate its own networks and templates
        asns = [a for a, cc in OFFICE_ASNS.items() if cc == country[c]]
        offices.append(plan.new_ips(asns[rng.integers(len(asns))], int(rng.integers(1, 4))))
        cloud_asn = CLOUD_ASNS_DEV[rng.choice(len(CLOUD_ASNS_DEV), p=CLOUD_WEIGHTS_DEV)]
        clouds.append(plan.new_ips(cloud_asn, int(rng.integers(1, 5))))
        name = f"{stems[c].capitalize()} {suffix[c].capitalize()}"
        chosen = rng.permutation(len(ORG_TEMPLATES))[:2]
        plan.org_prompts.append(np.array([ORG_TEMPLATES[t].format(org=name) for t in chosen], dtype=object))
    office_flat, office_off, n_office = _per_group(offices)
    cloud_flat, cloud_off, n_cloud = _per_group(clouds)

    staff_country = country[org]
    api = rng.random(n) < kn["company_api_share"]
    wfh = rng.random(n) < 0.4
    home = leases(plan, residential_asn(rng, staff_country), np.ones(n, dtype=np.int64), kn["dynamic_ip_reuse"])
    ip_len = np.where(api, n_cloud[org], n_office[org] + wfh)
    rows, pos = ragged(ip_len)
    o = org[rows]
    office_ip = office_flat[office_off[o] + np.minimum(pos, n_office[o] - 1)]
    cloud_ip = cloud_flat[cloud_off[o] + np.minimum(pos, n_cloud[o] - 1)]
    ip_flat = np.where(api[rows], cloud_ip, np.where(pos < n_office[o], office_ip, home[rows]))

    dev_len = np.where(api, 1, 1 + (rng.random(n) < 0.3))
    rows, _ = ragged(dev_len)
    sdk = sdk_devices(plan)[rng.choice(len(SDK_WEIGHTS), size=n, p=SDK_WEIGHTS)]
    dev_flat = np.where(api[rows], sdk[rows], plan.new_browsers(len(rows), BROWSER_UAS))

    created = np.where(rng.random(n) < 0.85, T0 - (rng.random(n) * 300 * DAY),
                       T0 + rng.random(n) * 60 * DAY).astype(np.int64)
    onboard = np.flatnonzero(rng.random(n) < 0.2)  # a team onboarded together, within the hour
    batch = groups_of(rng, len(onboard), 5, 15)
    if len(batch):
        starts = (T0 - rng.random(batch.max() + 1) * 200 * DAY).astype(np.int64)
        created[onboard] = spread_burst(rng, batch, starts, np.full(batch.max() + 1, 3600))
    weight = lognormal(rng, n, 1.0, 0.8) * np.where(api, rng.uniform(5, 15, size=n), 1.0)
    acc = plan.add(n, cohort="company", created=created, email=localparts(rng, n) + "@" + domains[org],
                   org_id=org_ids[org], country=staff_country, weight=weight,
                   ip_menu=(ip_len, ip_flat), dev_menu=(dev_len, dev_flat),
                   pgen=GEN_ORG, pparam=first_prompt + org, pshare=np.where(api, 0.2, 0.5),
                   base_gen=np.where(api | (rng.random(n) < 0.4), GEN_CODING, GEN_GENERAL), diurnal=~api)
    cards_per = rng.integers(1, 3, size=nc)
    cards = plan.new_instruments(int(cards_per.sum()), "card",
                                 CORPORATE_BINS[rng.integers(len(CORPORATE_BINS), size=int(cards_per.sum()))])
    pick = (np.cumsum(cards_per) - cards_per)[org] + (rng.random(n) * cards_per[org]).astype(np.int64)
    payers = rng.random(n) < 0.8
    plan.pay(acc[payers], cards[pick[payers]])
    return acc


def campus(plan: Plan, n: int, kn: dict) -> np.ndarray:
    """Universities of 100-400 students (see module doc); a loop per campus."""
    rng = plan.rng
    sizes = group_sizes(rng, n, 100, 400, 250) if n >= 100 else np.array([n])
    out = []
    for u, size in enumerate(sizes):
        name, domain, country = UNIVERSITIES[u % len(UNIVERSITIES)]
        if u >= len(UNIVERSITIES):
            domain = f"c{u // len(UNIVERSITIES)}.{domain}"
        edu = [a for a, c in EDU_ASNS.items() if c == country] or list(EDU_ASNS)
        out.append(_one_campus(plan, int(size), kn, domain, country, edu[u % len(edu)]))
    return np.concatenate(out)


def _one_campus(plan: Plan, n: int, kn: dict, domain: str, country: str, asn: int) -> np.ndarray:
    rng = plan.rng
    nat = plan.new_ips(asn, int(rng.integers(1, 4)))
    plan.campus_nat[domain] = nat  # research labs on this campus sit behind it too (traps.university_lab)
    labs = plan.new_browsers(max(2, int(round(n * 1.5 / kn["lab_students_per_device"]))), BROWSER_UAS[[0, 1, 5]])
    term = T0 + int(rng.uniform(-10, 20) * DAY)

    # classes sharing an assignment template
    in_class = np.flatnonzero(rng.random(n) < 0.7)
    cls = groups_of(rng, len(in_class), 30, 80)
    n_cls = int(cls.max()) + 1 if len(cls) else 0
    first_cls = len(plan.class_prompts)
    courses = COURSES[rng.integers(len(COURSES), size=n_cls)]
    for c in range(n_cls):
        text = ASSIGNMENTS[rng.integers(len(ASSIGNMENTS))].format(k=int(rng.integers(1, 9)))
        plan.class_prompts.append(f"{courses[c]} {text} My attempt: ")
    student_cls = np.full(n, -1, dtype=np.int64)
    student_cls[in_class] = cls

    # sign-ups: a rush in the days after term start, some whole classes in one hour
    created = signup_times(rng, n, during=0.0, max_age_days=500)
    rush = rng.random(n) < 0.65
    created[rush] = term + (rng.random(int(rush.sum())) * 5 * DAY).astype(np.int64)
    if n_cls:
        session = term + rng.integers(0, 5, size=n_cls) * DAY + rng.integers(9, 17, size=n_cls) * 3600
        same_hour = (student_cls >= 0) & (rng.random(n) < 0.3)
        created[same_hour] = spread_burst(rng, student_cls[same_hour], session, np.full(n_cls, 3600))
    created = np.minimum(created, T1 - 2 * DAY)

    # networks: campus NAT (listed twice, so it carries most traffic) plus a home lease for some
    has_home = rng.random(n) < 0.6
    home = leases(plan, residential_asn(rng, np.full(n, country, dtype=object)), np.ones(n, dtype=np.int64),
                  kn["dynamic_ip_reuse"])
    ip_len = 2 * len(nat) + has_home
    rows, pos = ragged(ip_len)
    ip_flat = np.where(pos < 2 * len(nat), nat[pos % len(nat)], home[rows])

    # devices: own laptop, 0-2 lab machines, sometimes a phone
    k_lab = np.where(rng.random(n) < 0.7, rng.integers(1, 3, size=n), 0)
    phone = rng.random(n) < 0.3
    dev_len = 1 + k_lab + phone
    rows, pos = ragged(dev_len)
    lab_pick = labs[rng.integers(len(labs), size=len(rows))]
    own = plan.new_browsers(n, BROWSER_UAS)
    phones = plan.new_browsers(n, MOBILE_UAS)
    dev_flat = np.where(pos == 0, own[rows], np.where(pos <= k_lab[rows], lab_pick, phones[rows]))

    acc = plan.add(n, cohort="campus", created=created, email=localparts(rng, n) + "@" + domain, country=country,
                   weight=lognormal(rng, n, 0.7, 0.9), ip_menu=(ip_len, ip_flat), dev_menu=(dev_len, dev_flat),
                   pgen=GEN_CLASS, pparam=np.maximum(student_cls, 0) + first_cls,
                   pshare=np.where(student_cls >= 0, 0.5, 0.0),
                   base_gen=np.where(rng.random(n) < 0.5, GEN_CODING, GEN_GENERAL))
    pay_own(plan, acc, 0.25, CONSUMER_BINS, 0.2)
    return acc
