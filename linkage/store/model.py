"""The Neo4j graph model, as data: the only labels, keys and relationship types linkage writes.

Cypher text never takes a label or type from user input; builders look them
up here (the allow-list), and every value travels as a ``$parameter``. The
schema files, the loader, the query library and the Bloom perspective are
all checked against this module by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NodeType:
    label: str
    key: str  # unique property
    properties: tuple[str, ...]
    family: str | None = None  # the signal family whose entities this label holds


NODES: dict[str, NodeType] = {n.label: n for n in (
    NodeType("Account", "account_id",
             ("account_id", "created_at", "email_domain", "org_id", "country", "requests", "first_seen",
              "last_seen", "hosting_requests", "windows", "window_requests", "ring_id", "ring_score")),
    NodeType("PaymentInstrument", "instrument_id",
             ("instrument_id", "instrument_type", "bin", "accounts", "hub", "pair_weight"), "payment"),
    NodeType("IP", "address", ("address", "accounts", "hub", "pair_weight"), "ip"),
    NodeType("ASN", "number", ("number", "hosting", "accounts"), "asn"),
    NodeType("Device", "device_id", ("device_id", "accounts", "hub", "pair_weight"), "device"),
    NodeType("EmailDomain", "domain", ("domain", "accounts", "hub", "pair_weight"), "email"),
    NodeType("PromptTemplate", "shingle_id", ("shingle_id", "text", "accounts", "hub", "pair_weight"), "prompt"),
    NodeType("Ring", "ring_id",
             ("ring_id", "score", "size", "requests", "first_seen", "last_seen", "operator", "operator_confidence",
              "operator_cluster", "signals", "coordination", "harvesting", "diversity", "payment_share",
              "template_share", "burst_share", "lockstep_share", "hosting_share", "volume_ratio", "density",
              "median_requests", "evidence", "run_id")),
    NodeType("Operator", "name", ("name", "known", "rings", "accounts")),
    NodeType("Indicator", "indicator_id", ("indicator_id", "operator", "kind", "value", "note", "matched")),
    # Bookkeeping: which input batches are loaded, and which chunks of a batch's additive steps are done.
    NodeType("LoadBatch", "batch_id", ("batch_id", "chunks", "chunk_rows", "started", "completed", "source")),
)}


@dataclass(frozen=True)
class RelType:
    type: str
    start: str
    end: str
    properties: tuple[str, ...] = ()


RELATIONSHIPS: dict[str, RelType] = {r.type: r for r in (
    RelType("PAID_WITH", "Account", "PaymentInstrument", ("payments", "first", "last")),
    RelType("USED_IP", "Account", "IP", ("requests", "first", "last")),
    RelType("IN_ASN", "IP", "ASN"),
    RelType("USED_DEVICE", "Account", "Device", ("requests", "first", "last")),
    RelType("HAS_EMAIL_DOMAIN", "Account", "EmailDomain", ("first", "last")),
    RelType("REUSED", "Account", "PromptTemplate", ("count", "first", "last")),
    RelType("LINKED", "Account", "Account", ("weight", "signals", "w_payment", "w_ip", "w_device", "w_prompt",
                                             "w_email", "w_signup")),
    RelType("MEMBER_OF", "Account", "Ring"),
    RelType("ATTRIBUTED_TO", "Ring", "Operator", ("confidence",)),
    RelType("POINTS_TO", "Indicator", "*"),
    RelType("KNOWN_FOR", "Indicator", "Operator"),
)}

#: Signal family -> (entity label, account->entity relationship type).
FAMILY_ENTITY: dict[str, tuple[str, str]] = {
    "payment": ("PaymentInstrument", "PAID_WITH"),
    "ip": ("IP", "USED_IP"),
    "device": ("Device", "USED_DEVICE"),
    "email": ("EmailDomain", "HAS_EMAIL_DOMAIN"),
    "prompt": ("PromptTemplate", "REUSED"),
}

#: Intel indicator kind -> label it points to.
INDICATOR_TARGET: dict[str, str] = {
    "account": "Account", "ip": "IP", "asn": "ASN", "device": "Device", "instrument": "PaymentInstrument",
    "email_domain": "EmailDomain", "prompt": "PromptTemplate",
}


def label(name: str) -> str:
    """A label from the allow-list, or ValueError: never splice anything else into Cypher."""
    if name not in NODES:
        raise ValueError(f"not a linkage node label: {name!r}")
    return name


def rel_type(name: str) -> str:
    if name not in RELATIONSHIPS:
        raise ValueError(f"not a linkage relationship type: {name!r}")
    return name
