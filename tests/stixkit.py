"""Hand-made STIX objects for the intel-exchange tests: small, valid by default, easy to break."""

from __future__ import annotations

import json
from pathlib import Path

from linkage.stix.model import EVIDENCE_EXTENSION, TEMPLATE_TYPE, stix_id

T = "2026-06-30T00:00:00.000Z"


def sdo(stix_type: str, key: str, **props) -> dict:
    return {"type": stix_type, "spec_version": "2.1", "id": stix_id(stix_type, key), "created": T, "modified": T,
            **props}


def intrusion_set(name: str) -> dict:
    return sdo("intrusion-set", name, name=name)


def indicator(pattern: str, key: str | None = None, **props) -> dict:
    return sdo("indicator", key or pattern, pattern=pattern, pattern_type="stix", valid_from=T, **props)


def template(excerpt: str) -> dict:
    return sdo(TEMPLATE_TYPE, excerpt, name="t", excerpt=excerpt,
               extensions={"extension-definition--578fd772-5636-486d-b668-5159c2c55eaf": {"extension_type": "new-sdo"}})


def rel(source: dict, rel_type: str, target: dict) -> dict:
    return sdo("relationship", source["id"] + rel_type + target["id"], source_ref=source["id"],
               relationship_type=rel_type, target_ref=target["id"])


def hashed(pattern: str, key_id: str) -> dict:
    return indicator(pattern, extensions={EVIDENCE_EXTENSION.id: {"extension_type": "property-extension",
                                                                  "kind": "device", "hashed": True, "key_id": key_id}})


def bundle(*objects) -> dict:
    return {"type": "bundle", "id": stix_id("bundle", *(str(o) for o in objects)), "objects": list(objects)}


def write(path: Path, doc) -> Path:
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path
