"""Every input rule as a SQL expression: value parsing (times, AS numbers, IPs), payment-card
detection, and the ``Check`` that turns a rule into a flag, a reason and a shown value.

Rules run on DuckDB over whole columns, never row by row in Python. Expensive parts sit
behind a cheap ``CASE`` guard because DuckDB evaluates ``CASE`` branches lazily but not
``AND``/``OR``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..sql import literal
from .contract import TIME_RANGE

INTEGER_TYPES = ("BIGINT", "INTEGER", "UBIGINT", "UINTEGER", "SMALLINT", "USMALLINT", "TINYINT", "UTINYINT",
                 "HUGEINT", "UHUGEINT")


def blank(col: str) -> str:
    """True when a text value is absent or only whitespace."""
    return f"({col} IS NULL OR trim({col}) = '')"


def tidy(col: str) -> str:
    """``trim(col)`` (spaces), without copying the many values that have none to trim."""
    return f"CASE WHEN starts_with({col}, ' ') OR ends_with({col}, ' ') THEN trim({col}) ELSE {col} END"


def capped(col: str, limit: int) -> str:
    """The value, or NULL past the field size limit (the row is rejected; the value is not kept)."""
    return f"CASE WHEN strlen({col}) <= {int(limit)} THEN {col} END"


# --- times ---------------------------------------------------------------------------------------

_LO_US = int(TIME_RANGE[0].timestamp()) * 1_000_000
_HI_US = int(TIME_RANGE[1].timestamp()) * 1_000_000
_LO, _HI = (literal(t.strftime("%Y-%m-%d %H:%M:%S+00")) for t in TIME_RANGE)


def _micros_in_range(micros: str) -> str:
    return (f"CASE WHEN {micros} >= {_LO_US} AND {micros} < {_HI_US} "
            f"THEN CAST(make_timestamp(CAST({micros} AS BIGINT)) AS TIMESTAMPTZ) END")


def epoch(col: str) -> str:
    """An integer epoch as TIMESTAMPTZ, its unit read from its magnitude; NULL out of range.

    Below 10^12 it is seconds, below 10^15 milliseconds, below 10^18 microseconds, else
    nanoseconds: within 1970–2100 each unit has its own digit count (10, 13, 16, 19), and
    what falls between is out of range in the unit it would have. HUGEINT: nothing overflows.
    """
    x = f"CAST({col} AS HUGEINT)"
    micros = (f"(CASE WHEN {x} < 1000000000000 THEN {x} * 1000000 WHEN {x} < 1000000000000000 THEN {x} * 1000 "
              f"WHEN {x} < 1000000000000000000 THEN {x} ELSE {x} // 1000 END)")
    return _micros_in_range(micros)


_EPOCH_TEXT = r"-?[0-9]{1,39}(\.0*)?"
_SECONDS_FRACTION = r"-?[0-9]{1,10}\.[0-9]{1,9}"


def _text_time(text: str) -> str:
    """ISO 8601 (``Z``, an offset, or naive = UTC) or epoch digits, as TIMESTAMPTZ (maybe out of range).

    Digits alone never cast as a timestamp, so the epoch rule only runs on what the cast left
    NULL (COALESCE evaluates lazily): the common ISO case costs one cast.
    """
    t = f"trim({text})"  # the cast ignores surrounding whitespace itself
    whole = epoch(f"TRY_CAST(split_part({t}, '.', 1) AS HUGEINT)")
    fraction = _micros_in_range(f"CAST(round(CAST({t} AS DECIMAL(38, 9)) * 1000000) AS HUGEINT)")
    return (f"coalesce(TRY_CAST({text} AS TIMESTAMPTZ), CASE WHEN regexp_full_match({t}, '{_EPOCH_TEXT}') "
            f"THEN {whole} WHEN regexp_full_match({t}, '{_SECONDS_FRACTION}') THEN {fraction} END)")


def in_time_range(value: str) -> str:
    return f"CASE WHEN {value} >= TIMESTAMPTZ {_LO} AND {value} < TIMESTAMPTZ {_HI} THEN {value} END"


def parse_time(col: str, sql_type: str) -> str:
    """A time column as TIMESTAMPTZ, before the range check (Parquet types honoured)."""
    if sql_type.startswith("TIMESTAMP") or sql_type == "DATE":
        return f"CAST({col} AS TIMESTAMPTZ)"
    if sql_type in INTEGER_TYPES:
        return epoch(col)
    return _text_time(f"CAST({col} AS VARCHAR)")


def time_syntax_ok(col: str, sql_type: str) -> str:
    """Whether a present value reads as a time at all (so a NULL result means out of range)."""
    if sql_type.startswith("TIMESTAMP") or sql_type == "DATE" or sql_type in INTEGER_TYPES:
        return "true"
    t = f"trim(CAST({col} AS VARCHAR))"
    return (f"(TRY_CAST({t} AS TIMESTAMPTZ) IS NOT NULL OR regexp_full_match({t}, '{_EPOCH_TEXT}') "
            f"OR regexp_full_match({t}, '{_SECONDS_FRACTION}'))")


TIME_RANGE_TEXT = f"{TIME_RANGE[0]:%Y-%m-%d} to {TIME_RANGE[1]:%Y-%m-%d}"


# --- AS numbers, addresses, e-mail ---------------------------------------------------------------


def asn(col: str, sql_type: str) -> str:
    """``asn`` as BIGINT (``AS13335`` or ``13335``), NULL when it is not an AS number."""
    if sql_type in INTEGER_TYPES:
        return f"CASE WHEN {col} BETWEEN 0 AND 4294967295 THEN CAST({col} AS BIGINT) END"
    n = f"TRY_CAST(regexp_replace(trim(CAST({col} AS VARCHAR)), '^(?i)as', '') AS UBIGINT)"
    return f"CASE WHEN {n} <= 4294967295 THEN CAST({n} AS BIGINT) END"


_V4 = "((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = f"^{_V4}$"
_H = "[0-9a-f]{1,4}"
# IPv6: full, '::'-compressed (at most 7 groups besides the gap), and both again with an IPv4 tail.
_IPV6_FULL = f"^({_H}:){{7}}{_H}$"
_IPV6_GAP = f"^({_H}(:{_H}){{0,6}})?::({_H}(:{_H}){{0,6}})?$"
_IPV6_FULL4 = f"^({_H}:){{6}}{_V4}$"
_IPV6_GAP4 = f"^({_H}(:{_H}){{0,4}})?::({_H}:){{0,4}}{_V4}$"


def ip_ok(col: str, normalised: bool = False) -> str:
    """IPv4 or IPv6 text; a CASE so the IPv6 patterns only run on what is not IPv4 (OR is not lazy)."""
    c = col if normalised else f"lower(trim({col}))"
    groups = f"len(regexp_extract_all({c}, '[0-9a-f]+'))"
    head_groups = f"len(regexp_extract_all(regexp_replace({c}, '[0-9.]+$', ''), '[0-9a-f]+'))"
    return (f"CASE WHEN regexp_full_match({c}, '{_IPV4}') THEN true ELSE (length({c}) <= 45 AND ("
            f"regexp_full_match({c}, '{_IPV6_FULL}') OR regexp_full_match({c}, '{_IPV6_FULL4}')"
            f" OR (regexp_full_match({c}, '{_IPV6_GAP}') AND {groups} <= 7)"
            f" OR (regexp_full_match({c}, '{_IPV6_GAP4}') AND {head_groups} <= 5))) END")


def email_ok(col: str) -> str:
    return f"regexp_full_match(trim({col}), '[^@\\s]+@[^@\\s]+\\.[^@\\s]+')"


# --- payment cards ------------------------------------------------------------------------------

#: Decimal digits of other scripts, folded to ASCII before a value is checked for a card number.
_DIGIT_SETS = ("０１２３４５６７８９", "٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹", "०१२३४५६७८९")
_FOLD_FROM = "".join(_DIGIT_SETS)
_FOLD_TO = "0123456789" * len(_DIGIT_SETS)
_SEP = r"[ \t.\-]"
#: Cheap test every value goes through: twelve digits (of any script), separators allowed between them.
_MAYBE_CARD = rf"\p{{Nd}}(?:{_SEP}*\p{{Nd}}){{11}}"
_TWELVE = rf"[0-9](?:{_SEP}*[0-9]){{11}}"
#: A word holding a letter or an underscore (``acc_123…``, a hex hash, ``card4111…``): its digits are
#: part of an identifier, not a card number standing on its own.
_WORD = r"[0-9]*[\pL_][\pL0-9_]*"
_RUN = rf"[0-9](?:{_SEP}*[0-9])*"
_DOTTED_QUAD = r"[0-9]{1,3}(\.[0-9]{1,3}){3}"


def _luhn(d: str) -> str:
    """The Luhn checksum of the digit string ``d`` holds (vectorised over its characters)."""
    return (f"(list_sum(list_transform(list_reverse(string_split({d}, '')), lambda c, i: CASE WHEN i % 2 = 1 "
            f"THEN CAST(c AS INTEGER) ELSE [0, 2, 4, 6, 8, 1, 3, 5, 7, 9][CAST(c AS INTEGER) + 1] END)) % 10 = 0)")


def _standing(col: str, glued: bool) -> str:
    """The value normalised for the card search: other scripts' digits folded, a decimal tail (``.0``)
    dropped, and (unless ``glued``) words holding a letter or underscore set aside."""
    folded = f"regexp_replace(translate(trim({col}), '{_FOLD_FROM}', '{_FOLD_TO}'), '[.,]0+$', '')"
    return folded if glued else f"regexp_replace({folded}, '{_WORD}', '#', 'g')"


def _card_numbers(col: str, glued: bool = False) -> str:
    """The Luhn-valid 12–19-digit runs in a value (a list, usually empty).

    A run is digits with spaces, tabs, dots or dashes between them (an IPv4 address is not
    one); it is checked whole and group by group. Card numbers never start with 0.
    ``glued`` also reads the digits inside words: what is shown is masked more eagerly
    than what is refused.
    """
    runs = (f"list_filter(regexp_extract_all({_standing(col, glued)}, '{_RUN}'), "  # an IPv4 address is not a card
            f"lambda r: NOT regexp_full_match(r, '{_DOTTED_QUAD}'))")
    candidates = _let(runs, "lk_runs", "list_concat(list_transform(lk_runs, lambda r: regexp_replace(r, '[^0-9]', '', 'g')), "
                      f"flatten(list_transform(lk_runs, lambda r: string_split_regex(r, '{_SEP}+'))))")
    return (f"list_filter({candidates}, lambda d: length(d) BETWEEN 12 AND 19 AND d[1] <> '0' "
            f"AND {_luhn('d')})")


def _let(value: str, name: str, body: str) -> str:
    """``body`` with ``name`` bound to ``value``, evaluated once (SQL has no let; a one-element list
    and a lambda do it). Only for the rare rows that reach the card lists."""
    return f"list_transform([{value}], lambda {name}: {body})[1]"


def has_card(col: str) -> str:
    """A payment card number stands in the value.

    Three stages, each on what the last let through, because this runs on every request's
    device id: one regex per row (twelve digits of any script, separators allowed), then the
    same on the normalised value (about one row in a few hundred on hashed ids), and the
    Luhn lists only on what is left.
    """
    twelve = f"regexp_matches({_standing(col, glued=False)}, '{_TWELVE}')"
    return (f"CASE WHEN regexp_matches({col}, '{_MAYBE_CARD}') THEN CASE WHEN {twelve} "
            f"THEN len({_card_numbers(col)}) > 0 ELSE false END ELSE false END")


def _masked(value: str) -> str:
    """``4111…1111`` for the first card-like number anywhere in the value (digits inside words too), else NULL."""
    masked = _let(_card_numbers(value, glued=True), "lk_cards",
                  "CASE WHEN len(lk_cards) > 0 THEN left(lk_cards[1], 4) || '…' || right(lk_cards[1], 4) END")
    return f"CASE WHEN regexp_matches({value}, '{_MAYBE_CARD}') THEN {masked} END"


def shown(col: str, width: int = 80) -> str:
    """A value as ``rejected.csv`` may show it: cut to ``width``, and a card-like number only masked (``4111…1111``)."""
    value = f"CAST({col} AS VARCHAR)"
    return f"coalesce({_masked(value)}, left({value}, {width}))"


def card_only(col: str) -> str:
    """A value that is never shown (payment tokens): only its masked card number, when it holds one."""
    return _masked(f"CAST({col} AS VARCHAR)")


# --- checks ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One thing a row can break, as SQL over the staged columns.

    ``bad`` decides (cheap; it is all that runs on rows that pass), ``why`` says which
    reason(s) in words and runs only where ``bad`` holds, ``shown`` is the value
    ``rejected.csv`` may show (masked), or None when the column is never shown.
    """

    column: str
    bad: str
    why: str
    shown: str | None = None


def text(reason: str) -> str:
    """A fixed reason as an SQL literal."""
    return literal(reason)


def flag(checks: list[Check]) -> str:
    """True when any check fails (NULL counts as passing).

    One OR, not a CASE chain: nearly every row passes, so every check runs on it anyway,
    and each extra CASE branch costs a selection pass. Expensive checks guard themselves.
    """
    return "coalesce(" + " OR ".join(f"({c.bad})" for c in checks) + ", false)"


def failures(checks: list[Check]) -> str:
    """Each check's verdict as its own column, ``__b0``, ``__b1``…, so that describing a
    rejected row evaluates every check once (reasons, columns and values all read them)."""
    return ", ".join(f"coalesce({c.bad}, false) AS __b{i}" for i, c in enumerate(checks))


def reasons(checks: list[Check]) -> str:
    """Every failed check's reason, ``; ``-joined, in check order (over :func:`failures`)."""
    return "concat_ws('; ', " + ", ".join(f"CASE WHEN __b{i} THEN {c.why} END" for i, c in enumerate(checks)) + ")"


def columns(checks: list[Check]) -> str:
    """The columns of the failed checks, ``; ``-joined, each named once, in check order."""
    order: dict[str, list[str]] = {}
    for i, c in enumerate(checks):
        order.setdefault(c.column, []).append(f"__b{i}")
    parts = [f"CASE WHEN {' OR '.join(bads)} THEN {literal(col)} END" for col, bads in order.items()]
    return f"nullif(concat_ws('; ', {', '.join(parts)}), '')"


def first_shown(checks: list[Check]) -> str:
    """The value of the first failed check that may be shown."""
    parts = [f"CASE WHEN __b{i} THEN {c.shown} END" for i, c in enumerate(checks) if c.shown is not None]
    return f"coalesce({', '.join(parts)})" if parts else "CAST(NULL AS VARCHAR)"
