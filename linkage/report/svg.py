"""Inline SVG for one ring, generated in Python: its timeline, and the colours and names of signal families.

(The network picture is ``network.py``.) Pure functions of the figures in, markup out;
every string that comes from data goes through ``html.escape``. Coordinates are rounded
and each panel's bars share one ``<path>``, so a ring costs a few kilobytes.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt
import pandas as pd

from .. import families
from .data import RingFigures

TL_W, TL_H = 560, 170


def colour(family: str) -> str:
    """The family's colour (``Family.colour``; Okabe–Ito for the built-in ones), grey when unknown."""
    try:
        return families.get(family).colour
    except KeyError:
        return "#666666"


def _days(series: pd.Series[int] | None) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(days since the epoch, counts), one entry per day, sorted."""
    if series is None or not len(series):
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    days = pd.DatetimeIndex(series.index).values.astype("datetime64[D]").astype(np.int64)
    uniq, inv = np.unique(days, return_inverse=True)
    # numpy 1.26's stubs type bincount as integers whatever the weights; with float weights it sums floats.
    return uniq, np.bincount(inv, weights=series.to_numpy(dtype=float))  # type: ignore[return-value]


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
