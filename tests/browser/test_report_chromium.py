"""The fixture report in a real headless Chromium: no console errors, no fetches, every ring drawn on scroll.

Needs ``/usr/bin/chromium`` (`.ci/run` installs it with apt) and is skipped without it;
drives it over the DevTools protocol (``cdp.py``), never downloading a browser.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from linkage.cli import main

CHROMIUM = Path("/usr/bin/chromium")
FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "world"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium; .ci/run does)"),
]

SCROLL_EVERY_RING = """
(async () => {
  const frame = () => new Promise(r => requestAnimationFrame(() => setTimeout(r, 30)));
  const out = [];
  for (const sec of document.querySelectorAll('section.ring')) {
    sec.scrollIntoView();
    let svg = null;
    for (let i = 0; i < 50 && !svg; i++) { await frame(); svg = sec.querySelector('.body svg.net'); }
    const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    out.push({id: sec.id, rendered: sec.dataset.rendered === '1', width: box.width, height: box.height,
              groups: svg ? svg.querySelectorAll('[data-size]').length : 0,
              timeline: !!sec.querySelector('.body svg.tl')});
  }
  return out;
})()
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser_run")
    res = CliRunner().invoke(main, ["detect", str(FIXTURE), "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    return out / "report.html"


@pytest.fixture()
def browser(tmp_path):
    from cdp import Chromium

    pytest.importorskip("websocket", reason="needs websocket-client (the test extra)")
    with Chromium(str(CHROMIUM), tmp_path / "profile", width=1280, height=900) as b:
        yield b


def test_report_renders_every_ring_without_errors(report, browser, tmp_path):
    browser.open(report.as_uri())
    # Only the sections near the top are drawn at first: the rest wait in their <template>.
    browser.evaluate("new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)))")
    initially = browser.evaluate("document.querySelectorAll('section.ring[data-rendered]').length")
    rings = json.loads((report.parent / "rings.json").read_text())["rings"]
    assert 1 <= initially < len(rings)
    sections = browser.evaluate(SCROLL_EVERY_RING)
    assert [s["id"] for s in sections] == [f"r-{r['ring_id']}" for r in rings]
    for s in sections:
        assert s["rendered"] and s["timeline"], s
        assert s["width"] > 200 and s["height"] > 100 and s["groups"] > 0, s
    assert browser.errors == []
    assert [u for u in browser.requests if not u.startswith(("file:", "data:", "about:"))] == []


def test_report_sorts_the_ring_table(report, browser):
    browser.open(report.as_uri())
    size_col = "document.querySelectorAll('table.rings th')[3]"
    read = "[...document.querySelectorAll('table.rings tbody tr')].map(r => +r.cells[3].dataset.v)"
    browser.evaluate(f"{size_col}.click()")
    ascending = browser.evaluate(read)
    browser.evaluate(f"{size_col}.click()")
    descending = browser.evaluate(read)
    assert ascending == sorted(ascending) and descending == sorted(ascending, reverse=True)
    assert browser.errors == []


def test_report_screenshot_is_not_blank(report, browser, tmp_path):
    Image = pytest.importorskip("PIL.Image", reason="needs Pillow (the test extra)")
    browser.open(report.as_uri())
    browser.evaluate("document.querySelector('section.ring').scrollIntoView()")
    browser.evaluate("new Promise(r => setTimeout(r, 200))")
    png = browser.screenshot(tmp_path / "report.png")
    img = Image.open(io.BytesIO(png.read_bytes())).convert("RGB")
    assert img.size == (1280, 900)
    colours = img.getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 50  # text, bars, network: far from a blank page
    white = max((n for n, c in colours if c == (255, 255, 255)), default=0)
    assert white < 0.9 * img.size[0] * img.size[1]


# --- the network picture of a small and a large ring ---------------------------------------------------

NETWORK_GEOMETRY = """
(async (index) => {
  const sec = document.querySelectorAll('section.ring')[index];
  sec.scrollIntoView();
  let svg = null;
  for (let i = 0; i < 50 && !svg; i++) { await new Promise(r => setTimeout(r, 30)); svg = sec.querySelector('.body svg.net'); }
  const box = e => { const b = e.getBoundingClientRect(); return {x: b.x + scrollX, y: b.y + scrollY, w: b.width, h: b.height}; };
  return {
    kind: svg.getAttribute('class'), box: box(svg),
    circles: [...svg.querySelectorAll('g.grp circle')].map(box),
    blocks: [...svg.querySelectorAll('rect.col')].map(box),
    sizes: [...svg.querySelectorAll('[data-size]')].map(e => +e.dataset.size),
    texts: [...svg.querySelectorAll('text')].map(t => ({
      cls: t.getAttribute('class') || '', box: box(t),
      shown: [...t.childNodes].filter(n => n.nodeType === 3).map(n => n.data).join(''),
      full: t.querySelector('title') ? t.querySelector('title').textContent : null})),
  };
})
"""


@pytest.fixture(scope="module")
def big_rings(tmp_path_factory) -> Path:
    """A hand-made OUT with a 20-, a 120- and a 400-member ring (tests/reportkit.py): no detection needed."""
    from reportkit import write_out

    from linkage.report import write_report

    return write_report(write_out(tmp_path_factory.mktemp("big_rings"), [20, 120, 400]), verify=False)


def _overlap(a: dict, b: dict, slack: float = 0.5) -> bool:
    return (a["x"] + slack < b["x"] + b["w"] and b["x"] + slack < a["x"] + a["w"]
            and a["y"] + slack < b["y"] + b["h"] and b["y"] + slack < a["y"] + a["h"])


def _whole_words(shown: str, full: str | None) -> bool:
    """A label shows its text whole, or a prefix that ends where a word (or an id's part) ends, then '…'."""
    from linkage.report.network import ELLIPSIS, SEPARATORS

    first = (full or shown).split("; ")[0]
    head = re.sub(r" \+\d+\Z", "", shown)
    if not head.endswith(ELLIPSIS):
        return head == first
    head = head[: -len(ELLIPSIS)]
    rest = first[len(head):]
    return bool(head) and first.startswith(head) and (head[-1] in SEPARATORS or rest[:1] in (" ", *SEPARATORS))


@pytest.mark.parametrize("index, size, kind", [(0, 20, "nodes"), (1, 120, "matrix"), (2, 400, "matrix")])
def test_network_picture_reads_at_any_ring_size(big_rings, browser, tmp_path, index, size, kind):
    from linkage.report.network import MAX_COLUMNS, MAX_NODES

    Image = pytest.importorskip("PIL.Image", reason="needs Pillow (the test extra)")
    browser.open(big_rings.as_uri())
    g = browser.evaluate(f"({NETWORK_GEOMETRY})({index})")
    assert g["kind"] == f"net {kind}" and g["box"]["w"] > 400 and g["box"]["h"] > 200
    assert sum(g["sizes"]) == size  # every member drawn, in its group
    marks = g["circles"] if kind == "nodes" else g["blocks"]
    assert 1 < len(marks) <= (MAX_NODES if kind == "nodes" else MAX_COLUMNS + 1)
    for i, a in enumerate(g["circles"]):  # circles: centres at least the sum of radii apart
        for b in g["circles"][i + 1:]:
            gap = ((a["x"] + a["w"] / 2 - b["x"] - b["w"] / 2) ** 2 + (a["y"] + a["h"] / 2 - b["y"] - b["h"] / 2) ** 2) ** 0.5
            assert gap >= (a["w"] + b["w"]) / 2 - 0.5, (a, b)
    for a, b in zip(g["blocks"], g["blocks"][1:]):  # blocks: side by side, never on top of each other
        assert a["x"] + a["w"] <= b["x"] + 0.6, (a, b)
    labels = [t for t in g["texts"] if t["cls"] != "n"]  # (a group's count sits inside its circle)
    box = g["box"]
    for i, t in enumerate(labels):
        assert _whole_words(t["shown"], t["full"]), t
        b = t["box"]
        assert box["x"] <= b["x"] and b["x"] + b["w"] <= box["x"] + box["w"] + 0.5, t  # not clipped at the edge
        for u in labels[i + 1:]:
            assert not _overlap(b, u["box"]), (t, u)
        for mark in marks:  # a label never runs into the drawing
            assert not _overlap(b, mark, slack=1.0), (t, mark)
    assert any(t["shown"].startswith("write the complete") for t in labels)  # a template shows words
    png = browser.screenshot(tmp_path / f"ring-{size}-network.png", clip={
        "x": box["x"], "y": box["y"], "width": box["w"], "height": box["h"]}, scale=2)
    img = Image.open(png).convert("RGB")
    colours = img.getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 50
    background = max(n for n, _ in colours)
    assert background < 0.95 * img.size[0] * img.size[1]  # drawn, not blank
    assert browser.errors == []
    assert [u for u in browser.requests if not u.startswith(("file:", "data:", "about:"))] == []
