"""The STIX vocabulary linkage speaks: one definition per concept, read by export and import alike.

- **Ids.** STIX 2.1 asks SDOs and SROs to carry UUIDv4 ids (``SHOULD``; the official validator
  warns on anything else). A run must export the same bundle every time, so ids are *name-based*:
  the UUID is the first 16 bytes of SHA-256 over the object's stable content, with the version
  bits set to 4. That is as deterministic as UUIDv5 and validates without a warning.
- **TLP.** ``stix2`` ships only TLP 1.0 markings (``TLP_WHITE`` ...), which have no ``CLEAR`` or
  ``AMBER+STRICT``. The TLP 2.0 marking definitions are fixed objects published by the OASIS CTI
  TC (``cti-stix-common-objects``): a fixed id per level and the TLP 2.0 property extension.
- **Extensions.** linkage's own types follow the STIX 2.1 rules for custom content: an ``x-``
  prefix and an ``extension-definition`` each, with fixed ids so that every producer's bundles
  name the same extension.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import Any

from ..ids import SEP

#: STIX timestamps of the fixed objects below (the day these definitions were written).
DEFINED = "2026-05-01T00:00:00.000Z"


def stix_id(stix_type: str, *parts: str) -> str:
    """``<type>--<uuid>``: the same parts always give the same id (see the module doc)."""
    raw = hashlib.sha256(SEP.join((stix_type, *parts)).encode("utf-8")).digest()[:16]
    return f"{stix_type}--{uuid.UUID(bytes=raw, version=4)}"


#: Operator and producer names: letters, digits, spaces and a little punctuation; never markup or
#: control characters (names travel into reports, graphs and partners' tools).
NAME = re.compile(r"^[^\W_][\w .:/()&+',#-]*$")
NAME_RULE = "letters, digits, spaces and . : / ( ) & + ' , # - only"
MAX_NAME_CHARS = 200
#: A DNS host name, lower-case (e-mail domains travel as ``domain-name``).
HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$")


# --- TLP 2.0 (OASIS CTI TC, extension-definition--60a3c5c5-…) --------------------------------

TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP2_CREATED = "2022-10-01T00:00:00.000Z"
#: level (as given to ``--tlp``) -> the marking definition's fixed id.
TLP2_MARKINGS = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP_LEVELS = tuple(TLP2_MARKINGS)
DEFAULT_TLP = "amber"


def tlp_marking(level: str) -> Any:
    """The TLP 2.0 ``marking-definition`` of ``level`` as a ``stix2`` object."""
    import stix2

    return stix2.MarkingDefinition(
        id=TLP2_MARKINGS[level], created=TLP2_CREATED, name=f"TLP:{level.upper()}",
        extensions={TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": level}},
    )


# --- linkage's own definitions ---------------------------------------------------------------

#: The identity that defines linkage's extensions (not the producer of a bundle).
LINKAGE_IDENTITY = "identity--6d3ddf07-f193-43e3-97fa-a4348a72865e"
TEMPLATE_TYPE = "x-linkage-harvesting-template"


@dataclass(frozen=True)
class Extension:
    """One of linkage's extension definitions: fixed id, kind(s) and the schema in words."""

    id: str
    name: str
    types: tuple[str, ...]
    description: str
    schema: str


TEMPLATE_EXTENSION = Extension(
    id="extension-definition--578fd772-5636-486d-b668-5159c2c55eaf",
    name="linkage harvesting template",
    types=("new-sdo",),
    description="A text excerpt of a prompt template that an operation's accounts filled in to harvest model "
                "answers (distillation). Consumers match it by word n-gram overlap with their own prompts.",
    schema=f"SDO type {TEMPLATE_TYPE}. Properties: name (string, required); excerpt (string, required: lower-cased "
           "words of the template's fixed text, separated by single spaces); shingle_size (integer: the word n-gram "
           "length the producer matched on); accounts (integer: accounts of the operation seen using it). Related to "
           "the intrusion-set that uses it by a related-to relationship. Defined in linkage docs/intel-exchange.md.",
)
HASHED_EXTENSION = Extension(
    id="extension-definition--ec425ee6-e86a-4ad0-bd23-b67437a6bb55",
    name="linkage keyed-hash identifiers",
    types=("new-sco",),
    description="Platform identifiers shared only as keyed hashes, so that partners holding the same sharing-group "
                "key can match them without learning them.",
    schema="SCO types x-linkage-account, x-linkage-device and x-linkage-instrument, each with one property "
           "hmac_sha256: lower-case hex HMAC-SHA256, keyed with the UTF-8 bytes of the sharing-group key, of the "
           "UTF-8 text '<kind>:<value>' where kind is account, device or instrument and value is the platform's "
           "account id, client fingerprint or payment token. Used in indicator patterns. "
           "Defined in linkage docs/intel-exchange.md.",
)
EVIDENCE_EXTENSION = Extension(
    id="extension-definition--1bf91ef2-a6c8-4355-a038-b397731ee734",
    name="linkage evidence",
    types=("property-extension",),
    description="What linkage measured behind an indicator or a sighting.",
    schema="On indicators: kind (account, ip, ip_prefix, asn, email_domain, device, instrument), hashed (boolean), "
           "key_id (16 hex digits identifying the sharing-group key, itself a keyed hash; present when hashed). "
           "On sightings: accounts (integer: accounts of the operation that used the indicator), requests "
           "(integer), rings (integer). Defined in linkage docs/intel-exchange.md.",
)
EXTENSIONS = (TEMPLATE_EXTENSION, HASHED_EXTENSION, EVIDENCE_EXTENSION)


@dataclass(frozen=True)
class Kind:
    """One intel kind and how it travels in a pattern: ``[<sco>:<prop> = value]``."""

    kind: str  # the intel table's kind (data contract v1) or a hashed/prefix kind resolved on import
    family: str  # the signal family whose entities it comes from (export)
    sco: str
    prop: str
    label: str
    hashed: bool = False
    integer: bool = False


#: Every kind that crosses the border, export and import alike.
KINDS = (
    Kind("ip", "ip", "ipv4-addr", "value", "proxy exit"),
    Kind("ip", "ip", "ipv6-addr", "value", "proxy exit"),
    Kind("ip_prefix", "prefix", "ipv4-addr", "value", "network prefix"),
    Kind("ip_prefix", "prefix", "ipv6-addr", "value", "network prefix"),
    Kind("asn", "asn", "autonomous-system", "number", "autonomous system", integer=True),
    Kind("email_domain", "email", "domain-name", "value", "sign-up e-mail domain"),
    Kind("account", "account", "x-linkage-account", "hmac_sha256", "accounts", hashed=True),
    Kind("device", "device", "x-linkage-device", "hmac_sha256", "client fingerprint", hashed=True),
    Kind("instrument", "payment", "x-linkage-instrument", "hmac_sha256", "payment token", hashed=True),
)
#: (sco, property) -> kind, for reading patterns.
PATH_KIND = {(k.sco, k.prop): k for k in KINDS if k.kind != "ip_prefix"}
#: A plain account id from another producer's bundle (``user-account:user_id``).
PATH_KIND[("user-account", "user_id")] = Kind("account", "account", "user-account", "user_id", "account")
HASHED_SCO = {k.kind: k.sco for k in KINDS if k.hashed}

#: Every object type STIX 2.1 defines; anything else that is not linkage's own is refused on import.
STIX21_TYPES = frozenset(
    """attack-pattern campaign course-of-action grouping identity incident indicator infrastructure intrusion-set
    location malware malware-analysis note observed-data opinion report threat-actor tool vulnerability
    relationship sighting marking-definition language-content extension-definition bundle
    artifact autonomous-system directory domain-name email-addr email-message file ipv4-addr ipv6-addr mac-addr
    mutex network-traffic process software url user-account windows-registry-key x509-certificate""".split()
)
