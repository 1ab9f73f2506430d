"""The investigator query library: ``linkage/cypher/queries/*.cypher``, one query per file.

Each file opens with a header of ``// field: value`` comment lines, then the
Cypher::

    // id: account-profile
    // name: Account profile
    // description: Every signal entity of one account with its rarity …
    //   (a description may go on over indented comment lines)
    // params: account_id: string (example: acc_31e11cac)
    // mode: read
    // bloom: account $account_id            (optional: a Bloom search phrase)
    MATCH (a:Account {account_id: $account_id}) …

Several parameters go one per indented line under ``// params:``; ``none``
means no parameters. A parameter is ``name: type (example: value)`` with type
one of ``string int float bool date datetime list<string>``, optionally
``; one of: a, b, c``. The header is checked data: a file with a problem
(missing field, unknown type, an example that is not of its type, a
``$parameter`` used but not declared or declared but not used…) stops
:func:`load_library` with a ``ConfigError`` naming the file.

Values reach Neo4j only as parameters: :func:`bind` types the ``key=value``
strings of ``--param`` and never touches the Cypher text. Read queries run in
a read transaction (``execute_read``), so the server itself refuses a write;
a ``mode: write`` query runs only when the caller allows writes.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from .errors import ConfigError
from .resources import cypher_dir

if TYPE_CHECKING:
    import neo4j

    from .store.connection import Settings

#: ``linkage/cypher/queries``, shipped as package data.
LIBRARY_DIR = cypher_dir("queries")

TYPES = ("string", "int", "float", "bool", "date", "datetime", "list<string>")
MODES = ("read", "write")
FIELDS = ("id", "name", "description", "params", "mode", "bloom")
REQUIRED = ("id", "name", "description", "params", "mode")

_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")
_FIELD = re.compile(r"//\s?([a-z_]+):\s*(.*)\Z")
_CONTINUATION = re.compile(r"//\s{2,}(\S.*)\Z")
_PARAM = re.compile(r"([A-Za-z_]\w*)\s*:\s*([a-z<>]+)\s*\((.*)\)\s*\Z")
_DOLLAR = re.compile(r"\$([A-Za-z_]\w*)")
_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}
_WRITE_CLAUSE = re.compile(r"\b(CREATE|MERGE|DELETE|DETACH|SET|REMOVE|DROP|FOREACH|LOAD\s+CSV)\b", re.I)


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    example: Any
    choices: tuple[str, ...] = ()

    def describe(self) -> str:
        extra = f", one of {'|'.join(self.choices)}" if self.choices else ""
        return f"{self.name} ({self.type}{extra}, e.g. {example_text(self.example)})"


@dataclass(frozen=True)
class Query:
    id: str
    name: str
    description: str
    params: tuple[Param, ...]
    mode: str
    cypher: str
    path: Path | None = None
    bloom: str | None = None

    @property
    def example_params(self) -> dict[str, Any]:
        return {p.name: p.example for p in self.params}


# --- parsing --------------------------------------------------------------------------------


def parse_value(raw: str, type_: str, choices: Sequence[str] = ()) -> Any:
    """Turn one ``--param`` string into the Python value Neo4j gets for ``type_``; ValueError if it is not one.

    >>> parse_value("42", "int"), parse_value("no", "bool"), parse_value("a, b", "list<string>")
    (42, False, ['a', 'b'])
    """
    if type_ == "string":
        value: Any = raw
    elif type_ == "int":
        if not re.fullmatch(r"\s*[+-]?\d+\s*", raw):
            raise ValueError(f"not an integer: {_short(raw)}")
        value = int(raw)
        if not -(2**63) <= value < 2**63:
            raise ValueError(f"integer out of range: {_short(raw)}")
    elif type_ == "float":
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"not a number: {_short(raw)}") from None
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {_short(raw)}")
    elif type_ == "bool":
        word = raw.strip().lower()
        if word not in _TRUE | _FALSE:
            raise ValueError(f"not true/false: {_short(raw)}")
        value = word in _TRUE
    elif type_ == "date":
        try:
            value = dt.date.fromisoformat(raw.strip())
        except ValueError:
            raise ValueError(f"not a date (YYYY-MM-DD): {_short(raw)}") from None
    elif type_ == "datetime":
        text = raw.strip()
        try:
            value = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise ValueError(f"not an ISO 8601 date-time: {_short(raw)}") from None
        if value.tzinfo is None:  # a time without an offset is UTC, like every timestamp linkage stores
            value = value.replace(tzinfo=dt.timezone.utc)
    elif type_ == "list<string>":
        text = raw.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                raise ValueError(f"not a JSON list: {_short(raw)}") from None
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"not a JSON list of strings: {_short(raw)}")
        else:
            value = [part.strip() for part in text.split(",")] if text else []
    else:
        raise ValueError(f"unknown parameter type {type_!r} (one of {', '.join(TYPES)})")
    if choices and value not in choices:
        raise ValueError(f"{_short(raw)} is not one of {', '.join(choices)}")
    return value


def example_text(value: Any) -> str:
    """A parameter value as one would type it after ``--param name=`` (dates ISO, lists comma-joined)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _parse_param(spec: str) -> Param:
    m = _PARAM.match(spec.strip())
    if not m:
        raise ValueError(f"parameter {spec.strip()!r} is not 'name: type (example: value)'")
    name, type_, inner = m.groups()
    if type_ not in TYPES:
        raise ValueError(f"parameter {name}: unknown type {type_!r} (one of {', '.join(TYPES)})")
    parts = {}
    for part in inner.split(";"):
        key, sep, value = part.partition(":")
        key = key.strip()
        if not sep or key not in ("example", "one of"):
            raise ValueError(f"parameter {name}: expected 'example: …' and optionally 'one of: …', got {part.strip()!r}")
        if key in parts:
            raise ValueError(f"parameter {name}: {key!r} given twice")
        parts[key] = value.strip()
    if "example" not in parts:
        raise ValueError(f"parameter {name}: no example")
    choices = tuple(c.strip() for c in parts.get("one of", "").split(",") if c.strip())
    try:
        example = parse_value(parts["example"], type_, choices)
    except ValueError as exc:
        raise ValueError(f"parameter {name}: bad example: {exc}") from None
    return Param(name, type_, example, choices)


def parse_query(text: str, path: Path | None = None) -> Query:
    """One query file's text → :class:`Query`; ``ConfigError`` naming the file lists every problem found."""
    where = str(path) if path else "<query>"
    lines = text.splitlines()
    fields: dict[str, list[str]] = {}
    problems: list[str] = []
    current = None
    i = 0
    while i < len(lines) and lines[i].lstrip().startswith("//"):
        line = lines[i].strip()
        cont = _CONTINUATION.match(line)
        m = _FIELD.match(line)
        if cont and current is not None:
            fields[current].append(cont.group(1).strip())
        elif m:
            current = m.group(1)
            if current not in FIELDS:
                problems.append(f"unknown header field {current!r} (fields: {', '.join(FIELDS)})")
            elif current in fields:
                problems.append(f"header field {current!r} given twice")
            fields[current] = [m.group(2).strip()] if m.group(2).strip() else []
        elif line.strip("/ "):
            problems.append(f"header line {i + 1} is not '// field: value': {line[:60]!r}")
        i += 1
    cypher = "\n".join(lines[i:]).strip()
    for name in REQUIRED:
        if not fields.get(name):
            problems.append(f"missing header field {name!r}")
    qid = " ".join(fields.get("id", [])) or ""
    if qid and not _ID.match(qid):
        problems.append(f"id {qid!r} must be lower-case words joined by '-'")
    mode = " ".join(fields.get("mode", []))
    if mode and mode not in MODES:
        problems.append(f"mode {mode!r} must be read or write")
    params: list[Param] = []
    raw_params = fields.get("params", [])
    if raw_params != ["none"]:
        for spec in raw_params:
            try:
                params.append(_parse_param(spec))
            except ValueError as exc:
                problems.append(str(exc))
    names = [p.name for p in params]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"parameter {dup!r} declared twice")
    if not cypher:
        problems.append("no Cypher after the header")
    else:
        problems.extend(check_cypher(cypher, names, mode))
    bloom = " ".join(fields.get("bloom", [])) or None
    if bloom is not None:
        used = set(_DOLLAR.findall(bloom))
        if used != set(names):
            problems.append(f"bloom phrase must name every parameter once: has {sorted(used)}, params {sorted(names)}")
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))
    return Query(id=qid, name=" ".join(fields["name"]), description=" ".join(fields["description"]),
                 params=tuple(params), mode=mode, cypher=cypher, path=path, bloom=bloom)


def strip_literals(cypher: str) -> str:
    """The Cypher with string literals emptied and comments removed (what the checks look at)."""
    out, i, n = [], 0, len(cypher)
    while i < n:
        c = cypher[i]
        if c in "'\"`":
            j = i + 1
            while j < n and cypher[j] != c:
                j += 2 if cypher[j] == "\\" else 1
            if j >= n:
                raise ValueError("unterminated string literal")
            out.append(c + c)
            i = j + 1
        elif cypher.startswith("//", i):
            j = cypher.find("\n", i)
            i = n if j < 0 else j
        elif cypher.startswith("/*", i):
            j = cypher.find("*/", i + 2)
            if j < 0:
                raise ValueError("unterminated comment")
            i = j + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def check_cypher(cypher: str, declared: Sequence[str], mode: str) -> list[str]:
    """Offline checks of a query body: one statement, balanced brackets, parameters declared and used.

    The server's parser is the real test (the integration tests ``EXPLAIN`` every file);
    this catches the usual slips without one.
    """
    try:
        body = strip_literals(cypher)
    except ValueError as exc:
        return [str(exc)]
    problems = []
    if ";" in body:
        problems.append("one statement per file, without ';'")
    stack, pairs = [], {")": "(", "]": "[", "}": "{"}
    for ch in body:
        if ch in "([{":
            stack.append(ch)
        elif ch in pairs:
            if not stack or stack.pop() != pairs[ch]:
                stack.append("!")
                break
    if stack:
        problems.append("unbalanced brackets")
    if not re.search(r"\bRETURN\b", body, re.I):
        problems.append("a query must RETURN something")
    if re.search(r"\bapoc\.|\bgds\.", body, re.I):
        problems.append("the library runs on Neo4j Community without plugins: no apoc.* or gds.*")
    used = set(_DOLLAR.findall(body))
    if used - set(declared):
        problems.append(f"undeclared parameter(s): {', '.join(sorted(used - set(declared)))}")
    if set(declared) - used:
        problems.append(f"declared but unused parameter(s): {', '.join(sorted(set(declared) - used))}")
    if mode == "read" and (m := _WRITE_CLAUSE.search(body)):
        problems.append(f"mode read but the query writes ({m.group(1).upper()})")
    return problems


_REL_PATTERN = re.compile(r"-\[([^\]]*)\]")
_NAMES_AFTER_COLON = re.compile(r":\s*(!?[A-Za-z_]\w*(?:\s*[|&]\s*!?[A-Za-z_]\w*)*)")
_KEYED_NODE = re.compile(r"\(\s*\w*\s*:\s*([A-Za-z_]\w*)\s*\{([^}]*)\}")
_MAP_KEY = re.compile(r"([A-Za-z_]\w*)\s*:")
_PROPERTY = re.compile(r"(?<![\w.$])[a-z_]\w*\.([A-Za-z_]\w*)")


class CypherNames(TypedDict):
    """What :func:`referenced_names` finds in a query."""

    labels: set[str]
    types: set[str]
    properties: set[str]
    keyed: set[tuple[str, str]]  # (label, key property) of nodes matched by key


def referenced_names(cypher: str) -> CypherNames:
    """Labels, relationship types and properties a query names, for checking against the model.

    ``{"labels", "types", "properties", "keyed": {(label, key), …}}``; string literals and
    comments are ignored. A light reading of Cypher, good for the library's own style.
    """
    body = strip_literals(cypher)
    types: set[str] = set()

    def take_types(m: re.Match[str]) -> str:
        for names in _NAMES_AFTER_COLON.findall(m.group(1)):
            types.update(n.strip().lstrip("!") for n in re.split(r"[|&]", names))
        return "-[]"

    rest = _REL_PATTERN.sub(take_types, body)
    labels = {n.strip().lstrip("!") for names in _NAMES_AFTER_COLON.findall(rest)
              for n in re.split(r"[|&]", names) if n.strip()[:1].isupper() or n.strip()[1:2].isupper()}
    keyed = {(lbl, key) for lbl, inner in _KEYED_NODE.findall(body) for key in _MAP_KEY.findall(inner)}
    return {"labels": labels, "types": types, "properties": set(_PROPERTY.findall(body)), "keyed": keyed}


def load_library(folder: str | Path | None = None) -> dict[str, Query]:
    """Every ``*.cypher`` file of ``folder`` (default: the shipped library), by id, in id order."""
    folder = Path(folder) if folder is not None else LIBRARY_DIR
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no query library there (pass --library DIR)")
    queries: dict[str, Query] = {}
    problems = []
    for path in sorted(folder.glob("*.cypher")):
        try:
            query = parse_query(path.read_text(encoding="utf-8"), path)
        except ConfigError as exc:
            problems.append(str(exc))
            continue
        if query.id in queries:
            problems.append(f"{path}: duplicate id {query.id!r} (also {queries[query.id].path})")
            continue
        queries[query.id] = query
    if problems:
        raise ConfigError(" | ".join(problems))
    if not queries:
        raise ConfigError(f"{folder}: no *.cypher query files")
    return dict(sorted(queries.items()))


def get(library: Mapping[str, Query], name: str) -> Query:
    if name not in library:
        raise ConfigError(f"no query named {_short(name)} (linkage query list shows them)")
    return library[name]


# --- binding and running ----------------------------------------------------------------------


def split_assignments(pairs: Iterable[str]) -> dict[str, str]:
    """``["k=v", …]`` → ``{k: v}``; the value may itself contain ``=``."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--param wants key=value, got {_short(pair)}")
        if key in out:
            raise ConfigError(f"--param {key} given twice")
        out[key] = value
    return out


def bind(query: Query, raw: Mapping[str, str]) -> dict[str, Any]:
    """The parameter dict for ``query`` from ``--param`` strings, typed by its header.

    Every declared parameter must be given and nothing else; values never enter the Cypher text.
    """
    declared = {p.name: p for p in query.params}
    problems = []
    unknown = sorted(set(raw) - set(declared))
    if unknown:
        problems.append(f"unknown parameter(s) {', '.join(_short(u) for u in unknown)}")
    missing = [declared[n].describe() for n in declared if n not in raw]
    if missing:
        problems.append(f"missing --param for {'; '.join(missing)}")
    params: dict[str, Any] = {}
    for name, text in raw.items():
        if name in declared:
            p = declared[name]
            try:
                params[name] = parse_value(text, p.type, p.choices)
            except ValueError as exc:
                problems.append(f"--param {name}: {exc}")
    if problems:
        raise ConfigError(f"query {query.id}: " + "; ".join(problems))
    return params


def run(driver: neo4j.Driver, settings: Settings, query: Query, params: Mapping[str, Any], *,
        allow_write: bool = False) -> list[neo4j.Record]:
    """Run ``query`` with bound ``params`` in a managed transaction; a write query needs ``allow_write``."""
    from .store.connection import run_query

    if query.mode == "write" and not allow_write:
        raise ConfigError(f"query {query.id} writes to the graph: pass --allow-write to run it")
    return run_query(driver, settings, f"library {query.id}", query.cypher, dict(params), write=query.mode == "write")


def run_table(driver: neo4j.Driver, settings: Settings, query: Query, params: Mapping[str, Any], *,
              allow_write: bool = False) -> tuple[list[str], list[dict[str, Any]]]:
    """Like :func:`run`, as ``(columns, rows)``: the columns come from the result, so a query that
    finds nothing still names them (a CSV of no rows keeps its header)."""
    from .store.connection import run_transaction

    if query.mode == "write" and not allow_write:
        raise ConfigError(f"query {query.id} writes to the graph: pass --allow-write to run it")

    def work(tx: neo4j.ManagedTransaction) -> tuple[list[str], list[neo4j.Record]]:
        result = tx.run(query.cypher, dict(params))
        return list(result.keys()), list(result)

    keys, records = run_transaction(driver, settings, f"library {query.id}", work, write=query.mode == "write")
    _, rows = records_to_rows(records)
    return keys, rows


# --- records → rows --------------------------------------------------------------------


def records_to_rows(records: Iterable[Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """Column names and plain rows (str, numbers, bools, lists, dicts, None) from driver records; pure.

    Graph values become text: a node its key (an account its ``account_id``), a
    relationship its type, a path ``(a)-[:TYPE]->(Label key)…``; temporal values ISO 8601.
    """
    columns: list[str] = []
    rows = []
    for record in records:
        keys = list(record.keys())
        if not columns:
            columns = keys
        rows.append({k: plain(v) for k, v in zip(keys, record.values())})
    return columns, rows


def plain(value: Any) -> Any:
    from neo4j.graph import Node, Relationship
    from neo4j.graph import Path as GraphPath

    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Node):
        return node_caption(value)
    if isinstance(value, Relationship):
        return value.type
    if isinstance(value, GraphPath):
        return path_text(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    return iso_text(value)


def iso_text(value: Any) -> str:
    """ISO 8601 for driver and Python temporal values; whole seconds drop their fraction, UTC is ``Z``."""
    native = value.to_native() if hasattr(value, "to_native") else value
    if isinstance(native, dt.datetime):
        if native.microsecond == 0:
            native = native.replace(microsecond=0)
        text = native.isoformat(timespec="seconds" if native.microsecond == 0 else "microseconds")
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(native, (dt.date, dt.time)):
        return native.isoformat()
    iso = getattr(value, "iso_format", None)
    return iso() if iso is not None else str(value)


def node_caption(node: Any, *, with_label: bool = False) -> str:
    """A node's key value (from the model's allow-list), optionally after its label; an entity its name
    (a template n-gram's words rather than its hex id)."""
    from .store.model import ENTITY, nodes

    known = nodes()
    label = next((lb for lb in node.labels if lb in known), None)
    if label is None:
        return str(node.element_id)
    key = node.get("name") if ENTITY in node.labels else None  # a template n-gram's words, else its key
    key = key if key is not None else node.get(known[label].key)
    text = str(key) if key is not None else str(node.element_id)
    return f"{label} {text}" if with_label and label != "Account" else text


def path_text(path: Any) -> str:
    """``(acc_1)-[:PAID_WITH]->(PaymentInstrument tok_x)<-[:PAID_WITH]-(acc_2)``."""
    nodes = list(path.nodes)
    parts = [f"({node_caption(nodes[0], with_label=True)})"]
    for rel, node in zip(path.relationships, nodes[1:]):
        forward = rel.end_node is not None and rel.end_node.element_id == node.element_id
        parts.append(f"-[:{rel.type}]->" if forward else f"<-[:{rel.type}]-")
        parts.append(f"({node_caption(node, with_label=True)})")
    return "".join(parts)
