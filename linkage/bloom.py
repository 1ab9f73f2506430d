"""The Neo4j Bloom perspective, built from the graph model and the query library.

``linkage/cypher/bloom/linkage-perspective.json`` is generated, not hand-written, so it
cannot drift: one category per node label of ``store.model`` (caption, colour,
size; a Ring grows with its score, a hub entity is greyed), every relationship
type, and one search phrase per library query with a ``// bloom:`` header line,
whose Cypher is that query's text exactly. A test compares the committed file
with :func:`perspective`. Regenerate after changing the model or a phrase::

    python -m linkage.bloom > linkage/cypher/bloom/linkage-perspective.json

The layout follows perspectives exported by Bloom 2.x (``categories``,
``labels``, ``relationshipTypes``, ``templates``, ``metadata``); ids and
timestamps are fixed so the file is stable.
"""

from __future__ import annotations

import json
import sys
import uuid

from .resources import cypher_dir
from .store.model import INDICATOR_TARGET, NODES, RELATIONSHIPS

PERSPECTIVE_FILE = cypher_dir("bloom") / "linkage-perspective.json"
NAME = "linkage: account rings"
VERSION = "2.15.0"
STAMP = 1767225600000  # 2026-01-01T00:00:00Z, fixed so the file only changes when its content does
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://gh.zcca.site/linkage/bloom-perspective")
PALETTE = ["#FFE081", "#C990C0", "#F79767", "#57C7E3", "#F16667", "#D9C8AE", "#8DCC93", "#ECB5C9", "#4C8EDA",
           "#FFC454", "#DA7194", "#569480", "#848484", "#D9D9D9"]
HUB_GREY = "#D9D9D9"

#: label -> (caption properties, colour, size)
STYLE: dict[str, tuple[tuple[str, ...], str, float]] = {
    "Account": (("account_id",), "#4C8EDA", 1.0),
    "PaymentInstrument": (("instrument_id",), "#F79767", 1.0),
    "IP": (("address",), "#57C7E3", 1.0),
    "ASN": (("number",), "#D9C8AE", 1.5),
    "Device": (("device_id",), "#8DCC93", 1.0),
    "EmailDomain": (("domain",), "#ECB5C9", 1.0),
    "PromptTemplate": (("text",), "#FFE081", 1.0),
    "Ring": (("ring_id",), "#F16667", 2.0),
    "Operator": (("name",), "#C990C0", 3.0),
    "Indicator": (("kind", "value"), "#FFC454", 1.0),
}
REL_COLOUR = {"LINKED": "#DA7194", "MEMBER_OF": "#F16667", "ATTRIBUTED_TO": "#C990C0", "POINTS_TO": "#FFC454",
              "KNOWN_FOR": "#FFC454"}

_BOOL = {"hub", "known", "hosting", "matched"}
_INT = {"accounts", "number", "size", "requests", "hosting_requests", "payments", "count", "rings"}
_NUMBER = {"pair_weight", "score", "operator_confidence", "confidence", "weight", "coordination", "harvesting",
           "diversity", "payment_share", "template_share", "burst_share", "lockstep_share", "hosting_share",
           "volume_ratio", "density", "median_requests"}
_LIST = {"signals", "batches", "windows", "evidence"}
_PARAM_TYPE = {"string": "String", "int": "Integer", "float": "Float", "bool": "Boolean"}
#: parameter name -> (label, property) Bloom suggests values from (besides the key properties themselves)
_SUGGEST = {"a": ("Account", "account_id"), "b": ("Account", "account_id"), "operator": ("Operator", "name")}


def _id(name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, name))


def data_type(owner: str, prop: str) -> str:
    """Bloom's data type of a property (the loader stores Ring first_seen/last_seen as text, as in rings.json)."""
    if prop in _BOOL:
        return "boolean"
    if prop in _INT:
        return "bigint"
    if prop in _NUMBER or prop.startswith("w_"):
        return "number"
    if prop in _LIST:
        return "array"
    if prop in ("first", "last", "created_at") or (owner == "Account" and prop in ("first_seen", "last_seen")):
        return "DateTime"
    return "string"


def _category(i: int, label: str) -> dict:
    node = NODES[label]
    captions, colour, size = STYLE.get(label, ((node.key,), "#A5ABB6", 0.5))  # bookkeeping: small and grey
    rules = []
    if label == "Ring":
        rules.append({"id": _id("rule/Ring/score"), "type": "range", "basedOn": "score", "dataType": "number",
                      "condition": "range", "minValue": 0, "maxValue": 1, "applySize": True, "minSize": 1,
                      "maxSize": 4, "applyColor": False, "applyCaption": False, "existingField": True,
                      "disabled": False, "isGdsData": False})
    if "hub" in node.properties:
        rules.append({"id": _id(f"rule/{label}/hub"), "type": "single", "basedOn": "hub", "dataType": "boolean",
                      "condition": "equals", "conditionValue": "true", "applyColor": True, "color": HUB_GREY,
                      "applySize": False, "applyCaption": False, "existingField": True, "disabled": False,
                      "isGdsData": False})
    return {
        "id": i, "name": label, "labels": [label], "createdAt": STAMP, "lastEditedAt": STAMP,
        "color": colour, "size": size, "icon": "no-icon", "textSize": 1, "textAlign": "top",
        "captionKeys": list(captions),
        "captions": [{"key": k, "type": "property", "isCaption": True, "inTooltip": True, "styles": [],
                      "isGdsData": False} for k in captions],
        "properties": [{"name": p, "exclude": False, "isCaption": p in captions, "dataType": data_type(label, p)}
                       for p in node.properties],
        "hiddenLabels": [], "styleRules": rules,
    }


def _relationship(rtype: str) -> dict:
    rel = RELATIONSHIPS[rtype]
    return {
        "id": rtype, "name": rtype, "color": REL_COLOUR.get(rtype, "#A5ABB6"), "size": 1, "textSize": 1,
        "textAlign": "top", "captionKeys": [],
        "captions": [{"key": rtype, "type": "relationship", "isCaption": True, "inTooltip": True, "styles": []}],
        "properties": [{"propertyKey": p, "type": rtype, "dataType": data_type("*", p)} for p in rel.properties],
        "styleRules": [],
    }


def _suggestion(name: str) -> tuple[str | None, str | None]:
    if name in _SUGGEST:
        return _SUGGEST[name]
    for label, node in NODES.items():
        if node.key == name:
            return label, name
    return None, None


def _template(i: int, query) -> dict:
    params = []
    for p in query.params:
        if p.type not in _PARAM_TYPE:
            raise ValueError(f"{query.id}: Bloom search phrases take string, int, float or bool, not {p.type}")
        lbl, prop = _suggestion(p.name)
        # A closed list of values (the header's "one of") is offered by a suggestion query of literals.
        choices = f"UNWIND [{', '.join(json.dumps(c) for c in p.choices)}] AS value RETURN value" if p.choices else None
        params.append({"name": f"${p.name}", "dataType": _PARAM_TYPE[p.type], "collapsed": False,
                       "suggestionLabel": lbl, "suggestionProp": prop, "suggestionBoolean": False,
                       "cypher": choices})
    return {"id": f"linkage:{query.id}", "name": query.name, "text": query.bloom, "cypher": query.cypher,
            "description": query.description, "params": params, "createdAt": STAMP + i,
            "isUpdateQuery": query.mode == "write", "hasCypherErrors": False}


def perspective(library: dict | None = None) -> dict:
    """The perspective document; ``library`` defaults to the shipped query library."""
    from . import queries

    library = library if library is not None else queries.load_library()
    segments = []
    for rel in RELATIONSHIPS.values():
        targets = sorted(set(INDICATOR_TARGET.values())) if rel.end == "*" else [rel.end]
        segments += [{"source": rel.start, "relationshipType": rel.type, "target": t} for t in targets]
    return {
        "name": NAME,
        "id": str(NAMESPACE),
        "type": "STANDARD_PERSPECTIVE",
        "version": VERSION,
        "createdAt": STAMP,
        "lastEditedAt": STAMP,
        "categories": [_category(i, label) for i, label in enumerate(NODES, start=1)],
        "categoryIndex": len(NODES),
        "labels": {label: [{"propertyKey": p, "type": label, "dataType": data_type(label, p)}
                           for p in node.properties] for label, node in NODES.items()},
        "relationshipTypes": [_relationship(t) for t in RELATIONSHIPS],
        "palette": {"colors": PALETTE, "currentIndex": len(NODES) % len(PALETTE)},
        "templates": [_template(i, q) for i, q in enumerate(q for q in library.values() if q.bloom)],
        "sceneActions": [],
        "hiddenRelationshipTypes": [],
        "hiddenCategories": [],
        "hideUncategorisedData": False,
        "isAuto": False,
        "parentPerspectiveId": None,
        "history": [],
        "metadata": {
            "pathSegments": segments,
            "indexes": [{"label": label, "type": "native", "propertyKeys": [node.key]} for label, node in NODES.items()],
            "stats": {"labels": {}, "relationshipTypes": {}},
        },
    }


def render(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # python -m linkage.bloom > linkage/cypher/bloom/linkage-perspective.json
    sys.stdout.write(render(perspective()))
