"""DuckDB SQL as Spark SQL (``linkage.engines.dialect``): each rewrite, and what stays on the driver."""

from __future__ import annotations

import pytest

from linkage.engines import dialect as d


def spark(sql: str, params=None) -> str:
    return d.to_spark(d.bind(d.parse(sql), params))


def test_an_ordered_list_is_sorted_after_collecting():
    out = spark("SELECT list(v ORDER BY s DESC, k) FROM t")
    assert "ARRAY_SORT(COLLECT_LIST(STRUCT(s AS k0, k AS k1, v AS v))" in out
    assert "TRANSFORM(" in out and "x -> x.v" in out


def test_slices_percentiles_and_split_become_spark_functions():
    assert "SLICE(w, 1, (3 - 1 + 1))" in spark("SELECT w[1:3] FROM t")
    assert "PERCENTILE(x, 0.9)" in spark("SELECT quantile_cont(x, 0.9) FROM t")
    assert "SPLIT(p, '[^ ]+', -1)" in spark("SELECT regexp_split_to_array(p, '[^ ]+') FROM t")
    assert "SIZE(w)" in spark("SELECT array_length(w) FROM t")


def test_distinct_window_counts_and_tuple_in():
    assert "SIZE(COLLECT_SET(aid) OVER (PARTITION BY op))" in spark("SELECT count(DISTINCT aid) OVER (PARTITION BY op) FROM t")
    assert "IN (SELECT family, entity FROM op_tools)" in spark(
        "SELECT 1 FROM i WHERE (i.family, i.entity) IN (SELECT (family, entity) FROM op_tools)")


def test_strftime_letters_are_quoted_in_the_java_pattern():
    assert d.java_pattern("%Y-%m-%dT%H:%M:%SZ") == "yyyy-MM-dd'T'HH:mm:ss'Z'"
    with pytest.raises(ValueError):
        d.java_pattern("%j")


def test_parameters_become_literals_never_text():
    out = spark("SELECT * FROM t WHERE a = ? AND b IN (SELECT unnest(?))", ["x' OR 1=1 --", [1, 2]])
    assert "'x\\' OR 1=1 --'" in out or "'x'' OR 1=1 --'" in out
    assert "EXPLODE(ARRAY(1, 2))" in out
    assert "ARRAY(NULL)" in spark("SELECT * FROM t WHERE b IN (SELECT unnest(?))", [[]])
    with pytest.raises(ValueError):
        spark("SELECT ?", [1, 2])


def test_duckdb_only_functions_run_on_the_driver():
    assert d.driver_only(d.parse("SELECT hash(p) FROM events")) == "DuckDB function hash()"
    assert d.driver_only(d.parse("SELECT rowid FROM t")) == "DuckDB pseudo-column rowid"
    assert d.driver_only(d.parse("SELECT count(*) FROM information_schema.tables")) == "information_schema"
    assert d.driver_only(d.parse("SELECT aid, count(*) FROM events GROUP BY aid")) is None


def test_tables_read_leave_out_ctes_and_the_created_table():
    tree = d.parse("CREATE TABLE x AS WITH c AS (SELECT * FROM a) SELECT * FROM c JOIN b USING (k)")
    assert d.tables_read(tree) == {"a", "b"} and d.target_of(tree) == "x"
    assert d.tables_read(d.parse("INSERT INTO x SELECT * FROM a")) == {"x", "a"}
