"""DuckDB SQL as Spark SQL: the one place that knows what the two dialects do differently.

The stages write DuckDB SQL; SQLGlot parses it (``read="duckdb"``) and writes Spark SQL, which
covers most of the gap by itself (``SEMI JOIN``, ``QUALIFY``, ``FILTER``, ``list``, ``//``…).
What it cannot cover is said here and nowhere else:

- :data:`DRIVER_ONLY_FUNCTIONS`: DuckDB functions with no Spark equivalent giving the *same
  values*. ``hash`` is DuckDB's own 64-bit hash, and the prompt family picks each account's
  prompt sample by it: a different hash picks different prompts, so different templates and
  different rings. ``md5_number_lower`` (the paraphrase family's word hash) has no Spark twin.
  The ``rowid`` pseudo-column numbers a DuckDB table's rows and Spark tables have none.
  A statement using any of them runs on the driver's DuckDB (``SparkConnection``), its inputs
  brought over and its output sent back, so the answers stay the DuckDB engine's. Replacing
  them by a portable hash would change which prompts are sampled on DuckDB too: a change of
  results, left to its own issue.
- statements Spark has no form of (``COPY``, ``DESCRIBE``, ``information_schema``): the
  outputs stage writes files from the driver (see the README's Spark section).
- :func:`_fix_spark`: rewrites of what SQLGlot writes that Spark reads differently.
- one rule for the stages' SQL: a list's length is written ``array_length(list)``, never
  ``len(list)``: DuckDB's ``len`` takes text and lists alike, Spark's ``length`` only text, and
  without the column's type SQLGlot cannot tell which is meant.

Values bound to ``?`` become SQL literals built by SQLGlot (never spliced text), so a value
cannot change a statement on this engine either (``linkage.sql`` is the DuckDB side of that rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlglot
from sqlglot import exp

READ, WRITE = "duckdb", "spark"

#: DuckDB functions whose values Spark cannot reproduce (see the module docstring), lower case.
DRIVER_ONLY_FUNCTIONS = frozenset({"hash", "md5_number_lower"})
#: DuckDB pseudo-columns Spark has no form of.
DRIVER_ONLY_COLUMNS = frozenset({"rowid"})
#: Statement kinds that only make sense on the driver (files written from there, DuckDB's catalog).
DRIVER_ONLY_STATEMENTS = (exp.Copy, exp.Describe, exp.Set, exp.Pragma)


def parse(sql: str) -> Any:
    """One DuckDB statement as a SQLGlot tree (ParseError when SQLGlot cannot read it)."""
    tree = sqlglot.parse_one(sql, read=READ)
    if tree is None:
        raise sqlglot.errors.ParseError("empty statement")
    return tree


def bind(tree: exp.Expression, params: Sequence[Any] | None) -> exp.Expression:
    """``tree`` with its ``?`` placeholders replaced, in order, by literals of ``params``."""
    values = list(params or [])
    if not values:
        return tree
    slots = [p for p in tree.find_all(exp.Placeholder) if not p.this]
    if len(slots) != len(values):
        raise ValueError(f"statement has {len(slots)} parameters, {len(values)} given")
    for slot, value in zip(slots, values):
        slot.replace(_literal(value))
    return tree


def _literal(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        # An empty list stands in ``x IN (SELECT unnest(?))`` (its one use): ``[NULL]`` matches nothing
        # there, as ``[]`` does, and gives Spark an element type.
        return exp.Array(expressions=[_literal(v) for v in value] or [exp.null()])
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    return exp.convert(value)


def driver_only(tree: exp.Expression) -> str | None:
    """Why the statement must run on the driver's DuckDB, or None when Spark can run it."""
    if isinstance(tree, DRIVER_ONLY_STATEMENTS):
        return f"{tree.key.upper()} statement"
    for table in tree.find_all(exp.Table):
        if table.db.lower() == "information_schema":
            return "information_schema"
    for func in tree.find_all(exp.Func):
        name = (func.name if isinstance(func, exp.Anonymous) else func.sql_name()).lower()
        if name in DRIVER_ONLY_FUNCTIONS:
            return f"DuckDB function {name}()"
    for column in tree.find_all(exp.Column):
        if column.name.lower() in DRIVER_ONLY_COLUMNS:
            return f"DuckDB pseudo-column {column.name}"
    return None


def to_spark(tree: exp.Expression) -> str:
    """Spark SQL text of a (bound) DuckDB statement tree."""
    return str(_fix_spark(tree.copy()).sql(dialect=WRITE, unsupported_level=sqlglot.ErrorLevel.RAISE))


def _fix_spark(tree: exp.Expression) -> exp.Expression:
    """Rewrites of DuckDB forms that SQLGlot would carry over to Spark wrongly or not at all.

    - ``list(x ORDER BY k…)``: Spark's ``collect_list`` takes no order, so the list is sorted after;
    - ``quantile_cont(x, q)``: Spark's ``percentile(x, q)`` (exact, interpolated, as DuckDB's);
    - ``(a, b) IN (SELECT (x, y) …)``: DuckDB compares one struct; Spark takes the columns;
    - ``list[a:b]`` (1-based, inclusive): Spark's ``slice(list, a, b - a + 1)``;
    - ``count(DISTINCT x) OVER (…)``: Spark has no distinct window aggregate; ``size(collect_set(x) OVER (…))``;
    - ``UBIGINT``: Spark has no unsigned type; ``DECIMAL(20, 0)`` holds every value;
    - ``strftime(t, fmt)``: Spark's ``date_format`` with a Java pattern (:func:`java_pattern`);
    - ``regexp_split_to_array(text, re)``: Spark's ``split(text, re, -1)`` (empty ends kept, as DuckDB).
    """
    # SQLGlot does not descend into a node a rewrite returns: rewrite until nothing changes.
    for _ in range(8):
        before = tree.sql(dialect=WRITE)
        tree = tree.transform(_fix_node, copy=False)
        if tree.sql(dialect=WRITE) == before:
            break
    return tree


def _fix_node(node: exp.Expression) -> Any:
    if isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Order):
        return _sorted_list(node.this.this, node.this.expressions)
    if isinstance(node, exp.Anonymous) and node.name.lower() == "regexp_split_to_array":
        return exp.Anonymous(this="split", expressions=[*node.expressions, exp.Literal.number(-1)])
    if isinstance(node, exp.TimeToStr) and isinstance(node.args.get("format"), exp.Literal):
        pattern = exp.Literal.string(java_pattern(node.args["format"].this))
        return exp.Anonymous(this="date_format", expressions=[node.this, pattern])
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.UBIGINT:
        return exp.DataType.build("DECIMAL(20, 0)")
    if (isinstance(node, exp.Window) and isinstance(node.this, exp.Count) and isinstance(node.this.this, exp.Distinct)
            and len(node.this.this.expressions) == 1):
        window = node.copy()
        window.set("this", exp.Anonymous(this="collect_set", expressions=[node.this.this.expressions[0].copy()]))
        return exp.ArraySize(this=window)
    if isinstance(node, exp.PercentileCont) and node.expression is not None:
        return exp.Anonymous(this="percentile", expressions=[node.this, node.expression])
    if isinstance(node, exp.Bracket) and len(node.expressions) == 1 and isinstance(node.expressions[0], exp.Slice):
        lo, hi = node.expressions[0].this, node.expressions[0].expression
        count = exp.Add(this=exp.Sub(this=hi.copy(), expression=lo.copy()), expression=exp.Literal.number(1))
        return exp.Anonymous(this="slice", expressions=[node.this, lo, exp.paren(count)])
    if isinstance(node, exp.In) and isinstance(node.this, exp.Tuple):
        query = node.args.get("query")
        select = query.this if isinstance(query, exp.Subquery) else query
        if isinstance(select, exp.Select) and len(select.expressions) == 1 and isinstance(select.expressions[0],
                                                                                          exp.Tuple):
            select.set("expressions", list(select.expressions[0].expressions))
    return node


#: strftime codes the stages use, as Java date-time pattern letters.
_STRFTIME = {"%Y": "yyyy", "%m": "MM", "%d": "dd", "%H": "HH", "%M": "mm", "%S": "ss"}


def java_pattern(strftime: str) -> str:
    """A strftime format as a Java pattern, its literal letters quoted (``T`` and ``Z`` of ISO 8601).

    >>> java_pattern('%Y-%m-%dT%H:%M:%SZ')
    "yyyy-MM-dd'T'HH:mm:ss'Z'"
    """
    out, i = [], 0
    while i < len(strftime):
        code = strftime[i:i + 2]
        if code in _STRFTIME:
            out.append(_STRFTIME[code])
            i += 2
            continue
        if code.startswith("%"):
            raise ValueError(f"strftime code {code} has no Spark pattern here (add it to _STRFTIME)")
        char = strftime[i]
        out.append(f"'{char}'" if char.isalpha() else "''" if char == "'" else char)
        i += 1
    return "".join(out)


def _sorted_list(value: exp.Expression, keys: list[exp.Ordered]) -> Any:
    """``list(value ORDER BY keys)`` as Spark: collect (key…, value) structs, sort them, keep the values.

    The comparator orders each key as DuckDB does: ascending or descending, NULLs last.
    """
    fields = [f"{k.this.sql(dialect=WRITE)} AS k{i}" for i, k in enumerate(keys)]
    cases = []
    for i, k in enumerate(keys):
        lo, hi = ("1", "-1") if k.args.get("desc") else ("-1", "1")
        cases.append(f"WHEN x.k{i} IS NULL AND y.k{i} IS NOT NULL THEN 1 "
                     f"WHEN x.k{i} IS NOT NULL AND y.k{i} IS NULL THEN -1 "
                     f"WHEN x.k{i} < y.k{i} THEN {lo} WHEN x.k{i} > y.k{i} THEN {hi}")
    text = (f"transform(array_sort(collect_list(struct({', '.join(fields)}, {value.sql(dialect=WRITE)} AS v)), "
            f"(x, y) -> CASE {' '.join(cases)} ELSE 0 END), x -> x.v)")
    return sqlglot.parse_one(text, read=WRITE)


def tables_read(tree: exp.Expression) -> set[str]:
    """Names of the tables and views a statement reads (its CTE names excluded)."""
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    target = target_of(tree)
    names = {t.name for t in tree.find_all(exp.Table) if t.name and not t.db}
    if target is not None and not isinstance(tree, exp.Insert):
        names.discard(target)
    return names - ctes


def target_of(tree: exp.Expression) -> str | None:
    """The table or view a CREATE, INSERT or DROP statement makes, fills or drops."""
    if isinstance(tree, (exp.Create, exp.Insert, exp.Drop)):
        node = tree.this
        if isinstance(node, exp.Schema):
            node = node.this
        if isinstance(node, exp.Table):
            return str(node.name)
    return None


__all__ = ["DRIVER_ONLY_FUNCTIONS", "DRIVER_ONLY_COLUMNS", "parse", "bind", "driver_only", "to_spark",
           "tables_read", "target_of"]
