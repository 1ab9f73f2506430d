"""Benign traps: honest groups whose sharing looks more like a ring than most rings do.

Each trap is one benign cohort, labelled in ``truth.csv`` by its own name, so
a benchmark can say which honest group a detector hurt:

- ``hackathon``: hundreds of sign-ups within two hours on one venue's wi-fi,
  the organisers' starter prompt pasted by most, a few loaner laptops passed
  around, then a day or two of heavy use and, for most, silence.
- ``eval_vendor``: a verified organisation benchmarking the model: many
  accounts provisioned at once, cloud VMs, one harness fingerprint, fixed
  benchmark prompts (coding and agentic), synchronous runs at high volume.
- ``university_lab``: research labs behind the campus NAT (the NAT of one of
  the world's campuses, shared with its students, when there is one), sharing lab
  machines, a department e-mail domain, a grant card and the lab's prompts,
  with work piling up before deadlines.
- ``households``: families, each on one home connection with one card and
  one shared laptop, often signing up the same evening.
- ``public_templates``: a public prompt library's popular entries, pasted by
  many unrelated ordinary users; the coding ones read like operator templates.

Trap volumes are relative to a regular user's median and come on top of the
world's request budget, as adversaries' do.
"""

from __future__ import annotations

import numpy as np

from .benign import pay_own
from .knobs import Knob, Preset
from .paraphrase import template_set
from .people import countries, free_domains, leases, localparts, residential_asn, signup_times
from .plan import (
    DAY,
    GEN_CODING,
    GEN_GENERAL,
    GEN_SET,
    SPAN_DAYS,
    T0,
    T1,
    Plan,
    hash64,
    hex_tokens,
    pick_distinct,
    ragged,
)
from .playbooks import EVAL_BENCHMARK, HACKATHON_STARTER, LAB_PROMPTS, PUBLIC_LIBRARY
from .vocab import (
    BROWSER_UAS,
    CLOUD_ASNS_DEV,
    CONSUMER_BINS,
    CORPORATE_BINS,
    COUNTRY_TZ_S,
    EDU_ASNS,
    EVAL_VENDORS,
    HACKATHONS,
    HARNESS_UAS,
    LAB_NAMES,
    LAST,
    MOBILE_UAS,
    UNIVERSITIES,
    VENUE_ASNS,
)

_NAME = Knob("name", "cohort name in truth.csv (default: the trap name with underscores)")


def _add_set(plan: Plan, variants: list[list[str]], **rates) -> int:
    plan.template_sets.append(template_set(variants, **rates))
    return len(plan.template_sets) - 1


def _fill(variants: list[list[str]], **names: str) -> list[list[str]]:
    """Bake names (an event, a lab) into texts, leaving the ``{slot}`` fields for rendering."""
    out = []
    for variant in variants:
        clauses = []
        for clause in variant:
            for key, value in names.items():
                clause = clause.replace("{" + key + "}", value)
            clauses.append(clause)
        out.append(clauses)
    return out


# --- hackathon -------------------------------------------------------------------------------

HACKATHON_KNOBS = {
    "name": _NAME,
    "size": Knob("int", "participants", low=10),
    "ips": Knob("int", "venue wi-fi addresses (NAT exits)", low=1),
    "window": Knob("float", "hours within which everyone signs up", low=0.1, high=48),
    "loaners": Knob("int", "loaner laptops passed around", low=0),
    "loaner_share": Knob("share", "share of participants working on a loaner"),
    "starter": Knob("share", "share of participants who paste the starter prompt"),
    "starter_share": Knob("share", "share of those participants' prompts that use it"),
    "volume": Knob("float", "median requests per participant, in multiples of a regular user's", low=0.05),
    "days": Knob("float", "days of heavy use after the start", low=0.2, high=30),
    "stay": Knob("share", "share who keep using the platform afterwards"),
    "day": Knob("int", "day of the batch the hackathon starts (-1: random)", low=-1, high=SPAN_DAYS - 3),
}


def hackathon(plan: Plan, name: str, k: dict, kn: dict) -> np.ndarray:
    """One hackathon (see module doc): a sign-up rush on venue wi-fi, then a day or two of building."""
    rng = plan.rng
    n = k["size"]
    asns = np.array(list(VENUE_ASNS))
    asn = int(asns[rng.integers(len(asns))])
    country = VENUE_ASNS[asn]
    venue = plan.new_ips(asn, k["ips"])
    day = k["day"] if k["day"] >= 0 else int(rng.integers(3, SPAN_DAYS - 10))
    start = T0 + day * DAY + 9 * 3600 - COUNTRY_TZ_S.get(country, 0)
    created = (start + rng.random(n) * k["window"] * 3600).astype(np.int64)
    stay = rng.random(n) < k["stay"]
    end = np.where(stay, T1, np.minimum(T1, created + int(k["days"] * DAY)))

    # networks: venue wi-fi for the event, then home; stayers spend most of their window at home
    home = leases(plan, residential_asn(rng, np.full(n, country, dtype=object)), np.ones(n, dtype=np.int64),
                  kn["dynamic_ip_reuse"])
    ip_len = np.where(stay, 1 + 20, 2 + 1)
    rows, pos = ragged(ip_len)
    at_venue = pos < np.where(stay, 1, 2)[rows]
    ip_flat = np.where(at_venue, venue[rng.integers(len(venue), size=len(rows))], home[rows])

    # devices: own laptop or a loaner, and a phone for some
    loaners = plan.new_browsers(max(k["loaners"], 1), BROWSER_UAS[[0, 2, 3]])
    on_loaner = (rng.random(n) < k["loaner_share"]) & (k["loaners"] > 0)
    phone = rng.random(n) < 0.4
    dev_len = 1 + phone
    rows, pos = ragged(dev_len)
    laptop = np.where(on_loaner, loaners[rng.integers(len(loaners), size=n)], plan.new_browsers(n, BROWSER_UAS))
    dev_flat = np.where(pos == 0, laptop[rows], plan.new_browsers(len(rows), MOBILE_UAS))

    event = str(HACKATHONS[rng.integers(len(HACKATHONS))])
    tset = _add_set(plan, _fill(HACKATHON_STARTER, event=f"{event} {2026}"))
    pastes = rng.random(n) < k["starter"]
    unis = np.array([d for _, d, c in UNIVERSITIES if c == country] or [UNIVERSITIES[0][1]], dtype=object)
    domain = np.where(rng.random(n) < 0.7, free_domains(rng, n), unis[rng.integers(len(unis), size=n)])
    acc = plan.add(n, cohort=name, created=created, email=localparts(rng, n) + "@" + domain, country=country,
                   weight=k["volume"] * rng.lognormal(0.0, 0.7, n), ip_menu=(ip_len, ip_flat), ip_seq=True,
                   dev_menu=(dev_len, dev_flat), pgen=GEN_SET, tset=tset, pshare=np.where(pastes, k["starter_share"], 0),
                   base_gen=np.where(rng.random(n) < 0.7, GEN_CODING, GEN_GENERAL), end=end.astype(np.int64),
                   regular_scale=True)
    pay_own(plan, acc, 0.15, CONSUMER_BINS)
    return acc


# --- evaluation vendor -----------------------------------------------------------------------

EVAL_KNOBS = {
    "name": _NAME,
    "size": Knob("int", "benchmark accounts (API keys) the vendor runs", low=2),
    "volume": Knob("float", "median requests per account, in multiples of a regular user's", low=0.05),
    "ips": Knob("int", "cloud VM addresses the harness runs from", low=1),
    "harness": Knob("int", "harness fingerprints (builds) in use", low=1),
    "lockstep": Knob("share", "share of requests fired in synchronous benchmark waves"),
    "runs": Knob("int", "benchmark campaigns (a day or two of waves each)", low=1),
    "template_share": Knob("share", "share of prompts from the benchmark frames"),
    "verified": Knob("bool", "the vendor is a verified organisation (org_id set)"),
}


def eval_vendor(plan: Plan, name: str, k: dict, kn: dict) -> np.ndarray:
    """One evaluation vendor (see module doc): the honest twin of a harvesting harness."""
    rng = plan.rng
    n = k["size"]
    vendor = str(EVAL_VENDORS[rng.integers(len(EVAL_VENDORS))])
    org_id = hex_tokens("org_", hash64(rng.integers(1 << 62, size=1), plan.seed + 4099))[0] if k["verified"] else ""
    clouds = np.array(CLOUD_ASNS_DEV[:3])  # the big three clouds
    vm_asn = clouds[rng.integers(len(clouds), size=2)]
    half = (k["ips"] + 1) // 2
    vms = np.concatenate([plan.new_ips(int(vm_asn[0]), half), plan.new_ips(int(vm_asn[1]), k["ips"] - half)])
    k_ip = np.minimum(rng.integers(1, 4, size=n), len(vms))
    ip_flat = pick_distinct(rng, vms, k_ip)
    builds = plan.new_devices(plan.fingerprints(k["harness"]), HARNESS_UAS[rng.integers(len(HARNESS_UAS),
                                                                                        size=k["harness"])])
    k_dev = np.minimum(1 + (rng.random(n) < 0.2), len(builds))
    dev_flat = pick_distinct(rng, builds, k_dev)
    provisioned = T0 - rng.uniform(5, 120) * DAY
    created = (provisioned + rng.random(n) * 3600).astype(np.int64)
    service = rng.random(n) < 0.5
    local = np.where(service, "eval-runner-" + np.arange(1, n + 1).astype(str).astype(object), localparts(rng, n))
    waves = _campaign_waves(rng, k["runs"])
    tset = _add_set(plan, EVAL_BENCHMARK)
    acc = plan.add(n, cohort=name, created=created, email=local + "@" + vendor + ".ai", org_id=org_id, country="US",
                   weight=k["volume"] * rng.lognormal(0.0, 0.3, n), ip_menu=(k_ip, ip_flat),
                   dev_menu=(k_dev, dev_flat), pgen=GEN_SET, tset=tset, pshare=k["template_share"],
                   base_gen=GEN_CODING, lock_share=k["lockstep"], jitter=20, diurnal=False, regular_scale=True)
    m = int(rng.integers(1, 3))
    cards = plan.new_instruments(m, "card", CORPORATE_BINS[rng.integers(len(CORPORATE_BINS), size=m)])
    plan.pay(acc, cards[rng.integers(len(cards), size=n)])
    plan.rings.append(dict(name=name, operator="", members=acc, ips=vms, devices=builds, instruments=cards,
                           domains=np.empty(0, dtype=object), variant=0, waves=waves))
    return acc


def _campaign_waves(rng: np.random.Generator, runs: int) -> np.ndarray:
    """Wave times of ``runs`` benchmark campaigns: one wave every few minutes for a day or two each."""
    times = []
    for day in np.sort(rng.uniform(0, SPAN_DAYS - 3, size=runs)):
        length = rng.uniform(0.5, 2.0) * DAY
        count = int(length // 240)
        times.append(T0 + int(day * DAY) + np.sort(rng.integers(0, int(length), size=count)))
    return np.sort(np.concatenate(times)).astype(np.int64)


# --- university lab --------------------------------------------------------------------------

LAB_KNOBS = {
    "name": _NAME,
    "size": Knob("int", "lab members (students, postdocs, staff) over all labs", low=4),
    "labs": Knob("int", "labs (each with its own machines and prompts)", low=1),
    "nat": Knob("int", "campus NAT addresses the labs use (at most the campus's own)", low=1),
    "machines": Knob("int", "shared lab machines per lab", low=1),
    "machine_share": Knob("share", "share of members who also work on lab machines"),
    "volume": Knob("float", "median requests per member, in multiples of a regular user's", low=0.05),
    "shared_card": Knob("share", "share of members paying with the lab's grant card"),
    "deadlines": Knob("int", "paper or assignment deadlines in the batch", low=0),
    "crunch": Knob("share", "share of requests in the days before a deadline"),
    "template_share": Knob("share", "share of prompts from the lab's shared prompts"),
}


def university_lab(plan: Plan, name: str, k: dict, kn: dict) -> np.ndarray:
    """Research labs of one department (see module doc)."""
    rng = plan.rng
    n = k["size"]
    # a university of this world when it has campuses: the labs share its NAT with every student there
    on_campus = [u for u in UNIVERSITIES if u[1] in plan.campus_nat]
    _, domain, country = (on_campus or UNIVERSITIES)[int(rng.integers(len(on_campus or UNIVERSITIES)))]
    dept = "cs." + (domain.split(".", 1)[1] if domain.count(".") >= 2 else domain)
    if domain in plan.campus_nat:
        nat = plan.campus_nat[domain][: k["nat"]]
    else:
        edu = [a for a, c in EDU_ASNS.items() if c == country] or list(EDU_ASNS)
        nat = plan.new_ips(int(edu[rng.integers(len(edu))]), k["nat"])
    labs = min(k["labs"], n)
    lab = np.sort(rng.integers(labs, size=n))
    lab[:labs] = np.arange(labs)  # every lab has a member
    lab = np.sort(lab)
    names = LAB_NAMES[rng.permutation(len(LAB_NAMES))[np.arange(labs) % len(LAB_NAMES)]]
    first_set = len(plan.template_sets)
    for j in range(labs):
        _add_set(plan, _fill(LAB_PROMPTS, lab=f"{names[j]} lab"))
    machines = plan.new_browsers(labs * k["machines"], BROWSER_UAS[[0, 5]])

    # networks: campus NAT (twice: most traffic) and a home lease for most
    has_home = rng.random(n) < 0.7
    home = leases(plan, residential_asn(rng, np.full(n, country, dtype=object)), np.ones(n, dtype=np.int64),
                  kn["dynamic_ip_reuse"])
    ip_len = 2 * len(nat) + has_home
    rows, pos = ragged(ip_len)
    ip_flat = np.where(pos < 2 * len(nat), nat[pos % len(nat)], home[rows])

    # devices: own laptop, 1-2 of the lab's machines for some
    k_m = np.where(rng.random(n) < k["machine_share"], rng.integers(1, 3, size=n), 0)
    dev_len = 1 + np.minimum(k_m, k["machines"])
    rows, pos = ragged(dev_len)
    lab_machine = machines[lab[rows] * k["machines"] + rng.integers(k["machines"], size=len(rows))]
    dev_flat = np.where(pos == 0, plan.new_browsers(n, BROWSER_UAS)[rows], lab_machine)

    term = T0 + int(rng.uniform(-40, 10) * DAY)
    created = signup_times(rng, n, during=0.0, max_age_days=700)
    cohort = rng.random(n) < 0.3  # the new intake joins in the first week of term
    created[cohort] = term + (rng.random(int(cohort.sum())) * 7 * DAY).astype(np.int64)
    waves = _deadline_waves(rng, k["deadlines"], COUNTRY_TZ_S.get(country, 0))
    acc = plan.add(n, cohort=name, created=created, email=localparts(rng, n) + "@" + dept, country=country,
                   weight=k["volume"] * rng.lognormal(0.0, 0.7, n), ip_menu=(ip_len, ip_flat),
                   dev_menu=(dev_len, dev_flat), pgen=GEN_SET, tset=first_set + lab, pshare=k["template_share"],
                   base_gen=np.where(rng.random(n) < 0.7, GEN_CODING, GEN_GENERAL),
                   lock_share=k["crunch"] if len(waves) else 0.0, jitter=5400, regular_scale=True)
    grant = plan.new_instruments(labs, "card", CORPORATE_BINS[rng.integers(len(CORPORATE_BINS), size=labs)])
    on_grant = rng.random(n) < k["shared_card"]
    plan.pay(acc[on_grant], grant[lab[on_grant]])
    pay_own(plan, acc[~on_grant], 0.4, CONSUMER_BINS)
    if len(waves):
        plan.rings.append(dict(name=name, operator="", members=acc, ips=nat, devices=machines, instruments=grant,
                               domains=np.array([dept], dtype=object), variant=0, waves=waves))
    return acc


def _deadline_waves(rng: np.random.Generator, deadlines: int, tz: int) -> np.ndarray:
    """Working sessions in the four days before each deadline, in local day and evening hours."""
    if deadlines == 0:
        return np.empty(0, dtype=np.int64)
    due = np.sort(rng.uniform(8, SPAN_DAYS - 1, size=deadlines))
    day = (due[:, None] - rng.uniform(0, 4, size=(deadlines, 150))).astype(np.int64).ravel()
    hour = rng.choice(np.r_[9:24, 0:2], size=len(day))
    t = T0 + day * DAY + hour * 3600 + rng.integers(0, 3600, size=len(day)) - tz
    return np.sort(np.clip(t, T0, T1 - 3600)).astype(np.int64)


# --- households ------------------------------------------------------------------------------

HOUSEHOLD_KNOBS = {
    "name": _NAME,
    "size": Knob("int", "accounts over all households", low=2),
    "members": Knob("range", "accounts per household, LO-HI", low=1),
    "device_share": Knob("share", "share of households sharing one laptop"),
    "card_share": Knob("share", "share of households paying with one shared card"),
    "together": Knob("share", "share of households whose members sign up the same evening"),
    "second_ip": Knob("share", "share of households that also show a second home lease"),
    "volume": Knob("float", "median requests per account, in multiples of a regular user's", low=0.05),
}


def households(plan: Plan, name: str, k: dict, kn: dict) -> np.ndarray:
    """Families on one home connection, one card and one laptop (see module doc)."""
    rng = plan.rng
    n = k["size"]
    lo, hi = k["members"]
    sizes = rng.integers(lo, hi + 1, size=n // max(lo, 1) + 1)
    fam = np.repeat(np.arange(len(sizes)), sizes)[:n]
    nf = int(fam.max()) + 1
    country = countries(rng, nf)
    asn = residential_asn(rng, country)
    home, second = np.empty(nf, dtype=np.int64), np.empty(nf, dtype=np.int64)
    for a in np.unique(asn):
        sel = np.flatnonzero(asn == a)
        ips = plan.new_ips(int(a), 2 * len(sel))
        home[sel], second[sel] = ips[: len(sel)], ips[len(sel):]
    moved = (rng.random(nf) < k["second_ip"])[fam]
    ip_len = 1 + moved
    rows, pos = ragged(ip_len)
    ip_flat = np.where(pos == 0, home[fam][rows], second[fam][rows])

    laptop = plan.new_browsers(nf, BROWSER_UAS)
    shares = (rng.random(nf) < k["device_share"])[fam]
    phone = plan.new_browsers(n, MOBILE_UAS)
    dev_len = 1 + shares
    rows, pos = ragged(dev_len)
    dev_flat = np.where(pos == 0, phone[rows], laptop[fam][rows])

    created = signup_times(rng, n)
    together = (rng.random(nf) < k["together"])[fam]
    evening = (T0 + rng.uniform(-200, SPAN_DAYS - 3, size=nf) * DAY).astype(np.int64)
    created[together] = evening[fam[together]] + rng.integers(0, 3 * 3600, size=int(together.sum()))
    surname = LAST[rng.integers(len(LAST), size=nf)]
    acc = plan.add(n, cohort=name, created=created,
                   email=localparts(rng, n, last=surname[fam]) + "@" + free_domains(rng, n), country=country[fam],
                   weight=k["volume"] * rng.lognormal(0.0, 1.0, n),
                   ip_menu=(ip_len, ip_flat), ip_seq=True, dev_menu=(dev_len, dev_flat), regular_scale=True)
    family_card = plan.new_instruments(nf, "card", CONSUMER_BINS[rng.integers(len(CONSUMER_BINS), size=nf)])
    shared = (rng.random(nf) < k["card_share"])[fam]
    plan.pay(acc[shared], family_card[fam[shared]])
    pay_own(plan, acc[~shared], 0.3, CONSUMER_BINS)
    return acc


# --- public templates ------------------------------------------------------------------------

PUBLIC_KNOBS = {
    "name": _NAME,
    "size": Knob("int", "users of the prompt library", low=1),
    "templates": Knob("int", f"library entries in use (1-{len(PUBLIC_LIBRARY)})", low=1, high=len(PUBLIC_LIBRARY)),
    "zipf": Knob("float", "popularity exponent: entry i is chosen in proportion to 1 / i^zipf", low=0),
    "share": Knob("share", "share of a user's prompts that paste the favourite entry"),
    "edit": Knob("share", "share of the entry's words a user edits"),
    "volume": Knob("float", "median requests per user, in multiples of a regular user's", low=0.05),
}


def public_templates(plan: Plan, name: str, k: dict, kn: dict) -> np.ndarray:
    """Ordinary, unrelated users pasting popular entries of a public prompt library (see module doc)."""
    rng = plan.rng
    n = k["size"]
    country = countries(rng, n)
    k_ip = 1 + (rng.random(n) < 0.35) + (rng.random(n) < 0.1)
    ip_flat = leases(plan, residential_asn(rng, country), k_ip, kn["dynamic_ip_reuse"])
    k_dev = 1 + (rng.random(n) < 0.4)
    dev_flat = plan.new_browsers(int(k_dev.sum()), np.concatenate([BROWSER_UAS, MOBILE_UAS]))
    entries = PUBLIC_LIBRARY[: k["templates"]]
    pop = 1.0 / np.arange(1, len(entries) + 1) ** k["zipf"]
    favourite = rng.choice(len(entries), size=n, p=pop / pop.sum())
    tset = _add_set(plan, entries, paraphrase=k["edit"], favour=0.9)
    tail = np.where(rng.random(n) < 0.5, rng.integers(1, 999, size=n).astype(str).astype(object), "")
    acc = plan.add(n, cohort=name, created=signup_times(rng, n), email=localparts(rng, n) + tail + "@"
                   + free_domains(rng, n), country=country, weight=k["volume"] * rng.lognormal(0.0, 0.8, n),
                   ip_menu=(k_ip, ip_flat), ip_seq=True, dev_menu=(k_dev, dev_flat), pgen=GEN_SET, tset=tset,
                   tvariant=favourite, pshare=k["share"],
                   base_gen=np.where(rng.random(n) < 0.5, GEN_CODING, GEN_GENERAL), regular_scale=True)
    pay_own(plan, acc, 0.5, CONSUMER_BINS)
    return acc


TRAPS: dict[str, Preset] = {
    "hackathon": Preset("hackathon", "hundreds of sign-ups within hours on one venue's wi-fi, a pasted starter "
                        "prompt, loaner laptops, a day or two of heavy use", HACKATHON_KNOBS,
                        dict(name=None, size=300, ips=2, window=2.0, loaners=6, loaner_share=0.15,
                             starter=0.8, starter_share=0.5, volume=6.0, days=2.0, stay=0.25, day=-1), hackathon),
    "eval-vendor": Preset("eval-vendor", "a verified org benchmarking the model from cloud VMs through one harness, "
                          "templated coding/agentic prompts, synchronous runs, high volume", EVAL_KNOBS,
                          dict(name=None, size=80, volume=60.0, ips=8, harness=1, lockstep=0.6, runs=6,
                               template_share=0.95, verified=True), eval_vendor),
    "university-lab": Preset("university-lab", "research labs: campus NAT, shared lab machines, a department "
                             "domain, a grant card, shared prompts, deadline crunches", LAB_KNOBS,
                             dict(name=None, size=60, labs=2, nat=2, machines=4, machine_share=0.6,
                                  volume=5.0, shared_card=0.3, deadlines=3, crunch=0.4, template_share=0.5),
                             university_lab),
    "households": Preset("households", "families sharing one home IP, one card and one laptop", HOUSEHOLD_KNOBS,
                         dict(name=None, size=600, members=(2, 6), device_share=0.7, card_share=0.9,
                              together=0.4, second_ip=0.3, volume=1.0), households),
    "public-templates": Preset("public-templates", "popular public prompt-library entries pasted by many unrelated "
                               "users, coding ones that read like operator templates", PUBLIC_KNOBS,
                               dict(name=None, size=800, templates=len(PUBLIC_LIBRARY), zipf=1.0,
                                    share=0.6, edit=0.05, volume=1.5), public_templates),
}

__all__ = ["TRAPS"]
