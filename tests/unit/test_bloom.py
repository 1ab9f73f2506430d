"""The Bloom perspective: generated from the model and the library, and shaped the way Bloom 2.x exports one.

``bloom_shape.json`` is the structure of real Bloom exports (its ``sources`` say which): every JSON
path with its types. The perspective may use no path or type Bloom does not write, and must have
every path Bloom does, so an import sees what an export would have given it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from linkage import bloom, queries
from linkage.store.model import NODES, RELATIONSHIPS

SHAPE = json.loads((Path(__file__).parent / "bloom_shape.json").read_text())
_KIND = {dict: "object", list: "array", bool: "boolean", int: "number", float: "number", str: "string",
         type(None): "null"}


def shape_of(doc: Any, path: str = "$", out: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    """Every JSON path of ``doc`` with its types: array items as ``[]``, the label-keyed ``$.labels`` as ``*``."""
    out = {} if out is None else out
    out.setdefault(path, set()).add(_KIND[type(doc)])
    if isinstance(doc, dict):
        for key, value in doc.items():
            shape_of(value, f"{path}.{'*' if path == '$.labels' else key}", out)
    elif isinstance(doc, list):
        for value in doc:
            shape_of(value, path + "[]", out)
    return out


@pytest.fixture(scope="module")
def library():
    return queries.load_library()


@pytest.fixture(scope="module")
def doc():
    return json.loads(bloom.PERSPECTIVE_FILE.read_text())


def test_the_committed_perspective_is_the_generated_one(library):
    assert bloom.PERSPECTIVE_FILE.read_text() == bloom.render(bloom.perspective(library)), \
        "regenerate: python -m linkage.bloom > linkage/cypher/bloom/linkage-perspective.json"


# --- Bloom's own format --------------------------------------------------------------------------


def test_every_path_and_type_is_one_bloom_writes(doc):
    expected = SHAPE["paths"]
    foreign = {p: sorted(t) for p, t in shape_of(doc).items() if p not in expected}
    assert not foreign, f"paths no Bloom export has: {foreign}"
    wrong = {p: (sorted(t), expected[p]) for p, t in shape_of(doc).items() if not t <= set(expected[p])}
    assert not wrong, f"types Bloom does not write there: {wrong}"


def test_every_path_bloom_writes_is_there(doc):
    missing = set(SHAPE["paths"]) - set(SHAPE["optional"]) - set(shape_of(doc))
    assert not missing, sorted(missing)


def test_the_shape_file_names_its_sources():
    assert all({"repository", "file", "commit", "bloom"} <= set(s) for s in SHAPE["sources"])
    newest = max(SHAPE["sources"], key=lambda s: tuple(int(x) for x in s["bloom"].split(".")))
    assert newest["bloom"] == bloom.VERSION == "2.21.0"


@pytest.mark.parametrize("path", [
    "$.templates[].description",  # a phrase's description lives in name; Bloom ignores description
    "$.categories[].styleRules[].dataType", "$.categories[].styleRules[].minValue",  # pre-2.x rule fields
    "$.categoryIndex", "$.categories[].hiddenLabels", "$.categories[].properties[].isCaption",  # 1.x leftovers
])
def test_fields_bloom_does_not_read_are_gone(doc, path):
    assert path not in shape_of(doc)


def test_search_phrases_carry_their_description_in_name(doc, library):
    by_text = {q.bloom: q for q in library.values() if q.bloom}
    assert {t["text"] for t in doc["templates"]} == set(by_text)
    ids = [t["id"] for t in doc["templates"]]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"tmpl:\d+", i) for i in ids)
    for t in doc["templates"]:
        q = by_text[t["text"]]
        assert t["name"] == f"{q.name}: {q.description}" and t["cypher"] == q.cypher
        assert [p["name"] for p in t["params"]] == [f"${p.name}" for p in q.params]
        assert set(re.findall(r"\$\w+", t["text"])) == {p["name"] for p in t["params"]}
        assert t["isUpdateQuery"] is None


def test_style_rules_name_a_typed_property_and_use_bloom_conditions(doc):
    seen = set()
    for c in doc["categories"]:
        types = {p["name"]: p["dataType"] for p in c["properties"]}
        for r in c["styleRules"]:
            prop, suffix = r["basedOn"].rsplit("_", 1)
            assert prop in types and bloom.based_on(c["name"], prop) == r["basedOn"], r["basedOn"]
            assert re.fullmatch(r"rule:\d+", r["id"])
            if r["type"] == "range":
                assert suffix == "number" and r["condition"] == "between" and r["applySize"]
                assert float(r["minPoint"]) < float(r["maxPoint"])
                assert (r["minSizeValue"], r["maxSizeValue"]) == (r["minPoint"], r["maxPoint"])
                assert r["minSize"] < r["maxSize"]
            else:
                assert r["type"] == "single" and suffix == "boolean" and r["condition"] == "is-true"
            seen.add((c["name"], r["basedOn"], r["type"]))
    assert ("Ring", "score_number", "range") in seen
    assert {lbl for lbl, based, _ in seen if based == "hub_boolean"} == {n for n in NODES if "hub" in NODES[n].properties}


def test_indexes_use_the_object_form_of_property_keys(doc):
    for index in doc["metadata"]["indexes"]:
        assert index["propertyKeys"] == [{"key": NODES[index["label"]].key, "metadataProp": False}]


def test_a_write_query_cannot_become_a_search_phrase(library):
    q = next(q for q in library.values() if q.bloom)
    write = queries.Query(**{**q.__dict__, "mode": "write"})
    with pytest.raises(ValueError, match="read query"):
        bloom.perspective({q.id: write})


# --- the model and the library ---------------------------------------------------------------------


def test_the_perspective_follows_the_model(doc):
    cats = {c["labels"][0]: c for c in doc["categories"]}
    assert set(cats) == set(NODES)
    for label, c in cats.items():
        props = set(NODES[label].properties)
        shown = [cap["key"] for cap in c["captions"] if cap["isCaption"]]
        assert shown and set(shown) <= props
        assert [cap["key"] for cap in c["captions"] if cap["type"] == "label"] == [label]
        assert {p["name"] for p in c["properties"]} == props
        assert c["color"].startswith("#") and c["size"] > 0
    assert set(doc["labels"]) == set(NODES)
    assert {r["name"] for r in doc["relationshipTypes"]} == set(RELATIONSHIPS)
    for r in doc["relationshipTypes"]:
        assert {p["propertyKey"] for p in r["properties"]} == set(RELATIONSHIPS[r["name"]].properties)
    for seg in doc["metadata"]["pathSegments"]:
        assert seg["source"] in NODES and seg["target"] in NODES and seg["relationshipType"] in RELATIONSHIPS


def test_search_phrases_are_the_library_queries(doc, library):
    phrases = {t["text"]: t for t in doc["templates"]}
    assert set(phrases) == {q.bloom for q in library.values() if q.bloom}
    assert {"ring $ring_id members", "why are $a and $b linked"} <= set(phrases)
    for t in doc["templates"]:
        for p in t["params"]:
            if p["suggestionLabel"]:
                assert p["suggestionProp"] in NODES[p["suggestionLabel"]].properties
