"""The report page: one self-contained HTML file (inline CSS, JS and SVG; nothing fetched).

Rendering is lazy so that 500 rings stay usable: each ring's section is a
light header plus a ``<template>`` holding its pictures and tables. A
template's content is parsed but inert (not styled, laid out or painted); an
IntersectionObserver clones it into the page when the section comes within a
screen of the viewport, and ``beforeprint`` renders them all. Every string that
comes from data goes through ``esc`` (``html.escape``, quotes too).
"""

from __future__ import annotations

from html import escape
from typing import Any

from .. import families
from ..config import Config, ScoringParams
from .data import ReportData, RingFigures
from .network import network_caption, network_svg
from .since import lineage_note, since_html
from .svg import colour, timeline_svg

TOPIC_COLOURS = {"coding": "#0072B2", "agentic": "#D55E00", "other": "#BBBBBB"}
MAX_MEMBER_IDS = 400


def esc(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _num(value: Any) -> float:
    """A number from rings.json, 0 when missing or not a number (a hand-edited file must not break the page)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return 0.0
    return v if v == v else 0.0


def _n(value: Any) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return esc(value)


def _f(value: Any, digits: int = 2) -> str:
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return "–"


def _day(ts: object) -> str:
    return esc(str(ts)[:10]) if ts else "–"


def operator_label(ring: dict[str, Any]) -> str:
    """The operator's name, or the unattributed cluster marked as such."""
    if ring.get("operator"):
        return esc(ring["operator"])
    cluster = ring.get("operator_cluster")
    return f'<span class="unattr">{esc(cluster) if cluster else "unattributed"}</span>'


def dominant_signals(ring: dict[str, Any], k: int = 3) -> list[str]:
    """Families carrying most of the ring's internal link weight."""
    sig = _dict(ring.get("signals"))
    weights = sorted(((_num(v.get("weight")), f) for f, v in sig.items() if isinstance(v, dict)), reverse=True)
    return [f for w, f in weights[:k] if w > 0]


def _anchor(ring: dict[str, Any]) -> str:
    return esc(f"r-{ring['ring_id']}")


# --- summary -----------------------------------------------------------------------------------


def summary_html(data: ReportData) -> str:
    doc, rings = data.doc, [f.ring for f in data.rings]
    params = _dict(doc.get("params"))
    inp = _dict(doc.get("input"))
    accounts = sum(int(_num(r.get("size"))) for r in rings)
    requests = sum(int(_num(r.get("requests"))) for r in rings)
    firsts = [r["first_seen"] for r in rings if r.get("first_seen")]
    lasts = [r["last_seen"] for r in rings if r.get("last_seen")]
    span = f"{_day(min(firsts))} → {_day(max(lasts))}" if firsts and lasts else "–"
    # With state the rings' requests include the window the state carried: the share is of both.
    carried = _dict(_dict(inp.get("state")).get("carried"))
    seen = int(_num(inp.get("events"))) + int(_num(carried.get("events")))
    share = f" ({requests / seen:.0%} of {_n(seen)})" if seen else ""
    rejected = ("not recorded" if data.rejected_rows is None else
                f'<a href="rejected.csv">{_n(data.rejected_rows)} rows</a>')
    cards = [("rings flagged", _n(len(rings))), ("accounts in rings", f"{_n(accounts)}"
             + (f' <small>of {_n(inp["accounts"])}</small>' if inp.get("accounts") else "")),
             ("requests covered", f"{_n(requests)}<small>{esc(share)}</small>"), ("activity span", span),
             ("rejected input rows", rejected)]
    out = ['<section id="summary"><h2>Summary</h2><div class="cards">']
    out += [f'<div class="card"><div class="k">{k}</div><div class="v">{v}</div></div>' for k, v in cards]
    out.append("</div>")
    out.append(_operators_table(rings, requests))
    out.append(operations_table(doc.get("operations") or []))
    run = [("threshold", params.get("threshold")), ("seed", params.get("seed")),
           ("min ring size", params.get("min_ring_size")), ("resolution", params.get("resolution")),
           ("input", inp.get("folder")), ("generated", doc.get("generated_at"))]
    out.append('<p class="params">' + " · ".join(f"{k} <b>{esc(v)}</b>" for k, v in run if v is not None) + "</p>")
    if data.missing:
        out.append(f'<p class="note">This run did not keep {esc(", ".join(data.missing))}: the panels that need them '
                   "are left out. Re-run <code>linkage detect</code> to get them.</p>")
    out.append("</section>")
    return "".join(out)


def _operators_table(rings: list[dict[str, Any]], total_requests: int) -> str:
    by: dict[str, dict[str, Any]] = {}
    for r in rings:
        key = r.get("operator") or r.get("operator_cluster") or "unattributed"
        e = by.setdefault(key, {"rings": 0, "accounts": 0, "requests": 0, "attributed": bool(r.get("operator"))})
        e["rings"] += 1
        e["accounts"] += int(_num(r.get("size")))
        e["requests"] += int(_num(r.get("requests")))
    if not by:
        return "<p>No ring reached the threshold.</p>"
    rows = []
    for name, e in sorted(by.items(), key=lambda kv: (-kv[1]["accounts"], kv[0])):
        kind = "attributed (intel)" if e["attributed"] else "unattributed cluster"
        share = e["requests"] / total_requests if total_requests else 0
        rows.append(f'<tr><td>{esc(name) if e["attributed"] else f"<span class=unattr>{esc(name)}</span>"}</td>'
                    f'<td>{kind}</td><td class="num">{_n(e["rings"])}</td><td class="num">{_n(e["accounts"])}</td>'
                    f'<td class="num">{_n(e["requests"])}</td><td class="num">{share:.0%}</td></tr>')
    return ('<h3 class="sub">By operator</h3><table class="ops"><thead><tr><th>operator</th><th>kind</th><th>rings</th>'
            "<th>accounts</th><th>requests</th><th>share</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def operations_table(operations: list[Any]) -> str:
    """The operations (rings grouped by the tools they reuse) and the tools that tie their rings together."""
    rows = []
    for op in operations:
        op = _dict(op)
        name = op.get("operator") or str(op.get("operation_id", "")).replace("operation-", "unattributed-", 1)
        label = esc(name) if op.get("operator") else f"<span class=unattr>{esc(name)}</span>"
        tools = []
        for family, t in sorted(_dict(op.get("tools")).items()):
            t = _dict(t)
            top = [str(_dict(e).get("entity", "")) for e in (t.get("top") or [])[:2]]
            tools.append(f"{esc(families.label(family))} ×{_n(t.get('tools'))}"
                         + (f" <small>({esc(', '.join(x[:40] for x in top))})</small>" if top else ""))
        rows.append(f'<tr><td>{label}</td><td><small>{esc(op.get("operation_id"))}</small></td>'
                    f'<td class="num">{_n(len(op.get("rings") or []))}</td><td class="num">{_n(op.get("accounts"))}</td>'
                    f'<td class="num">{_n(op.get("requests"))}</td><td>{"; ".join(tools) or "–"}</td></tr>')
    if not rows:
        return ""
    return ('<h3 class="sub">By operation</h3><p class="hint">An operation is the set of rings that reuse one '
            "operator's tools (proxies, cards, harness builds, templates); intel on any of its rings names them "
            'all.</p><table class="ops"><thead><tr><th>operator</th><th>operation</th><th>rings</th><th>accounts</th>'
            "<th>requests</th><th>shared tools</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def rings_table(data: ReportData) -> str:
    head = [("#", "num"), ("ring", "text"), ("score", "num"), ("size", "num"), ("operator", "text"),
            ("confidence", "num"), ("dominant signals", "text"), ("requests", "num"), ("first seen", "text")]
    rows = []
    for i, f in enumerate(data.rings, 1):
        r = f.ring
        sig = ", ".join(families.label(s) for s in dominant_signals(r))
        rows.append(
            f'<tr><td class="num" data-v="{i}">{i}</td><td><a href="#{_anchor(r)}">{esc(r["ring_id"])}</a></td>'
            f'<td class="num" data-v="{_f(r.get("score"), 4)}">{_f(r.get("score"), 3)}</td>'
            f'<td class="num" data-v="{int(_num(r.get("size")))}">{_n(r.get("size"))}</td>'
            f"<td>{operator_label(r)}</td>"
            f'<td class="num" data-v="{_f(r.get("operator_confidence"), 4)}">{_f(r.get("operator_confidence"))}</td>'
            f"<td>{esc(sig)}</td>"
            f'<td class="num" data-v="{int(_num(r.get("requests")))}">{_n(r.get("requests"))}</td>'
            f"<td>{_day(r.get('first_seen'))}</td></tr>")
    ths = "".join(f'<th data-type="{t}" title="sort">{h}</th>' for h, t in head)
    return ('<section id="rings"><h2>Rings</h2><p class="hint">Click a column to sort; click a ring to jump to it.</p>'
            f'<table class="sortable rings"><thead><tr>{ths}</tr></thead><tbody>{"".join(rows)}</tbody></table></section>')


# --- one ring ----------------------------------------------------------------------------------


def _bar(value: float, fill: str = "#2f6f9f") -> str:
    pct = max(0.0, min(1.0, value)) * 100
    return f'<span class="bar"><span style="width:{pct:.1f}%;background:{fill}"></span></span>'


def score_html(ring: dict[str, Any], scoring: ScoringParams) -> str:
    """How the score is made, with the run's own weights and thresholds (``rings.json`` params)."""
    feats = _dict(ring.get("features"))
    w = vars(scoring.weights)
    full = scoring.coordination_full
    rows = [f'<tr class="top"><td>score</td><td>{_bar(_num(ring.get("score")), "#333")}</td>'
            f'<td class="num">{_f(ring.get("score"), 3)}</td><td>√(coordination × harvesting)</td></tr>']
    for name, note in (("coordination", f"weighted features ÷ {full:g}, capped at 1; needs ≥ {scoring.min_families} "
                                        f"families, {scoring.min_infrastructure} of them infrastructure"),
                       ("harvesting", f"volume {_f(feats.get('volume_harvest'))}: median member sends "
                                      f"{_f(feats.get('volume_ratio'), 1)}× the batch median "
                                      f"({_n(feats.get('median_requests'))} requests), 1 at "
                                      f"{scoring.harvest_full_ratio:g}×; templated {_f(feats.get('templated_harvest'))}; "
                                      f"procured {_f(feats.get('procured'))} (a card batch and a proxy pool: shared "
                                      f"addresses span {_f(feats.get('pool_networks'), 1)} networks)")):
        rows.append(f'<tr class="top"><td>{name}</td><td>{_bar(_num(feats.get(name)), "#555")}</td>'
                    f'<td class="num">{_f(feats.get(name))}</td><td>{note}</td></tr>')
    for name, weight in sorted(w.items(), key=lambda kv: -kv[1]):
        v = _num(feats.get(name))
        rows.append(f"<tr><td>{esc(name.replace('_', ' '))}</td><td>{_bar(v)}</td><td class=\"num\">{_f(v)}</td>"
                    f"<td>× {weight:.2f} → +{v * weight / full:.2f} to coordination</td></tr>")
    rows.append(f'<tr><td>density</td><td>{_bar(_num(feats.get("density")), "#999")}</td>'
                f'<td class="num">{_f(feats.get("density"))}</td><td>share of member pairs linked (not scored)</td></tr>')
    return '<table class="score">' + "".join(rows) + "</table>"


def links_bar(ring: dict[str, Any]) -> str:
    """What ties the members together: each family's share of the internal link weight."""
    sig = {f: _num(v.get("weight")) for f, v in _dict(ring.get("signals")).items() if isinstance(v, dict)}
    total = sum(sig.values())
    if total <= 0:
        return ""
    segs, legend = [], []
    for f, v in sorted(sig.items(), key=lambda kv: -kv[1]):
        if v <= 0:
            continue
        segs.append(f'<span style="width:{v / total * 100:.2f}%;background:{colour(f)}" '
                    f'title="{esc(families.label(f))}: {v / total:.0%}"></span>')
        legend.append(f'<span><i style="background:{colour(f)}"></i>{esc(families.label(f))} {v / total:.0%}</span>')
    return (f'<h4>Link weight by signal</h4><div class="stack">{"".join(segs)}</div>'
            f'<div class="legend">{"".join(legend)}</div>')


def topics_html(fig: RingFigures) -> str:
    if fig.topics is None:
        return ""
    total = sum(fig.topics.values())
    if not total:
        return '<h4>Prompt topics</h4><p class="note">No prompt text in this ring\'s requests.</p>'
    segs, legend = [], []
    for t in ("coding", "agentic", "other"):
        v = fig.topics.get(t, 0)
        if v:
            segs.append(f'<span style="width:{v / total * 100:.2f}%;background:{TOPIC_COLOURS[t]}"></span>')
        legend.append(f'<span><i style="background:{TOPIC_COLOURS[t]}"></i>{t} {v / total:.0%}</span>')
    return (f'<h4>Prompt topics <small>({_n(total)} sampled prompts)</small></h4><div class="stack">{"".join(segs)}</div>'
            f'<div class="legend">{"".join(legend)}</div>')


def signals_table(ring: dict[str, Any]) -> str:
    sig = _dict(ring.get("signals"))
    rows = []
    for f, v in sorted(sig.items(), key=lambda kv: -_num(_dict(kv[1]).get("weight"))):
        if not isinstance(v, dict):
            continue
        tops = []
        for t in v.get("top") or []:
            if not isinstance(t, dict):
                continue
            hub = ' <span class="hub">hub</span>' if t.get("hub") else ""
            tops.append(f'<li><code>{esc(t.get("entity"))}</code> <small>{_n(t.get("members"))} members / '
                        f'{_n(t.get("accounts"))} accounts</small>{hub}</li>')
        rows.append(f'<tr><td><i class="sw" style="background:{colour(f)}"></i>{esc(families.label(f))}</td>'
                    f'<td class="num">{_n(v.get("shared_entities"))}</td><td class="num">{_f(v.get("weight"), 1)}</td>'
                    f'<td><ul>{"".join(tops)}</ul></td></tr>')
    if not rows:
        return ""
    return ('<h4>Shared entities by signal</h4><table class="sig"><thead><tr><th>signal</th><th>shared</th>'
            "<th>link weight</th><th>most shared (members in ring / accounts in batch)</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def evidence_html(ring: dict[str, Any]) -> str:
    items = []
    for p in ring.get("evidence") or []:
        if not isinstance(p, dict):
            continue
        kind = str(p.get("kind") or "")
        extra = (f' <small>weight {_f(p.get("weight"))}</small>' if "weight" in p else "") + (
            f' <small>specificity {_f(p.get("specificity"))}</small>' if "specificity" in p else "")
        items.append(f'<li><span class="kind k-{esc(kind)}">{esc(kind.replace("_", " "))}</span> '
                     f'{esc(p.get("path"))}{extra}</li>')
    attr = _dict(ring.get("attribution"))
    scores = _dict(attr.get("operator_scores"))
    ranked = ", ".join(f"{esc(k)} {_f(v)}" for k, v in sorted(scores.items(), key=lambda kv: -_num(kv[1]))[:4])
    out = "<h4>Evidence paths</h4>" + (f'<ul class="paths">{"".join(items)}</ul>' if items else "<p>none</p>")
    if ranked:
        out += f'<p class="note">Operator scores: {ranked}</p>'
    return out


def members_html(ring: dict[str, Any]) -> str:
    members = [str(m) for m in ring.get("members") or []]
    shown = ", ".join(esc(m) for m in members[:MAX_MEMBER_IDS])
    more = f" … and {_n(len(members) - MAX_MEMBER_IDS)} more (see ring_members.csv)" if len(members) > MAX_MEMBER_IDS else ""
    return f'<details><summary>{_n(len(members))} member accounts</summary><p class="ids">{shown}{more}</p></details>'


def _operation_note(ring: dict[str, Any]) -> str:
    out = f' · <small>{esc(ring["operation"])}</small>' if ring.get("operation") else ""
    bystanders = ring.get("bystanders") or []
    if bystanders:
        out += (f' · <small title="{esc(", ".join(str(b) for b in bystanders[:50]))}">{_n(len(bystanders))} '
                "bystanders not flagged (one shared entity)</small>")
    recruits = ring.get("recruits") or []
    if recruits:
        out += (f' · <small title="{esc(", ".join(str(r) for r in recruits[:50]))}">{_n(len(recruits))} '
                "members joined from outside the community (a card of the batch and a shared address)</small>")
    return out


def ring_section(i: int, fig: RingFigures, scoring: ScoringParams) -> str:
    r = fig.ring
    conf = f' <small>confidence {_f(r.get("operator_confidence"))}</small>' if r.get("operator") else ""
    caption = network_caption(fig)
    drawn = f'<p class="note">{esc(caption)}</p>' if caption else ""
    shown_families = sorted({e["family"] for e in fig.entities})
    legend = "".join(f'<span><i style="background:{colour(f)}"></i>{esc(families.label(f))}</span>'
                     for f in shown_families)
    timeline = "" if fig.signups is None and fig.requests is None else (
        f'<h4>Timeline</h4>{timeline_svg(fig)}')
    body = (f'<div class="grid"><div><h4>Network</h4>{network_svg(fig)}'
            f'<div class="legend">{legend}</div>{drawn}</div>'
            f'<div>{timeline}<h4>Score</h4>{score_html(r, scoring)}{links_bar(r)}{topics_html(fig)}</div></div>'
            f"{signals_table(r)}{evidence_html(r)}{members_html(r)}")
    return (f'<section class="ring" id="{_anchor(r)}"><h3><span class="rank">#{i}</span> {esc(r["ring_id"])} '
            f'<span class="score">score {_f(r.get("score"), 3)}</span></h3>'
            f'<p class="meta">{operator_label(r)}{conf} · {_n(r.get("size"))} accounts · {_n(r.get("requests"))} '
            f'requests · {_day(r.get("first_seen"))} → {_day(r.get("last_seen"))}{_operation_note(r)}{lineage_note(r)}</p>'
            f'<div class="body"><p class="loading">rendering…</p></div><template>{body}</template></section>')


# --- page --------------------------------------------------------------------------------------

CSS = """
:root{--fg:#1d232a;--mut:#5f6b76;--line:#dde3e8;--bg:#f6f8fa}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);background:#fff}
header{background:#1d232a;color:#fff;padding:14px 28px}header h1{margin:0;font-size:20px}header p{margin:2px 0 0;color:#b8c2cc}
main{max-width:1240px;margin:0 auto;padding:8px 28px 60px}h2{margin:28px 0 10px;font-size:18px;border-bottom:2px solid var(--line);padding-bottom:4px}
h3{font-size:16px;margin:0}h3.sub{margin:16px 0 6px}h4{margin:12px 0 4px;font-size:13px;color:var(--mut);text-transform:uppercase;letter-spacing:.04em}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:8px 14px;min-width:170px}
.card .k{color:var(--mut);font-size:12px}.card .v{font-size:20px;font-weight:600}.card small{font-size:12px;font-weight:400;color:var(--mut);margin-left:4px}
table{border-collapse:collapse}th,td{padding:3px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:var(--bg);font-weight:600;white-space:nowrap}td.num{text-align:right;font-variant-numeric:tabular-nums}
table.sortable th{cursor:pointer;user-select:none}table.sortable th[data-dir=asc]::after{content:" ▲"}table.sortable th[data-dir=desc]::after{content:" ▼"}
table.rings{width:100%}table.rings tbody tr:hover{background:#eef4fa}
.unattr{font-style:italic;color:#8a4b00}.params,.hint,.note,.meta{color:var(--mut)}.note{font-size:12px}
section.ring{border:1px solid var(--line);border-radius:8px;padding:12px 16px;margin:18px 0}
section.ring .rank{color:var(--mut)}section.ring .score{float:right;font-weight:600}
.body:has(.loading){min-height:760px}.loading{color:var(--mut)}
.grid{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:18px}@media (max-width:900px){.grid{grid-template-columns:1fr}}
svg{width:100%;height:auto;display:block;background:#fcfdfe;border:1px solid var(--line);border-radius:4px}
svg text{font:10px system-ui,sans-serif;fill:#333}.net text{paint-order:stroke;stroke:#fff;stroke-width:3px}.net text.cnt{fill:#8a949e;font-size:9px}
.net .edge{fill:none;stroke-opacity:.3}.net circle{fill:#39424b;fill-opacity:.9;stroke:#fff;stroke-width:1}
.net circle.none{fill:#fff;stroke:#39424b}.net text.n{fill:#fff;stroke:none;font-size:9px;font-weight:600;pointer-events:none}
.net .grp:hover circle{fill:#0b5cad}.matrix rect.bg{fill:#eef1f4}.matrix rect.col{fill:transparent;stroke:none}
.matrix rect.col:hover{fill:#1d232a;fill-opacity:.12}
.tl .axis,.tl .tick{stroke:#888;stroke-width:.8}.tl .lab{fill:var(--mut)}.tl .name{font-weight:600}
.bar{display:inline-block;width:120px;height:9px;background:#e8ecef;border-radius:2px;vertical-align:middle}.bar>span{display:block;height:100%;border-radius:2px}
table.score td{border:none;padding:1px 6px;font-size:12.5px}table.score td:first-child{white-space:nowrap}table.score tr.top td{font-weight:600}
.stack{display:flex;height:14px;border-radius:3px;overflow:hidden;background:#e8ecef}.stack>span{display:block;height:100%}
.legend{display:flex;flex-wrap:wrap;gap:4px 12px;font-size:12px;color:var(--mut);margin:4px 0}
.legend i,.sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:-1px}.legend i.dot{border-radius:50%;background:#39424b}
table.sig{width:100%;font-size:12.5px}table.sig ul{margin:0;padding:0;list-style:none;columns:2}table.sig code{word-break:break-all}
.hub{font-size:10px;background:#eee;border-radius:3px;padding:0 3px;color:#777}
ul.paths{padding-left:18px;font-size:12.5px}ul.paths li{margin:2px 0;word-break:break-word}
.kind{display:inline-block;font-size:10.5px;padding:0 5px;border-radius:3px;background:#e3ecf5;color:#234}
.k-indicator{background:#fde6d2;color:#6b3300}.k-ring_tie{background:#efe3f5;color:#4a2366}
details{margin-top:8px}.ids{font:11.5px ui-monospace,monospace;color:#444;word-break:break-all}
@media print{.loading{display:none}section.ring{break-inside:avoid}}
"""

JS = """
(function(){
  function sortBy(th){
    var table=th.closest('table'),body=table.tBodies[0],idx=Array.prototype.indexOf.call(th.parentNode.children,th);
    var dir=th.dataset.dir==='asc'?'desc':'asc',num=th.dataset.type==='num';
    table.querySelectorAll('th').forEach(function(h){delete h.dataset.dir});th.dataset.dir=dir;
    var key=function(tr){var c=tr.cells[idx],v=c.dataset.v!==undefined?c.dataset.v:c.textContent;return num?parseFloat(v):v.toLowerCase()};
    var rows=Array.prototype.slice.call(body.rows).sort(function(a,b){var x=key(a),y=key(b),r=x<y?-1:x>y?1:0;return dir==='asc'?r:-r});
    rows.forEach(function(r){body.appendChild(r)});
  }
  document.querySelectorAll('table.sortable th').forEach(function(th){th.addEventListener('click',function(){sortBy(th)})});
  function render(sec){
    if(sec.dataset.rendered)return;var t=sec.querySelector('template'),b=sec.querySelector('.body');
    if(!t||!b)return;b.replaceChildren(t.content.cloneNode(true));sec.dataset.rendered='1';
  }
  var secs=document.querySelectorAll('section.ring');
  secs.forEach(function(s){if(s.getBoundingClientRect().top<innerHeight+1000)render(s)});  // the first screen at once
  if('IntersectionObserver' in window){
    var io=new IntersectionObserver(function(es){es.forEach(function(e){if(e.isIntersecting){render(e.target);io.unobserve(e.target)}})},{rootMargin:'1000px 0px'});
    secs.forEach(function(s){io.observe(s)});
  }else{secs.forEach(render)}
  window.addEventListener('beforeprint',function(){secs.forEach(render)});
  function jump(){var id;try{id=decodeURIComponent(location.hash.slice(1))}catch(e){return}var s=id&&document.getElementById(id);
    if(s&&s.classList.contains('ring')){render(s);s.scrollIntoView()}}
  window.addEventListener('hashchange',jump);jump();
})();
"""


def page_html(data: ReportData) -> str:
    doc = data.doc
    try:
        scoring = Config.from_dict(_dict(data.doc.get("params"))).scoring
    except Exception:  # an older or foreign rings.json: explain with today's defaults
        scoring = ScoringParams()
    sections = "".join(ring_section(i, f, scoring) for i, f in enumerate(data.rings, 1))
    title = f"linkage report — {len(data.rings)} rings"
    sub = f"generated {esc(doc.get('generated_at'))} · input {esc(_dict(doc.get('input')).get('folder'))}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{sub}</p></header><main>"
        "<noscript><p class=\"note\">Ring pictures need JavaScript (they are drawn as you scroll).</p></noscript>"
        f"{since_html(doc)}{summary_html(data)}{rings_table(data)}"
        f'<section id="details"><h2>Ring details</h2>{sections}</section>'
        f"</main><script>{JS}</script></body></html>\n"
    )
