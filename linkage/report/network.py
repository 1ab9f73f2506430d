"""A ring's network picture: which shared entities tie its members together, readable at any ring size.

Members are never sampled: every member is drawn, in a *group* with the other members that use
exactly the same subset of the entities shown (its pattern; ``data.MemberGroup``). Entities that
exactly the same members use (three n-grams of one template, two cards of one batch) are one
row or square, named by the first and "+N" (all in the tooltip). Then one of two drawings,
chosen by how many groups there are:

- **up to** ``MAX_NODES`` **groups: node-link.** Entities are squares in two labelled columns,
  groups are circles between them (area grows with members, the count inside), placed at the
  mean of the entities they use and pushed apart until no two overlap. A 20-member ring has at
  most 20 groups, so it reads like a small graph, where an analyst looks for shape: who bridges
  two proxy pools, which card batch sits apart. A 250-member ring whose members fall into 11
  patterns reads as 11 weighted nodes.
- **past that: a member × entity matrix.** One row per entity (label left, members right) and
  one column per member, sorted so that each group is a block of adjacent columns, as wide as
  its member count; a filled cell means "uses this entity". Rows go from most to least shared
  and columns sort on them in that order, so the groups nest like an icicle: the sub-crews
  (one proxy IP, one e-mail domain, one sign-up burst) show as blocks under the template they
  all send. Rings of 120 and 400 members typically have 50 to 130 patterns (the 170- and
  380-member rings of the default 20,000-account synthetic world: 112 and 125): a tangle as
  circles, a dozen readable rows here. Past ``MAX_COLUMNS`` groups the smallest are pooled
  into one "other" block, shaded by the share of its members using each entity, so the
  markup stays bounded (about 35 kB for a 400-member ring).

Why both: the matrix reads at any size but hides a small ring's shape; node-link shows shape
but stops reading past about twenty nodes.

Labels fit their room without cutting a word: a sentence is cut after its last whole word, an
identifier at a separator (``.`` ``:`` ``_`` ``-`` ``/`` ``@``), with an ellipsis; an identifier
with no separator is kept whole and compressed (``textLength``). The full text is always in
the ``<title>`` tooltip. Every string from data is escaped; the layout has no randomness.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import families
from .data import MemberGroup, RingFigures
from .svg import colour

#: Coordinates, radii and edge positions of the drawing.
Floats = npt.NDArray[np.float64]

MAX_NODES = 20  # groups drawn as circles; more switch the picture to the matrix
MAX_COLUMNS = 100  # groups drawn as matrix blocks; the smallest past this share one "other" block
W, H, PAD = 560, 400, 16
LABEL = 148  # node-link: room for an entity label beside its column
ROW_H, TOP, BOTTOM, MX_LABEL, MX_COUNT = 22, 30, 22, 200, 44  # matrix geometry
SEPARATORS = "._:/@-"
ELLIPSIS = "…"


# --- entities and groups ------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One drawn entity: an entity of the ring, or several that exactly the same members use."""

    family: str
    labels: tuple[str, ...]
    members: int
    accounts: int

    @property
    def tip(self) -> str:
        kind = families.label(self.family)
        names = "; ".join(self.labels)
        also = f" ({len(self.labels)} {kind}s used by exactly the same members)" if len(self.labels) > 1 else ""
        return f"{kind} {names}: {self.members:,} members, {self.accounts:,} accounts in all{also}"


def merge_twins(entities: list[dict[str, Any]], groups: list[MemberGroup]) -> tuple[list[Row], list[MemberGroup]]:
    """Fold entities of one family used by exactly the same groups into one row; renumber the groups."""
    users: dict[int, frozenset[int]] = {k: frozenset(g for g, grp in enumerate(groups) if k in grp.entities)
                                        for k in range(len(entities))}
    rows: list[Row] = []
    where: dict[tuple[str, frozenset[int]], int] = {}
    new_index: dict[int, int] = {}
    for k, ent in enumerate(entities):
        key = (str(ent["family"]), users[k])
        if key in where:
            r = where[key]
            rows[r] = Row(rows[r].family, rows[r].labels + (str(ent["label"]),), rows[r].members,
                          max(rows[r].accounts, int(ent["accounts"])))
        else:
            where[key] = len(rows)
            rows.append(Row(str(ent["family"]), (str(ent["label"]),), int(ent["members"]), int(ent["accounts"])))
        new_index[k] = where[key]
    regrouped = [MemberGroup(tuple(sorted({new_index[k] for k in g.entities})), g.size, g.sample) for g in groups]
    return rows, regrouped


def _group_tip(g: MemberGroup, rows: list[Row], pooled: int = 0) -> str:
    who = f"{g.size:,} member" + ("s" if g.size != 1 else "")
    if pooled:
        return f"{who} in {pooled} smaller groups (shading: the share using each entity)"
    uses = "; ".join(rows[r].labels[0] + (f" (+{len(rows[r].labels) - 1})" if len(rows[r].labels) > 1 else "")
                     for r in g.entities) or "none of the entities shown"
    ids = ", ".join(g.sample) + (", …" if g.size > len(g.sample) else "")
    return f"{who} using {uses}" + (f" — {ids}" if ids else "")


# --- labels ----------------------------------------------------------------------------------------

#: Advance widths in em, measured for DejaVu Sans (the widest common fallback for system-ui), by class.
_EM = [(set("ijlI.,:;'|! "), 0.32), (set("ftr()[]/-·"), 0.4), (set("mwMW@%…"), 1.0), (set("+<>=#&"), 0.84)]


def text_width(text: str, size: float = 10.0) -> float:
    """A generous estimate of ``text``'s width at ``size`` px (no font metrics in Python): wide fonts fit too."""
    em = 0.0
    for c in text:
        em += next((w for chars, w in _EM if c in chars), 0.75 if c.isupper() else 0.64)
    return em * size


def _prefix(pieces: list[str], room: float, size: float) -> str:
    shown = ""
    for piece in pieces:
        if text_width((shown + piece).rstrip(), size) > room:
            break
        shown += piece
    return shown.rstrip()


def fit(text: str, room: float, size: float = 10.0) -> tuple[str, bool]:
    """``text`` fitted to ``room`` px, and whether to compress it: whole; else cut after a whole word (or at
    an identifier's separator) with an ellipsis; else its first token, unbroken, marked to be compressed
    into the room. Never cut inside a word."""
    text = " ".join(str(text).split())
    if text_width(text, size) <= room:
        return text, False
    room -= text_width(ELLIPSIS, size)
    words = re.findall(r"\S+\s*", text)
    parts = re.findall(rf"[^{re.escape(SEPARATORS)}\s]*[{re.escape(SEPARATORS)}\s]*", text)
    for pieces in (words, [p for p in parts if p]):
        shown = _prefix(pieces, room, size)
        if shown:
            return shown + ELLIPSIS, False
    first = words[0].rstrip()  # one unbroken token wider than the room: whole, to be compressed
    return (first if first == text else first + ELLIPSIS), True


def label_svg(labels: tuple[str, ...], x: float, y: float, room: float, anchor: str = "start",
              size: float = 10.0) -> str:
    """A ``<text>`` naming the first of ``labels`` (and how many more) within ``room`` px.

    A label that had to be cut, or that stands for several, carries them all in a ``<title>``.
    """
    more = f" +{len(labels) - 1}" if len(labels) > 1 else ""
    first = " ".join(str(labels[0]).split())
    shown, squeeze = fit(first, room - text_width(more, size), size)
    attrs = f' text-anchor="{anchor}"' if anchor != "start" else ""
    if squeeze:
        attrs += f' textLength="{room - text_width(more, size):.0f}" lengthAdjust="spacingAndGlyphs"'
    whole = "; ".join(" ".join(str(label).split()) for label in labels)
    tip = f"<title>{escape(whole)}</title>" if shown + more != whole else ""
    return f'<text x="{x:.0f}" y="{y:.0f}"{attrs}>{tip}{escape(shown + more)}</text>'


# --- the picture --------------------------------------------------------------------------------------


def network_svg(fig: RingFigures) -> str:
    """The ring's network: node-link for a few groups, a member × entity matrix for more."""
    if not fig.entities or not fig.groups:
        return (f'<svg class="net" viewBox="0 0 {W} 60" role="img"><text x="10" y="34">'
                "no shared entities recorded for this ring</text></svg>")
    rows, groups = merge_twins(fig.entities, fig.groups)
    if len(groups) <= MAX_NODES:
        return node_link_svg(rows, groups)
    return matrix_svg(rows, groups)


def network_caption(fig: RingFigures) -> str:
    """One sentence under the picture saying what a mark stands for (plain text; the page escapes it)."""
    members = sum(g.size for g in fig.groups)
    if not fig.entities or not members:
        return ""
    rows, groups = merge_twins(fig.entities, fig.groups)
    what = (f"All {members:,} members, in {len(groups)} groups of members using the same entities, and the "
            f"{len(rows)} most shared entities")
    if len(groups) <= MAX_NODES:
        return what + ". A circle is one group (its number: members in it); a line: the group uses that entity."
    return (what + ". A row is an entity; a column block is one group, as wide as its members; "
            "a filled cell: the group uses that entity.")


# --- node-link -----------------------------------------------------------------------------------------


def _radius(size: int) -> float:
    return float(min(24.0, 3.5 * np.sqrt(size)))


def _entity_columns(n: int) -> tuple[Floats, Floats, list[bool]]:
    """Entities in two columns (left and right, labels outward), evenly down the height."""
    half = (n + 1) // 2
    xs, ys, left = np.zeros(n), np.zeros(n), []
    for k in range(n):
        side, row, rows = (0, k, half) if k < half else (1, k - half, n - half)
        left.append(side == 0)
        xs[k] = LABEL + 10 if side == 0 else W - LABEL - 10
        ys[k] = PAD + 8 + (row + 0.5) * (H - 2 * PAD - 16) / max(rows, 1)
    return xs, ys, left


def layout_groups(groups: list[MemberGroup], ex: Floats, ey: Floats, radii: Floats) -> Floats:
    """Group centres: each at the mean of its entities, pulled part way toward the middle, then separated.

    The pull keeps a group that uses only left-column entities inside the drawing room, instead of
    pressed against its edge (where a force layout followed by clamping piled them up in one
    column). Deterministic: groups starting at one point are spread on a golden-angle spiral first.
    """
    mid = W / 2
    pos = np.zeros((len(groups), 2))
    seen: dict[tuple[int, int], int] = {}
    for i, g in enumerate(groups):
        if g.entities:
            cx = mid + 0.7 * (float(np.mean(ex[list(g.entities)])) - mid)
            cy = float(np.mean(ey[list(g.entities)]))
        else:  # uses none of the entities shown: bottom centre
            cx, cy = mid, H - PAD - radii[i]
        j = seen.setdefault((round(cx), round(cy)), 0)
        seen[(round(cx), round(cy))] += 1
        pos[i] = cx + 9.0 * np.sqrt(j) * np.cos(j * 2.39996), cy + 9.0 * np.sqrt(j) * np.sin(j * 2.39996)
    separate(pos, radii, (LABEL + 24, W - LABEL - 24, PAD, H - PAD))
    return pos


def separate(pos: Floats, radii: Floats, box: tuple[float, float, float, float], gap: float = 2.0,
             rounds: int = 400) -> None:
    """Push overlapping circles apart (each pair by half the overlap) inside ``box`` until none overlap."""
    x0, x1, y0, y1 = box
    n = len(pos)
    for _ in range(rounds):
        np.clip(pos[:, 0], x0 + radii, x1 - radii, out=pos[:, 0])
        np.clip(pos[:, 1], y0 + radii, y1 - radii, out=pos[:, 1])
        delta = pos[:, None, :] - pos[None, :, :]
        dist = np.hypot(delta[..., 0], delta[..., 1])
        need = radii[:, None] + radii[None, :] + gap
        over = np.triu((dist < need) & ~np.eye(n, dtype=bool))
        if not over.any():
            return
        for i, j in zip(*np.nonzero(over)):
            d = dist[i, j]
            ux, uy = (delta[i, j] / d) if d > 1e-6 else (np.cos(i + j), np.sin(i + j))
            push = (need[i, j] - d) / 2 + 0.01
            pos[i] += (ux * push, uy * push)
            pos[j] -= (ux * push, uy * push)


def _fit_radii(groups: list[MemberGroup]) -> Floats:
    """Circle radii by members, scaled down together if they would fill more than a third of the room."""
    radii = np.array([_radius(g.size) for g in groups])
    room = (W - 2 * LABEL - 48) * (H - 2 * PAD)
    fill = float(np.pi * (radii**2).sum()) / room
    return radii * min(1.0, float(np.sqrt(0.33 / fill))) if fill > 0 else radii


def node_link_svg(rows: list[Row], groups: list[MemberGroup]) -> str:
    ex, ey, left = _entity_columns(len(rows))
    radii = _fit_radii(groups)
    pos = np.rint(layout_groups(groups, ex, ey, radii)).astype(int)
    ex, ey = np.rint(ex).astype(int), np.rint(ey).astype(int)
    members = sum(g.size for g in groups)
    parts = [f'<svg class="net nodes" viewBox="0 0 {W} {H}" role="img" '
             f'aria-label="network of {members} members in {len(groups)} groups and {len(rows)} shared entities">']
    by_style: dict[tuple[str, float], list[str]] = {}
    for i, g in enumerate(groups):
        width = round(min(3.0, 0.8 + 0.5 * np.log2(g.size)), 1)
        for r in g.entities:
            by_style.setdefault((rows[r].family, width), []).append(f"M{pos[i, 0]} {pos[i, 1]}L{ex[r]} {ey[r]}")
    for (family, width), segs in sorted(by_style.items()):
        parts.append(f'<path class="edge" stroke="{colour(family)}" stroke-width="{width}" d="{"".join(segs)}"/>')
    parts.append('<g class="groups">')
    for i, g in enumerate(groups):
        cls = ' class="none"' if not g.entities else ""
        count = (f'<text class="n" x="{pos[i, 0]}" y="{pos[i, 1] + 3}" text-anchor="middle">{g.size}</text>'
                 if g.size > 1 and radii[i] >= 4.5 else "")
        parts.append(f'<g class="grp" data-size="{g.size}"><circle{cls} cx="{pos[i, 0]}" cy="{pos[i, 1]}" '
                     f'r="{radii[i]:.1f}"/><title>{escape(_group_tip(g, rows))}</title>{count}</g>')
    parts.append("</g>")
    for k, row in enumerate(rows):
        tx, anchor = (ex[k] - 9, "end") if left[k] else (ex[k] + 9, "start")
        parts.append(f'<g class="ent"><rect x="{ex[k] - 5}" y="{ey[k] - 5}" width="10" height="10" '
                     f'fill="{colour(row.family)}"><title>{escape(row.tip)}</title></rect>'
                     f'{label_svg(row.labels, tx, ey[k] + 4, LABEL - 14, anchor)}'
                     f'<text class="cnt" x="{tx}" y="{ey[k] + 15}" text-anchor="{anchor}">{row.members:,} members</text></g>')
    parts.append("</svg>")
    return "".join(parts)


# --- matrix ------------------------------------------------------------------------------------------


def matrix_columns(rows: list[Row], groups: list[MemberGroup]) -> list[tuple[MemberGroup, Floats, int]]:
    """Column blocks in drawing order: (group, share of its members using each row, groups pooled in it).

    Groups sort on the rows in order (most shared row first), so blocks that share a row sit
    together; groups past ``MAX_COLUMNS`` (the smallest) are pooled into one block at the end.
    """
    kept, rest = groups[:MAX_COLUMNS], groups[MAX_COLUMNS:]
    kept = sorted(kept, key=lambda g: ([r not in g.entities for r in range(len(rows))], -g.size, g.entities))
    cols = []
    for g in kept:
        use = np.zeros(len(rows))
        use[list(g.entities)] = 1.0
        cols.append((g, use, 0))
    if rest:
        size = sum(g.size for g in rest)
        use = np.zeros(len(rows))
        for g in rest:
            use[list(g.entities)] += g.size / size
        cols.append((MemberGroup((), size), use, len(rest)))
    return cols


def matrix_svg(rows: list[Row], groups: list[MemberGroup]) -> str:
    cols = matrix_columns(rows, groups)
    total = sum(g.size for g, _, _ in cols)
    x0, x1 = MX_LABEL + 4, W - MX_COUNT
    scale = (x1 - x0) / total
    height = TOP + len(rows) * ROW_H + BOTTOM
    edges = np.r_[0, np.cumsum([g.size for g, _, _ in cols])] * scale + x0
    parts = [f'<svg class="net matrix" viewBox="0 0 {W} {height}" role="img" aria-label="{total} members in '
             f'{len(groups)} groups by {len(rows)} shared entities">',
             '<text class="cnt" x="8" y="12">shared entity</text>'
             f'<text class="cnt" x="{x0}" y="12">groups of members (block width: members)</text>'
             f'<text class="cnt" x="{W - 6}" y="12" text-anchor="end">members</text>']
    for k, row in enumerate(rows):
        y = TOP + k * ROW_H
        parts.append(f'<g class="row"><rect class="bg" x="{x0}" y="{y + 3}" width="{x1 - x0}" height="{ROW_H - 6}"/>')
        parts.append(_row_cells(row, [use[k] for _, use, _ in cols], edges, y))
        parts.append(f'<rect x="8" y="{y + ROW_H / 2 - 4:.0f}" width="8" height="8" fill="{colour(row.family)}">'
                     f'<title>{escape(row.tip)}</title></rect>'
                     f'{label_svg(row.labels, 22, y + ROW_H / 2 + 4, MX_LABEL - 26)}'
                     f'<text class="cnt" x="{W - 6}" y="{y + ROW_H / 2 + 4:.0f}" text-anchor="end">'
                     f"{row.members:,}</text></g>")
    parts.append('<g class="groups">')
    for c, (g, _, pooled) in enumerate(cols):
        a, b = edges[c], edges[c + 1]
        parts.append(f'<rect class="col" data-size="{g.size}" x="{a:.1f}" y="{TOP}" width="{b - a:.1f}" '
                     f'height="{len(rows) * ROW_H}"><title>{escape(_group_tip(g, rows, pooled))}</title></rect>')
        if b - a >= 7 * len(str(g.size)) + 4:
            parts.append(f'<text class="cnt" x="{(a + b) / 2:.1f}" y="{TOP - 3}" text-anchor="middle">{g.size}</text>')
    parts.append("</g>")
    base = TOP + len(rows) * ROW_H + 14
    parts.append(f'<text class="cnt" x="{x0}" y="{base}">0</text>'
                 f'<text class="cnt" x="{x1}" y="{base}" text-anchor="end">{total:,} members</text></svg>')
    return "".join(parts)


def _row_cells(row: Row, shares: list[float], edges: Floats, y: int) -> str:
    """One row's filled cells: runs of adjacent full blocks as one rectangle, a pooled block by its share."""
    out, start = [], None
    fill = colour(row.family)
    for c, share in enumerate([*shares, 0.0]):
        if share >= 1.0 and start is None:
            start = c
        if share < 1.0 and start is not None:
            out.append(f'<rect x="{edges[start]:.1f}" y="{y + 3}" width="{edges[c] - edges[start]:.1f}" '
                       f'height="{ROW_H - 6}" fill="{fill}"/>')
            start = None
        if 0.0 < share < 1.0:
            out.append(f'<rect x="{edges[c]:.1f}" y="{y + 3}" width="{edges[c + 1] - edges[c]:.1f}" '
                       f'height="{ROW_H - 6}" fill="{fill}" fill-opacity="{share:.2f}"/>')
    return "".join(out)
