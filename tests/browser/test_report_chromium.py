"""The fixture report in a real headless Chromium: no console errors, no fetches, every ring drawn on scroll.

Needs ``/usr/bin/chromium`` (`.ci/run` installs it with apt) and is skipped without it;
drives it over the DevTools protocol (``cdp.py``), never downloading a browser.
"""

from __future__ import annotations

import io
import json
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
              circles: svg ? svg.querySelectorAll('circle').length : 0,
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
        assert s["width"] > 200 and s["height"] > 100 and s["circles"] > 0, s
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
