"""Split CSV and JSON-lines files into records, each with the physical line it starts on.

Why not DuckDB's CSV reader: on hostile files it can stop the whole file at one bad line
(mixed line ends put its state machine in an "invalid state"), silently truncate a row with
extra fields when made lenient, and it cannot say on which physical line a good row began,
so a quoted prompt spanning lines shifts every later line number. Here the structure is
decided on the bytes, vectorised with numpy, the way SIMD CSV parsers do it: a line feed
ends a record when an even number of quotes precedes it, a comma outside quotes ends a
field. Values are handed to DuckDB as Arrow string views into the read buffer, so Python
never touches a value on its own, and every record comes out either with its fields or with
the reason it has none (wrong field count, unterminated quote, too long, not UTF-8).

A line is a physical line as an editor counts it: ``\\n`` or ``\\r\\n`` ends it.
Empty lines are not records. A CSV file's first line is its header.
"""

from __future__ import annotations

import gzip
import itertools
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from ..errors import InputError
from .contract import size_text

QUOTE, COMMA, LF, CR = 34, 44, 10, 13
#: Bytes read at a time; a record longer than this is gathered over several reads.
BLOCK_BYTES = 16 << 20
_BOM = b"\xef\xbb\xbf"

#: The arrays this module passes around: byte offsets, counts and codes; per-record masks;
#: the buffer as bytes (uint8) or as 8-byte words (uint64).
Ints = npt.NDArray[np.signedinteger[Any]]
Mask = npt.NDArray[np.bool_]
Bytes = npt.NDArray[np.uint8]
Words = npt.NDArray[np.uint64]


def _ints(*values: int) -> Ints:
    return np.array(values, np.int64)


def blocks(path: Path, name: str) -> Iterator[bytes]:
    """The file's bytes (decompressed for ``.gz``) in blocks; read failures name the file."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            while chunk := fh.read(BLOCK_BYTES):
                yield chunk
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise InputError(f"{name}: cannot read the file ({reason})") from None


def too_long(limit: int) -> str:
    return f"record longer than {size_text(limit)} (the record size limit)"


# --- records ----------------------------------------------------------------------------------


@dataclass
class Split:
    """The complete records at the head of a buffer that starts at a record start.

    Per record: ``starts``/``ends`` (byte offsets; the end is before ``\\r\\n``), the quotes
    before each (``start_q``/``end_q``), the line feeds before its start (``feeds``), and
    its separators: ``commas[first[i]:first[i] + fields[i] - 1]``, with the quotes before
    each in ``comma_q``. ``quotes`` lists every quote; ``consumed`` is where the next record
    starts and ``tail_parity`` the quote parity of what follows it.
    """

    starts: Ints
    ends: Ints
    start_q: Ints
    end_q: Ints
    feeds: Ints
    first: Ints
    fields: Ints
    commas: Ints
    comma_q: Ints
    quotes: Ints
    consumed: int = 0
    tail_parity: int = 0
    #: The last record ran to the end of the input inside a quoted field.
    unterminated: bool = False

    def __len__(self) -> int:
        return len(self.starts)

    def take(self, mask: Mask | Ints) -> Split:
        """The records in ``mask``, a mask or indices (separators and quotes are shared)."""
        return Split(self.starts[mask], self.ends[mask], self.start_q[mask], self.end_q[mask], self.feeds[mask],
                     self.first[mask], self.fields[mask], self.commas, self.comma_q, self.quotes, self.consumed,
                     self.tail_parity, self.unterminated)


_E = np.zeros(0, np.int64)
NO_RECORDS = Split(_E, _E, _E, _E, _E, _E, _E, _E, _E, _E)


def split(a: Bytes, *, csv: bool, final: bool) -> Split:
    """Find record and field boundaries in ``a`` (bytes as uint8); ``final`` when no bytes follow.

    One pass over the special bytes (quote, comma, line feed): the quotes before each tell
    whether it is inside a quoted field; everything else is index arithmetic on them.
    """
    if csv:
        mask = a == QUOTE
        mask |= a == COMMA
        mask |= a == LF
        special = np.flatnonzero(mask)
    else:
        special = np.flatnonzero(a == LF)
    kinds = a[special]
    is_quote = kinds == QUOTE
    q_before = np.cumsum(is_quote) - is_quote
    is_feed = kinds == LF
    feeds_upto = np.cumsum(is_feed)
    sep = ~is_quote & ((q_before & 1) == 0)  # commas and line feeds outside quotes
    sep_at = np.flatnonzero(sep)
    sep_is_end = is_feed[sep_at]
    commas_upto = np.cumsum(~sep_is_end)
    end_at = sep_at[sep_is_end]
    ends = special[end_at]
    end_q = q_before[end_at]
    commas_before_end = commas_upto[sep_is_end]
    feeds_at_end = feeds_upto[end_at]
    total_q = int(is_quote.sum())
    consumed = int(ends[-1]) + 1 if len(ends) else 0
    tail_parity = (total_q - int(end_q[-1] if len(end_q) else 0)) & 1
    unterminated = False
    commas = special[sep_at[~sep_is_end]]
    if final and consumed < len(a):  # a last record with no line feed
        ends = np.append(ends, len(a))
        end_q = np.append(end_q, total_q)
        commas_before_end = np.append(commas_before_end, len(commas))
        feeds_at_end = np.append(feeds_at_end, int(feeds_upto[-1]) if len(feeds_upto) else 0)
        unterminated = bool(tail_parity)
        consumed, tail_parity = len(a), 0
    n = len(ends)
    starts = np.concatenate((_ints(0), ends[:-1] + 1)) if n else _E
    start_q = np.concatenate((_ints(0), end_q[:-1])) if n else _E
    first = np.concatenate((_ints(0), commas_before_end[:-1])) if n else _E
    feeds = np.concatenate((_ints(0), feeds_at_end[:-1])) if n else _E
    crlf = (ends > starts) & (a[np.maximum(ends - 1, 0)] == CR) if len(a) else np.zeros(n, bool)
    return Split(starts, ends - crlf, start_q, end_q.astype(np.int64), feeds.astype(np.int64), first.astype(np.int64),
                 (commas_before_end - first + 1).astype(np.int64), commas, q_before[sep_at[~sep_is_end]],
                 special[is_quote], consumed, tail_parity, unterminated)


def _record_end(block: bytes, csv: bool, parity: int) -> tuple[int | None, int]:
    """Where a record under way ends in ``block`` (its line feed), given the quote parity so far,
    and the parity after the block. A few line feeds are tried one by one (the usual case: a
    long prompt whose record ends in the next block); past that, one vectorised pass."""
    if not csv:
        end = block.find(b"\n")
        return (end if end >= 0 else None), 0
    pos = 0
    for _ in range(32):
        end = block.find(b"\n", pos)
        if end < 0:
            return None, (parity + block.count(b'"', pos)) & 1
        parity = (parity + block.count(b'"', pos, end)) & 1
        if parity == 0:
            return end, 0
        pos = end + 1
    a = np.frombuffer(block, np.uint8)[pos:]
    special = np.flatnonzero((a == QUOTE) | (a == LF))
    kinds = a[special]
    is_quote = kinds == QUOTE
    before = (parity + np.cumsum(is_quote) - is_quote) & 1
    ends = special[(kinds == LF) & (before == 0)]
    if len(ends):
        return pos + int(ends[0]), 0
    return None, (parity + int(is_quote.sum())) & 1


@dataclass
class Block:
    """Complete records of one buffer, or a single record refused before it was split."""

    buf: bytes
    split: Split
    first_line: int  # physical line of buf[0]
    #: A record refused whole (too long), with its line; ``split`` is then empty.
    refused: tuple[int, str] | None = None

    @property
    def lines(self) -> Ints:
        return self.first_line + self.split.feeds


def scan(path: Path, name: str, *, csv: bool, max_record_bytes: int) -> Iterator[Block]:
    """Every record of the file, block by block, in file order.

    A record that does not end in its block is gathered piece by piece (each piece scanned
    once); past ``max_record_bytes`` it is no longer held: it is read to its end, quote
    parity kept, and comes out as ``refused``.
    """
    stream: Iterator[bytes] = blocks(path, name)
    parts: list[bytes] = []  # the record under way, from its first byte; it has no record end yet
    size = feeds = parity = 0
    line = 1  # physical line of parts[0][0]
    first = True
    while True:
        block = next(stream, None)
        if first and block:
            block = block[len(_BOM):] if block.startswith(_BOM) else block
            first = False
        if parts and block is not None:
            end, after = _record_end(block, csv, parity)
            if end is None:  # still inside the same record
                parts.append(block)
                size, feeds, parity = size + len(block), feeds + block.count(b"\n"), after
                if size > max_record_bytes:
                    more, rest = _skip(stream, csv, parity)
                    yield Block(b"", NO_RECORDS, line, refused=(line, too_long(max_record_bytes)))
                    line += feeds + more
                    parts, size, feeds, parity = [], 0, 0, 0
                    stream = itertools.chain([rest], stream)  # what follows may hold many records
                continue
        buf = b"".join([*parts, block or b""])
        if not buf:
            return
        sp = split(np.frombuffer(buf, np.uint8), csv=csv, final=block is None)
        if len(sp):
            yield Block(buf, sp, line)
        if block is None:
            return
        line += buf.count(b"\n", 0, sp.consumed)
        rest = buf[sp.consumed:]
        parts = [rest] if rest else []
        size, feeds, parity = len(rest), rest.count(b"\n"), sp.tail_parity


def _skip(stream: Iterator[bytes], csv: bool, parity: int) -> tuple[int, bytes]:
    """Read past the rest of an over-long record: (line feeds passed, the bytes after it)."""
    feeds = 0
    for block in stream:
        end, after = _record_end(block, csv, parity)
        if end is not None:
            return feeds + block.count(b"\n", 0, end + 1), block[end + 1:]
        feeds, parity = feeds + block.count(b"\n"), after
    return feeds, b""


# --- fields ---------------------------------------------------------------------------------------


def field_bounds(sp: Split, width: int, k: int) -> tuple[Ints, Ints, Ints, Ints]:
    """Field ``k`` of each record: (start, end, quotes before start, quotes before end).

    Meaningful only where the record has ``width`` fields.
    """
    top = max(len(sp.commas) - 1, 0)
    if k == 0:
        lo, lo_q = sp.starts, sp.start_q
    else:
        i = np.minimum(sp.first + k - 1, top)
        lo, lo_q = (sp.commas[i] + 1, sp.comma_q[i]) if len(sp.commas) else (sp.starts, sp.start_q)
    if k == width - 1:
        hi, hi_q = sp.ends, sp.end_q
    else:
        i = np.minimum(sp.first + k, top)
        hi, hi_q = (sp.commas[i], sp.comma_q[i]) if len(sp.commas) else (sp.ends, sp.end_q)
    return lo, hi, lo_q, hi_q


def unquote(a: Bytes, sp: Split, lo: Ints, hi: Ints, lo_q: Ints, hi_q: Ints) -> tuple[Ints, Ints, Mask]:
    """Strip a field's enclosing quotes: (start, end, malformed).

    A field is either unquoted with no quote inside, or starts and ends with a quote and
    has only doubled quotes inside (left for SQL to undouble); anything else is malformed.
    """
    size = len(a)
    inside = hi_q - lo_q
    opened = (hi > lo) & (a[np.minimum(lo, max(size - 1, 0))] == QUOTE) if size else np.zeros(len(lo), bool)
    closed = opened & (hi - lo >= 2) & (a[np.maximum(hi - 1, 0)] == QUOTE)
    inner = inside - 2 * closed
    malformed = (opened & ~closed) | (~opened & (inside > 0)) | (closed & (inner % 2 == 1))
    rows = np.flatnonzero(closed & (inner > 0) & ~malformed)
    if len(rows):  # doubled quotes must come in adjacent pairs
        counts = inner[rows]
        at = np.repeat(lo_q[rows] + 1, counts) + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        rank = at - np.repeat(lo_q[rows] + 1, counts)
        broken = (rank % 2 == 0) & (sp.quotes[np.minimum(at + 1, len(sp.quotes) - 1)] != sp.quotes[at] + 1)
        malformed[np.unique(np.repeat(rows, counts)[broken])] = True
    return np.where(closed, lo + 1, lo), np.where(closed, hi - 1, hi), malformed


# --- to Arrow ---------------------------------------------------------------------------------------


def padded(buf: bytes) -> Words:
    """``buf`` as aligned little-endian 8-byte words, zero-padded, for :func:`string_views`."""
    return np.frombuffer(buf + bytes(24 - len(buf) % 8), "<u8")


def _sixteen(words: Words, starts: Ints) -> Words:
    """The 16 bytes at each offset, as (n, 2) words: three aligned gathers and shifts (unaligned gathers are slow)."""
    i = starts >> 3
    shift = ((starts & 7) * 8).astype(np.uint64)
    back = np.uint64(64) - shift
    w0, w1, w2 = words[i], words[i + 1], words[i + 2]
    aligned = shift == 0
    out = np.empty((len(starts), 2), "<u8")
    out[:, 0] = np.where(aligned, w0, (w0 >> shift) | (w1 << np.where(aligned, 0, back).astype(np.uint64)))
    out[:, 1] = np.where(aligned, w1, (w1 >> shift) | (w2 << np.where(aligned, 0, back).astype(np.uint64)))
    return out


def string_views(words: Words, buf: bytes, starts: Ints, ends: Ints, valid: Mask) -> pa.Array:
    """Arrow string views of ``buf[starts[i]:ends[i]]`` (null where not ``valid``), without copying values.

    A view is 16 bytes: the length, then the value inline when it fits in 12 bytes, else its
    first 4 bytes, the buffer index (0) and the offset. ``words`` is ``padded(buf)``. The
    caller guarantees valid UTF-8.
    """
    n = len(starts)
    lens = np.where(valid, ends - starts, 0).astype(np.int32)
    inline = _sixteen(words, starts).view(np.uint8)[:, :12] * (np.arange(12, dtype=np.int32) < lens[:, None])  # zero past the value
    views = np.empty((n, 4), np.int32)
    views[:, 0] = lens
    raw = views.view(np.uint8)
    raw[:, 4:] = inline
    long_ = lens > 12
    views[long_, 2] = 0
    views[long_, 3] = starts[long_]
    validity = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(pa.string_view(), n, [validity, pa.py_buffer(views), pa.py_buffer(buf)])


def utf8_ok(buf: bytes | memoryview) -> bool:
    """Whether the bytes are valid UTF-8 (Arrow's validator; no Python string is built)."""
    offsets = pa.py_buffer(np.array([0, len(buf)], np.int64))
    try:
        pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(buf)]).cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


def invalid_utf8(buf: bytes, starts: Ints, ends: Ints) -> Mask:
    """Mask of the records that are not valid UTF-8, found by halving the failing range."""
    bad = np.zeros(len(starts), bool)
    view = memoryview(buf)
    todo = [(0, len(starts))]
    while todo:
        lo, hi = todo.pop()
        if lo >= hi or utf8_ok(view[starts[lo]:ends[hi - 1]]):
            continue
        if hi - lo == 1:
            bad[lo] = True
        else:
            mid = (lo + hi) // 2
            todo += [(lo, mid), (mid, hi)]
    return bad


@dataclass
class Reasons:
    """Per-record reason codes and their texts, turned into one dictionary-encoded Arrow column."""

    n: int
    codes: Ints = field(init=False)
    texts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.codes = np.full(self.n, -1, np.int32)

    def add(self, mask: Mask, text: str) -> None:
        """Give ``text`` to the records in ``mask`` that have no reason yet (the first problem wins)."""
        mask = mask & (self.codes < 0)
        if mask.any():
            self.codes[mask] = len(self.texts)
            self.texts.append(text)

    @property
    def ok(self) -> Mask:
        return self.codes < 0

    def array(self) -> pa.Array:
        indices = pa.array(self.codes, mask=self.codes < 0)
        return pa.DictionaryArray.from_arrays(indices, pa.array(self.texts, pa.string()))
