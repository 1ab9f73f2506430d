"""The store's model, schema and row builders agree with each other (no server needed)."""

from __future__ import annotations

import doctest
import re

from linkage.config import Config
from linkage.results import Operation, Ring
from linkage.store import bulk, load, model, rows, schema, writeback


def test_every_node_key_has_a_uniqueness_constraint():
    unique = set()
    for _, stmt in schema.statements():
        m = re.search(r"FOR \(n:(\w+)\) REQUIRE n\.(\w+) IS UNIQUE", stmt)
        if m:
            unique.add(m.groups())
    assert {(n.label, n.key) for n in model.nodes().values()} <= unique
    assert ("Operation", "operation_id") in unique


def test_operations_and_part_of_are_in_the_model():
    assert model.label("Operation") == "Operation"
    part_of = model.relationships()["PART_OF"]
    assert (part_of.start, part_of.end) == ("Ring", "Operation")
    assert {"prompts", "focused"} <= set(model.node("Account").properties)
    assert "operation" in model.node("Ring").properties


def _op(**kw) -> Operation:
    base = dict(operation_id="operation-x", operator="op-a", operator_confidence=0.9, rings=["ring-b", "ring-a"],
                accounts=12, requests=300, score=0.8,
                tools={"ip": {"tools": 3, "top": []}, "prompt": {"tools": 2, "top": []}})
    return Operation(**{**base, **kw})


def test_operation_rows_flatten_what_neo4j_can_store():
    [row] = rows.operation_rows([_op()])
    assert row["operation_id"] == "operation-x" and row["ring_ids"] == ["ring-a", "ring-b"]
    props = row["props"]
    assert props["rings"] == 2 and props["tools"] == 5 and props["tool_families"] == ["ip", "prompt"]
    assert all(not isinstance(v, dict) for v in props.values())  # Neo4j properties cannot be maps
    [row] = rows.operation_rows([_op(tools={})])
    assert row["props"]["tool_families"] is None and row["props"]["tools"] == 0


def test_a_ring_row_names_its_operation():
    ring = Ring(ring_id="ring-a", score=0.9, size=3, members=["a", "b", "c"], operator=None,
                operator_confidence=0.0, operator_cluster="unattributed-1", operation="operation-x")
    assert rows.ring_rows([ring])[0]["props"]["operation"] == "operation-x"
    ring.operation = None
    assert "operation" not in rows.ring_rows([ring])[0]["props"]


def test_the_bulk_import_writes_operations_and_part_of():
    files = bulk.import_files(Config(), [])
    names = {(kind, name) for kind, name, _, _ in files}
    assert ("nodes", "Operation") in names and ("relationships", "PART_OF") in names
    account = next(cols for kind, name, cols, _ in files if name == "Account")
    assert {"prompts:long", "focused:long"} <= {c.header for c in account}


def test_pure_helpers_do_what_their_examples_say():
    for module in (load, writeback):
        assert doctest.testmod(module).failed == 0
