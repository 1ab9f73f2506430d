"""The Neo4j Bloom perspective, built from the graph model and the query library.

``linkage/cypher/bloom/linkage-perspective.json`` is generated, not hand-written, so it
cannot drift: one category per node label of ``store.model`` (caption, colour,
size; an entity is captioned by its ``name``, a Ring grows with its score, a hub entity is greyed), every relationship
type, and one search phrase per library query with a ``// bloom:`` header line,
whose Cypher is that query's text exactly. A test compares the committed file
with :func:`perspective`. Regenerate after changing the model or a phrase::

    python -m linkage.bloom > linkage/cypher/bloom/linkage-perspective.json

The file is written the way Bloom itself exports a perspective (Bloom 2.21,
checked against public exports; ``tests/unit/bloom_shape.json`` records their
structure and a test holds this file to it). What Bloom reads, and therefore
what is easy to get wrong:

- a search phrase keeps its phrase in ``text`` and its description in
  ``name``; there is no ``description`` field, and ``id`` is ``tmpl:<ms>``;
- captions are ``captions`` objects (one for the label, one per property, with
  ``isCaption`` on those shown); ``captionKeys`` stays empty, and properties
  carry only ``name``, ``exclude`` and ``dataType``;
- a style rule names its property with its type, ``basedOn: "score_number"``;
  a range rule is ``condition: "between"`` with ``minPoint``/``maxPoint`` and
  the ``min…Value``/``max…Value`` strings, a boolean rule ``condition:
  "is-true"``. Both carry Bloom's full rule record (colours, sizes, mappers),
  since Bloom reads a rule as a whole;
- ``metadata.indexes[].propertyKeys`` are ``{key, metadataProp}`` objects.

1.x fields (``categoryIndex``, ``hiddenLabels``, ``isCaption`` on properties,
``caption``) and those 2.21 no longer writes (``isAuto``, ``hiddenCategories``,
``history``, ``metadata.stats``) are left out. Ids and timestamps are fixed so
the file only changes when its content does.
"""

from __future__ import annotations

import json
import sys
import uuid
from typing import TYPE_CHECKING, Any

from .resources import cypher_dir
from .store.model import indicator_targets, nodes, relationships

if TYPE_CHECKING:
    from .queries import Query

PERSPECTIVE_FILE = cypher_dir("bloom") / "linkage-perspective.json"
NAME = "linkage: account rings"
VERSION = "2.21.0"
STAMP = 1767225600000  # 2026-01-01T00:00:00Z, fixed so the file only changes when its content does
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://gh.zcca.site/linkage/bloom-perspective")
#: Bloom 2.21's default palette (it replaced 1.x/2.0's #848484 with #959AA1).
PALETTE = ["#FFE081", "#C990C0", "#F79767", "#57C7E3", "#F16667", "#D9C8AE", "#8DCC93", "#ECB5C9", "#4C8EDA",
           "#FFC454", "#DA7194", "#569480", "#959AA1", "#D9D9D9"]
HUB_GREY = "#D9D9D9"
DEFAULT_REL_COLOUR = "#959AA1"

#: label -> (caption properties, colour, size)
STYLE: dict[str, tuple[tuple[str, ...], str, float]] = {
    "Account": (("account_id",), "#4C8EDA", 1.0),
    "PaymentInstrument": (("name",), "#F79767", 1.0),
    "IP": (("name",), "#57C7E3", 1.0),
    "ASN": (("number",), "#D9C8AE", 1.5),
    "Device": (("name",), "#8DCC93", 1.0),
    "EmailDomain": (("name",), "#ECB5C9", 1.0),
    "PromptTemplate": (("name",), "#FFE081", 1.0),
    "Ring": (("ring_id",), "#F16667", 2.0),
    "Operator": (("name",), "#C990C0", 3.0),
    "Indicator": (("kind", "value"), "#FFC454", 1.0),
}
REL_COLOUR = {"LINKED": "#DA7194", "MEMBER_OF": "#F16667", "ATTRIBUTED_TO": "#C990C0", "POINTS_TO": "#FFC454",
              "KNOWN_FOR": "#FFC454"}
#: label -> (property, low, high, min size, max size): the node grows with the property.
SIZE_RULES: dict[str, tuple[str, float, float, float, float]] = {"Ring": ("score", 0, 1, 1, 4)}

_BOOL = {"hub", "known", "hosting", "matched"}
_INT = {"accounts", "number", "size", "requests", "hosting_requests", "payments", "count", "rings", "cap", "new_members"}
_NUMBER = {"pair_weight", "score", "operator_confidence", "confidence", "weight", "coordination", "harvesting",
           "diversity", "payment_share", "template_share", "burst_share", "lockstep_share", "hosting_share",
           "volume_ratio", "density", "median_requests"}
_LIST = {"signals", "batches", "windows", "window_requests", "evidence", "previous_ids", "successors"}
_PARAM_TYPE = {"string": "String", "int": "Integer", "float": "Float", "bool": "Boolean"}
#: Bloom's data type -> the suffix it puts on a style rule's ``basedOn`` (``score_number``); only the
#: suffixes seen in real exports, so a rule on another type fails here rather than in Bloom.
_RULE_SUFFIX = {"string": "string", "number": "number", "bigint": "number", "boolean": "boolean"}
#: parameter name -> (label, property) Bloom suggests values from (besides the key properties themselves)
_SUGGEST = {"a": ("Account", "account_id"), "b": ("Account", "account_id"), "operator": ("Operator", "name")}


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


def based_on(label: str, prop: str) -> str:
    """A style rule's ``basedOn``: Bloom names the property together with its type."""
    return f"{prop}_{_RULE_SUFFIX[data_type(label, prop)]}"


# --- style rules ------------------------------------------------------------------------------


def _rule(n: int, label: str, prop: str, colour: str) -> dict[str, Any]:
    """The fields every Bloom rule record carries, whatever its kind; Bloom fills the rest of its form from them."""
    return {"id": f"rule:{STAMP + n}", "type": "single", "size": 1, "minSize": 1, "maxSize": 2,
            "minColor": "#F2EAD4", "midColor": "#DBC8AD", "maxColor": "#A48D6D",
            "minPoint": "unprocessed", "maxPoint": "unprocessed",
            "applyColor": False, "applySize": False, "applyCaption": False, "captionKeys": [], "color": colour,
            "isTimeZoneConvertEnabled": False, "selectedTimeZone": "Z", "basedOn": based_on(label, prop),
            "valuesMapper": [], "existingValues": [], "conditionValue": None, "rangeValue": None}


def size_rule(n: int, label: str, colour: str) -> dict[str, Any]:
    """A range rule: the node's size follows a numeric property between two fixed points."""
    prop, low, high, small, large = SIZE_RULES[label]
    lo, hi, mid = _num(low), _num(high), _num((low + high) / 2)
    return {**_rule(n, label, prop, colour), "type": "range", "condition": "between", "applySize": True,
            "minSize": small, "maxSize": large, "minPoint": lo, "maxPoint": hi,
            "minSizeValue": lo, "maxSizeValue": hi, "minColorValue": lo, "midColorValue": mid, "maxColorValue": hi}


def flag_rule(n: int, label: str, prop: str, colour: str) -> dict[str, Any]:
    """A single rule on a boolean property: nodes where it is true take ``colour``."""
    return {**_rule(n, label, prop, colour), "condition": "is-true", "applyColor": True}


def _num(x: float) -> str:
    """Bloom keeps a rule's points as text; write whole numbers without a decimal point."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


# --- categories, relationship types, search phrases --------------------------------------------------


def _caption(key: str, kind: str, shown: bool) -> dict[str, Any]:
    cap: dict[str, Any] = {"inTooltip": True, "styles": [], "isCaption": shown, "key": key, "type": kind}
    if kind == "property":
        cap["isGdsData"] = False
    return cap


def _category(i: int, label: str) -> dict[str, Any]:
    node = nodes()[label]
    captions, colour, size = STYLE.get(label, ((node.key,), "#A5ABB6", 0.5))  # bookkeeping: small and grey
    if node.family and "name" in node.properties and label not in STYLE:
        captions = ("name",)  # a family entity's words for a reader (a template's text, not its shingle id)
    rules = []
    if label in SIZE_RULES:
        rules.append(size_rule(100 * i, label, colour))
    if "hub" in node.properties:
        rules.append(flag_rule(100 * i + 1, label, "hub", HUB_GREY))
    return {
        "id": i, "name": label, "labels": [label],
        "properties": [{"name": p, "exclude": False, "dataType": data_type(label, p)} for p in node.properties],
        "createdAt": STAMP, "lastEditedAt": STAMP, "color": colour, "size": size, "icon": "no-icon",
        "textSize": 1, "textAlign": "top",
        "captions": [_caption(label, "label", False)] + [_caption(p, "property", p in captions)
                                                          for p in node.properties],
        "captionKeys": [], "styleRules": rules,
    }


def _relationship(rtype: str) -> dict[str, Any]:
    rel = relationships()[rtype]
    return {
        "id": rtype, "name": rtype,
        "properties": [{"propertyKey": p, "type": rtype, "dataType": data_type("*", p)} for p in rel.properties],
        "color": REL_COLOUR.get(rtype, DEFAULT_REL_COLOUR), "size": 1, "textSize": 1, "textAlign": "top",
        "captions": [{"inTooltip": True, "isCaption": True, "styles": [], "key": rtype, "type": "relationship"}],
        "captionKeys": [], "styleRules": [],
    }


def _suggestion(name: str) -> tuple[str | None, str | None]:
    if name in _SUGGEST:
        return _SUGGEST[name]
    for label, node in nodes().items():
        if node.key == name:
            return label, name
    return None, None


def _template(i: int, query: Query) -> dict[str, Any]:
    """One search phrase: the phrase in ``text``, the query's description in ``name`` (where Bloom shows it)."""
    if query.mode != "read":
        raise ValueError(f"{query.id}: a Bloom search phrase must be a read query")
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
    created = STAMP + i
    return {"name": f"{query.name}: {query.description}", "id": f"tmpl:{created}", "createdAt": created,
            "text": query.bloom, "cypher": query.cypher, "isUpdateQuery": None, "isWriteTransactionChecked": None,
            "params": params, "hasCypherErrors": False}


def _path_segments() -> list[dict[str, str]]:
    segments = []
    for rel in relationships().values():
        targets = sorted({lbl for lbl, _ in indicator_targets().values()}) if rel.end == "*" else [rel.end]
        segments += [{"source": rel.start, "relationshipType": rel.type, "target": t} for t in targets]
    return segments


def perspective(library: dict[str, Query] | None = None) -> dict[str, Any]:
    """The perspective document; ``library`` defaults to the shipped query library."""
    from . import queries

    library = library if library is not None else queries.load_library()
    return {
        "name": NAME,
        "id": str(NAMESPACE),
        "categories": [_category(i, label) for i, label in enumerate(nodes(), start=1)],
        "labels": {label: [{"propertyKey": p, "type": label, "dataType": data_type(label, p)}
                           for p in node.properties] for label, node in nodes().items()},
        "relationshipTypes": [_relationship(t) for t in relationships()],
        "palette": {"colors": PALETTE, "currentIndex": len(nodes()) % len(PALETTE)},
        "createdAt": STAMP,
        "lastEditedAt": STAMP,
        "templates": [_template(i, q) for i, q in enumerate(q for q in library.values() if q.bloom)],
        "sceneActions": [],
        "hiddenRelationshipTypes": [],
        "hideUncategorisedData": False,
        "type": "STANDARD_PERSPECTIVE",
        "maxLimitToastMsgEnabled": False,
        "parentPerspectiveId": None,
        "metadata": {
            "pathSegments": _path_segments(),
            "indexes": [{"label": label, "type": "native", "propertyKeys": [{"key": node.key, "metadataProp": False}]}
                        for label, node in nodes().items()],
        },
        "version": VERSION,
    }


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # python -m linkage.bloom > linkage/cypher/bloom/linkage-perspective.json
    sys.stdout.write(render(perspective()))
