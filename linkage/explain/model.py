"""What an explanation holds, and the one piece of arithmetic it must get right: how shared entities
become a link weight.

:func:`weigh` repeats ``linkage.graph.build_links`` for one pair, in Python, from the
entities the two accounts share and the run's parameters: per family, the pair
weights of the weighted entities are summed (``combine: sum``) or averaged
(``combine: mean``, the n-grams of one template), a family with fewer weighted
entities than its ``min_shared`` adds nothing, each family adds at most its
``weight`` (the family cap), the families are added up, a pair inside one verified
org is multiplied by ``org_discount``, and a total below ``min_link_weight`` is no
link. Each step is kept, so the text can show it and say which cut removed a link.
Sums go through the same integer units as the graph build, so a family's figure
here is the stored link's to the last digit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .. import families
from ..config import Config
from ..graph import UNITS
from ..lineage import Lineage

MAX_INTERMEDIATE = 2
TOP_PATHS = 5

#: Why two accounts have no link (``Weighing.cut``); None when the arithmetic gives a link.
CUTS = ("nothing", "min_shared", "min_link_weight", "org_discount")


@dataclass
class RingRef:
    """A flagged ring one (or both) of the two accounts is a member of."""

    ring_id: str
    score: float
    size: int
    operator: str | None
    operator_cluster: str | None
    operator_confidence: float | None
    #: Which of the two accounts are members.
    members: list[str]
    #: The operation (``linkage.operations``) the ring belongs to; None when the source does not record it.
    operation: str | None = None
    #: Which of the two accounts are bystanders of the ring: in its community but not flagged, sharing
    #: fewer of its linking entities than a member must (``linkage.membership``).
    bystanders: list[str] = field(default_factory=list)
    #: The ring's lineage across batches (``linkage.lineage``), when its run had state.
    lineage: Lineage | None = None
    #: Which of the two accounts are recruits of the ring: members placed outside its community that carry
    #: a member's tools of its operation (``linkage.membership.recruits``).
    recruits: list[str] = field(default_factory=list)


@dataclass
class FamilyShare:
    """How one signal family's shared entities make its share of the pair's link weight."""

    family: str
    label: str
    shared: int
    weighted: int
    hubs: int
    combine: str
    #: Sum of the weighted entities' pair weights.
    weight_sum: float
    #: ``weight_sum``, or ``weight_sum / weighted`` when the family averages.
    value: float
    #: The family's weight: the most it can add to one pair.
    cap: float
    min_shared: int
    #: What it adds before any org discount: ``min(value, cap)`` when ``weighted >= min_shared``, else 0.
    adds: float
    #: What it would add without the ``min_shared`` cut: ``min(value, cap)``.
    would_add: float
    #: ``min_shared`` (too few weighted entities), ``cap`` (value over the cap), or None.
    cut: str | None = None
    #: False when the source keeps no entities of the family (sign-up bursts are not Neo4j nodes):
    #: then ``adds`` is the stored link's figure.
    stored: bool = True


@dataclass
class Weighing:
    """The pair's link weight, step by step (see the module docstring)."""

    families: list[FamilyShare]
    before_discount: float
    #: The verified org both accounts belong to, when there is one (the pair is discounted).
    org: str | None
    discount: float
    weight: float
    min_link_weight: float
    #: One of ``CUTS`` when the arithmetic gives no link, else None.
    cut: str | None


@dataclass
class Explanation:
    a: str
    b: str
    source: str  # "out" or "neo4j"
    #: Where the weighing parameters come from, for the reader.
    params: str = ""
    rings: list[RingRef] = field(default_factory=list)
    link: dict[str, Any] | None = None  # the stored link: {"weight", "signals": [...], "per_family": {family: weight}}
    weighing: Weighing | None = None
    #: {"family", "entity", "text", "accounts", "hub", "pair_weight", "cap", "in_rings"}
    shared: list[dict[str, Any]] = field(default_factory=list)
    #: {"hops", "cost", "weakest", "accounts", "steps": [entity…]}; only when nothing shared carries weight.
    paths: list[dict[str, Any]] = field(default_factory=list)
    #: Accounts linked to both: {"common": n, "best": [{"account_id", "weight_a", "weight_b"}…]}.
    neighbours: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    max_intermediate: int = MAX_INTERMEDIATE

    @property
    def linked(self) -> bool:
        return self.link is not None

    @property
    def connected(self) -> bool:
        return self.linked or bool(self.paths) or any(s["pair_weight"] > 0 for s in self.shared)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "linked": self.linked, "connected": self.connected}


# --- the arithmetic -------------------------------------------------------------------------------


def _units(weights: list[float]) -> float:
    """A sum exactly as ``graph.build_links`` makes it (integer units, then back)."""
    return sum(round(w * UNITS) for w in weights) / UNITS


def family_share(name: str, rows: list[dict[str, Any]], config: Config) -> FamilyShare:
    """One family's line: ``rows`` are the shared entities of that family."""
    p = config.families[name]
    weights = [r["pair_weight"] for r in rows if r["pair_weight"] > 0]
    n = len(weights)
    total = _units(weights)
    value = total / n if p.combine == "mean" and n else total
    would = min(value, p.weight)
    short = 0 < n < p.min_shared
    cut = "min_shared" if short else "cap" if value > p.weight else None
    return FamilyShare(
        family=name, label=families.label(name), shared=len(rows), weighted=n,
        hubs=sum(1 for r in rows if r["hub"]), combine=p.combine, weight_sum=total, value=value, cap=p.weight,
        min_shared=p.min_shared, adds=0.0 if short or not n else would, would_add=would, cut=cut)


def weigh(shared: list[dict[str, Any]], config: Config, orgs: tuple[str | None, str | None], *,
          stored: set[str] | None = None, link_per_family: dict[str, float] | None = None) -> Weighing:
    """The pair's weighing from its shared entities; pure.

    ``stored`` names the families whose entities the source holds (None: all); for
    the others the stored link's ``link_per_family`` figure stands in, discounted already.
    """
    by_family: dict[str, list[dict[str, Any]]] = {}
    for s in shared:
        by_family.setdefault(s["family"], []).append(s)
    org = orgs[0] if orgs[0] and orgs[0] == orgs[1] else None
    k = config.org_discount if org else 1.0
    lines: list[FamilyShare] = []
    for name in families.weighted(config):
        rows = by_family.get(name, [])
        if stored is not None and name not in stored:
            given = (link_per_family or {}).get(name) or 0.0
            if given:
                undiscounted = given / k if k else given
                lines.append(FamilyShare(name, families.label(name), 0, 0, 0, config.families[name].combine,
                                         undiscounted, undiscounted, config.families[name].weight,
                                         config.families[name].min_shared, undiscounted, undiscounted,
                                         stored=False))
            continue
        if rows:
            lines.append(family_share(name, rows, config))
    before = sum(f.adds for f in lines)
    weight = sum(f.adds * k for f in lines)
    m = config.min_link_weight
    if before >= m and weight >= m:
        cut = None
    elif before >= m:
        cut = "org_discount"
    elif before > 0:
        cut = "min_link_weight"
    else:
        cut = "min_shared" if any(f.cut == "min_shared" for f in lines) else "nothing"
    return Weighing(families=lines, before_discount=before, org=org, discount=k, weight=weight,
                    min_link_weight=m, cut=cut)


def agreement_notes(weighing: Weighing, link: dict[str, Any] | None, source: str) -> list[str]:
    """Where the arithmetic and the stored link disagree (they should not: a run's folder never does)."""
    notes = []
    built = "the graph" if source == "neo4j" else "the run"
    if link is None and weighing.cut is None:
        notes.append(f"By the entities above the pair would be linked at {weighing.weight:.4f}, but {built} holds "
                     "no link: the links were computed with other parameters or other data.")
    if link is not None:
        if weighing.cut is not None:
            notes.append(f"{built.capitalize()} links the pair at {link['weight']:.4f}, but the entities above give "
                         "no link: the links were computed with other parameters or other data.")
        for f in weighing.families:
            stored = link["per_family"].get(f.family, 0.0)
            if abs(f.adds * weighing.discount - stored) > 1e-6:
                notes.append(f"{f.label}: the stored link has {stored:.4f}, the entities above give "
                             f"{f.adds * weighing.discount:.4f}: " + (
                                 "the graph's rarity or parameters changed since the links were computed "
                                 "(another batch loaded?); `linkage rings --neo4j` recomputes them."
                                 if source == "neo4j" else "the run's files disagree with each other."))
    return notes


__all__ = ["MAX_INTERMEDIATE", "TOP_PATHS", "CUTS", "RingRef", "FamilyShare", "Weighing", "Explanation",
           "family_share", "weigh", "agreement_notes"]
