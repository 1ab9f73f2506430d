"""Parameters of a detection run.

Every knob lives here so that ``rings.json`` can record exactly what produced
it, and so a notebook user can change one thing and re-run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .errors import ConfigError

#: Free-mail providers: thousands of strangers share them, so they are not evidence.
FREE_MAIL_DOMAINS = frozenset(
    """gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.co.jp yahoo.fr hotmail.com
    hotmail.co.uk hotmail.fr outlook.com live.com msn.com icloud.com me.com mac.com aol.com
    proton.me protonmail.com pm.me gmx.com gmx.de gmx.net web.de mail.com yandex.ru yandex.com
    mail.ru qq.com 163.com 126.com sina.com naver.com daum.net hanmail.net zoho.com
    tutanota.com fastmail.com hey.com rediffmail.com libero.it orange.fr free.fr
    t-online.de seznam.cz wp.pl o2.pl interia.pl""".split()
)

#: Autonomous systems of hosting and cloud providers (datacenter address space).
#: Traffic from them is "hosting" infrastructure in ring scoring; extend via Config.
HOSTING_ASNS = frozenset(
    [
        16509, 14618, 8987,  # Amazon
        15169, 396982, 19527,  # Google
        8075, 8068,  # Microsoft
        14061,  # DigitalOcean
        16276,  # OVH
        24940, 213230,  # Hetzner
        63949,  # Akamai/Linode
        20473,  # Vultr/Choopa
        45102, 37963,  # Alibaba
        132203, 45090,  # Tencent
        31898,  # Oracle
        13335,  # Cloudflare
        9009,  # M247
        60068,  # Datacamp/CDN77
        51167,  # Contabo
        12876,  # Scaleway
        62240,  # Clouvider
        40021,  # Contabo US / Nocix
        36352,  # ColoCrossing
        53667,  # FranTech/BuyVM
        208091,  # XHOST
        212238,  # Datacamp
        174,  # Cogent (transit, heavy proxy use)
    ]
)

FAMILIES = ("payment", "ip", "asn", "device", "prompt", "email", "signup")


@dataclass(frozen=True)
class FamilyParams:
    """How one signal family turns shared entities into link weight.

    ``weight`` scales the family; an entity shared by ``n`` accounts gives each
    pair ``weight / (n - 1) ** decay`` so an account's total from one entity
    stays bounded; past ``cap`` accounts the entity is a hub and gives nothing.
    A pair's total from one family is capped at ``weight`` so that no single
    family (many proxy IPs, many shingles of one template) can stand in for
    independent evidence.
    """

    weight: float
    cap: int
    decay: float = 1.0
    #: A pair must share at least this many entities of the family for it to count.
    min_shared: int = 1
    #: ``sum`` when each shared entity is separate evidence (cards, proxies); ``mean`` when the
    #: entities are parts of one thing (the shingles of one template).
    combine: str = "sum"


def _default_families() -> dict[str, FamilyParams]:
    return {
        "payment": FamilyParams(weight=3.0, cap=60),
        "ip": FamilyParams(weight=1.0, cap=120),
        "asn": FamilyParams(weight=0.0, cap=0),  # context for scoring and attribution only
        "device": FamilyParams(weight=2.0, cap=60),
        "prompt": FamilyParams(weight=1.0, cap=300, min_shared=3, combine="mean"),
        "email": FamilyParams(weight=1.5, cap=400),
        "signup": FamilyParams(weight=0.5, cap=200),
    }


@dataclass(frozen=True)
class Config:
    """Everything that shapes a run; recorded in ``rings.json`` under ``params``."""

    seed: int = 42
    families: dict[str, FamilyParams] = field(default_factory=_default_families)
    #: A pair sharing one verified org has its link weight multiplied by this.
    org_discount: float = 0.05
    #: Links below this weight are noise and are dropped before clustering.
    min_link_weight: float = 0.05
    #: Leiden CPM resolution: the least average link weight per member pair of a community.
    resolution: float = 0.02
    #: A community smaller than this is never a ring.
    min_ring_size: int = 8
    #: Rings scoring at or above this are flagged.
    threshold: float = 0.5
    #: Word n-gram length for prompt shingles, and how many prompts per account are indexed.
    shingle_size: int = 4
    prompts_per_account: int = 40
    #: A shingle must recur in this many of an account's indexed prompts to count as its template.
    template_min_prompts: int = 2
    #: Sign-up burst window, and the window in which a ring's requests count as lockstep, in seconds.
    signup_window_s: int = 600
    lockstep_window_s: int = 10
    free_mail_domains: frozenset[str] = FREE_MAIL_DOMAINS
    hosting_asns: frozenset[int] = HOSTING_ASNS

    def __post_init__(self) -> None:
        unknown = set(self.families) - set(FAMILIES)
        if unknown:
            raise ConfigError(f"unknown signal families: {', '.join(sorted(unknown))}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"threshold must be in [0, 1], got {self.threshold}")
        if self.min_ring_size < 2:
            raise ConfigError(f"min_ring_size must be at least 2, got {self.min_ring_size}")
        bad = [f for f, p in self.families.items() if p.combine not in ("sum", "mean")]
        if bad:
            raise ConfigError(f"combine must be 'sum' or 'mean' (families: {', '.join(bad)})")
        if self.shingle_size < 1:
            raise ConfigError(f"shingle_size must be at least 1, got {self.shingle_size}")

    def family(self, name: str) -> FamilyParams:
        return self.families[name]

    def replace(self, **changes) -> Config:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain JSON-able form for ``rings.json``; long lists are summarised."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "families":
                value = {k: dataclasses.asdict(v) for k, v in value.items()}
            elif isinstance(value, frozenset):
                value = len(value)
                out[f.name + "_count"] = value
                continue
            out[f.name] = value
        return out
