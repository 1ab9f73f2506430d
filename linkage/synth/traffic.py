"""From plan to requests: volumes, activity windows, lockstep waves, and event chunks.

``freeze`` turns the plan into flat per-account arrays (ids, request counts,
windows, menu offsets, wave ranges). ``event_chunks`` then yields the events
table a block of accounts at a time: every column of a chunk is computed with
whole-array operations (repeat, gather, searchsorted), so the cost is per
request in C, never per request in Python, and memory is bounded by the chunk.

Humans follow a daily rhythm in their own time zone; harnesses run around the
clock and fire in waves: many ring accounts send within the same minute.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .operators import OPERATOR_GEN
from .paraphrase import render_sets
from .plan import (
    DAY,
    GEN_CLASS,
    GEN_CODING,
    GEN_GENERAL,
    GEN_ORG,
    GEN_PUBLIC,
    GEN_SET,
    T0,
    T1,
    Plan,
    hex_tokens,
    ip_strings,
    mix32,
)
from .prompts import COMPILED, fill, fill_choice, words
from .vocab import COUNTRY_TZ_S

#: relative activity by local hour, for people (not harnesses)
_HOURLY = np.array([1.0, 0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.5, 2.5, 3.2, 3.5, 3.5, 3.3, 3.4, 3.5, 3.4, 3.2, 3.0, 3.0,
                    3.2, 3.4, 3.0, 2.3, 1.5])
_HOURLY_P = _HOURLY / _HOURLY.sum()
_OPENERS = np.array(["", "", "", "Hi! ", "Quick question. ", "Hello, ", "Thanks in advance. "], dtype=object)
_OP_BY_GEN = {g: name for name, g in OPERATOR_GEN.items()}

EVENT_SCHEMA = pa.schema([("account_id", pa.string()), ("ts", pa.string()), ("ip", pa.string()), ("asn", pa.int64()),
                          ("device_id", pa.string()), ("user_agent", pa.string()), ("prompt", pa.string())])


@dataclass
class Frozen:
    """Per-account arrays and entity tables the event stage reads (see module doc)."""

    cols: dict
    ids: pa.Array
    order: np.ndarray  # output order of accounts
    n_req: np.ndarray
    start: np.ndarray
    end: np.ndarray
    tz: np.ndarray
    ip_off: np.ndarray
    dev_off: np.ndarray
    menus: dict
    ip_str: pa.Array
    ip_asn: np.ndarray
    dev_id: pa.Array
    dev_ua: pa.Array
    wave_times: np.ndarray
    wave_lo: np.ndarray
    wave_hi: np.ndarray
    ring_variant: np.ndarray
    org_flat: np.ndarray
    org_off: np.ndarray
    org_len: np.ndarray
    class_prompts: np.ndarray
    prompt_rate: float
    template_sets: list = field(default_factory=list)


def allocate(weight: np.ndarray, is_ring: np.ndarray, total: int, ring_request_share: float,
             rng: np.random.Generator, extra: np.ndarray | None = None) -> np.ndarray:
    """Requests per account: ring and benign totals fixed, split in proportion to weight (at least 1 each).

    ``extra`` accounts (adversaries, traps) are outside both totals: they send on top, at the benign
    population's requests per unit of weight, so their weight reads as "times a regular user".
    """
    n_req = np.zeros(len(weight), dtype=np.int64)
    extra = np.zeros(len(weight), dtype=bool) if extra is None else extra
    ring_share = ring_request_share if is_ring.any() else 0.0
    benign = ~is_ring & ~extra
    for mask, tot in ((is_ring, total * ring_share), (benign, total * (1 - ring_share))):
        if not mask.any():
            continue
        x = weight[mask] / weight[mask].sum() * tot
        n_req[mask] = np.maximum(1, np.floor(x) + (rng.random(int(mask.sum())) < x - np.floor(x)))
    if extra.any():
        rate = total * (1 - ring_share) / weight[benign].sum() if benign.any() else 5.0
        x = weight[extra] * rate
        n_req[extra] = np.maximum(1, np.floor(x) + (rng.random(int(extra.sum())) < x - np.floor(x)))
    return n_req


def freeze(plan: Plan, total: int, ring_request_share: float, prompt_rate: float) -> Frozen:
    """Fix volumes, windows, waves, ids and the output order; the plan is not changed afterwards."""
    rng = plan.rng
    cols = plan.columns()
    n = plan.n
    extra = cols["regular_scale"].astype(bool)
    is_ring = (cols["ring_idx"] >= 0) & ~extra
    n_req = allocate(cols["weight"].astype(float), is_ring, total, ring_request_share, rng, extra)
    start = np.maximum(cols["created"].astype(np.int64), T0)
    end = np.minimum(cols["end"].astype(np.int64), T1)
    end = np.maximum(end, start + 3600)
    keys, inverse = _unique_map(cols["country"])
    tz = np.array([COUNTRY_TZ_S.get(k, 0) for k in keys], dtype=np.int64)[inverse]
    ip_int, ip_asn = plan.ip_table()
    dev_id, dev_ua = plan.device_table()
    wave_times, wave_lo, wave_hi = _waves(plan, cols, n_req, start, end, rng)
    org_lens = np.array([len(p) for p in plan.org_prompts], dtype=np.int64)
    ids = hex_tokens("acc_", mix32(np.arange(n), plan.seed * 2654435761 + 17))
    return Frozen(
        cols=cols, ids=pa.array(ids, type=pa.string()), order=rng.permutation(n), n_req=n_req, start=start,
        end=end, tz=tz, ip_off=np.cumsum(cols["ip_len"]) - cols["ip_len"],
        dev_off=np.cumsum(cols["dev_len"]) - cols["dev_len"], menus=plan.menus(),
        ip_str=pa.array(ip_strings(ip_int), type=pa.string()), ip_asn=ip_asn,
        dev_id=pa.array(dev_id, type=pa.string()), dev_ua=pa.array(dev_ua, type=pa.string()), wave_times=wave_times,
        wave_lo=wave_lo, wave_hi=wave_hi, ring_variant=np.array([r["variant"] for r in plan.rings] or [0]),
        org_flat=np.concatenate(plan.org_prompts) if plan.org_prompts else np.array([""], dtype=object),
        org_off=np.cumsum(org_lens) - org_lens if len(org_lens) else np.zeros(1, np.int64),
        org_len=org_lens if len(org_lens) else np.ones(1, np.int64),
        class_prompts=np.array(plan.class_prompts or [""], dtype=object), prompt_rate=prompt_rate,
        template_sets=plan.template_sets)


def _unique_map(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keys = np.where(pd.isna(values), "", values).astype(str)
    return np.unique(keys, return_inverse=True)


def _waves(plan, cols, n_req, start, end, rng):
    """Harness wave times per ring and, per account, the range of waves inside its active window.

    A ring may bring its own ``waves`` (sorted times: benchmark runs, deadline crunches); otherwise
    its waves are spread evenly at random over its members' activity.
    """
    n = len(n_req)
    lo = np.zeros(n, dtype=np.int64)
    hi = np.zeros(n, dtype=np.int64)
    times = [np.empty(0, dtype=np.int64)]
    offset = 0
    for ring in plan.rings:
        m = ring["members"]
        lock_events = float((n_req[m] * cols["lock_share"][m].astype(float)).sum())
        if lock_events <= 0:
            continue
        if "waves" in ring:
            t = np.asarray(ring["waves"], dtype=np.int64)
            w = len(t)
        else:
            per_wave = max(3.0, 0.25 * len(m))
            w = int(np.clip(round(lock_events / per_wave), 10, 200_000))
            t = np.sort(rng.integers(int(start[m].min()), T1 - 60, size=w))
        jitter = cols["jitter"][m].astype(np.int64)
        lo[m] = offset + np.searchsorted(t, start[m])
        hi[m] = offset + np.searchsorted(t, end[m] - jitter)
        times.append(t)
        offset += w
    return np.concatenate(times), lo, hi


def chunks(frozen: Frozen, chunk_events: int) -> list[np.ndarray]:
    """Accounts (in output order) cut into blocks of about ``chunk_events`` requests."""
    cum = np.cumsum(frozen.n_req[frozen.order])
    cuts = np.searchsorted(cum, np.arange(chunk_events, cum[-1] if len(cum) else 0, chunk_events))
    return [block for block in np.split(frozen.order, np.unique(cuts)) if len(block)]


def events_table(frozen: Frozen, accounts: np.ndarray, rng: np.random.Generator) -> pa.Table:
    """The events of ``accounts`` as one Arrow table, sorted by time (see module doc)."""
    f, c = frozen, frozen.cols
    acc = np.repeat(accounts, f.n_req[accounts])
    m = len(acc)
    start, end = f.start[acc], f.end[acc]
    span = end - start
    ts = start + (rng.random(m) * span).astype(np.int64)

    human = np.flatnonzero(c["diurnal"][acc].astype(bool))
    tz = f.tz[acc[human]]
    sod = rng.choice(24, size=len(human), p=_HOURLY_P) * 3600 + rng.integers(0, 3600, size=len(human))
    moved = ((ts[human] + tz) // DAY) * DAY + sod - tz
    ok = (moved >= start[human]) & (moved < end[human])
    ts[human[ok]] = moved[ok]

    lo, hi = f.wave_lo[acc], f.wave_hi[acc]
    wave = np.flatnonzero((rng.random(m) < c["lock_share"][acc].astype(float)) & (hi > lo))
    pick = lo[wave] + (rng.random(len(wave)) * (hi[wave] - lo[wave])).astype(np.int64)
    ts[wave] = f.wave_times[pick] + (rng.random(len(wave)) * c["jitter"][acc[wave]].astype(float)).astype(np.int64)

    ip_len = c["ip_len"][acc]
    by_time = np.minimum((ts - start) * ip_len // np.maximum(span, 1), ip_len - 1)
    slot = np.where(c["ip_seq"][acc].astype(bool), np.clip(by_time, 0, None), (rng.random(m) * ip_len).astype(np.int64))
    ip = f.menus["ip"][f.ip_off[acc] + slot]
    dev = f.menus["dev"][f.dev_off[acc] + (rng.random(m) ** 2 * c["dev_len"][acc]).astype(np.int64)]

    prompt = np.full(m, None, dtype=object)
    has = np.flatnonzero(rng.random(m) < f.prompt_rate)
    prompt[has] = render(f, acc[has], rng)

    order = np.argsort(ts, kind="stable")
    acc, ts, ip, dev, prompt = acc[order], ts[order], ip[order], dev[order], prompt[order]
    return pa.table({
        "account_id": f.ids.take(pa.array(acc)),
        "ts": iso(ts),
        "ip": f.ip_str.take(pa.array(ip)),
        "asn": pa.array(f.ip_asn[ip], type=pa.int64()),
        "device_id": f.dev_id.take(pa.array(dev)),
        "user_agent": f.dev_ua.take(pa.array(dev)),
        "prompt": pa.array(prompt, type=pa.string()),
    }, schema=EVENT_SCHEMA)


def iso(epoch_s: np.ndarray) -> pa.Array:
    """Epoch seconds -> ISO 8601 strings with ``Z`` (``2026-04-01T00:00:00Z``).

    Arrow's cast gives ``2026-04-01 00:00:00``; every value has the same width,
    so the ``T`` and ``Z`` are patched into the raw bytes instead of per string.
    """
    text = pa.array(np.asarray(epoch_s, dtype="datetime64[s]")).cast(pa.string())
    n = len(text)
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32)[text.offset:text.offset + n + 1]
    if n == 0 or not (np.diff(offsets) == 19).all():
        return pc.strftime(pa.array(np.asarray(epoch_s, dtype="datetime64[s]")), format="%Y-%m-%dT%H:%M:%SZ")
    raw = np.frombuffer(text.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[0] + 19 * n].reshape(n, 19)
    out = np.empty((n, 20), dtype=np.uint8)
    out[:, :19] = raw
    out[:, 10] = ord("T")
    out[:, 19] = ord("Z")
    new_offsets = np.arange(0, 20 * (n + 1), 20, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(new_offsets), pa.py_buffer(out)])


def render(f: Frozen, acc: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Prompt text for requests of ``acc``: the account's special template or its cohort's grammar."""
    c = f.cols
    gen = np.where(rng.random(len(acc)) < c["pshare"][acc].astype(float), c["pgen"][acc], c["base_gen"][acc])
    out = np.empty(len(acc), dtype=object)
    for g in np.unique(gen):
        sel = np.flatnonzero(gen == g)
        a, k = acc[sel], len(sel)
        if g in (GEN_GENERAL, GEN_CODING):
            tpl = COMPILED["general" if g == GEN_GENERAL else "coding"]
            out[sel] = fill_choice(tpl, rng.integers(len(tpl), size=k), rng)
        elif g == GEN_PUBLIC:
            out[sel] = fill(COMPILED["public"][0], k, rng)
        elif g == GEN_ORG:
            p = c["pparam"][a].astype(np.int64)
            pick = f.org_off[p] + (rng.random(k) * f.org_len[p]).astype(np.int64)
            out[sel] = f.org_flat[pick] + words(rng, k, 5, 30)
        elif g == GEN_SET:
            out[sel] = render_sets(f.template_sets, c["tset"][a].astype(np.int64), c["tvariant"][a].astype(np.int64),
                                   rng)
        elif g == GEN_CLASS:
            out[sel] = f.class_prompts[c["pparam"][a].astype(np.int64)] + words(rng, k, 3, 25)
        else:
            tpl = COMPILED[_OP_BY_GEN[int(g)]]
            variant = f.ring_variant[c["pparam"][a].astype(np.int64)]
            choice = np.where(rng.random(k) < 0.85, variant, rng.integers(len(tpl), size=k))
            text = fill_choice(tpl, choice, rng)
            if _OP_BY_GEN[int(g)] == "GLASS-HERON":  # the stealthy operator varies its openers too
                text = _OPENERS[rng.integers(len(_OPENERS), size=k)] + text
            out[sel] = text
    return out
