"""The report's "Since the last batch" section, for a run with state (rings carry ``lineage``).

What an analyst acts on first comes first: the new accounts on rings already known (a known
operator signing up more accounts), then rings seen for the first time, then how known rings
changed (grown, merged, split). A run without state has no lineage and no section.
"""

from __future__ import annotations

from html import escape
from typing import Any

MAX_IDS = 30  # new account ids listed per ring; ring_members.csv (column ``new``) has them all


def _esc(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _lineage(ring: dict[str, Any]) -> dict[str, Any] | None:
    lin = ring.get("lineage")
    return lin if isinstance(lin, dict) else None


def _new_ids(lin: dict[str, Any]) -> list[str]:
    new = lin.get("new_members")
    ids = new.get("ids") if isinstance(new, dict) else None
    return [str(i) for i in ids] if isinstance(ids, list) else []


def _ring_link(ring: dict[str, Any]) -> str:
    rid = str(ring.get("ring_id", ""))
    return f'<a href="#{_esc("r-" + rid)}">{_esc(rid)}</a>'


def _operator(ring: dict[str, Any]) -> str:
    if ring.get("operator"):
        return _esc(ring["operator"])
    return f'<span class="unattr">{_esc(ring.get("operator_cluster") or "unattributed")}</span>'


def _table(head: list[str], rows: list[str]) -> str:
    ths = "".join(f"<th>{h}</th>" for h in head)
    return f'<table class="ops"><thead><tr>{ths}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def since_html(doc: dict[str, Any]) -> str:
    """The section, or "" when no ring of the run carries lineage."""
    rings = [r for r in doc.get("rings") or [] if isinstance(r, dict)]
    state = (doc.get("input") or {}).get("state") if isinstance(doc.get("input"), dict) else None
    if not isinstance(state, dict) and not any(_lineage(r) for r in rings):
        return ""
    known = [r for r in rings if (_lineage(r) or {}).get("status") in ("continuing", "merged", "split")]
    fresh = [r for r in known if _new_ids(_lineage(r) or {})]
    fresh.sort(key=lambda r: (-len(_new_ids(_lineage(r) or {})), str(r.get("ring_id"))))
    new = [r for r in rings if (_lineage(r) or {}).get("status") == "new"]
    new_accounts = sum(len(_new_ids(_lineage(r) or {})) for r in fresh)
    folders = state.get("batch_folders") if isinstance(state, dict) else None
    folders = folders if isinstance(folders, dict) else {}

    def batch(bid: object) -> str:
        where = folders.get(bid) if isinstance(bid, str) else None
        return f"{_esc(bid)} <small>({_esc(where)})</small>" if where else _esc(bid)

    previous = state.get("previous_batch") if isinstance(state, dict) else None
    before = state.get("batches_before") if isinstance(state, dict) else None
    out = ['<section id="since"><h2>Since the last batch</h2>']
    out.append(f'<p class="hint">Compared with the rings of {_esc(before)} earlier batch(es)'
               + (f", the last {batch(previous)}" if previous else "") + ". "
               f"<b>{new_accounts:,}</b> new accounts on {len(fresh):,} known rings, <b>{len(new):,}</b> new rings. "
               "New accounts on known rings are the first to act on: the operator is known, the accounts are fresh.</p>")
    if fresh:
        rows = []
        for r in fresh:
            lin = _lineage(r) or {}
            ids = _new_ids(lin)
            more = f" … and {len(ids) - MAX_IDS:,} more (ring_members.csv, column new)" if len(ids) > MAX_IDS else ""
            rows.append(f"<tr><td>{_ring_link(r)}</td><td>{_operator(r)}</td><td>{_esc(lin.get('status'))}</td>"
                        f'<td class="num">{len(ids):,}</td><td class="ids">{_esc(", ".join(ids[:MAX_IDS]))}{_esc(more)}'
                        "</td></tr>")
        out.append('<h3 class="sub">New accounts on known rings</h3>'
                   + _table(["ring", "operator", "status", "new accounts", "accounts"], rows))
    if new:
        rows = [f"<tr><td>{_ring_link(r)}</td><td>{_operator(r)}</td><td class=\"num\">{_esc(r.get('size'))}</td>"
                f"<td class=\"num\">{float(r.get('score') or 0):.3f}</td></tr>" for r in new]
        out.append('<h3 class="sub">New rings</h3>' + _table(["ring", "operator", "size", "score"], rows))
    if known:
        rows = []
        for r in sorted(known, key=lambda r: str(r.get("ring_id"))):
            lin = _lineage(r) or {}
            size = int(r.get("size") or 0)
            grown = len(_new_ids(lin))
            prev = ", ".join(str(p) for p in lin.get("previous_ids") or [])
            rows.append(f"<tr><td>{_ring_link(r)}</td><td>{_esc(lin.get('status'))}</td>"
                        f'<td class="num">{size - grown:,} → {size:,}</td><td>{batch(lin.get("first_detected"))}</td>'
                        f"<td><small>{_esc(prev)}</small></td></tr>")
        out.append('<h3 class="sub">Known rings: grown, merged, split</h3>'
                   + _table(["ring", "status", "members (known → now)", "first detected", "continues"], rows))
    out.append("</section>")
    return "".join(out)


def lineage_note(ring: dict[str, Any]) -> str:
    """`` · continuing since batch-… · 3 new`` for a ring section's header line ("" without lineage)."""
    lin = _lineage(ring)
    if lin is None:
        return ""
    new = len(_new_ids(lin))
    return (f" · <b>{_esc(lin.get('status'))}</b> <small>first detected {_esc(lin.get('first_detected'))}"
            + (f", {new:,} new" if new and lin.get("status") != "new" else "") + "</small>")


__all__ = ["since_html", "lineage_note"]
