"""Read a STIX 2.1 bundle as intel rows; pure apart from :func:`load_bundle`.

A bundle comes from outside and is treated as hostile: it may be huge, deeply nested, not
JSON, not STIX 2.1, or carry patterns that do not parse and names holding markup. A file
that cannot be read at all is one ``InputError`` line (exit 2); within a readable bundle,
each bad object is a reject with its reason (``rejected.csv``: file = the bundle's name,
line = the object's 1-based position in ``objects``, value = its id) and the rest is used.

What becomes intel:

- an ``indicator`` (STIX pattern) → one row per comparison, for the operators it indicates;
  comparisons must be ``=`` or ``IN`` joined by ``OR``, since an intel row is one value
  (``AND``, ``FOLLOWEDBY``, qualifiers and negations are refused, not half-read);
- an ``x-linkage-harvesting-template`` → a ``prompt`` row with its excerpt;
- operator names come from the ``intrusion-set`` (or ``threat-actor``, ``campaign``) at the
  other end of an ``indicates``/``related-to``/``attributed-to`` relationship, or a ``uses``
  from the set.

Hashed kinds arrive as ``account_hmac``, ``device_hmac``, ``instrument_hmac`` rows and IP
ranges as ``ip_prefix`` rows; :mod:`linkage.stix.intake` resolves them against the batch.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import FREE_MAIL_DOMAINS
from ..errors import InputError
from .model import (
    EVIDENCE_EXTENSION,
    HOSTNAME,
    MAX_NAME_CHARS,
    NAME,
    NAME_RULE,
    PATH_KIND,
    STIX21_TYPES,
    TEMPLATE_TYPE,
    Kind,
)

MAX_BUNDLE_BYTES = 256 * 1024 * 1024
MAX_DEPTH = 32
MAX_PATTERN_CHARS = 1_000_000
MAX_PATTERN_NESTING = 64
MAX_EXCERPT_CHARS = 4_000
OPERATOR_TYPES = ("intrusion-set", "threat-actor", "campaign")
#: Relationship types that tie an indicator or template (source) to an operator (target), and back.
TO_OPERATOR = frozenset({"indicates", "related-to", "attributed-to"})
FROM_OPERATOR = frozenset({"uses", "related-to"})
#: SCO types carry no spec_version requirement; every other object must say 2.1.
SCO_TYPES = frozenset("""artifact autonomous-system directory domain-name email-addr email-message file ipv4-addr
    ipv6-addr mac-addr mutex network-traffic process software url user-account windows-registry-key
    x509-certificate""".split())

_TYPE = re.compile(r"^[a-z0-9][a-z0-9-]{1,248}[a-z0-9]$")
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Reject:
    """One object refused, as a ``rejected.csv`` row."""

    line: int
    column: str | None
    reason: str
    value: str | None


@dataclass
class BundleIntel:
    """What one bundle gives: intel rows ``(operator, kind, value, note)`` and the objects refused."""

    name: str
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    #: Key ids the producer stamped on its hashed indicators (to tell a key mismatch).
    key_ids: set[str] = field(default_factory=set)
    operators: set[str] = field(default_factory=set)
    objects: int = 0


class _Refused(Exception):
    """An object (or pattern) linkage will not read; the message is the reject reason."""

    def __init__(self, reason: str, column: str | None = None):
        super().__init__(reason)
        self.column = column


def load_bundle(path: str | Path) -> Any:
    """The parsed JSON of ``path``, refusing what cannot be a bundle linkage reads (one clear line)."""
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
        if size > MAX_BUNDLE_BYTES:
            raise InputError(f"{name}: {size / 2**20:.0f} MB is more than a STIX bundle may hold here "
                             f"({MAX_BUNDLE_BYTES // 2**20} MB)")
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{name}: cannot read the file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{name}: not UTF-8 text, so not a STIX bundle") from None
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except (RecursionError, ValueError):
        raise InputError(f"{name}: not JSON that a STIX bundle can be (nested too deep, or NaN/Infinity)") from None
    check_bundle(doc, name)
    return doc


def _no_constant(token: str) -> None:
    raise ValueError(token)


def _depth(doc: Any) -> int:
    """How deeply lists and objects nest (iterative: a hostile file must not exhaust the stack)."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        node, d = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, d)
            if d > MAX_DEPTH:
                return d
            stack.extend((v, d + 1) for v in (node.values() if isinstance(node, dict) else node))
    return deepest


def check_bundle(doc: Any, name: str) -> None:
    """Raise InputError unless ``doc`` is a STIX 2.1 bundle in shape (its objects are checked one by one later)."""
    if not isinstance(doc, dict) or doc.get("type") != "bundle":
        raise InputError(f"{name}: not a STIX bundle (expected a JSON object with \"type\": \"bundle\")")
    if "spec_version" in doc:  # STIX 2.0 bundles carry one; 2.1 bundles do not
        raise InputError(f"{name}: a STIX {str(doc['spec_version'])[:10]!r} bundle; linkage reads STIX 2.1")
    if not isinstance(doc.get("objects", []), list):
        raise InputError(f"{name}: the bundle's \"objects\" is not a list")
    if _depth(doc) > MAX_DEPTH:
        raise InputError(f"{name}: nested more than {MAX_DEPTH} levels deep; not a STIX bundle linkage reads")


def parse_bundle(doc: Any, name: str) -> BundleIntel:
    """Intel rows and rejects of a bundle (``doc`` as parsed JSON; ``name`` for rejects and notes)."""
    check_bundle(doc, name)
    out = BundleIntel(name=name)
    objects = doc.get("objects") or []
    out.objects = len(objects)
    operators: dict[str, str] = {}
    values: dict[str, tuple[int, list[tuple[str, str]]]] = {}  # indicator/template id -> (line, [(kind, value)])
    relationships: list[tuple[int, str, str, str, str]] = []
    seen_ids: set[str] = set()
    for line, obj in enumerate(objects, start=1):
        try:
            oid, otype = _envelope(obj)
            seen_ids.add(oid)
            if otype in OPERATOR_TYPES:
                operators[oid] = _operator_name(obj)
            elif otype == "indicator":
                kinds = _indicator_values(obj)
                values[oid] = (line, kinds)
                out.key_ids |= _key_ids(obj)
            elif otype == TEMPLATE_TYPE:
                values[oid] = (line, [("prompt", _excerpt(obj))])
            elif otype == "relationship":
                relationships.append((line, oid, *_relationship(obj)))
            elif otype not in STIX21_TYPES and not otype.startswith("x-linkage-"):
                raise _Refused(f"unknown object type {otype!r}", "type")
        except _Refused as exc:
            oid_shown = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else None
            out.rejects.append(Reject(line, exc.column, str(exc), oid_shown[:80] if oid_shown else None))

    links: dict[str, set[str]] = {}
    for line, rid, source, rel, target in relationships:
        if source in values and target in operators and rel in TO_OPERATOR:
            links.setdefault(source, set()).add(operators[target])
        elif source in operators and target in values and rel in FROM_OPERATOR:
            links.setdefault(target, set()).add(operators[source])
        elif source not in seen_ids or target not in seen_ids:
            out.rejects.append(Reject(line, "source_ref" if source not in seen_ids else "target_ref",
                                      "relationship refers to an object not in the bundle", rid[:80]))
    rows = set()
    for oid, (line, kinds) in values.items():
        names = links.get(oid)
        if not names:
            out.rejects.append(Reject(line, "id", "no intrusion set, threat actor or campaign in the bundle is "
                                      "tied to it by a relationship, so it names no operator", oid[:80]))
            continue
        out.operators |= names
        rows |= {(op, kind, value, f"STIX {name}: {oid}") for op in names for kind, value in kinds}
    out.rows = sorted(rows)
    out.rejects.sort(key=lambda r: r.line)
    return out


def _envelope(obj: Any) -> tuple[str, str]:
    """The object's id and type, after the checks every object must pass."""
    if not isinstance(obj, dict):
        raise _Refused("not a JSON object")
    otype, oid = obj.get("type"), obj.get("id")
    if not isinstance(otype, str) or not _TYPE.match(otype):
        raise _Refused("missing or malformed type", "type")
    if not isinstance(oid, str) or not re.fullmatch(re.escape(otype) + "--" + _UUID, oid):
        raise _Refused("missing or malformed id (expected <type>--<uuid>)", "id")
    spec = obj.get("spec_version")
    if otype not in SCO_TYPES and spec != "2.1":
        raise _Refused(f"spec_version {str(spec)[:10]!r}: linkage reads STIX 2.1 objects", "spec_version")
    if obj.get("revoked") is True:
        raise _Refused("revoked by its producer", "revoked")
    return oid, otype


def _operator_name(obj: dict[str, Any]) -> str:
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _Refused("no name", "name")
    name = name.strip()
    if len(name) > MAX_NAME_CHARS or not NAME.match(name):
        raise _Refused(f"name is not a plain operator name ({NAME_RULE}, at most {MAX_NAME_CHARS} characters)", "name")
    return name


def _excerpt(obj: dict[str, Any]) -> str:
    """The template's words, lower-cased and single-spaced: what the matcher compares, and inert anywhere shown."""
    text = obj.get("excerpt")
    if not isinstance(text, str) or len(text) > MAX_EXCERPT_CHARS:
        raise _Refused(f"excerpt missing, not text, or longer than {MAX_EXCERPT_CHARS} characters", "excerpt")
    words = _WORD.findall(text.lower())
    if len(words) < 2:
        raise _Refused("excerpt has fewer than two words", "excerpt")
    return " ".join(words)


def _relationship(obj: dict[str, Any]) -> tuple[str, str, str]:
    parts = [obj.get(k) for k in ("source_ref", "relationship_type", "target_ref")]
    strings = [p for p in parts if isinstance(p, str) and len(p) <= 300]
    if len(strings) != 3:
        raise _Refused("relationship without source_ref, relationship_type and target_ref", "relationship_type")
    return strings[0], strings[1], strings[2]


def _key_ids(obj: dict[str, Any]) -> set[str]:
    ext = obj.get("extensions")
    ev = ext.get(EVIDENCE_EXTENSION.id) if isinstance(ext, dict) else None
    key_id = ev.get("key_id") if isinstance(ev, dict) else None
    return {key_id} if isinstance(key_id, str) and _KEY_ID.match(key_id) else set()


def _indicator_values(obj: dict[str, Any]) -> list[tuple[str, str]]:
    if obj.get("pattern_type") != "stix":
        raise _Refused(f"pattern_type {str(obj.get('pattern_type'))[:20]!r}: linkage reads STIX patterns", "pattern_type")
    pattern = obj.get("pattern")
    if not isinstance(pattern, str) or not pattern.strip():
        raise _Refused("no pattern", "pattern")
    return parse_pattern(pattern)


def parse_pattern(pattern: str) -> list[tuple[str, str]]:
    """``(kind, value)`` of each comparison of a STIX pattern linkage can read; raise _Refused otherwise.

    >>> parse_pattern("[ipv4-addr:value = '203.0.113.7'] OR [autonomous-system:number = 64500]")
    [('ip', '203.0.113.7'), ('asn', '64500')]
    """
    if len(pattern) > MAX_PATTERN_CHARS:
        raise _Refused(f"pattern longer than {MAX_PATTERN_CHARS:,} characters", "pattern")
    depth = deepest = 0
    for ch in pattern:  # the parser recurses per bracket: refuse what would exhaust it
        depth += (ch in "([") - (ch in ")]")
        deepest = max(deepest, depth)
    if deepest > MAX_PATTERN_NESTING:
        raise _Refused(f"pattern nests brackets more than {MAX_PATTERN_NESTING} deep", "pattern")
    from stix2.pattern_visitor import create_pattern_object

    try:
        tree = create_pattern_object(pattern, version="2.1")
    except RecursionError:
        raise _Refused("pattern nests too deep to parse", "pattern") from None
    except Exception as exc:  # the parser raises several types (ParseException, ValueError, …) on hostile text
        raise _Refused(f"pattern does not parse ({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__})",
                       "pattern") from None
    out: list[tuple[str, str]] = []
    for comparison in _comparisons(tree):
        out.extend(_comparison_values(comparison))
    return list(dict.fromkeys(out))


def _comparisons(node: Any) -> list[Any]:
    """The comparisons of a pattern made only of ``OR``s (observation or boolean) and parentheses."""
    name = type(node).__name__
    if name in ("OrObservationExpression", "OrBooleanExpression"):
        return [c for op in node.operands for c in _comparisons(op)]
    if name == "ObservationExpression":
        return _comparisons(node.operand)
    if name == "ParentheticalExpression":
        return _comparisons(node.expression)
    if name in ("EqualityComparisonExpression", "InComparisonExpression") and not node.negated:
        return [node]
    raise _Refused("pattern uses AND, FOLLOWEDBY, a qualifier, a negation or an operator other than = and IN; "
                   "linkage reads comparisons joined by OR", "pattern")


def _comparison_values(node: Any) -> list[tuple[str, str]]:
    path = node.lhs
    steps = getattr(path, "property_path", [])
    prop = getattr(steps[0], "property_name", None) if len(steps) == 1 else None
    kind = PATH_KIND.get((str(path.object_type_name), str(prop)))
    if kind is None:
        raise _Refused(f"pattern compares {path.object_type_name}:{'.'.join(str(getattr(s, 'property_name', s)) for s in steps)}, "
                       "which linkage has no intel kind for", "pattern")
    constants = node.rhs.value if type(node.rhs).__name__ == "ListConstant" else [node.rhs]
    return [_value(kind, c) for c in constants]


def _value(kind: Kind, constant: Any) -> tuple[str, str]:
    """The intel row ``(kind, value)`` for one constant, normalised the way the batch's entities are."""
    raw = constant.value
    if isinstance(raw, str):
        raw = raw.replace("\\'", "'").replace("\\\\", "\\")
    if kind.integer:
        if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).isdigit() or int(raw) >= 2 ** 32:
            raise _Refused(f"{kind.sco} number is not an AS number", "pattern")
        return kind.kind, str(int(raw))
    if not isinstance(raw, str):
        raise _Refused(f"{kind.sco}:{kind.prop} compared with a non-string", "pattern")
    if kind.hashed:
        if not _HEX64.match(raw):
            raise _Refused(f"{kind.sco}:{kind.prop} is not 64 lower-case hex digits (HMAC-SHA256)", "pattern")
        return f"{kind.kind}_hmac", raw
    if kind.kind == "ip":
        return _ip(kind, raw)
    if kind.kind == "email_domain":
        domain = raw.strip().lower()
        if not HOSTNAME.match(domain):
            raise _Refused("domain-name value is not a host name", "pattern")
        if domain in FREE_MAIL_DOMAINS:
            raise _Refused(f"{domain} is a free-mail domain: thousands share it, so it is not evidence", "pattern")
        return "email_domain", domain
    account = raw.strip()  # user-account:user_id from another producer: a plain account id
    if not account or len(account) > MAX_NAME_CHARS or not account.isprintable():
        raise _Refused("user_id is empty, too long or not printable", "pattern")
    return "account", account


def _ip(kind: Kind, raw: str) -> tuple[str, str]:
    try:
        net = ipaddress.ip_network(raw.strip(), strict=False)
    except ValueError:
        raise _Refused(f"{kind.sco} value is not an IP address or prefix", "pattern") from None
    if (net.version == 4) != (kind.sco == "ipv4-addr"):
        raise _Refused(f"{kind.sco} value is an IPv{net.version} address", "pattern")
    if net.prefixlen == net.max_prefixlen:
        return "ip", str(net.network_address)
    return "ip_prefix", str(net)


__all__ = ["BundleIntel", "MAX_BUNDLE_BYTES", "Reject", "check_bundle", "load_bundle", "parse_bundle", "parse_pattern"]
