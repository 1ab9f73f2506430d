"""The architecture's promises: one registry of families, declared stage contracts, safe SQL text, stable ids."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage import families
from linkage.analysis import INPUTS
from linkage.config import Config
from linkage.ids import digest, sql_digest
from linkage.sql import ident, literal
from linkage.stages import Context, ContractError, Runner, Stage

PACKAGE = Path(__file__).resolve().parents[2] / "linkage"


# --- the family registry ---------------------------------------------------------------------------


def test_every_builtin_family_is_registered_once_with_its_parts():
    fams = families.all_families()
    assert len({f.name for f in fams}) == len(fams)
    assert {"payment", "ip", "asn", "device", "prompt", "email", "signup"} <= set(families.names())
    for f in fams:
        assert f.label and f.defaults.cap >= 0 and callable(f.sql)
        if f.node is not None:  # a stored family names a label, key and relationship type
            assert f.node.label[0].isupper() and f.node.key and f.node.rel_type.isupper()
    assert set(Config().families) == set(families.names())


def test_a_family_name_must_be_an_identifier():
    with pytest.raises(ValueError, match="identifier"):
        families.register(dataclasses.replace(families.get("ip"), name="ip; DROP TABLE x"))
    assert "ip; DROP TABLE x" not in families.names()


def test_no_module_keeps_a_list_of_family_names():
    """Only the registry knows the families: no literal collection made of two or more family names elsewhere.

    (Input column names such as ``ip`` or ``prompt`` sit in collections with other columns and are not caught.)
    """
    names = set(families.names())
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "synth" in path.parts:  # the world generator models operators, not the engine's families
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                values = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
                if len(values) >= 2 and set(values) <= names:
                    offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
            if isinstance(node, ast.Dict):
                keys = [k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
                if len(keys) >= 2 and set(keys) <= names:
                    offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


def test_config_round_trips_through_its_recorded_params():
    custom = Config(seed=7, threshold=0.4,
                    families={**Config().families, "ip": dataclasses.replace(Config().families["ip"], cap=77)})
    custom = custom.replace(scoring=dataclasses.replace(custom.scoring, min_coverage=0.4))
    again = Config.from_dict(custom.to_dict())
    assert again == custom


@pytest.mark.parametrize("bad", [dict(resolution=-1.0), dict(resolution=float("nan")), dict(threshold=1.5),
                                 dict(seed=2 ** 63), dict(min_ring_size=1)])
def test_config_refuses_values_out_of_range(bad):
    from linkage.errors import ConfigError

    with pytest.raises(ConfigError):
        Config(**bad)


# --- stage contracts -------------------------------------------------------------------------------


def _ctx(**config) -> Context:
    return Context(con=duckdb.connect(), config=Config(**config))


def test_a_stage_missing_an_input_is_named_before_it_runs():
    ran = []
    stages = [Stage("first", lambda c: c.con.execute("CREATE TABLE a AS SELECT 1 AS x"), writes=("a",)),
              Stage("second", lambda c: ran.append(1), reads=("a", "b"))]
    with pytest.raises(ContractError, match="second needs table.*b"):
        Runner(stages).run(_ctx())
    assert ran == []


def test_a_stage_that_does_not_make_what_it_declares_is_an_error():
    with pytest.raises(ContractError, match="maker"):
        Runner([Stage("maker", lambda c: None, writes=("t",))]).run(_ctx())


def test_intermediates_are_dropped_after_their_last_reader_unless_kept():
    def make(c):
        c.con.execute("CREATE TABLE a AS SELECT 1 AS x")
        c.con.execute("CREATE TABLE scratch AS SELECT 1 AS x")

    stages = [Stage("make", make, writes=("a",)),
              Stage("use", lambda c: c.con.execute("CREATE TABLE b AS SELECT x FROM a"), reads=("a",), writes=("b",))]
    ctx = _ctx()
    Runner(stages, keep=("b",)).run(ctx)
    present = {r[0] for r in ctx.con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert present == {"b"}  # the scratch table and the intermediate a are gone
    ctx = _ctx(keep_tables=True)
    Runner(stages, keep=("b",)).run(ctx)
    present = {r[0] for r in ctx.con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert present == {"a", "b", "scratch"}


def test_detect_leaves_the_analysis_inputs_and_results(tmp_path):
    from linkage import detect

    fixture = Path(__file__).resolve().parents[2] / "fixtures" / "world"
    result = detect(fixture, Config(keep_tables=True))
    present = {r[0] for r in result.con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert set(INPUTS) <= present
    lean = detect(fixture)
    kept = {r[0] for r in lean.con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"pair_family", "entity_ids", "prompt_words", "comm_entities"} & kept == set()
    assert {"links", "members", "incidence", "entities"} <= kept


# --- SQL text and ids ------------------------------------------------------------------------------

_hostile = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(_hostile)
def test_any_text_stays_one_literal_and_one_identifier(text):
    con = duckdb.connect()
    assert con.execute(f"SELECT {literal(text)}").fetchall()[0][0] == text
    con.execute(f"CREATE TABLE t ({ident(text)} INTEGER)")
    assert [r[0] for r in con.execute("DESCRIBE t").fetchall()] == [text]


@settings(max_examples=100, deadline=None)
@given(st.lists(_hostile, min_size=1, max_size=3))
def test_the_sql_digest_is_the_python_digest(parts):
    con = duckdb.connect()
    got = con.execute(f"SELECT {sql_digest(*(literal(p) for p in parts))}").fetchall()[0][0]
    assert got == digest(*parts)


def test_template_keys_are_the_digest_of_the_shingle_text():
    from linkage.signals.prompt import template_key

    con = duckdb.connect()
    assert con.execute(f"SELECT {template_key(literal('write a python function'))}").fetchall()[0][0] == \
        digest("write a python function")
