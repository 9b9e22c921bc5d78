"""Tests of the Jupyter Book: table of contents, the notebooks' committed state and setup cell, the Sphinx extension,
and (marked ``slow``) a full ``jupyter-book build -W`` whose HTML must show images, plotly, widgets and launch links.
"""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
REPO_URL = CONFIG["repository"]["url"]
BRANCH = CONFIG["repository"]["branch"]

SETUP_CELL = """\
# Setup: make course_lib importable (locally, on Colab, on Kaggle), pick the profile, seed everything.
import importlib.util, subprocess, sys
if importlib.util.find_spec("course_lib") is None:  # Colab / Kaggle: install the book's library
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+{url}"], check=True)
import course_lib
cfg = course_lib.setup(seed=0)"""


def _toc_files(node) -> list[str]:
    """Every ``file:`` entry of the table of contents, in order (root first)."""
    found = []
    if isinstance(node, dict):
        if "root" in node:
            found.append(node["root"])
        if "file" in node:
            found.append(node["file"])
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key, []) or []:
                found += _toc_files(child)
    return found


def _resolve(entry: str) -> Path | None:
    for suffix in ("", ".ipynb", ".md"):
        path = ROOT / (entry + suffix)
        if path.is_file():
            return path
    return None


TOC_FILES = _toc_files(TOC)
NOTEBOOKS = [e for e in TOC_FILES if e.startswith("notebooks/") or e.endswith(".ipynb")]


def _load_notebook(entry: str) -> dict:
    path = _resolve(entry)
    assert path is not None, f"_toc.yml lists {entry!r} but neither {entry}.ipynb nor {entry}.md exists"
    return json.loads(path.read_text(encoding="utf-8"))


def test_toc_lists_existing_files_in_lecture_order():
    missing = [e for e in TOC_FILES if _resolve(e) is None]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"
    assert TOC["root"] == "book/intro"
    chapter_numbers = [int(m.group(1)) for e in TOC_FILES if (m := re.search(r"ch(\d\d)_", e))]
    assert chapter_numbers == sorted(chapter_numbers), f"chapters out of lecture order: {TOC_FILES}"
    assert "notebooks/ch01_tasks_and_metrics" in TOC_FILES


@pytest.mark.parametrize("entry", NOTEBOOKS)
def test_notebook_is_committed_without_outputs(entry):
    nb = _load_notebook(entry)
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
             and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{entry}: code cells {dirty} hold outputs or execution counts; strip them before committing"
    assert "widgets" not in nb.get("metadata", {}), f"{entry}: saved widget state in the notebook metadata"


@pytest.mark.parametrize("entry", NOTEBOOKS)
def test_notebook_starts_with_title_and_the_setup_cell(entry):
    nb = _load_notebook(entry)
    cells = nb["cells"]
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).lstrip().startswith("# "), \
        f"{entry}: the first cell must be a markdown cell with the title"
    first_code = next(c for c in cells if c["cell_type"] == "code")
    source = "".join(first_code["source"]).strip()
    assert source == SETUP_CELL.format(url=REPO_URL), (
        f"{entry}: the first code cell must be the setup cell of the book's convention, installing "
        f"git+{REPO_URL} (the repository url of _config.yml)")


def test_repository_url_lives_only_in_config():
    # notebooks repeat it in their setup cell (checked above against _config.yml); nothing else may hard-code it
    offenders = [str(p.relative_to(ROOT)) for folder in ("book", "course_lib") for p in (ROOT / folder).rglob("*")
                 if p.is_file() and p.suffix in {".py", ".md", ".yml", ".yaml", ".txt", ".html", ".js"}
                 and REPO_URL in p.read_text(encoding="utf-8", errors="ignore")]
    assert not offenders, f"the repository URL is hard-coded in {offenders}; read it from _config.yml"
    assert CONFIG["launch_buttons"]["colab_url"].startswith("https://colab.research.google.com")
    assert "course_book" in CONFIG["sphinx"]["local_extensions"]


# ------------------------------------------------------------------------------------- the Sphinx extension
def _extension():
    path = ROOT / CONFIG["sphinx"]["local_extensions"]["course_book"] / "course_book.py"
    spec = importlib.util.spec_from_file_location("course_book_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _FakeEnv:
    def __init__(self, metadata):
        self.metadata = metadata


class _FakeApp:
    def __init__(self, theme_options, metadata):
        self.config = type("Config", (), {"html_theme_options": theme_options})()
        self.env = _FakeEnv(metadata)


def test_kaggle_button_is_added_to_the_launch_menu():
    ext = _extension()
    opts = {"repository_url": REPO_URL, "repository_branch": BRANCH, "path_to_docs": "."}
    app = _FakeApp(opts, {"notebooks/ch01": {"kernelspec": {"name": "python3"}}, "book/intro": {}})
    colab = {"type": "link", "text": "Colab", "url": f"https://colab.research.google.com/github/x/y/blob/{BRANCH}/./a"}
    context = {"header_buttons": [{"type": "group", "label": "launch-buttons", "buttons": [colab]}]}
    ext._add_kaggle_button(app, "notebooks/ch01", "page.html", context, doctree=object())
    buttons = context["header_buttons"][0]["buttons"]
    assert buttons[-1]["url"] == f"https://kaggle.com/kernels/welcome?src={REPO_URL}/blob/{BRANCH}/notebooks/ch01.ipynb"
    assert buttons[-1]["tooltip"] == "Open in Kaggle"
    assert "/./" not in buttons[0]["url"]
    context = {"header_buttons": []}
    ext._add_kaggle_button(app, "book/intro", "page.html", context, doctree=object())
    assert context["header_buttons"] == [], "markdown pages get no Kaggle button"


def test_plotly_cdn_scripts_are_stripped():
    from docutils import nodes
    from docutils.utils import new_document

    ext = _extension()
    html = ('<div><script src="https://cdnjs.cloudflare.com/ajax/libs/mathjax/3.2.2/es5/tex-svg.min.js"></script>'
            '<script charset="utf-8" src="https://cdn.plot.ly/plotly-4.1.1.min.js" integrity="x" crossorigin="a">'
            '</script><div id="f" class="plotly-graph-div"></div><script>Plotly.newPlot("f", [], {})</script></div>'
            '<script type="module">import "https://cdn.plot.ly/plotly-4.1.1.min"</script>')
    doc = new_document("test")
    doc += nodes.raw("", html, format="html")
    ext._strip_cdn_scripts(None, doc)
    out = doc.astext()
    assert "cdn.plot.ly" not in out and "mathjax" not in out
    assert 'class="plotly-graph-div"' in out and "Plotly.newPlot" in out


# ------------------------------------------------------------------------------------- the full build
def _jupyter_book() -> str | None:
    local = Path(sys.executable).parent / "jupyter-book"
    return str(local) if local.is_file() else shutil.which("jupyter-book")


@pytest.mark.slow
def test_book_builds_with_warnings_as_errors(tmp_path):
    exe = _jupyter_book()
    if exe is None:
        pytest.skip("jupyter-book is not installed")
    env = {**os.environ, "COURSE_PROFILE": "quick"}
    env.pop("COURSE_WIDGETS_JS_DIR", None)
    proc = subprocess.run([exe, "build", str(ROOT), "-W", "--path-output", str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, f"jupyter-book build -W failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
    site = tmp_path / "_build" / "html"
    page = (site / "notebooks" / "ch01_tasks_and_metrics.html").read_text(encoding="utf-8")

    # matplotlib figures became PNG files that the page shows
    pngs = re.findall(r'<img[^>]+src="\.\./_images/([^"]+\.png)"', page)
    assert len(pngs) >= 5 and all((site / "_images" / p).is_file() for p in pngs)
    # the plotly figure, with plotly.js served from _static instead of a CDN
    assert "plotly-graph-div" in page and "Plotly.newPlot" in page
    scripts = re.findall(r'<script src="\.\./_static/(plotly-[\d.]+\.min\.js)"', page)
    assert scripts and (site / "_static" / scripts[0]).is_file()
    assert "cdn.plot.ly" not in page
    # ipywidgets: the view in the page and the saved state that the html manager renders it from
    assert "application/vnd.jupyter.widget-view+json" in page
    assert "application/vnd.jupyter.widget-state+json" in page and "embed-amd.js" in page
    # launch links built from _config.yml
    assert f"https://kaggle.com/kernels/welcome?src={REPO_URL}/blob/{BRANCH}/notebooks/ch01_tasks_and_metrics.ipynb" \
        in page
    org_repo = REPO_URL.split("github.com/")[1]
    assert f"https://colab.research.google.com/github/{org_repo}/blob/{BRANCH}/notebooks/ch01_tasks_and_metrics.ipynb" \
        in page
    # every chapter of the toc became a page
    for entry in TOC_FILES:
        assert (site / f"{entry}.html").is_file(), f"{entry}.html missing from the site"
