"""Signal families: one object per family, read by every layer.

A family is a kind of entity accounts can share (a card, an IP, a template
n-gram…). What the engine knows about it lives in one :class:`Family`: the SQL
that yields its account→entity incidences, how a reader names one entity, whether
an operator has to *obtain* it (infrastructure: proxies, cards, domains) or merely
*runs* it (software: a harness fingerprint, a template), how intel indicators
point at it, how it is stored in Neo4j, and its default weight and hub cap.

Graph building, scoring, attribution, evidence, the Neo4j store (batched and
bulk), explain, the report and the Bloom perspective all iterate
:func:`all_families` and read these fields; no other list of family names exists.
A new family is one module under ``linkage/signals/`` that calls :func:`register`
(or, in a notebook or a test, a call to :func:`register` with any ``Family``).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

    from .config import Config


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
    #: Least median exclusivity (share of an entity's users inside the community's operation)
    #: for the family to count in a community; templates overlap with ordinary phrasing more.
    min_exclusivity: float = 0.6
    #: For a family with a share feature: members count when they use an entity with at least
    #: this many members of the community in all (0: no share feature).
    share_k: int = 0


@dataclass(frozen=True)
class GraphNode:
    """How a family's entities are stored in Neo4j: ``(:Account)-[:rel_type {counter, first, last}]->(:label {key})``.

    ``details`` optionally names extra node properties and the SQL that gives them
    per entity, over the run's evidence tables: ``SELECT entity, <prop>, ...``.
    """

    label: str
    key: str
    rel_type: str
    #: Relationship property that adds up the incidence's ``requests`` (None: no counter).
    counter: str | None = "requests"
    details: tuple[str, ...] = ()
    details_sql: str | None = None


#: A family's ``marks`` name at most this many of an account's sampled prompts (one bit each of a
#: BIGINT, the sign bit kept clear); prompts sampled past it carry no mark.
MARKED_PROMPTS = 62


def marks_sql(idx: str) -> str:
    """SQL for the one-bit mark of the sampled prompt at position ``idx`` (0 past ``MARKED_PROMPTS``).

    OR-ing the marks of several phrases gives the prompts carrying any of them (``scoring.templated_sql``):
    counts per phrase cannot tell one prompt carrying two phrases from two prompts carrying one each.
    """
    return f"CASE WHEN {idx} < {MARKED_PROMPTS} THEN CAST(1 AS BIGINT) << {idx} ELSE CAST(0 AS BIGINT) END"


@dataclass(frozen=True)
class Family:
    """Everything one signal family means to the engine (see the module docstring)."""

    name: str
    #: How a reader names one entity of the family ("card", "IP", "template n-gram").
    label: str
    #: ``sql(config)`` -> a query over the batch tables yielding ``(aid, entity, requests, first, last)``.
    sql: Callable[[Config], str]
    defaults: FamilyParams
    #: Optional ``prepare(con, config)`` staging a table the query reads.
    prepare: Callable[[DuckDBPyConnection, Config], None] | None = None
    #: Batch tables the family's SQL reads, and tables its ``prepare`` leaves for later stages.
    reads: tuple[str, ...] = ("events",)
    writes: tuple[str, ...] = ()
    #: Something an operator has to obtain (proxies, cards, domains), as opposed to software
    #: that benign groups legitimately share (SDK fingerprints, public templates).
    infrastructure: bool = False
    #: Entities are pieces of one artefact an operator copies into every ring (a template's shingles):
    #: judged by who uses them at any size, and one tie however many pieces two rings share.
    template: bool = False
    #: The query adds ``marks``: which of the account's sampled prompts hold the entity (``marks_sql``),
    #: so that scoring can tell how much of what an account sends carries any of its template's phrases.
    marks: bool = False
    #: The intel ``kind`` whose indicators point at this family's entities, and the SQL over
    #: ``value`` giving the entity key (prompt excerpts are matched by shingle overlap instead).
    intel_kind: str | None = None
    intel_value: str = "value"
    #: Tools of this family (entities used mostly by community members) tie communities into one
    #: operation (``linkage.operations``): proxies, cards, domains, harness builds, templates.
    operation_ties: bool = False
    #: The scoring feature counting members who share this family's entities with others
    #: (``payment_share``: a card batch; ``template_share``; ``burst_share``), if any.
    share_feature: str | None = None
    #: Entities are issuers' batches (a card BIN): too common to link anyone, but a community drawing
    #: improbably many of its members from one, given how common it is in the batch, was supplied
    #: from a batch bought for it. Judged by that improbability, not by exclusivity (``linkage.scoring``).
    batch: bool = False
    #: Entities are network addresses (``ip_networks`` maps each to its network): a proxy pool's
    #: addresses span many networks, a place's (a home, an office, a campus) one or two (``scoring.pool_sql``).
    addresses: bool = False
    #: Another family that sees the same artefact (fresh cards of one batch, and cards shared outright):
    #: in a community the two count once.
    counts_with: str | None = None
    node: GraphNode | None = None
    #: How ``linkage rings --neo4j`` rebuilds the incidences: ``stored`` (from ``node``), ``derived``
    #: (recomputed from the accounts table, e.g. sign-up windows), or ``cypher`` (``incidence_cypher``
    #: over other families' nodes: ASNs hang off IPs, BINs are a property of payment instruments).
    stored: str = "stored"
    #: For ``stored="cypher"``: a read query returning ``account_id, entity, requests, first, last``
    #: (times as epoch seconds).
    incidence_cypher: str | None = None
    colour: str = "#666666"
    extra: dict[str, Any] = field(default_factory=dict)

    def params(self, config: Config) -> FamilyParams | None:
        """The run's parameters of this family, or None when the run leaves it out."""
        return config.families.get(self.name)


_REGISTRY: dict[str, Family] = {}
_BUILTIN_LOADED = False


_NAME = re.compile(r"[a-z][a-z0-9_]{0,30}")


def register(family: Family) -> Family:
    """Add (or replace) a family; returns it, so a module can write ``FAMILY = register(Family(...))``.

    The name becomes part of column names (``w_<name>``), so it is a lower-case identifier.
    """
    if not _NAME.fullmatch(family.name):
        raise ValueError(f"a family name is a lower-case identifier, got {family.name!r}")
    _REGISTRY[family.name] = family
    return family


def unregister(name: str) -> None:
    """Remove a family registered at run time (tests registering a toy family clean up with this)."""
    _REGISTRY.pop(name, None)


def _load_builtin() -> None:
    global _BUILTIN_LOADED
    if not _BUILTIN_LOADED:
        _BUILTIN_LOADED = True
        importlib.import_module("linkage.signals")


def all_families() -> list[Family]:
    """Every registered family, built-in ones first, in registration order."""
    _load_builtin()
    return list(_REGISTRY.values())


def names() -> list[str]:
    return [f.name for f in all_families()]


def get(name: str) -> Family:
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown signal family {name!r}") from None


def in_run(config: Config) -> Iterator[Family]:
    """The families the run uses (present in ``config.families``), in registry order."""
    return (f for f in all_families() if f.name in config.families)


def weighted(config: Config) -> list[str]:
    """Names of the families that can link accounts in this run (weight > 0): the ``w_<family>`` columns."""
    return [f.name for f in in_run(config) if config.families[f.name].weight > 0]


def stored(config: Config | None = None) -> list[Family]:
    """Families whose entities are Neo4j nodes."""
    return [f for f in all_families() if f.node is not None and (config is None or f.name in config.families)]


def by_intel_kind() -> dict[str, Family]:
    return {f.intel_kind: f for f in all_families() if f.intel_kind}


def label(name: str) -> str:
    """The reader's name for one entity of family ``name`` (the name itself for an unknown family)."""
    _load_builtin()
    fam = _REGISTRY.get(name)
    return fam.label if fam else name


def sql_in(names_: list[str]) -> str:
    """``('a', 'b')`` for family names (registered names only, so no quoting issue), ``(NULL)`` when empty."""
    from .sql import strings

    return strings(names_)


__all__ = ["Family", "FamilyParams", "GraphNode", "register", "unregister", "all_families", "names", "get",
           "in_run", "weighted", "stored", "by_intel_kind", "label", "sql_in"]
