"""The query library without a server: headers, parameter typing, binding, formatting (Bloom: test_bloom.py)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from linkage import queries
from linkage.cli import main
from linkage.errors import ConfigError
from linkage.store.model import ENTITY, ENTITY_PROPERTIES, NODES, RELATIONSHIPS

HOSTILE = ["'", '"', "}) DETACH DELETE n //", "$x}) DETACH DELETE n RETURN $x //", "x' OR 1=1 //", "\\u0027) MATCH (n) DETACH DELETE n",
           "a" * 100_000]

GOOD = """// id: sample
// name: Sample
// description: A sample query
//   over two lines.
// params:
//   account_id: string (example: acc_1)
//   limit: int (example: 5)
// mode: read
MATCH (a:Account {account_id: $account_id}) RETURN a.account_id AS id LIMIT $limit
"""


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- the shipped library ------------------------------------------------------------------


@pytest.fixture(scope="module")
def library():
    return queries.load_library()


def test_the_shipped_library_loads_with_the_required_queries(library):
    required = {"account-profile", "account-neighbours", "evidence-paths", "ring-members", "operator-footprint",
                "indicator-hits", "ring-new-accounts", "entity-lookup", "hubs", "ring-timeline", "ring-overlap",
                "top-rings", "shared-entities", "direct-link"}
    assert required <= set(library)
    for q in library.values():
        assert q.path.stem == q.id, "one query per file, named by its id"
        assert q.mode == "read"
        assert q.name and q.description
        assert "$" not in json.dumps([str(p.example) for p in q.params])


def test_every_query_names_only_model_labels_types_and_properties(library):
    props = {p for n in NODES.values() for p in n.properties} | {p for r in RELATIONSHIPS.values() for p in r.properties}
    labels = set(NODES) | {ENTITY}  # the common label of every family entity node
    for q in library.values():
        names = queries.referenced_names(q.cypher)
        assert names["labels"] <= labels, (q.id, names["labels"] - labels)
        assert names["types"] <= set(RELATIONSHIPS), (q.id, names["types"] - set(RELATIONSHIPS))
        assert names["properties"] <= props, (q.id, names["properties"] - props)
        for label, key in names["keyed"]:
            assert key in (ENTITY_PROPERTIES if label == ENTITY else NODES[label].properties), (q.id, label, key)


def test_every_query_passes_the_offline_cypher_check(library):
    for q in library.values():
        assert queries.check_cypher(q.cypher, [p.name for p in q.params], q.mode) == [], q.id
        assert "apoc." not in q.cypher.lower()


def test_no_query_lists_families_by_label(library):
    """Queries reach every family through the common Entity label and its properties, so a new family
    shows up with no query edit; only the ASN hop names the IP family's label and relationship."""
    from linkage import families

    labels = {f.node.label for f in families.stored()}
    types = {f.node.rel_type for f in families.stored()}
    for q in library.values():
        found = queries.referenced_names(q.cypher)
        assert found["labels"] & labels <= {"IP"} and found["types"] & types <= {"USED_IP"}, q.id
        if found["labels"] & labels:
            assert "ASN" in found["labels"], q.id
        assert "coalesce(e.instrument_id" not in q.cypher and "shingle_id" not in q.cypher, q.id


def test_entity_lookup_takes_a_key_or_words_never_a_label(library):
    q = library["entity-lookup"]
    assert [p.name for p in q.params] == ["value"]
    assert "{key: $value}" in q.cypher and "{name: $value}" in q.cypher


def test_ring_and_operator_queries_take_top_as_their_example(library):
    """Examples that make sense on any loaded world: "top" is the highest-scoring ring (or its operator)."""
    for q in library.values():
        for p in q.params:
            if p.name in ("ring_id", "operator"):
                assert p.example == "top", q.id
                assert f"${p.name} = 'top'" in q.cypher, q.id


# --- header parsing and validation ---------------------------------------------------------------


def test_a_good_header_parses():
    q = queries.parse_query(GOOD, Path("sample.cypher"))
    assert q.id == "sample" and q.name == "Sample" and q.mode == "read"
    assert q.description == "A sample query over two lines."
    assert [(p.name, p.type, p.example) for p in q.params] == [("account_id", "string", "acc_1"), ("limit", "int", 5)]
    assert q.cypher.startswith("MATCH (a:Account")


def test_inline_single_param_and_none():
    one = GOOD.replace("// params:\n//   account_id: string (example: acc_1)\n//   limit: int (example: 5)\n",
                       "// params: account_id: string (example: acc_1)\n").replace(" LIMIT $limit", "")
    assert [p.name for p in queries.parse_query(one).params] == ["account_id"]
    none = "// id: n\n// name: N\n// description: d\n// params: none\n// mode: read\nRETURN 1 AS one\n"
    assert queries.parse_query(none).params == ()


@pytest.mark.parametrize("field", ["id", "name", "description", "params", "mode"])
def test_a_missing_field_is_named_with_the_file(tmp_path, field):
    text = "\n".join(line for line in GOOD.splitlines() if not line.startswith(f"// {field}:"))
    if field == "params":
        text = "\n".join(line for line in text.splitlines() if not line.startswith("//   "))
    path = _file(tmp_path, "broken.cypher", text)
    with pytest.raises(ConfigError) as err:
        queries.load_library(tmp_path)
    assert str(path) in str(err.value) and f"missing header field {field!r}" in str(err.value)


@pytest.mark.parametrize("change, message", [
    (("int (example: 5)", "integer (example: 5)"), "unknown type 'integer'"),
    (("int (example: 5)", "int (example: five)"), "bad example: not an integer"),
    (("int (example: 5)", "int (5)"), "expected 'example"),
    (("mode: read", "mode: sometimes"), "mode 'sometimes'"),
    (("id: sample", "id: Sample Query"), "lower-case words"),
    (("// mode: read", "// mode: read\n// owner: me"), "unknown header field 'owner'"),
    (("// mode: read", "// mode: read\n// name: Again"), "given twice"),
    (("LIMIT $limit", "LIMIT $limit + $other"), "undeclared parameter(s): other"),
    (("LIMIT $limit", "LIMIT 5"), "declared but unused parameter(s): limit"),
    (("RETURN a.account_id", "SET a.x = 1 RETURN a.account_id"), "mode read but the query writes (SET)"),
    (("RETURN a.account_id AS id", "RETURN (a.account_id AS id"), "unbalanced brackets"),
    (("LIMIT $limit", "LIMIT $limit;"), "without ';'"),
    (("RETURN a.account_id AS id", "CALL apoc.help('x') YIELD name RETURN name"), "no apoc"),
    (("// mode: read", "// mode: read\n// bloom: account $account_id"), "bloom phrase must name every parameter"),
])
def test_header_and_body_problems_are_reported(change, message):
    with pytest.raises(ConfigError) as err:
        queries.parse_query(GOOD.replace(*change), Path("q/sample.cypher"))
    assert message in str(err.value)
    assert str(err.value).startswith("q/sample.cypher: ")


def test_all_problems_of_a_file_are_reported_together():
    text = GOOD.replace("int (example: 5)", "integer (example: 5)").replace("mode: read", "mode: maybe")
    with pytest.raises(ConfigError) as err:
        queries.parse_query(text, Path("x.cypher"))
    assert "unknown type 'integer'" in str(err.value) and "mode 'maybe'" in str(err.value)


def test_duplicate_ids_are_refused(tmp_path):
    _file(tmp_path, "a.cypher", GOOD)
    _file(tmp_path, "b.cypher", GOOD)
    with pytest.raises(ConfigError, match="duplicate id 'sample'") as err:
        queries.load_library(tmp_path)
    assert "a.cypher" in str(err.value) and "b.cypher" in str(err.value)


def test_an_empty_or_missing_library_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no \\*.cypher"):
        queries.load_library(tmp_path)
    with pytest.raises(ConfigError, match="no query library"):
        queries.load_library(tmp_path / "nope")


def test_string_literals_and_comments_do_not_count():
    body = "MATCH (n) WHERE n.note = 'CREATE $x; (' // DELETE $y\nRETURN n"
    assert queries.check_cypher(body, [], "read") == []


# --- parameter typing ----------------------------------------------------------------------------


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_int_parsing_round_trips(n):
    assert queries.parse_value(str(n), "int") == n
    assert queries.parse_value(f" {n} ", "int") == n


@given(st.text())
def test_int_parsing_accepts_integers_and_nothing_else(text):
    try:
        expected = int(text) if re.fullmatch(r"\s*[+-]?\d+\s*", text) else None
    except ValueError:
        expected = None
    if expected is not None and -(2**63) <= expected < 2**63:
        assert queries.parse_value(text, "int") == expected
    else:
        with pytest.raises(ValueError):
            queries.parse_value(text, "int")


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_parsing_round_trips(x):
    assert queries.parse_value(repr(x), "float") == x


@pytest.mark.parametrize("text", ["nan", "inf", "-Infinity", "1e999", "one", ""])
def test_float_parsing_refuses_non_finite_and_words(text):
    with pytest.raises(ValueError):
        queries.parse_value(text, "float")


@given(st.sampled_from(["true", "yes", "y", "1", "on", "false", "no", "n", "0", "off"]), st.booleans())
def test_bool_parsing_is_case_insensitive(word, upper):
    value = queries.parse_value(word.upper() if upper else word, "bool")
    assert value is (word in ("true", "yes", "y", "1", "on"))


@given(st.text().filter(lambda t: t.strip().lower() not in queries._TRUE | queries._FALSE))
def test_bool_parsing_refuses_anything_else(text):
    with pytest.raises(ValueError):
        queries.parse_value(text, "bool")


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters=",[", blacklist_categories=("Cs",)))
                .map(str.strip).filter(bool), min_size=1))
def test_list_parsing_round_trips_comma_separated(items):
    assert queries.parse_value(", ".join(items), "list<string>") == items


@given(st.lists(st.text()))
def test_list_parsing_takes_a_json_array(items):
    assert queries.parse_value(json.dumps(items), "list<string>") == items


def test_dates_and_datetimes():
    assert queries.parse_value("2026-04-01", "date") == dt.date(2026, 4, 1)
    t = queries.parse_value("2026-04-01T10:00:00Z", "datetime")
    assert t == dt.datetime(2026, 4, 1, 10, tzinfo=dt.timezone.utc)
    assert queries.parse_value("2026-04-01T10:00:00", "datetime").tzinfo is dt.timezone.utc
    for bad, type_ in (("01/04/2026", "date"), ("yesterday", "datetime"), ("[1, 2]", "list<string>")):
        with pytest.raises(ValueError):
            queries.parse_value(bad, type_)


# --- binding: values stay values -----------------------------------------------------------------


def test_bind_types_params_and_reports_unknown_and_missing():
    q = queries.parse_query(GOOD)
    assert queries.bind(q, {"account_id": "acc_9", "limit": "7"}) == {"account_id": "acc_9", "limit": 7}
    with pytest.raises(ConfigError) as err:
        queries.bind(q, {"limit": "x", "bogus": "1"})
    text = str(err.value)
    assert "unknown parameter(s) 'bogus'" in text and "missing --param for account_id" in text
    assert "--param limit: not an integer" in text


def test_split_assignments():
    assert queries.split_assignments(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    with pytest.raises(ConfigError, match="given twice"):
        queries.split_assignments(["a=1", "a=2"])
    with pytest.raises(ConfigError, match="key=value"):
        queries.split_assignments(["novalue"])


@pytest.fixture
def sent(monkeypatch):
    """What would reach the driver: run_query replaced by a recorder."""
    calls = []

    def fake_run_query(driver, settings, name, cypher, params=None, *, write=False):
        calls.append({"name": name, "cypher": cypher, "params": params, "write": write})
        return []

    monkeypatch.setattr("linkage.store.connection.run_query", fake_run_query)
    return calls


@pytest.mark.parametrize("hostile", HOSTILE, ids=lambda h: h[:20])
def test_hostile_values_are_sent_as_parameters_only(library, sent, hostile):
    for q in library.values():
        raw = {p.name: hostile if p.type == "string" and not p.choices else str(p.example) for p in q.params}
        if not any(v == hostile for v in raw.values()):
            continue
        before = q.cypher
        params = queries.bind(q, raw)
        queries.run(None, None, q, params)
        call = sent[-1]
        assert call["cypher"] == before and q.path.read_text().rstrip().endswith(before)
        if len(hostile) > 1:  # a lone quote is part of any Cypher with a string literal
            assert hostile not in call["cypher"]
        assert call["write"] is False
        assert {k: v for k, v in call["params"].items() if v == hostile}
        assert all(call["params"][k] == hostile for k, v in raw.items() if v == hostile)


@hyp_settings(max_examples=200)
@given(st.text())
def test_any_text_binds_to_itself_and_leaves_the_cypher_alone(text):
    q = queries.parse_query(GOOD)
    cypher = q.cypher
    assert queries.bind(q, {"account_id": text, "limit": "3"}) == {"account_id": text, "limit": 3}
    assert q.cypher == cypher


def test_a_write_query_needs_allow_write(sent):
    q = queries.parse_query(GOOD.replace("mode: read", "mode: write").replace(
        "RETURN a.account_id", "SET a.ring_score = a.ring_score RETURN a.account_id"))
    with pytest.raises(ConfigError, match="--allow-write"):
        queries.run(None, None, q, {"account_id": "x", "limit": 1})
    assert sent == []
    queries.run(None, None, q, {"account_id": "x", "limit": 1}, allow_write=True)
    assert sent[-1]["write"] is True


# --- records → rows → text -----------------------------------------------------------------------


class FakeRecord:
    def __init__(self, **values):
        self._values = values

    def keys(self):
        return list(self._values)

    def values(self):
        return list(self._values.values())


def test_records_to_rows_makes_plain_values():
    from neo4j.time import Date, DateTime

    rec = FakeRecord(id="acc_1", when=DateTime(2026, 4, 1, 10, 0, 0, tzinfo=dt.timezone.utc), day=Date(2026, 4, 2),
                     xs=[1, 2.5, None], m={"k": [True]})
    cols, rows = queries.records_to_rows([rec])
    assert cols == ["id", "when", "day", "xs", "m"]
    assert rows == [{"id": "acc_1", "when": "2026-04-01T10:00:00Z", "day": "2026-04-02", "xs": [1, 2.5, None],
                     "m": {"k": [True]}}]


# --- CLI without a server ----------------------------------------------------------------------


def test_cli_list_and_show():
    runner = CliRunner()
    res = runner.invoke(main, ["query", "list"])
    assert res.exit_code == 0, res.output
    assert "evidence-paths" in res.output and "ring_id:string" in res.output
    for flags in (["--json"], ["--format", "json"]):
        res = runner.invoke(main, ["query", "list", *flags])
        doc = json.loads(res.output)
        assert {q["id"] for q in doc} >= {"top-rings", "entity-lookup"}
        (ring,) = [q for q in doc if q["id"] == "ring-members"]
        assert ring["params"] == [{"name": "ring_id", "type": "string", "example": "top", "one_of": []}]
    res = runner.invoke(main, ["query", "list", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(res.output)))
    assert list(rows[0]) == ["id", "mode", "params", "name", "description", "bloom"]
    assert {r["id"] for r in rows} == set(queries.load_library())
    res = runner.invoke(main, ["query", "show", "entity-lookup"])
    assert res.exit_code == 0 and "--param value=" in res.output and "MATCH (e:Entity {key: $value})" in res.output
    assert "Example: linkage query run entity-lookup -p value=tok_qpCyY6IFCt9FXl0d" in res.output
    res = runner.invoke(main, ["query", "show", "ring-new-accounts"])
    assert "Example: linkage query run ring-new-accounts -p ring_id=top -p since=2000-01-01" in res.output


def test_cli_param_problems_stop_before_connecting(monkeypatch):
    monkeypatch.setenv("NEO4J_URI", "bolt://127.0.0.1:1")  # nothing listens: a connection attempt would say so
    runner = CliRunner()
    res = runner.invoke(main, ["query", "run", "top-rings"])
    assert res.exit_code == 2 and "missing --param for limit" in res.output
    res = runner.invoke(main, ["query", "run", "top-rings", "-p", "limit=many"])
    assert res.exit_code == 2 and "not an integer" in res.output
    res = runner.invoke(main, ["query", "run", "no-such-query"])
    assert res.exit_code == 2 and "no query named" in res.output
    res = runner.invoke(main, ["query", "run", "top-rings", "-p", "limit=1"])
    assert res.exit_code == 3 and "cannot reach Neo4j" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_cli_has_no_password_option():
    res = CliRunner().invoke(main, ["query", "run", "top-rings", "-p", "limit=1", "--neo4j-password", "s3cret-pw"])
    assert res.exit_code == 2 and "No such option" in res.output
    assert "--neo4j-password" not in CliRunner().invoke(main, ["query", "run", "--help"]).output
