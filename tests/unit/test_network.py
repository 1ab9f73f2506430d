"""The ring network picture: member groups, the node-link / matrix choice, labels that never cut a word."""

from __future__ import annotations

import re
from html import unescape

from hypothesis import given
from hypothesis import strategies as st

from linkage.report import network
from linkage.report.data import MemberGroup, RingFigures, entity_label
from linkage.report.network import (
    ELLIPSIS,
    MAX_COLUMNS,
    MAX_NODES,
    SEPARATORS,
    fit,
    merge_twins,
    network_caption,
    network_svg,
    text_width,
)

HOSTILE = "<script>alert(1)</script>"


def _ring(groups: list[MemberGroup], entities: list[dict]) -> RingFigures:
    size = sum(g.size for g in groups)
    return RingFigures(ring={"ring_id": "ring-x", "size": size, "members": []}, entities=entities, groups=groups)


def _entities(n: int, label=lambda k: f"entity {k}") -> list[dict]:
    fams = ["prompt", "ip", "email", "device", "payment", "signup"]
    return [{"family": fams[k % len(fams)], "entity": f"e{k}", "label": label(k), "members": 10, "accounts": 20}
            for k in range(n)]


def _patterned(members: int, entities: int) -> list[MemberGroup]:
    """Members spread over many patterns, largest group first (as data.py returns them)."""
    uses: dict[tuple[int, ...], list[str]] = {}
    for m in range(members):
        key = tuple(k for k in range(entities) if (m * 2654435761 >> k) % 3 == 0)
        uses.setdefault(key, []).append(f"acc_{m:05d}")
    return [MemberGroup(p, len(ms), tuple(ms[:3])) for p, ms in sorted(uses.items(), key=lambda kv: (-len(kv[1]), kv[0]))]


def _visible_texts(svg: str) -> list[tuple[str, str]]:
    """(what a <text> shows, its full text): the title when it has one, else what it shows."""
    out = []
    for m in re.finditer(r"<text\b[^>]*>(?:<title>(.*?)</title>)?(.*?)</text>", svg):
        shown = unescape(m.group(2))
        out.append((shown, unescape(m.group(1)) if m.group(1) is not None else shown))
    return out


def _cut_at_a_boundary(shown: str, full: str) -> bool:
    """``shown`` is ``full`` whole, or a prefix of one of its labels ending where a word ends, plus '…'."""
    if not shown.endswith(ELLIPSIS) and " +" not in shown:
        return shown in full.split("; ") or shown == full
    head = re.sub(r" \+\d+\Z", "", shown)
    if not head.endswith(ELLIPSIS):
        return head in full.split("; ")
    head = head[: -len(ELLIPSIS)]
    first = full.split("; ")[0]
    if not first.startswith(head) or not head:
        return False
    rest = first[len(head):]
    return head[-1] in SEPARATORS or rest[:1].isspace() or rest[:1] in tuple(SEPARATORS)


# --- labels -------------------------------------------------------------------------------------------

words = st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789", min_size=1, max_size=14),
                 min_size=1, max_size=12)


@given(words, st.integers(min_value=30, max_value=240))
def test_fit_never_cuts_inside_a_word(ws, room):
    text = " ".join(ws)
    shown, squeezed = fit(text, room)
    if squeezed:
        assert shown in (ws[0], ws[0] + ELLIPSIS)  # an unbroken first token, kept whole and compressed
    elif shown != text:
        assert shown.endswith(ELLIPSIS) and text_width(shown) <= room
        head = shown[: -len(ELLIPSIS)]
        assert text.startswith(head) and text[len(head)] == " "


@given(st.lists(st.text(alphabet="abcdef0123456789", min_size=1, max_size=8), min_size=2, max_size=8),
       st.sampled_from(list(SEPARATORS)), st.integers(min_value=30, max_value=120))
def test_an_identifier_is_cut_only_at_a_separator(parts, sep, room):
    ident = sep.join(parts)
    shown, squeezed = fit(ident, room)
    if shown != ident:
        head = shown[: -len(ELLIPSIS)]
        assert squeezed or (ident.startswith(head) and head.endswith(sep))


def test_fit_examples():
    assert fit("the complete implementation of the function", 120) == ("the complete…", False)
    assert fit("2001:0db8:85a3:0000:0000:8a2e:0370:7334", 120)[0] == "2001:0db8:85a3:…"
    assert fit("9cba1f4967827652a0b1c2d3e4f50617", 80) == ("9cba1f4967827652a0b1c2d3e4f50617", True)
    assert fit("short", 120) == ("short", False)
    assert fit("line\nbreaks  and\ttabs", 400) == ("line breaks and tabs", False)


def test_entity_labels_are_words():
    assert entity_label("prompt", "18e2526810ed13a6", {"18e2526810ed13a6": "unit tests task implement"}) == \
        "unit tests task implement"
    assert not re.search(r"[0-9a-f]{8}", entity_label("prompt", "18e2526810ed13a6", {}))
    assert entity_label("signup", "2026-05-17T23:30:00Z", {}) == "2026-05-17 23:30 UTC"
    assert entity_label("ip", "203.0.113.7", {}) == "203.0.113.7"


# --- groups ---------------------------------------------------------------------------------------------


def test_entities_used_by_the_same_members_are_one_row_within_a_family():
    ents = [{"family": "prompt", "entity": f"t{k}", "label": f"n-gram {k}", "members": 5, "accounts": 9}
            for k in range(3)] + [{"family": "ip", "entity": "1.2.3.4", "label": "1.2.3.4", "members": 5, "accounts": 9}]
    groups = [MemberGroup((0, 1, 2, 3), 5, ("a",)), MemberGroup((), 2, ("b",))]
    rows, regrouped = merge_twins(ents, groups)
    assert [(r.family, r.labels) for r in rows] == [("prompt", ("n-gram 0", "n-gram 1", "n-gram 2")),
                                                  ("ip", ("1.2.3.4",))]
    assert [g.entities for g in regrouped] == [(0, 1), ()]
    assert "3 template n-grams used by exactly the same members" in rows[0].tip


def test_a_small_ring_is_node_link_with_every_member_in_a_group():
    groups = _patterned(20, 6)
    assert len(groups) <= MAX_NODES
    svg = network_svg(_ring(groups, _entities(6)))
    assert svg.startswith('<svg class="net nodes"')
    assert sum(int(n) for n in re.findall(r'<g class="grp" data-size="(\d+)"', svg)) == 20
    assert svg == network_svg(_ring(groups, _entities(6)))  # deterministic


def test_node_link_circles_never_overlap():
    for members, ents in ((20, 6), (60, 4), (400, 3), (19, 16)):
        groups = _patterned(members, ents)[:MAX_NODES]
        svg = network_svg(_ring(groups, _entities(ents)))
        circles = [tuple(map(float, c)) for c in re.findall(r'<circle[^>]* cx="(\d+)" cy="(\d+)" r="([\d.]+)"', svg)]
        assert len(circles) == len(groups)
        for i, (x1, y1, r1) in enumerate(circles):
            assert 0 <= x1 - r1 and x1 + r1 <= network.W and 0 <= y1 - r1 and y1 + r1 <= network.H
            for x2, y2, r2 in circles[i + 1:]:
                assert ((x1 - x2) ** 2 + (y1 - y2) ** 2) ** 0.5 >= r1 + r2 - 1.0  # whole-pixel rounding


def test_a_large_ring_is_a_matrix_with_a_bounded_number_of_blocks():
    groups = _patterned(5000, 16)
    assert len(groups) > MAX_COLUMNS
    fig = _ring(groups, _entities(16))
    svg = network_svg(fig)
    assert svg.startswith('<svg class="net matrix"')
    blocks = [int(n) for n in re.findall(r'<rect class="col" data-size="(\d+)"', svg)]
    assert len(blocks) == MAX_COLUMNS + 1 and sum(blocks) == 5000  # the smallest pooled, no member lost
    assert "fill-opacity" in svg  # the pooled block shaded by share
    assert len(svg) < 120_000
    assert "A row is an entity" in network_caption(fig) and "5,000 members" in network_caption(fig)


def test_matrix_blocks_tile_the_width_without_overlap():
    svg = network_svg(_ring(_patterned(400, 13), _entities(13)))
    spans = [(float(x), float(x) + float(w)) for x, w in
             re.findall(r'<rect class="col" data-size="\d+" x="([\d.]+)" y="\d+" width="([\d.]+)"', svg)]
    for (a0, a1), (b0, _) in zip(spans, spans[1:]):
        assert a0 <= a1 and abs(a1 - b0) < 0.11


def test_labels_are_cut_at_word_ends_in_both_views():
    long = "write the complete implementation of the following function with full type hints"
    ents = _entities(8, lambda k: [long, "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "mailbox-relay.example.top",
                                   "9cba1f4967827652a0b1c2d3e4f50617", "fp_560ab18b41ade11e", "x", "y", "z"][k])
    for members in (20, 400):
        svg = network_svg(_ring(_patterned(members, 8), ents))
        texts = _visible_texts(svg)
        assert any(shown.startswith("write the complete") for shown, _ in texts)
        for shown, full in texts:
            assert _cut_at_a_boundary(shown, full), (shown, full)


def test_data_strings_are_escaped_in_both_views():
    ents = _entities(5, lambda k: HOSTILE if k == 0 else f'e"{k}&')
    for members in (12, 300):
        groups = [MemberGroup(g.entities, g.size, (HOSTILE, *g.sample[1:])) for g in _patterned(members, 5)]
        svg = network_svg(_ring(groups, ents))
        assert "<script" not in svg and "&lt;script&gt;" in svg and 'e"1&' not in svg
