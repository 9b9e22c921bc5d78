"""The built site in headless Chromium with the network off: formulas rendered, widgets live, plotly figures drawn,
and no request leaving the site.

Opens every page of the table of contents (the book that ``built_book`` in conftest.py builds once per session, or
the site in ``$COURSE_BUILT_SITE``, e.g. ``_build/html`` after ``make book``) from a local HTTP server on 127.0.0.1,
and the two chapters with sliders also as ``file://`` (instructors open ``_build/html/index.html`` directly): the
BraTS chapter's ipywidgets viewer follows the keyboard, and Chapter 1's plotly slider redraws the outcome picture
with its IoU and Dice. Every request of the browser is recorded; any that is not for the local
server (or ``file://``, ``data:``, ``blob:``) is aborted and fails the test, and so does a local file that is
missing (a 4xx answer). Chromium's DNS resolves nothing but 127.0.0.1, so a request that bypassed the recording
would fail too. Needs Debian's ``chromium`` and the ``playwright`` package (``scripts/setup_env.sh`` installs both);
skipped where either is missing.
"""

from __future__ import annotations

import functools
import http.server
import io
import json
import os
import re
import shutil
import threading
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
WIDGET_PAGE = "notebooks/ch03_unet3d_brats"  # ipywidgets (the volume viewer, an IntSlider) and plotly figures
OUTCOME_PAGE = "notebooks/ch01_tasks_and_metrics"  # section 2.5: a plotly slider over pre-rendered outcome pictures
LOCAL_SCHEMES = ("data:", "blob:", "about:")

pytestmark = pytest.mark.slow


def _toc_pages(node) -> list[str]:
    found = [node["root"]] if isinstance(node, dict) and "root" in node else []
    if isinstance(node, dict):
        found += [node["file"]] if "file" in node else []
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key) or []:
                found += _toc_pages(child)
    return found


PAGES = _toc_pages(TOC)


def _chromium() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (scripts/setup_env.sh)")
    exe = _chromium()
    if exe is None:
        pytest.skip("no chromium on this machine (scripts/setup_env.sh installs Debian's chromium as root)")
    with sync_api.sync_playwright() as pw:
        # --no-sandbox: CI runs as root; the resolver rule is the network switch (nothing but localhost resolves)
        chromium = pw.chromium.launch(executable_path=exe, args=[
            "--no-sandbox", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(request) -> Path:
    """The built site: ``$COURSE_BUILT_SITE`` (a ``_build/html`` built before, e.g. by ``make book``) or the book
    that conftest's ``built_book`` builds once per session."""
    value = os.environ.get("COURSE_BUILT_SITE")
    if not value:
        return request.getfixturevalue("built_book")
    path = Path(value).resolve()
    if not all((path / f"{page}.html").is_file() for page in PAGES):
        pytest.fail(f"COURSE_BUILT_SITE={value} is not a built site with every page of _toc.yml (run make book)")
    return path


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class Visit:
    """One page opened offline: every request, the ones refused or failed, JavaScript errors."""

    def __init__(self, browser, base: str, page: str):
        self.base = base
        self.requests: list[str] = []
        self.refused: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.url} ({r.failure})"))
        self.page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.url} (HTTP {r.status})"))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(base + page + ".html", wait_until="load", timeout=60_000)
        # MathJax typesets after the load event; wait until it says it is done
        try:
            self.page.wait_for_function("() => !window.MathJax || (MathJax.startup && MathJax.startup.promise)",
                                        timeout=20_000)
            self.page.evaluate("() => window.MathJax && MathJax.startup.promise")
        except Exception as err:  # noqa: BLE001 - reported with the requests by assert_offline
            self.errors.append(f"MathJax did not start: {str(err).splitlines()[0]}")

    def _is_local(self, url: str) -> bool:
        return url.startswith(self.base) or url.startswith(LOCAL_SCHEMES)

    def _route(self, route):
        if self._is_local(route.request.url):
            route.continue_()
        else:
            self.refused.append(route.request.url)
            route.abort("internetdisconnected")

    def assert_offline(self):
        leaving = [u for u in self.requests if not self._is_local(u)]
        assert not leaving and not self.refused, f"requests leaving the site: {sorted(set(leaving + self.refused))}"
        assert not self.failed, f"local requests that failed (a file missing from the site?): {self.failed}"
        assert not self.errors, f"JavaScript errors on the page: {self.errors}"

    def close(self):
        self.context.close()


MATH_STATE = """() => {
  const maths = Array.from(document.querySelectorAll('span.math, div.math'));
  const text = document.querySelector('article') || document.body;
  const clone = text.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, mjx-container').forEach(e => e.remove());
  return {maths: maths.length, typeset: maths.filter(m => m.querySelector('mjx-container')).length,
          containers: document.querySelectorAll('mjx-container').length,
          raw: (clone.textContent.match(/\\\\\\(|\\\\\\[|\\$\\$/g) || []).length};
}"""

WIDGET_STATE = """() => ({
  views: document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length,
  rendered: Array.from(document.querySelectorAll('.widget-subarea')).filter(
    area => area.querySelector('.jupyter-widgets')).length,
  sliders: document.querySelectorAll('.widget-slider').length,
})"""

PLOTLY_STATE = """() => Array.from(document.querySelectorAll('.plotly-graph-div')).map(d => ({
  traces: (d._fullData || []).length,
  svg: d.querySelectorAll('svg.main-svg').length,
  drawn: d.querySelectorAll('g.trace, svg.main-svg image, canvas').length,  // svg traces, image/heatmap, WebGL
  sliders: (d._fullLayout.sliders || []).length,
}))"""
SLIDER_STATE = "d => JSON.stringify([d._fullLayout.sliders[0].active, d._fullData.map(t => t.visible)])"


def _distinct_colours(png: bytes) -> int:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    return len(image.getcolors(maxcolors=1 << 20) or [])


def _check_page(visit: Visit, page: str, html: str) -> dict:
    """Formulas, widgets and plotly figures of one page; returns what it found."""
    visit.assert_offline()
    math = visit.page.evaluate(MATH_STATE)
    assert math["typeset"] == math["maths"], f"{page}: {math['maths'] - math['typeset']} formulas not typeset: {math}"
    assert math["raw"] == 0, f"{page}: raw TeX delimiters left in the text: {math}"
    if 'class="math' in html:
        assert math["containers"] > 0, f"{page}: the page holds formulas but MathJax rendered none"

    widgets = {"views": 0}
    if "application/vnd.jupyter.widget-view+json" in html:
        # attached, not visible: tqdm hides its finished progress bars (leave=False), still rendered views
        visit.page.wait_for_selector(".widget-subarea .jupyter-widgets", state="attached", timeout=30_000)
        widgets = visit.page.evaluate(WIDGET_STATE)
        assert widgets["rendered"] >= widgets["views"] > 0, f"{page}: widget views not rendered: {widgets}"

    figures = []
    if "plotly-graph-div" in html:
        visit.page.wait_for_selector(".plotly-graph-div .main-svg", timeout=30_000)
        figures = visit.page.evaluate(PLOTLY_STATE)
        for i, fig in enumerate(figures):
            assert fig["traces"] > 0 and fig["svg"] > 0 and fig["drawn"] > 0, f"{page}: plotly figure {i}: {fig}"
            if i == 0 or fig["sliders"]:  # pixels of the first figure, and of each with a slider (WebGL is slow)
                _check_pixels(visit, page, i, fig)
    visit.assert_offline()
    return {"math": math, "widgets": widgets, "plotly": figures}


def _check_pixels(visit: Visit, page: str, i: int, fig: dict) -> None:
    """The figure is drawn (not blank); plotly's own slider, if any, changes it in the browser alone."""
    element = visit.page.locator(".plotly-graph-div").nth(i)
    element.scroll_into_view_if_needed()
    visit.page.mouse.move(0, 0)  # no hover: the mode bar hides
    before = element.screenshot()
    colours = _distinct_colours(before)
    assert colours > 50, f"{page}: plotly figure {i} looks blank ({colours} colours)"
    if fig["sliders"]:
        state = element.evaluate(SLIDER_STATE)
        rail = element.locator(".slider-rail-touch-rect").first
        box = rail.bounding_box()
        for where in (0.05, 0.95):  # near the start; then the end (a few-step slider rounds 5 % back to step 0)
            rail.click(position={"x": box["width"] * where, "y": box["height"] / 2})
            visit.page.mouse.move(0, 0)
            visit.page.wait_for_timeout(500)
            if element.evaluate(SLIDER_STATE) != state:
                break
        assert element.evaluate(SLIDER_STATE) != state, f"{page}: plotly figure {i}: the slider did not move"
        assert element.screenshot() != before, f"{page}: plotly figure {i}: the slider moved, the figure did not"
        fig["slider_moved"] = True


def _move_widget_slider(visit: Visit) -> None:
    """The html manager runs the widget models in the page: the first IntSlider follows the keyboard."""
    readout = visit.page.locator(".widget-slider .widget-readout").first
    before = readout.inner_text()
    visit.page.locator(".widget-slider .noUi-handle").first.focus()
    for _ in range(3):
        visit.page.keyboard.press("ArrowRight")
    visit.page.wait_for_function("([el, v]) => el.innerText !== v", arg=[readout.element_handle(), before],
                                 timeout=10_000)
    assert int(readout.inner_text()) == int(before) + 3, "the slider's model did not follow the keyboard"
    visit.assert_offline()


#: The figure of Chapter 1, section 2.5: its drawn title, the slider's current value, the active step's label and title,
#: and the pictures drawn (one ``go.Image`` per shift, only the active one visible).
OUTCOME_STATE = """d => {
  const slider = d._fullLayout.sliders[0], step = slider.steps[slider.active];
  return {title: (d.querySelector('.gtitle') || {}).textContent || '',
          current: (d.querySelector('.slider-group > text.slider-label') || {}).textContent || '',
          label: step.label, step_title: step.args[1]['title.text'],
          images: Array.from(d.querySelectorAll('svg.main-svg image')).map(i => i.getAttribute('href'))};
}"""
OUTCOME_FIGURE = """() => Array.from(document.querySelectorAll('.plotly-graph-div')).findIndex(
  d => (d._fullLayout.sliders || []).length && / IoU \\d/.test((d._fullLayout.title || {}).text || ''))"""
OUTCOME_TITLE = re.compile(r"shift (-?\d+) px: IoU (\d\.\d{3}), Dice (\d\.\d{3})")


def _move_outcome_slider(visit: Visit) -> list[dict]:
    """Chapter 1, section 2.5: clicking later and later steps of the plotly slider (the disk moved to the right, about
    0, 9 and 24 px) redraws the outcome picture and the IoU/Dice title, in the browser alone; returns the states."""
    index = visit.page.evaluate(OUTCOME_FIGURE)
    assert index >= 0, f"{OUTCOME_PAGE}: no plotly figure with a slider and IoU in its title (section 2.5)"
    element = visit.page.locator(".plotly-graph-div").nth(index)
    element.scroll_into_view_if_needed()
    rail = element.locator(".slider-rail-touch-rect").first
    states = []
    for fraction in (0.5, 0.65, 0.9):
        visit.page.mouse.move(0, 0)
        before, picture = element.evaluate(OUTCOME_STATE), element.screenshot()
        box = rail.bounding_box()
        rail.click(position={"x": box["width"] * fraction, "y": box["height"] / 2})
        visit.page.mouse.move(0, 0)
        visit.page.wait_for_function("([d, t]) => (d.querySelector('.gtitle') || {}).textContent !== t",
                                     arg=[element.element_handle(), before["title"]], timeout=10_000)
        state = element.evaluate(OUTCOME_STATE)
        match = OUTCOME_TITLE.fullmatch(state["title"])
        assert match and state["title"] == state["step_title"], f"the title is not the active step's: {state}"
        assert state["current"] == f"shift {state['label']}" and state["label"] == f"{match[1]} px", state
        shift, iou, dice = int(match[1]), float(match[2]), float(match[3])
        assert abs(dice - 2 * iou / (1 + iou)) < 2e-3, f"Dice != 2 IoU / (1 + IoU) in {state['title']!r}"
        assert len(state["images"]) == 1 and state["images"] != before["images"], \
            f"the slider moved, the outcome picture did not: {before['title']!r} -> {state['title']!r}"
        assert element.screenshot() != picture, f"the slider moved to {state['title']!r}, the figure looks the same"
        states.append({"title": state["title"], "shift": shift, "iou": iou, "dice": dice})
    shifts, ious = [abs(s["shift"]) for s in states], [s["iou"] for s in states]
    assert shifts == sorted(set(shifts)) and ious == sorted(set(ious), reverse=True), \
        f"moving the disk farther should lower IoU: {states}"
    visit.assert_offline()
    return states


def test_every_page_works_offline(browser, server, site, tmp_path):
    found = {}
    for page in PAGES:
        html = (site / f"{page}.html").read_text(encoding="utf-8")
        visit = Visit(browser, server, page)
        try:
            found[page] = _check_page(visit, page, html)
            if page == WIDGET_PAGE:
                assert found[page]["widgets"].get("sliders"), found[page]
                _move_widget_slider(visit)
            if page == OUTCOME_PAGE:
                found[page]["outcome"] = _move_outcome_slider(visit)
        finally:
            visit.page.screenshot(path=str(tmp_path / (page.replace("/", "_") + ".png")))
            visit.close()
    (tmp_path / "found.json").write_text(json.dumps(found, indent=1))
    # the book has formulas, widgets and plotly figures: the checks above must have met each of them
    assert sum(f["math"]["containers"] for f in found.values()) > 20, found
    assert found[WIDGET_PAGE]["widgets"]["views"] > 0 and found[WIDGET_PAGE]["plotly"], found[WIDGET_PAGE]
    assert len(found[OUTCOME_PAGE]["outcome"]) == 3, found[OUTCOME_PAGE]
    assert any(fig.get("slider_moved") for f in found.values() for fig in f["plotly"]), \
        "no page has a plotly figure with a slider (the BraTS viewer has one)"


@pytest.mark.parametrize("page", [WIDGET_PAGE, OUTCOME_PAGE])
def test_the_slider_pages_work_from_files(browser, site, page):
    """The same checks with the site opened as files (``file://.../_build/html``), as an instructor would."""
    visit = Visit(browser, site.as_uri() + "/", page)
    try:
        found = _check_page(visit, page, (site / f"{page}.html").read_text(encoding="utf-8"))
        assert found["plotly"], found
        if page == WIDGET_PAGE:
            assert found["widgets"].get("sliders"), found
            _move_widget_slider(visit)
        else:
            _move_outcome_slider(visit)
    finally:
        visit.close()
