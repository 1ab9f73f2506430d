"""The Neo4j graph model, as data: the only labels, keys and relationship types linkage writes.

Cypher text never takes a label or type from user input; builders look them
up here (the allow-list), and every value travels as a ``$parameter``. The
fixed part (accounts, rings, operations, operators, indicators…) is listed below; each
signal family with a ``node`` (``linkage.families``) adds its entity label and
its account→entity relationship type. The families are code, registered at
import time, never input, so the allow-list stays closed. The schema, the
loader, the query library and the Bloom perspective are all checked against
this module by the tests.

Every family entity node also carries the common label ``Entity`` and the
properties ``family``, ``key``, ``name`` (what a reader sees: the template's words
for a template n-gram), ``accounts``, ``hub``, ``pair_weight`` and ``cap`` (the
family's hub cap in the run that last weighed it), so one query can ask about
entities of every family.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import families

#: Common label and properties of every family entity node.
ENTITY = "Entity"
ENTITY_PROPERTIES = ("family", "key", "name", "accounts", "hub", "pair_weight", "cap")


@dataclass(frozen=True)
class NodeType:
    label: str
    key: str  # unique property
    properties: tuple[str, ...]
    family: str | None = None  # the signal family whose entities this label holds


@dataclass(frozen=True)
class RelType:
    type: str
    start: str
    end: str
    properties: tuple[str, ...] = ()


_FIXED_NODES = (
    NodeType("Account", "account_id",
             ("account_id", "created_at", "email_domain", "org_id", "country", "requests", "first_seen",
              "last_seen", "hosting_requests", "prompts", "focused", "ring_id", "ring_score")),
    NodeType("ASN", "number", ("number", "hosting", "accounts")),
    NodeType("Ring", "ring_id",
             ("ring_id", "score", "size", "requests", "first_seen", "last_seen", "operator", "operator_confidence",
              "operator_cluster", "bystanders", "recruits", "signals", "coordination", "harvesting", "diversity",
              "payment_share", "template_share", "burst_share", "lockstep_share", "hosting_share", "volume_ratio", "density",
              "median_requests", "evidence", "run_id", "operation",
              # day by day (store.lineage): the batch that last wrote the ring, whether it is still current or was
              # merged, split or superseded (into which rings), and its lineage from `linkage detect --state`
              "batch_id", "status", "merged_into", "successors", "lineage", "first_detected", "previous_ids",
              "new_members")),
    # The rings one operator runs, tied by the tools they reuse (linkage.operations).
    NodeType("Operation", "operation_id",
             ("operation_id", "operator", "operator_confidence", "rings", "accounts", "requests", "score", "tools",
              "tool_families", "batch_id", "status")),
    NodeType("Operator", "name", ("name", "known", "rings", "accounts")),
    NodeType("Indicator", "indicator_id", ("indicator_id", "operator", "kind", "value", "note", "matched")),
    # Bookkeeping: which input batches are loaded, and which chunks of a batch's additive steps are done.
    NodeType("LoadBatch", "batch_id", ("batch_id", "chunks", "chunk_rows", "started", "completed", "source")),
    # The one-writer lease (store.lease): present only while a load or a rings write-back runs.
    NodeType("LoadLock", "name", ("name", "owner", "host", "pid", "started", "task", "since", "expires")),
)

_FIXED_RELS = (
    RelType("IN_ASN", "IP", "ASN"),
    RelType("MEMBER_OF", "Account", "Ring"),
    RelType("ATTRIBUTED_TO", "Ring", "Operator", ("confidence",)),
    RelType("PART_OF", "Ring", "Operation"),
    RelType("POINTS_TO", "Indicator", "*"),
    RelType("KNOWN_FOR", "Indicator", "Operator"),
    # An account in a loaded batch, with that batch's own figures: its requests and its activity windows
    # (``lockstep_window_s`` windows and the requests in each), which `linkage rings` reads back over every batch.
    # (Stores loaded before these relationships keep earlier windows as lists on the Account node.)
    RelType("SEEN_IN", "Account", "LoadBatch", ("requests", "windows", "window_requests")),
)


def nodes() -> dict[str, NodeType]:
    """Every node label linkage writes, fixed ones first, then one per stored family."""
    out = {n.label: n for n in _FIXED_NODES[:1]}
    for fam in families.stored():
        node = fam.node
        assert node is not None
        out[node.label] = NodeType(node.label, node.key, (node.key, *node.details, *ENTITY_PROPERTIES), fam.name)
    out.update({n.label: n for n in _FIXED_NODES[1:]})
    return out


def relationships() -> dict[str, RelType]:
    """Every relationship type linkage writes."""
    out: dict[str, RelType] = {}
    for fam in families.stored():
        node = fam.node
        assert node is not None
        props = ((node.counter,) if node.counter else ()) + ("first", "last")
        out[node.rel_type] = RelType(node.rel_type, "Account", node.label, props)
    weights = tuple(f"w_{f.name}" for f in families.all_families())
    out["LINKED"] = RelType("LINKED", "Account", "Account", ("weight", "signals", *weights))
    out.update({r.type: r for r in _FIXED_RELS})
    return out


def node(name: str) -> NodeType:
    """A node type from the allow-list, or ValueError."""
    found = nodes().get(name)
    if found is None:
        raise ValueError(f"not a linkage node label: {name!r}")
    return found


def label(name: str) -> str:
    """A label from the allow-list, or ValueError: never splice anything else into Cypher."""
    return node(name).label


def rel_type(name: str) -> str:
    if name not in relationships():
        raise ValueError(f"not a linkage relationship type: {name!r}")
    return name


def indicator_targets() -> dict[str, tuple[str, str]]:
    """Intel indicator kind -> (label, key) of the node it points to."""
    out = {"account": ("Account", "account_id")}
    for fam in families.all_families():
        if fam.intel_kind and fam.node is not None:
            out[fam.intel_kind] = (fam.node.label, fam.node.key)
        elif fam.intel_kind == "asn":
            out["asn"] = ("ASN", "number")
    return out


def __getattr__(name: str) -> object:
    """Mappings computed from the registry on access (``NODES``, ``RELATIONSHIPS``, ``INDICATOR_TARGET``,
    ``FAMILY_ENTITY``), so a family registered at run time appears in them too."""
    if name == "NODES":
        return nodes()
    if name == "RELATIONSHIPS":
        return relationships()
    if name == "INDICATOR_TARGET":
        return {kind: lbl for kind, (lbl, _) in indicator_targets().items()}
    if name == "FAMILY_ENTITY":
        return {f.name: (f.node.label, f.node.rel_type) for f in families.stored() if f.node is not None}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["NodeType", "RelType", "ENTITY", "ENTITY_PROPERTIES", "nodes", "relationships", "node", "label",
           "rel_type", "indicator_targets"]
