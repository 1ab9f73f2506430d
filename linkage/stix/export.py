"""Build a run's STIX 2.1 bundle with the official ``stix2`` library.

One intrusion set per actor (an intel operator, or an operation the run found without
a name), the indicators its rings' infrastructure exposes, the harvesting-template excerpts
its accounts filled in, a sighting per indicator with what this run saw, one campaign per
operation attributed to its actors' intrusion sets, and the TLP 2.0 marking and producer
identity on everything. Which entities may leave is decided in
:mod:`linkage.stix.select`; how identifiers are hashed in :mod:`linkage.stix.hashing`.

Every id is derived from the producer, the batch and the object's content, and every
timestamp from the batch, so exporting the same run twice gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .hashing import ShareKey
from .model import (
    DEFINED,
    EVIDENCE_EXTENSION,
    EXTENSIONS,
    HOSTNAME,
    KINDS,
    LINKAGE_IDENTITY,
    TEMPLATE_EXTENSION,
    TEMPLATE_TYPE,
    Kind,
    stix_id,
    tlp_marking,
)
from .run import Actor, Campaign, Run
from .select import Policy, assemble_templates, select_entities

#: Sighting counts are bounded by STIX (0..999,999,999).
_MAX_COUNT = 999_999_999
#: Ring ids a campaign's description lists.
_MAX_LISTED = 20


@dataclass
class Built:
    """A bundle and what is in it, for the command's one-line summary."""

    bundle: Any  # stix2.Bundle
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@functools.cache
def template_class() -> Any:
    """The ``x-linkage-harvesting-template`` SDO, registered with ``stix2`` once per process."""
    from stix2 import CustomObject, properties

    @CustomObject(TEMPLATE_TYPE, [
        ("name", properties.StringProperty(required=True)),
        ("description", properties.StringProperty()),
        ("excerpt", properties.StringProperty(required=True)),
        ("shingle_size", properties.IntegerProperty(min=1)),
        ("accounts", properties.IntegerProperty(min=0)),
    ], extension_name=TEMPLATE_EXTENSION.id)
    class HarvestingTemplate:
        pass

    return HarvestingTemplate


def _rings(ids: tuple[str, ...]) -> str:
    return f"{len(ids)} flagged ring{'s' if len(ids) != 1 else ''}"


def _ts(value: Any) -> dt.datetime | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).tz_convert("UTC").to_pydatetime().replace(microsecond=0)


def _quote(value: str) -> str:
    """A STIX pattern string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


#: Families whose entities travel as STIX address objects (an address, or a network in CIDR form).
ADDRESS_FAMILIES = frozenset(k.family for k in KINDS if k.sco in ("ipv4-addr", "ipv6-addr"))


def _kind_of(family: str, entity: str) -> Kind | None:
    """The STIX kind an entity travels as, or None when its value cannot be one (never guessed)."""
    if family in ADDRESS_FAMILIES:
        try:
            net = ipaddress.ip_network(entity, strict=False) if family == "prefix" else ipaddress.ip_address(entity)
        except ValueError:
            return None
        sco = "ipv4-addr" if net.version == 4 else "ipv6-addr"
        return next(k for k in KINDS if k.family == family and k.sco == sco)
    if family == "email" and not HOSTNAME.match(entity):
        return None
    if family == "asn" and not (entity.isdigit() and int(entity) < 2 ** 32):
        return None
    return next((k for k in KINDS if k.family == family), None)


class _Builder:
    """The parts every object shares (producer, marking, batch time, id scope) and one maker per object type."""

    def __init__(self, run: Run, tlp: str, producer: str, key: ShareKey | None):
        import stix2

        self.stix2 = stix2
        self.key = key
        self.marking = tlp_marking(tlp)
        self.producer = stix2.Identity(
            id=stix_id("identity", "producer", producer), created=DEFINED, modified=DEFINED, name=producer,
            identity_class="organization", description="Producer of this bundle (linkage intel export).",
            object_marking_refs=[self.marking.id])
        #: Ids are unique to a producer and a batch: the same run re-exported gives the same ids.
        self.scope = (self.producer.id, run.batch_id)
        self.time = run.observed_until

    def common(self) -> dict[str, Any]:
        return {"created": self.time, "modified": self.time, "created_by_ref": self.producer.id,
                "object_marking_refs": [self.marking.id]}

    def fixed_objects(self) -> list[Any]:
        """The marking, the producer, and linkage's identity and extension definitions (the same everywhere)."""
        s = self.stix2
        linkage = s.Identity(id=LINKAGE_IDENTITY, created=DEFINED, modified=DEFINED, name="linkage",
                             identity_class="system",
                             description="Open-source account-linkage engine; defines the x-linkage extensions.")
        exts = [s.ExtensionDefinition(id=e.id, created_by_ref=LINKAGE_IDENTITY, created=DEFINED, modified=DEFINED,
                                      name=e.name, description=e.description, schema=e.schema, version="1.0.0",
                                      extension_types=list(e.types))
                for e in EXTENSIONS]
        return [self.marking, self.producer, linkage, *exts]

    def intrusion_set(self, actor: Actor, name: str) -> Any:
        what = "an intel operator" if actor.operator else "an operation found without a known operator name"
        return self.stix2.IntrusionSet(
            id=stix_id("intrusion-set", *self.scope, name), name=name,
            description=f"{what.capitalize()}: {_rings(actor.ring_ids)}, {actor.accounts} accounts, "
                        f"{actor.requests} requests in the producer's batch.",
            first_seen=actor.first_seen, last_seen=actor.last_seen, **self.common())

    def campaign(self, c: Campaign, name: str) -> Any:
        """An operation: the rings one operator runs, tied by the tools they reuse (``linkage.operations``)."""
        tools = sum(c.tools.values())
        reuse = (f"; its rings reuse {tools} tools ({', '.join(f'{n} {f}' for f, n in c.tools.items())})"
                 if tools else "")
        shown = ", ".join(c.ring_ids[:_MAX_LISTED]) + (", ..." if len(c.ring_ids) > _MAX_LISTED else "")
        return self.stix2.Campaign(
            id=stix_id("campaign", *self.scope, name), name=name,
            description=f"An operation of the producer's run: {_rings(c.ring_ids)} ({shown}), {c.accounts} "
                        f"accounts, {c.requests} requests{reuse}.",
            first_seen=c.first_seen, last_seen=c.last_seen, **self.common())

    def indicator(self, kind: Kind, pattern: str, name: str, description: str, valid_from: dt.datetime | None) -> Any:
        evidence: dict[str, Any] = {"extension_type": "property-extension", "kind": kind.kind, "hashed": kind.hashed}
        if kind.hashed and self.key is not None:
            evidence["key_id"] = self.key.key_id
        return self.stix2.Indicator(
            id=stix_id("indicator", *self.scope, pattern), name=name, description=description, pattern=pattern,
            pattern_type="stix", valid_from=valid_from or self.time, indicator_types=["malicious-activity"],
            extensions={EVIDENCE_EXTENSION.id: evidence}, **self.common())

    def relationship(self, source: str, rel: str, target: str, description: str) -> Any:
        return self.stix2.Relationship(
            id=stix_id("relationship", *self.scope, source, rel, target), source_ref=source, relationship_type=rel,
            target_ref=target, description=description, allow_custom=source.startswith("x-"), **self.common())

    def sighting(self, of: str, accounts: int, requests: int, rings: int, first: dt.datetime | None,
                 last: dt.datetime | None) -> Any:
        """What this run saw of an indicator: ``count`` is the accounts that used it (STIX caps it)."""
        seen = {"first_seen": first, "last_seen": last} if first is not None and last is not None else {}
        return self.stix2.Sighting(
            id=stix_id("sighting", *self.scope, of), sighting_of_ref=of, count=min(accounts, _MAX_COUNT),
            where_sighted_refs=[self.producer.id], summary=False,
            extensions={EVIDENCE_EXTENSION.id: {"extension_type": "property-extension", "accounts": accounts,
                                                "requests": requests, "rings": rings}},
            **seen, **self.common())


@dataclass
class _Parts:
    """The objects of a bundle, by section, as they are made."""

    indicators: list[Any] = field(default_factory=list)
    templates: list[Any] = field(default_factory=list)
    relationships: list[Any] = field(default_factory=list)
    sightings: list[Any] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def build_bundle(run: Run, *, tlp: str, producer: str, key: ShareKey | None, policy: Policy | None = None) -> Built:
    """The STIX bundle of ``run`` (see the module doc); hashed kinds only when ``key`` is given."""
    policy = policy or Policy()
    b = _Builder(run, tlp, producer, key)
    names = {k: actor.operator or f"{producer}:{k}" for k, actor in run.actors.items()}
    sets = {k: b.intrusion_set(actor, names[k]) for k, actor in run.actors.items()}
    entities, shingles = select_entities(run, policy)
    parts = _Parts()
    campaigns = _campaigns(b, run, producer, sets, parts)
    skipped = _entity_indicators(b, entities, names, sets, parts)
    if key is not None:
        _account_indicators(b, run, key, names, sets, parts)
    _templates(b, run, shingles, policy, names, sets, parts)
    notes = []
    if key is None and (skipped or run.rings):
        notes.append("no sharing-group key: account ids, device fingerprints and payment tokens were left out "
                     "(set the variable named by --share-key-env to share them as keyed hashes)")
    objects = [*b.fixed_objects(), *sorted(sets.values(), key=lambda o: o.name), *campaigns, *parts.indicators,
               *parts.templates, *parts.relationships, *parts.sightings]
    bundle = b.stix2.Bundle(objects=objects, id=stix_id("bundle", *b.scope, *(o.id for o in objects)),
                            allow_custom=True)
    counts = {**parts.counts, "intrusion sets": len(sets), "campaigns": len(campaigns), "indicators": len(parts.indicators),
              "templates": len(parts.templates), "sightings": len(parts.sightings)}
    return Built(bundle=bundle, counts=counts, notes=notes)


def _campaigns(b: _Builder, run: Run, producer: str, sets: dict[str, Any], parts: _Parts) -> list[Any]:
    """One campaign per operation, ``attributed-to`` the intrusion sets of its rings.

    Only the intrusion sets name operators for a receiving lab (its importer reads nothing from a
    campaign tied to no indicator); the campaign keeps together the rings of one operation that
    the producer split between an operator (rings with intel of their own) and an unattributed rest.
    """
    out = []
    for op_id, c in run.campaigns.items():
        name = f"{producer}:{op_id}"
        campaign = b.campaign(c, name)
        out.append(campaign)
        parts.relationships += [b.relationship(campaign.id, "attributed-to", sets[a].id,
                                               f"Rings of {name} are attributed to {sets[a].name}.")
                                for a in c.actors]
    return out


def _entity_indicators(b: _Builder, entities: pd.DataFrame, names: dict[str, str], sets: dict[str, Any],
                       parts: _Parts) -> int:
    """One indicator per exported entity (over all actors using it); return how many hashed ones had no key."""
    skipped = 0
    for (family, entity), rows in entities.groupby(["family", "entity"], sort=True):
        kind = _kind_of(str(family), str(entity))
        if kind is None:
            continue
        if kind.hashed:
            if b.key is None:
                skipped += 1
                continue
            value = b.key.digest(kind.kind, str(entity))
        else:
            value = str(entity)
        pattern = f"[{kind.sco}:{kind.prop} = {value if kind.integer else _quote(value)}]"
        ops = sorted(str(o) for o in rows["actor"])
        shown = "(as a keyed hash: HMAC-SHA256 under the sharing-group key)" if kind.hashed else value
        first, last = _ts(rows["first_seen"].min()), _ts(rows["last_seen"].max())
        accounts = int(rows["op_accounts"].sum())
        ind = b.indicator(kind, pattern, f"{kind.label} of {', '.join(names[o] for o in ops)}"
                          + ("" if kind.hashed else f": {value}"),
                          f"{kind.label.capitalize()} {shown}, used by {accounts} accounts of flagged rings "
                          f"({int(rows['unflagged'].max())} of its {int(rows['accounts'].max())} users not flagged).",
                          first)
        parts.indicators.append(ind)
        parts.counts[kind.kind] += 1
        parts.relationships += [b.relationship(ind.id, "indicates", sets[o].id,
                                               f"Used by accounts of {names[o]}'s flagged rings.") for o in ops]
        parts.sightings.append(b.sighting(ind.id, accounts, int(rows["requests"].fillna(0).sum()),
                                          int(rows["rings"].sum()), first, last))
    return skipped


def _account_indicators(b: _Builder, run: Run, key: ShareKey, names: dict[str, str], sets: dict[str, Any],
                        parts: _Parts) -> None:
    """One indicator per flagged ring: its members' keyed hashes (an ``IN`` set), sighted once per member."""
    kind = next(k for k in KINDS if k.kind == "account")
    for ring in run.rings:
        members = sorted(str(a) for a in ring.members)
        if not members:
            continue
        digests = sorted(key.digests("account", members))
        pattern = f"[{kind.sco}:{kind.prop} IN ({', '.join(_quote(d) for d in digests)})]"
        actor = ring.cluster
        first, last = _ts(ring.first_seen), _ts(ring.last_seen)
        of_op = f" of operation {ring.operation}" if ring.operation else ""
        ind = b.indicator(kind, pattern, f"accounts of {names[actor]} ring {ring.ring_id}",
                          f"The {len(members)} member accounts of flagged ring {ring.ring_id}{of_op}, as keyed "
                          "hashes (HMAC-SHA256 under the sharing-group key).", first)
        parts.indicators.append(ind)
        parts.counts["account"] += len(members)
        parts.relationships.append(b.relationship(ind.id, "indicates", sets[actor].id,
                                                  f"Members of a ring of {names[actor]}."))
        parts.sightings.append(b.sighting(ind.id, len(members), ring.requests, 1, first, last))


def _templates(b: _Builder, run: Run, shingles: pd.DataFrame, policy: Policy, names: dict[str, str],
               sets: dict[str, Any], parts: _Parts) -> None:
    """The harvesting-template excerpts of each actor, related to its intrusion set."""
    cls = template_class()
    for actor, grams in shingles.groupby("actor", sort=True):
        op = str(actor)
        for i, (excerpt, accounts) in enumerate(assemble_templates(grams, policy), start=1):
            t = cls(id=stix_id(TEMPLATE_TYPE, *b.scope, op, excerpt), name=f"{names[op]} harvesting template {i}",
                    description="Fixed text of a prompt template the operation's accounts filled in.",
                    excerpt=excerpt, shingle_size=run.config.shingle_size, accounts=accounts, **b.common())
            parts.templates.append(t)
            parts.relationships.append(b.relationship(t.id, "related-to", sets[op].id,
                                                      f"Harvesting template used by {names[op]}."))


__all__ = ["Built", "build_bundle", "template_class"]
