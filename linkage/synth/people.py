"""Shared helpers for making people: countries, sign-up times, e-mail addresses, home leases.

Used by both the benign cohorts and the operators, because good operators
imitate ordinary users: the same free-mail providers, the same name patterns,
the same residential ISPs.
"""

from __future__ import annotations

import numpy as np

from ..config import FREE_MAIL_DOMAINS
from .plan import DAY, T0, T1, Plan
from .vocab import COUNTRIES, COUNTRY_CODES, COUNTRY_WEIGHTS, FIRST, LAST

_FREE_TOP = {"gmail.com": 0.42, "outlook.com": 0.08, "yahoo.com": 0.07, "hotmail.com": 0.07, "icloud.com": 0.06,
             "qq.com": 0.02, "proton.me": 0.02, "gmx.de": 0.015, "web.de": 0.015, "163.com": 0.01, "naver.com": 0.01,
             "yahoo.co.jp": 0.01, "mail.ru": 0.01, "orange.fr": 0.01, "libero.it": 0.01, "aol.com": 0.01, "wp.pl": 0.005}
_top = {d: w for d, w in _FREE_TOP.items() if d in FREE_MAIL_DOMAINS}
_rest = sorted(FREE_MAIL_DOMAINS - set(_top))
FREE_DOMAINS = np.array(list(_top) + _rest, dtype=object)
_w = np.array(list(_top.values()) + [(1 - sum(_top.values())) / max(len(_rest), 1)] * len(_rest))
FREE_WEIGHTS = _w / _w.sum()
_INITIALS = np.array([f[0] for f in FIRST], dtype=object)


def countries(rng: np.random.Generator, n: int) -> np.ndarray:
    return COUNTRY_CODES[rng.choice(len(COUNTRY_CODES), size=n, p=COUNTRY_WEIGHTS)]


def residential_asn(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    """One home ISP per account, from its country's residential ASNs."""
    out = np.empty(len(country), dtype=np.int64)
    for c in np.unique(country):
        sel = np.flatnonzero(country == c)
        asns = np.array(COUNTRIES[c][2])
        out[sel] = asns[rng.integers(len(asns), size=len(sel))]
    return out


def free_domains(rng: np.random.Generator, n: int) -> np.ndarray:
    return FREE_DOMAINS[rng.choice(len(FREE_DOMAINS), size=n, p=FREE_WEIGHTS)]


def _digits(rng, n, lo, hi):
    return rng.integers(lo, hi, size=n).astype(str).astype(object)


def localparts(rng: np.random.Generator, n: int, last: np.ndarray | None = None, scripted: bool = False) -> np.ndarray:
    """Name-based local parts in the patterns people use; ``scripted`` is a generator's tell-tale pattern."""
    first = FIRST[rng.integers(len(FIRST), size=n)]
    initial = _INITIALS[rng.integers(len(FIRST), size=n)]
    last = LAST[rng.integers(len(LAST), size=n)] if last is None else last
    if scripted:
        return first + "." + last + _digits(rng, n, 1000, 9999)
    patterns = [first + "." + last, first + last + _digits(rng, n, 10, 99), initial + last + _digits(rng, n, 1, 9999),
                first + "_" + last, last + "." + first, first + _digits(rng, n, 1970, 2008)]
    which = rng.choice(len(patterns), size=n, p=[0.3, 0.2, 0.15, 0.1, 0.1, 0.15])
    return np.choose(which, patterns)


def signup_times(rng: np.random.Generator, n: int, during: float = 0.12, max_age_days: float = 900) -> np.ndarray:
    """Established users: most signed up months to years ago, a share during the window."""
    age = rng.exponential(max_age_days / 3, size=n)
    age = np.where(age > max_age_days, rng.uniform(0, max_age_days, size=n), age) * DAY
    before = (T0 - 1 - age).astype(np.int64)
    late = rng.integers(T0, T1 - 2 * DAY, size=n)
    return np.where(rng.random(n) < during, late, before)


def leases(plan: Plan, asn: np.ndarray, k: np.ndarray, reuse: float) -> np.ndarray:
    """Home IPs for each account: ``k`` leases drawn from its ISP's dynamic pool.

    Drawing with replacement from a pool ``1/reuse`` times the number of leases
    makes some addresses land with 2-3 unrelated users, as DHCP reassignment does.
    Returns the flat menu in account order.
    """
    rng = plan.rng
    rows = np.repeat(np.arange(len(asn)), k)
    out = np.empty(len(rows), dtype=np.int64)
    row_asn = asn[rows]
    for a in np.unique(row_asn):
        sel = np.flatnonzero(row_asn == a)
        pool = plan.pool(int(a), int(np.ceil(len(sel) / max(reuse, 1e-3))) + 1)
        out[sel] = pool[rng.integers(len(pool), size=len(sel))]
    return out


def spread_burst(rng: np.random.Generator, group: np.ndarray, start: np.ndarray, width_s: np.ndarray) -> np.ndarray:
    """Times for members of groups: each group starts at ``start[g]`` and spans ``width_s[g]`` seconds."""
    return (start[group] + rng.random(len(group)) * width_s[group]).astype(np.int64)
