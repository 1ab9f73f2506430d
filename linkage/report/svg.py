"""Inline SVG pictures for one ring, generated in Python: its network and its timeline.

Pure functions of the figures in, markup out; every string that comes from
data goes through ``html.escape``. Coordinates are rounded to whole pixels and
edges of one family share one ``<path>``, so a ring costs a few kilobytes.
"""

from __future__ import annotations

import datetime as dt
from html import escape

import numpy as np
import pandas as pd

from .. import families
from .data import RingFigures

NET_W, NET_H, NET_PAD, NET_LABEL = 560, 400, 16, 148
NET_SPACING = 60.0  # the force layout's ideal distance between members, in pixels
TL_W, TL_H = 560, 170


def colour(family: str) -> str:
    """The family's colour (``Family.colour``; Okabe–Ito for the built-in ones), grey when unknown."""
    try:
        return families.get(family).colour
    except KeyError:
        return "#666666"


def _short(text: str, n: int = 25) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _layout(fig: RingFigures) -> tuple[np.ndarray, np.ndarray, list[bool]]:
    """Entities in two columns (left and right, labels outward), members between them.

    A member starts at the mean of the entities it uses, pulled toward the middle (members
    using the same entities on one sunflower, a Vogel spiral, around that point), then
    force relaxation spreads them with the entities pinned. Members using none of the
    entities shown sit in a row at the bottom. Deterministic: no randomness anywhere.
    """
    n_m, n_e = len(fig.members), len(fig.entities)
    x, y = np.zeros(n_m + n_e), np.zeros(n_m + n_e)
    left = [True] * n_e
    half = (n_e + 1) // 2
    col_x = (NET_LABEL + 10, NET_W - NET_LABEL - 10)
    for k in range(n_e):
        side, row, rows = (0, k, half) if k < half else (1, k - half, n_e - half)
        left[k] = side == 0
        x[n_m + k] = col_x[side]
        y[n_m + k] = NET_PAD + (row + 0.5) * (NET_H - 2 * NET_PAD - 24) / max(rows, 1)
    uses: dict[int, list[int]] = {}
    for m, e in fig.edges:
        uses.setdefault(m, []).append(e)
    groups: dict[tuple, list[int]] = {}
    for m in range(n_m):
        groups.setdefault(tuple(sorted(uses.get(m, []))), []).append(m)
    mid = NET_W / 2
    alone = groups.pop((), [])
    for sig, ms in groups.items():
        cx = mid + 0.55 * (float(np.mean([x[n_m + e] for e in sig])) - mid)
        cy = float(np.mean([y[n_m + e] for e in sig]))
        for j, m in enumerate(ms):  # Vogel spiral: even spacing, no overlap inside a group
            r, a = 6.0 * np.sqrt(j), j * 2.39996
            x[m], y[m] = cx + r * np.cos(a), cy + r * np.sin(a)
    for j, m in enumerate(alone):
        x[m], y[m] = NET_LABEL + 34 + (j % 45) * 7, NET_H - 12 + (j // 45) * 7
    linked = [m for ms in groups.values() for m in ms]
    _spread(x, y, linked, fig.edges, n_m)
    x[linked] = np.clip(x[linked], col_x[0] + 14, col_x[1] - 14)  # keep clear of the entity labels
    y[linked] = np.clip(y[linked], NET_PAD, NET_H - 34)
    return np.rint(x).astype(int), np.rint(y).astype(int), left


def _spread(x: np.ndarray, y: np.ndarray, movable: list[int], edges, n_m: int, iterations: int = 30) -> None:
    """Relax the members with Fruchterman–Reingold forces (entities pinned), so groups don't pile up.

    The same forces as networkx's spring layout (repulsion k²/d between all nodes, attraction
    d²/k along edges, a cooling step), in plain numpy: no randomness, about a millisecond a ring.
    """
    if len(movable) < 2:
        return
    pos = np.c_[x, y].astype(float)
    adj = np.zeros((len(x), len(x)))
    for m, e in edges:
        adj[m, n_m + e] = adj[n_m + e, m] = 1.0
    mv = np.asarray(movable)
    k = NET_SPACING
    t = 0.1 * float(np.ptp(pos, axis=0).max() or 1.0)
    cool = t / (iterations + 1)
    for _ in range(iterations):
        delta = pos[:, None, :] - pos[None, :, :]
        dist = np.maximum(np.hypot(delta[..., 0], delta[..., 1]), 0.01)
        disp = np.einsum("ijk,ij->ik", delta, k * k / dist**2 - adj * dist / k)
        length = np.maximum(np.hypot(disp[:, 0], disp[:, 1]), 0.01)
        pos[mv] += disp[mv] * (t / length[mv])[:, None]
        t -= cool
    x[mv], y[mv] = pos[mv, 0], pos[mv, 1]


def network_svg(fig: RingFigures) -> str:
    """Members as circles, shared entities as labelled squares coloured by family, edges member→entity."""
    n_m, n_e = len(fig.members), len(fig.entities)
    if not n_m or not n_e:
        return (f'<svg class="net" viewBox="0 0 {NET_W} 60" role="img"><text x="10" y="34">'
                "no shared entities recorded for this ring</text></svg>")
    x, y, left = _layout(fig)
    parts = [f'<svg class="net" viewBox="0 0 {NET_W} {NET_H}" role="img" '
             f'aria-label="network of {n_m} members and {n_e} shared entities">']
    by_family: dict[str, list[str]] = {}
    for m, e in fig.edges:
        by_family.setdefault(fig.entities[e]["family"], []).append(f"M{x[m]} {y[m]}L{x[n_m + e]} {y[n_m + e]}")
    for family in sorted(by_family):
        parts.append(f'<path class="edge" stroke="{colour(family)}" d="{"".join(by_family[family])}"/>')
    parts.append('<g class="members">')
    for i, member in enumerate(fig.members):
        parts.append(f'<circle cx="{x[i]}" cy="{y[i]}" r="3.5"><title>{escape(member)}</title></circle>')
    parts.append("</g>")
    for k, ent in enumerate(fig.entities):
        i = n_m + k
        tip = (f'{families.label(ent["family"])} {ent["label"]}: '
               f'{ent["members"]} members, {ent["accounts"]} accounts in all')
        tx, anchor = (x[i] - 9, ' text-anchor="end"') if left[k] else (x[i] + 9, "")
        parts.append(f'<g class="ent"><rect x="{x[i] - 5}" y="{y[i] - 5}" width="10" height="10" '
                     f'fill="{colour(ent["family"])}"/><title>{escape(tip)}</title>'
                     f'<text x="{tx}" y="{y[i] + 4}"{anchor}>{escape(_short(str(ent["label"])))}</text>'
                     f'<text class="cnt" x="{tx}" y="{y[i] + 15}"{anchor}>{ent["members"]} members</text></g>')
    if any(not u for u in _degrees(fig)):
        parts.append(f'<text class="cnt" x="{NET_LABEL + 30}" y="{NET_H - 22}">using none of the entities shown:</text>')
    parts.append("</svg>")
    return "".join(parts)


def _degrees(fig: RingFigures) -> list[int]:
    deg = [0] * len(fig.members)
    for m, _ in fig.edges:
        deg[m] += 1
    return deg


def _days(series: pd.Series | None) -> tuple[np.ndarray, np.ndarray]:
    """(days since the epoch, counts), one entry per day, sorted."""
    if series is None or not len(series):
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    days = pd.DatetimeIndex(series.index).values.astype("datetime64[D]").astype(np.int64)
    uniq, inv = np.unique(days, return_inverse=True)
    return uniq, np.bincount(inv, weights=series.to_numpy(dtype=float))


def _date(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(day))


def timeline_svg(fig: RingFigures, max_days: int = 366) -> str:
    """Sign-ups per day (top) and requests per day (bottom) on one day axis."""
    (s_day, s_n), (r_day, r_n) = _days(fig.signups), _days(fig.requests)
    if not len(s_day) and not len(r_day):
        return (f'<svg class="tl" viewBox="0 0 {TL_W} 40" role="img"><text x="10" y="24">'
                "no dated activity recorded</text></svg>")
    end = int(max(d.max() for d in (s_day, r_day) if len(d)))
    start = int(min(d.min() for d in (s_day, r_day) if len(d)))
    earlier = 0
    if end - start + 1 > max_days:  # accounts made long before the batch: count them, don't squash the axis
        start = end - max_days + 1
        earlier = int(s_n[s_day < start].sum())
        s_n, s_day = s_n[s_day >= start], s_day[s_day >= start]
    n_days = end - start + 1
    left, right = 44, 8
    bw = (TL_W - left - right) / n_days
    panels = ((s_day, s_n, 14, 48, "sign-ups", "#7a5195"), (r_day, r_n, 84, 64, "requests", "#2f6f9f"))
    parts = [f'<svg class="tl" viewBox="0 0 {TL_W} {TL_H}" role="img" aria-label="sign-ups and requests per day">']
    for days, counts, top, height, name, fill in panels:
        base = top + height
        peak = float(counts.max()) if len(counts) else 0.0
        parts.append(f'<line class="axis" x1="{left}" y1="{base}" x2="{TL_W - right}" y2="{base}"/>')
        parts.append(f'<text class="lab" x="{left - 4}" y="{top + 8}" text-anchor="end">{int(peak):,}</text>'
                     f'<text class="lab" x="{left - 4}" y="{base}" text-anchor="end">0</text>'
                     f'<text class="name" x="{left + 4}" y="{top - 3}">{name} per day</text>')
        if peak <= 0:
            continue
        # One bar a day, drawn as a vertical stroke as wide as the bar: half the markup of rectangles.
        xs = left + (days - start + 0.5) * bw
        hs = np.maximum(1.0, counts / peak * height)
        d = "".join(f"M{x:.1f} {base}v{-h:.1f}" for x, h, v in zip(xs.tolist(), hs.tolist(), counts.tolist()) if v > 0)
        parts.append(f'<path stroke="{fill}" stroke-width="{max(bw * 0.8, 0.6):.2f}" d="{d}"><title>{name}: '
                     f'{int(counts.sum()):,} in all, peak {int(peak):,} a day</title></path>')
    # Month ticks along the bottom, at most ~8 labels.
    first, last = _date(start), _date(end)
    month = dt.date(first.year, first.month, 1)
    step = max(1, int(np.ceil(n_days / 31 / 8)))
    k = 0
    while month <= last:
        if month >= first and k % step == 0:
            x0 = left + (month - first).days * bw
            parts.append(f'<line class="tick" x1="{x0:.1f}" y1="148" x2="{x0:.1f}" y2="152"/>'
                         f'<text class="lab" x="{x0:.1f}" y="164" text-anchor="middle">{month:%b %Y}</text>')
        k += month >= first
        month = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
    parts.append(f'<text class="lab" x="{TL_W - right}" y="11" text-anchor="end">{first} → {last} '
                 f'({n_days} days)</text>')
    if earlier:
        parts.append(f'<text class="lab" x="{left + 4}" y="{14 + 48 - 4}">+{earlier:,} signed up before {first}</text>')
    parts.append("</svg>")
    return "".join(parts)
