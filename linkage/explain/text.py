"""An explanation as text for people (every figure traceable to the lines above it), JSON, or CSV rows.

The text is built so that a reader can redo the arithmetic: each family's heading
says how its entities' pair weights combine (sum or mean), what the family cap
does and what the family adds; its entity lines, with the "… and N more" line,
add up to the heading's sum; the total line adds the families' figures, applies
the org discount and compares with the least link weight.
"""

from __future__ import annotations

import json
from typing import Any

from .. import families
from ..tabular import count, weight
from .model import Explanation, FamilyShare, RingRef, Weighing

SHARED_COLUMNS = ["a", "b", "family", "entity", "name", "accounts", "hub", "cap", "in_rings", "pair_weight"]


def to_json(exp: Explanation) -> str:
    return json.dumps(exp.to_dict(), indent=2, default=str)


def shared_rows(exp: Explanation) -> list[dict[str, Any]]:
    """One row per shared entity (``SHARED_COLUMNS``): the tabular part of an explanation."""
    return [{"a": exp.a, "b": exp.b, "family": s["family"], "entity": s["entity"], "name": s.get("text") or s["entity"],
             "accounts": s["accounts"], "hub": s["hub"], "cap": s.get("cap"), "in_rings": s.get("in_rings"),
             "pair_weight": s["pair_weight"]} for s in exp.shared]


# --- pieces ------------------------------------------------------------------------------------------


def entity_name(e: dict[str, Any]) -> str:
    """``card tok_x``, ``template n-gram "include docstrings for every"``: words, never a hex id, when words exist."""
    kind = families.label(e["family"])
    return f'{kind} "{e["text"]}"' if e.get("text") else f"{kind} {e['entity']}"


def _accounts(n: int | None) -> str:
    return "accounts unknown" if n is None else f"{count(n)} account{'s' if n != 1 else ''}"


def _operator(r: RingRef) -> str:
    if r.operator:
        conf = f", confidence {weight(r.operator_confidence, 2)}" if r.operator_confidence is not None else ""
        return f"operator {r.operator}{conf}"
    return f"unattributed: {r.operator_cluster}" if r.operator_cluster else "unattributed"


def _ring(r: RingRef) -> str:
    return f"{r.ring_id} (score {weight(r.score, 4)}, {count(r.size)} members, {_operator(r)}{_lineage(r)})"


def _lineage(r: RingRef) -> str:
    """``, continuing since batch-…, 3 new members`` for a ring of a run with state."""
    lin = r.lineage
    if lin is None:
        return ""
    new = [m for m in r.members if m in set(lin.new_members)]
    fresh = f"; {' and '.join(new)} new to it since the last batch" if new and lin.status != "new" else ""
    grown = f", {count(len(lin.new_members))} new members" if lin.status != "new" else ""
    return f", {lin.status} since {lin.first_detected}{grown}{fresh}"


def ring_lines(exp: Explanation) -> list[str]:
    """Which flagged rings hold the two accounts."""
    both = [r for r in exp.rings if set(r.members) == {exp.a, exp.b}]
    if both:
        return [f"Both are members of {_ring(r)}." for r in both] + _recruit_lines(exp)
    if not exp.rings:
        return ["Neither is a member of a flagged ring."]
    lines = []
    for acc in (exp.a, exp.b):
        mine = [r for r in exp.rings if acc in r.members]
        near = [r for r in exp.rings if acc in r.bystanders]
        if mine or not near:
            lines.append(f"{acc} is a member of {', '.join(_ring(r) for r in mine)}." if mine
                         else f"{acc} is a member of no flagged ring.")
        lines += [f"{acc} is a bystander of {_ring(r)}: in its community, but it uses fewer of the ring's linking "
                  "entities than a member must (ScoringParams.member_min_tools), so it is not flagged." for r in near]
    lines += _recruit_lines(exp) + operation_lines(exp)
    return lines


def _recruit_lines(exp: Explanation) -> list[str]:
    """Members the community detection placed elsewhere, that joined a ring by carrying its operation's tools."""
    return [f"{acc} joined {r.ring_id} from outside its community: it carries two of the operation's tools, "
            "a card of the batch it pays from, an address, card or mail domain a member uses, and its template "
            "phrases (a recruit)."
            for r in exp.rings for acc in r.recruits]


def operation_lines(exp: Explanation) -> list[str]:
    """Two accounts in different rings of one operation: one operator's rings share tools, rarely accounts."""
    ops_a = {r.operation for r in exp.rings if exp.a in r.members and r.operation}
    ops_b = {r.operation for r in exp.rings if exp.b in r.members and r.operation}
    return [f"Their rings belong to one operation, {op}: the rings one operator runs, tied by the tools they "
            "reuse (a template, a proxy pool, a card batch) rather than by accounts." for op in sorted(ops_a & ops_b)]


def headline(exp: Explanation) -> list[str]:
    a, b, w = exp.a, exp.b, exp.weighing
    if exp.link is not None:
        return [f"{a} and {b} are directly linked: weight {weight(exp.link['weight'])}."]
    if not exp.connected:
        return [f"{a} and {b} are not linked.",
                f"  No direct link, no shared weighted entity, and no evidence path through at most "
                f"{exp.max_intermediate} intermediate accounts."]
    if w is None or w.cut in (None, "nothing"):
        return [f"{a} and {b} are not directly linked: nothing they share carries weight."]
    if w.cut == "min_shared":
        short = [f for f in w.families if f.cut == "min_shared"]
        return [f"{a} and {b} are not directly linked: they share too few weighted "
                f"{' or '.join(f.label + 's' for f in short)} for the family to count (min_shared)."]
    if w.cut == "org_discount":
        return [f"{a} and {b} are not directly linked: what they share weighs {weight(w.before_discount)}, but both "
                f"belong to the verified org {w.org}, so it counts ×{weight(w.discount)} = {weight(w.weight)}, "
                f"below the least link weight {weight(w.min_link_weight)} (min_link_weight)."]
    return [f"{a} and {b} are not directly linked: what they share weighs {weight(w.weight)}, below the least "
            f"link weight {weight(w.min_link_weight)} (min_link_weight)."]


def family_heading(f: FamilyShare) -> str:
    """How the family's entities make what it adds: ``IP (23 shared): sum of pair weights 0.88 (family cap 1) → adds 0.88``."""
    if not f.stored:
        return (f"{f.label}: adds {weight(f.adds)} (the stored link's figure: its entities are not nodes in the graph;"
                " explain --from OUT lists them)")
    head = f"{f.label} ({count(f.shared)} shared"
    head += f", {count(f.weighted)} weighted)" if f.weighted != f.shared else ")"
    if not f.weighted:
        return head + ": none carries weight → adds 0"
    cap = f"family cap {weight(f.cap)}"
    if f.combine == "mean":
        how = (f"pair weights sum to {weight(f.weight_sum)}, mean {weight(f.weight_sum)} / {count(f.weighted)} = "
               f"{weight(f.value)}")
        why = "the n-grams of one template count once"
        how += f", over the {cap}" if f.value > f.cap else f" ({why}; {cap})"
    else:
        how = f"sum of pair weights {weight(f.value)}"
        how += f", over the {cap}" if f.value > f.cap else f" ({cap})"
    if f.cut == "min_shared":
        return (f"{head}: {how}; but {count(f.weighted)} weighted is fewer than the {f.min_shared} this family "
                f"needs (min_shared) → adds 0 (would add {weight(f.would_add)})")
    return f"{head}: {how} → adds {weight(f.adds)}"


def entity_line(e: dict[str, Any], cap_label: str, *, context: bool = False) -> str:
    rarity = _accounts(e["accounts"])
    if context:
        return f"    {entity_name(e)}  ({rarity})"
    if e["pair_weight"] > 0:
        return f"    {entity_name(e)}  ({rarity}; pair weight {weight(e['pair_weight'])})"
    if e["hub"] and e.get("cap") is not None and e.get("accounts") is not None and e["accounts"] > e["cap"]:
        inside = f", {count(e['in_rings'])} of them in flagged rings" if e.get("in_rings") is not None else ""
        return (f"    {entity_name(e)}  ({rarity}{inside}; hub: shared by {count(e['accounts'])} accounts, past the "
                f"{cap_label} cap of {count(e['cap'])}: carries no weight)")
    return f"    {entity_name(e)}  ({rarity}; no weight)"


def family_block(f: FamilyShare | None, family: str, rows: list[dict[str, Any]], per_family: int) -> list[str]:
    """A family's heading, its heaviest entities, its hubs, and a line for the rest with their pair weights."""
    label = families.label(family)
    lines = ["  " + (family_heading(f) if f else f"{label} ({count(len(rows))} shared): context only, no link weight")]
    weighted = [r for r in rows if r["pair_weight"] > 0]
    rest = [r for r in rows if r["pair_weight"] <= 0]
    shown = weighted[:per_family] + rest[:per_family]
    lines += [entity_line(r, label, context=f is None) for r in shown]
    more_w, more_r = weighted[per_family:], rest[per_family:]
    if more_w:
        total = sum(r["pair_weight"] for r in more_w)
        lines.append(f"    … and {count(len(more_w))} more, pair weights summing to {weight(total)} "
                     "(--format json lists all)")
    if more_r:
        lines.append(f"    … and {count(len(more_r))} more without weight")
    return lines


def total_lines(w: Weighing, linked: bool) -> list[str]:
    parts = sorted((f for f in w.families if f.adds > 0), key=lambda f: (-f.adds, -f.weighted, f.family))
    if not parts:
        return []
    line = "Total: " + " + ".join(f"{f.label} {weight(f.adds)}" for f in parts)
    if len(parts) > 1:
        line += f" = {weight(w.before_discount)}"
    if w.org:
        line += f"; both in the verified org {w.org}: × {weight(w.discount)} (org_discount) = {weight(w.weight)}"
    ok = w.weight >= w.min_link_weight
    line += (f" ≥ the least link weight {weight(w.min_link_weight)}: linked" if ok else
             f" < the least link weight {weight(w.min_link_weight)} (min_link_weight): no link")
    return [line]


def hub_note(exp: Explanation) -> list[str]:
    """Why an entity only ring members use can still be a hub: the cap counts accounts, not outsiders."""
    weighed = {f.family for f in exp.weighing.families} if exp.weighing else set()
    hubs = [s for s in exp.shared if s["family"] in weighed and s["hub"] and s.get("cap") is not None
            and s["accounts"] is not None and s["accounts"] > s["cap"]]
    if not hubs:
        return []
    text = ("A family's cap is absolute: an entity used by more accounts than the cap carries no pair weight, "
            "whoever those accounts are")
    if any(s.get("in_rings") and s["in_rings"] == s["accounts"] for s in hubs):
        text += (", even when, as here, every one of them is a ring member. By its count alone it looks like a "
                 "carrier NAT address or a popular SDK fingerprint; the ring is found through its other evidence.")
    else:
        text += " (a carrier NAT address, a popular SDK fingerprint, a public template)."
    if any(families.get(s["family"]).template for s in hubs):
        text += " Template n-grams past the cap still count towards a ring's template share in scoring."
    return [text]


def neighbour_lines(exp: Explanation) -> list[str]:
    n = exp.neighbours
    if exp.linked or not n or not n["common"]:
        return []
    best = n["best"][0]
    return [f"The evidence graph links {count(n['common'])} account{'s' if n['common'] != 1 else ''} to both; "
            f"the strongest: {exp.a} —{weight(best['weight_a'])}— {best['account_id']} —{weight(best['weight_b'])}— "
            f"{exp.b}."]


def path_lines(exp: Explanation) -> list[str]:
    if exp.linked:
        return []
    if not exp.paths:
        if exp.connected and not any(s["pair_weight"] > 0 for s in exp.shared):
            return [f"No evidence path of weighted entities within {exp.max_intermediate} intermediate accounts."]
        return []
    h = exp.paths[0]["hops"]
    lines = [f"Shortest evidence paths ({h} hops, via {h - 1} intermediate account{'s' if h - 1 != 1 else ''}), "
             "rarest first:"]
    for i, p in enumerate(exp.paths, 1):
        chain = p["accounts"][0]
        for step, acc in zip(p["steps"], p["accounts"][1:]):
            chain += f" —[{entity_name(step)} ({_accounts(step['accounts'])})]— {acc}"
        lines.append(f"  {i}. {chain}")
    return lines


# --- the whole -----------------------------------------------------------------------------------------


def format_explanation(exp: Explanation, *, per_family: int = 10) -> str:
    """The explanation as readable text, at most ``per_family`` entities of each family shown; pure."""
    sections: list[list[str]] = [headline(exp) + ring_lines(exp)]
    by_family: dict[str, list[dict[str, Any]]] = {}
    for s in exp.shared:
        by_family.setdefault(s["family"], []).append(s)
    w = exp.weighing
    lines_of = {f.family: f for f in (w.families if w else [])}
    order = sorted(lines_of.values(), key=lambda f: (-f.adds, -f.weighted, f.family))
    blocks = [family_block(f, f.family, by_family.get(f.family, []), per_family) for f in order]
    blocks += [family_block(None, fam, rows, per_family) for fam, rows in sorted(by_family.items())
               if fam not in lines_of]
    if blocks:
        intro = [f"How the link weight is made (parameters: {exp.params}):"] if w and w.families else []
        sections.append(intro + [line for block in blocks for line in block])
    elif exp.linked:
        sections.append(["Shared entities: none stored (the link comes from sign-up timing or other context)."])
    for extra in ((total_lines(w, exp.linked) if w else []), hub_note(exp), neighbour_lines(exp), path_lines(exp),
                  [f"Note: {n}" for n in exp.notes]):
        if extra:
            sections.append(extra)
    return "\n\n".join("\n".join(s) for s in sections)


__all__ = ["SHARED_COLUMNS", "to_json", "shared_rows", "entity_name", "format_explanation"]
