"""Parameters of a detection run.

Every knob lives here so that ``rings.json`` can record exactly what produced
it, and so a notebook user can change one thing and re-run.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError
from .families import FamilyParams

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

@dataclass(frozen=True)
class ScoreWeights:
    """How much each coordination feature counts; they sum to one."""

    diversity: float = 0.25
    template_share: float = 0.2
    payment_share: float = 0.15
    lockstep_share: float = 0.15
    burst_share: float = 0.1
    hosting_share: float = 0.15


@dataclass(frozen=True)
class ScoringParams:
    """Thresholds of ring scoring (``linkage.scoring``); recorded in ``rings.json`` and shown by the report."""

    weights: ScoreWeights = field(default_factory=ScoreWeights)
    #: A family counts towards diversity when it links at least this share of the members (and its
    #: linking entities are mostly the community's operation's own: ``FamilyParams.min_exclusivity``).
    min_coverage: float = 0.5
    #: A batch family (``Family.batch``: card BINs) counts when at least ``min_coverage`` of the members hold
    #: one entity of it and the chance of that many, drawn as the batch's own users draw, is below this
    #: (a Chernoff bound on the binomial tail): six fresh cards of six members from a BIN one payer in
    #: eleven uses is a batch bought for them; three students banking with one large bank are not.
    batch_chance: float = 1e-6
    #: A community is coordinated only with this many counting families, this many of them infrastructure.
    min_families: int = 2
    min_infrastructure: int = 1
    #: Counting families at which diversity reaches 1.
    diversity_full: int = 3
    #: A lockstep window has at least this many active members, and at least this share of the community.
    lockstep_min_active: int = 3
    lockstep_min_share: float = 0.05
    #: Weighted coordination features at which coordination reaches 1.
    coordination_full: float = 0.6
    #: Members' median volume, as a multiple of the batch's median account: harvesting is 0 at or below
    #: ``harvest_floor_ratio`` (ordinary variation between people) and reaches 1 at ``harvest_full_ratio``.
    harvest_floor_ratio: float = 2.0
    harvest_full_ratio: float = 50.0
    #: The floor rises to this quantile of the volume of accounts outside every community (ordinary heavy users).
    heavy_quantile: float = 0.95
    #: Templated harvesting: a template the operation sends from this many communities counts fully...
    template_rings_full: int = 5
    #: ...weighted by the share of prompts asking for code or agents' work, 0 at ``focus_floor``, 1 at ``focus_full``.
    focus_floor: float = 0.5
    focus_full: float = 0.9
    #: ...and by the median member's share of sampled prompts carrying any of the template's phrases: 0 at
    #: ``templated_floor`` (a starter prompt sent now and then), 1 at ``templated_full`` (a harness filling
    #: it in most requests)...
    templated_floor: float = 0.2
    templated_full: float = 0.5
    #: ...and by how many networks the template's rings reach the platform from (``template_networks``):
    #: 0 up to ``places_floor`` (a venue with its visitors' phones, a campus and its students' homes: a
    #: few places), 1 from ``places_full`` (a proxy pool's exits, on dozens).
    places_floor: float = 5.0
    places_full: float = 10.0
    #: Identities bought for the job (``scoring.score``: ``procured``) need a proxy pool: the addresses members
    #: share within their operation spread over more than ``pool_floor`` effective networks (a home and
    #: its phones are two), fully at ``pool_full``.
    pool_floor: float = 2.0
    pool_full: float = 3.0
    #: A member of a flagged community is flagged only when it uses this many of the community's linking
    #: entities (template families counting once): one shared address is a bystander (``linkage.membership``).
    member_min_tools: int = 2
    #: Accounts outside the rings that carry a member's tools of an operation join it only when chance would
    #: explain at most this share of them: the rate at which accounts without the batch's card share the
    #: operation's entities, times the card's holders, against how many holders do (``membership.recruits``).
    recruit_chance: float = 0.1
    #: Recruits are members: their exits are the operation's too, so recruiting repeats with them among the
    #: members until a round finds nobody, at most this many rounds (``membership.recruits``).
    recruit_rounds: int = 5
    #: A template phrase is a recruit's tool only when at least this share of its users are the operation's
    #: members (and at least the family's ``min_exclusivity``): with no community around it, a phrase the
    #: operation shares with as many strangers as it sends itself is how people write, not its template.
    recruit_exclusivity: float = 0.5


@dataclass(frozen=True)
class OperationParams:
    """How communities are grouped into operations (``linkage.operations``)."""

    #: A tool is an entity two communities or more use, with at least this share of its users in communities.
    tool_insiders: float = 0.7
    #: A community's template profile: tool phrases at least this share of its members repeat
    #: (communities of at least ``profile_min_size`` members, profiles of ``profile_min_phrases`` phrases).
    profile_share: float = 0.5
    profile_min_size: int = 3
    profile_min_phrases: int = 5
    #: Two profiles are one template when their phrases overlap (Jaccard) at least this much...
    template_overlap: float = 0.2
    #: ...and a shared template counts this much towards a tie; each shared tool entity counts one.
    template_tie: float = 2.0
    #: Communities tied at least this strongly are one operation.
    min_tie: float = 2.0


@dataclass(frozen=True)
class AttributionParams:
    """Thresholds of attribution (``linkage.attribution``)."""

    #: Below this evidence an operation (or ring) stays unattributed...
    min_evidence: float = 0.2
    #: ...and the top operator must score this many times the runner-up.
    margin: float = 2.0
    #: A prompt excerpt points at an account sharing at least this many of its shingles, and this share.
    prompt_min_hits: int = 2
    prompt_min_share: float = 0.3
    #: In an operation whose intel names several operators, a ring without indicators of its own follows
    #: the operator whose rings alone share at least this many of the operation's tools with it.
    min_distinct_tools: int = 2


def _default_families() -> dict[str, FamilyParams]:
    from . import families

    return {f.name: f.defaults for f in families.all_families()}


@dataclass(frozen=True)
class Config:
    """Everything that shapes a run; recorded in ``rings.json`` under ``params``.

    ``Config.from_dict(doc["params"])`` gives back the run's parameters, so a later
    step (a Neo4j load, a report) reads them instead of today's defaults.
    """

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
    #: Rings scoring at or above this are flagged; communities from ``watch_threshold`` up to it are watched.
    threshold: float = 0.5
    watch_threshold: float = 0.25
    #: Word n-gram length for prompt shingles, and how many prompts per account are indexed.
    shingle_size: int = 4
    prompts_per_account: int = 40
    #: A shingle must recur in this many of an account's indexed prompts to count as its template.
    template_min_prompts: int = 2
    #: Paraphrase-robust templates (``signals.fuzzy``): MinHash buckets per prompt, buckets per band,
    #: least letters of a word that counts.
    fuzzy_buckets: int = 16
    fuzzy_rows: int = 2
    fuzzy_min_word: int = 4
    #: Sign-up burst window, and the window in which a ring's requests count as lockstep, in seconds.
    signup_window_s: int = 600
    lockstep_window_s: int = 10
    scoring: ScoringParams = field(default_factory=ScoringParams)
    operations: OperationParams = field(default_factory=OperationParams)
    attribution: AttributionParams = field(default_factory=AttributionParams)
    free_mail_domains: frozenset[str] = FREE_MAIL_DOMAINS
    hosting_asns: frozenset[int] = HOSTING_ASNS
    #: Keep every intermediate table of the run in ``Result.con`` (for a notebook user); by default
    #: each stage's inputs are dropped once no later stage reads them.
    keep_tables: bool = False

    def __post_init__(self) -> None:
        from . import families

        unknown = set(self.families) - set(families.names())
        if unknown:
            raise ConfigError(f"unknown signal families: {', '.join(sorted(unknown))}")
        if self.scoring.recruit_rounds < 1:
            raise ConfigError(f"scoring.recruit_rounds must be at least 1, got {self.scoring.recruit_rounds}")
        if not 0.0 < self.scoring.recruit_exclusivity <= 1.0:
            raise ConfigError(f"scoring.recruit_exclusivity must be in (0, 1], got {self.scoring.recruit_exclusivity}")
        if not 0.0 <= self.scoring.recruit_chance < 1.0:
            raise ConfigError(f"scoring.recruit_chance must be in [0, 1), got {self.scoring.recruit_chance}")
        if not 0.0 < self.scoring.batch_chance < 1.0:
            raise ConfigError(f"scoring.batch_chance must be in (0, 1), got {self.scoring.batch_chance}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"threshold must be in [0, 1], got {self.threshold}")
        if not 0.0 <= self.watch_threshold <= self.threshold:
            raise ConfigError(f"watch_threshold must be in [0, threshold], got {self.watch_threshold}")
        if not (math.isfinite(self.resolution) and self.resolution > 0):
            raise ConfigError(f"resolution must be a positive number, got {self.resolution}")
        if self.min_ring_size < 2:
            raise ConfigError(f"min_ring_size must be at least 2, got {self.min_ring_size}")
        if not 0 <= self.seed < 2 ** 31:
            raise ConfigError(f"seed must be in [0, 2^31), got {self.seed}")
        bad = [f for f, p in self.families.items() if p.combine not in ("sum", "mean")]
        if bad:
            raise ConfigError(f"combine must be 'sum' or 'mean' (families: {', '.join(bad)})")
        negative = [f for f, p in self.families.items() if not (p.weight >= 0 and p.cap >= 0)]
        if negative:
            raise ConfigError(f"family weight and cap must not be negative (families: {', '.join(negative)})")
        if self.shingle_size < 1:
            raise ConfigError(f"shingle_size must be at least 1, got {self.shingle_size}")

    def family(self, name: str) -> FamilyParams:
        return self.families[name]

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form for ``rings.json``; long lists are summarised."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "families":
                value = {k: dataclasses.asdict(v) for k, v in value.items()}
            elif dataclasses.is_dataclass(value):
                value = dataclasses.asdict(value)  # type: ignore[arg-type]
            elif isinstance(value, frozenset):
                out[f.name + "_count"] = len(value)
                continue
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> Config:
        """The config a run recorded (``rings.json`` ``params``); unknown or summarised keys are ignored.

        Families the recording run knew but this installation does not are an error:
        the run cannot be reproduced faithfully without them.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in params.items():
            if key not in known:
                continue
            if key == "families":
                value = {k: FamilyParams(**{n: v for n, v in p.items() if n in _FAMILY_FIELDS})
                         for k, p in value.items()}
            elif key == "scoring":
                value = ScoringParams(**{**value, "weights": ScoreWeights(**value.get("weights", {}))})
            elif key == "attribution":
                value = AttributionParams(**value)
            elif key == "operations":
                value = OperationParams(**value)
            kwargs[key] = value
        return cls(**kwargs)


_FAMILY_FIELDS = {f.name for f in dataclasses.fields(FamilyParams)}
