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
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..errors import InputError

QUOTE, COMMA, LF, CR = 34, 44, 10, 13
#: Bytes read at a time; a record longer than this is gathered over several reads.
BLOCK_BYTES = 16 << 20
_BOM = b"\xef\xbb\xbf"
_EMPTY = np.zeros(0, np.int64)


def _read_error(name: str, exc: Exception) -> InputError:
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return InputError(f"{name}: cannot read the file ({reason})")


def blocks(path: Path, name: str) -> Iterator[bytes]:
    """The file's bytes (decompressed for ``.gz``) in blocks; read failures name the file."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            while chunk := fh.read(BLOCK_BYTES):
                yield chunk
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise _read_error(name, exc) from None


@dataclass
class Split:
    """The complete records at the head of a buffer that starts at a record start.

    ``starts``/``ends`` are byte offsets (``ends`` before the line end, ``\\r`` included
    in the line end); ``feeds`` are all line-feed offsets, ``commas`` the field separators
    outside quotes and ``quotes`` every quote; ``consumed`` is where the next record starts.
    """

    starts: np.ndarray
    ends: np.ndarray
    feeds: np.ndarray
    commas: np.ndarray
    quotes: np.ndarray
    consumed: int
    #: The last record ran to the end of the input inside a quoted field.
    unterminated: bool = False


def split(a: np.ndarray, *, csv: bool, final: bool) -> Split:
    """Find record boundaries in ``a`` (bytes as uint8); ``final`` when no bytes follow."""
    if csv:
        special = np.flatnonzero((a == QUOTE) | (a == COMMA) | (a == LF))
        kinds = a[special]
        is_quote = kinds == QUOTE
        before = np.cumsum(is_quote) - is_quote  # quotes before each special byte
        outside = (before & 1) == 0
        is_feed = kinds == LF
        feeds, quotes = special[is_feed], special[is_quote]
        ends = special[is_feed & outside]
        commas = special[(kinds == COMMA) & outside]
        open_at_end = bool(len(quotes) & 1)
    else:
        feeds = ends = np.flatnonzero(a == LF)
        commas = quotes = _EMPTY
        open_at_end = False
    consumed = int(ends[-1]) + 1 if len(ends) else 0
    unterminated = False
    if final and consumed < len(a):
        ends = np.append(ends, len(a))
        consumed = len(a)
        unterminated = open_at_end
    starts = np.empty(len(ends), np.int64)
    if len(ends):
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
    ends = ends.astype(np.int64)
    crlf = (ends > starts) & (a[np.maximum(ends - 1, 0)] == CR) if len(a) else np.zeros(len(ends), bool)
    return Split(starts, ends - crlf, feeds, commas, quotes, consumed, unterminated)


@dataclass
class Block:
    """Complete records of one buffer, or a single record refused before it was split."""

    buf: bytes
    split: Split
    first_line: int  # physical line of buf[0]
    #: A record refused whole (too long), with its line; ``split`` is then empty.
    refused: tuple[int, str] | None = None

    @property
    def lines(self) -> np.ndarray:
        return self.first_line + np.searchsorted(self.split.feeds, self.split.starts)


def _quote_parity(a: np.ndarray, parity: int) -> tuple[int, int | None, int]:
    """Skip inside one record: (parity after ``a``, offset of the record's line feed or None, feeds seen)."""
    special = np.flatnonzero((a == QUOTE) | (a == LF))
    kinds = a[special]
    is_quote = kinds == QUOTE
    before = (parity + np.cumsum(is_quote) - is_quote) & 1
    ends = special[(kinds == LF) & (before == 0)]
    if len(ends):
        end = int(ends[0])
        return 0, end, int(np.count_nonzero(kinds[special <= end] == LF))
    return (parity + int(is_quote.sum())) & 1, None, int(np.count_nonzero(kinds == LF))


def scan(path: Path, name: str, *, csv: bool, max_record_bytes: int) -> Iterator[Block]:
    """Every record of the file, block by block, in file order.

    A record longer than ``max_record_bytes`` is not held in memory: it is skipped to its
    end (quote parity kept) and comes out as ``refused``.
    """
    stream = blocks(path, name)
    pending = b""
    line = 1
    first = True
    eof = False
    while not eof:
        block = next(stream, None)
        eof = block is None
        buf = pending + block if pending and block else (block or pending)
        if first and buf:
            buf = buf[len(_BOM):] if buf.startswith(_BOM) else buf
            first = False
        if not buf:
            break
        a = np.frombuffer(buf, np.uint8)
        sp = split(a, csv=csv, final=eof)
        if not len(sp.starts):
            if len(buf) <= max_record_bytes:
                pending = buf
                continue
            parity = int(np.count_nonzero(a == QUOTE) & 1) if csv else 0
            feeds = int(np.count_nonzero(a == LF))
            rest, more, eof = _skip(stream, csv, parity)
            yield Block(b"", split(np.zeros(0, np.uint8), csv=csv, final=True), line,
                        refused=(line, f"record longer than {max_record_bytes:,} bytes"))
            line += feeds + more
            pending = rest
            continue
        yield Block(buf, sp, line)
        line += int(np.searchsorted(sp.feeds, sp.consumed))
        pending = buf[sp.consumed:]


def _skip(stream: Iterator[bytes], csv: bool, parity: int) -> tuple[bytes, int, bool]:
    """Read past the rest of an over-long record: (bytes after it, line feeds passed, end of file)."""
    feeds = 0
    for block in stream:
        a = np.frombuffer(block, np.uint8)
        if csv:
            parity, end, seen = _quote_parity(a, parity)
        else:
            hits = np.flatnonzero(a == LF)
            end, seen = (int(hits[0]), 1) if len(hits) else (None, 0)
        feeds += seen
        if end is not None:
            return block[end + 1:], feeds, False
    return b"", feeds, True


# --- from records to Arrow ---------------------------------------------------------------------


def string_views(a: np.ndarray, buf: bytes, starts: np.ndarray, ends: np.ndarray, valid: np.ndarray) -> pa.Array:
    """Arrow string views of ``buf[starts[i]:ends[i]]`` (null where not ``valid``), without copying values.

    A view is 16 bytes: the length, then the value inline when it fits in 12 bytes, else its
    first 4 bytes, the buffer index and the offset. The caller guarantees valid UTF-8.
    """
    n = len(starts)
    lens = np.where(valid, ends - starts, 0).astype(np.int32)
    views = np.zeros((n, 4), np.int32)
    views[:, 0] = lens
    raw = views.view(np.uint8)
    head = a[np.minimum(starts[:, None] + np.arange(12), max(len(a) - 1, 0))] if len(a) else np.zeros((n, 12), np.uint8)
    head[np.arange(12)[None, :] >= lens[:, None]] = 0
    short = lens <= 12
    raw[short, 4:16] = head[short]
    long_ = ~short
    raw[long_, 4:8] = head[long_, :4]
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


def invalid_utf8(buf: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
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
    codes: np.ndarray = field(init=False)
    texts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.codes = np.full(self.n, -1, np.int32)

    def add(self, mask: np.ndarray, text: str) -> None:
        """Give ``text`` to the records in ``mask`` that have no reason yet (the first problem wins)."""
        mask = mask & (self.codes < 0)
        if mask.any():
            self.codes[mask] = len(self.texts)
            self.texts.append(text)

    def array(self) -> pa.Array:
        return pa.DictionaryArray.from_arrays(pa.array(self.codes, mask=self.codes < 0), pa.array(self.texts,
                                                                                                   pa.string()))


def field_bounds(sp: Split, ncols: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Byte range of field ``k`` of each record; meaningful only where the record has ``ncols`` fields."""
    if not len(sp.commas):
        return sp.starts, sp.ends
    first = np.searchsorted(sp.commas, sp.starts)  # the record's first separator
    top = len(sp.commas) - 1
    lo = sp.starts if k == 0 else sp.commas[np.minimum(first + k - 1, top)] + 1
    hi = sp.ends if k == ncols - 1 else sp.commas[np.minimum(first + k, top)]
    return lo, hi


def field_counts(sp: Split) -> np.ndarray:
    """Number of fields of each record: separators inside it, plus one."""
    return np.searchsorted(sp.commas, sp.ends) - np.searchsorted(sp.commas, sp.starts) + 1


def unquote(a: np.ndarray, quotes: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Strip a field's enclosing quotes: (start, end, needs ``""`` unescaped, malformed).

    A field is either unquoted with no quote inside, or starts and ends with a quote and
    has only doubled quotes inside; anything else is malformed.
    """
    size = len(a)
    opened = (hi > lo) & (a[np.minimum(lo, size - 1)] == QUOTE) if size else np.zeros(len(lo), bool)
    closed = opened & (hi - lo >= 2) & (a[np.maximum(hi - 1, 0)] == QUOTE)
    start = np.where(closed, lo + 1, lo)
    end = np.where(closed, hi - 1, hi)
    first, past = np.searchsorted(quotes, start), np.searchsorted(quotes, end)
    inner = past - first
    malformed = (opened & ~closed) | (~opened & (inner > 0)) | (closed & (inner % 2 == 1))
    escaped = closed & (inner > 0) & ~malformed
    if escaped.any():  # inner quotes must come in adjacent pairs
        rows = np.flatnonzero(escaped)
        counts = inner[rows]
        at = np.repeat(first[rows], counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
        rank = at - np.repeat(first[rows], counts)
        pair_start = rank % 2 == 0
        nxt = np.minimum(at + 1, len(quotes) - 1)
        broken = pair_start & (quotes[nxt] != quotes[at] + 1)
        owner = np.repeat(rows, counts)
        malformed[np.unique(owner[broken])] = True
        escaped &= ~malformed
    return start, end, escaped, malformed
