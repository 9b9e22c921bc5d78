"""Tests of the Jupyter Book: table of contents, the notebooks' committed state and setup cell, the Sphinx extension,
the offline assets (vendored npm packages, the check for remote references) and (marked ``slow``) a full
``jupyter-book build -W`` whose HTML must show images, plotly, widgets and launch links and load nothing from another
site; tests/test_site_offline.py opens the same build in a browser.
"""

import importlib.util
import json
import re
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
if any(importlib.util.find_spec(m) is None for m in {modules}):  # Colab / Kaggle: install it
    if subprocess.run([sys.executable, "-m", "pip", "install", "-q", "course-lib{extras} @ git+{url}"]).returncode:
        raise RuntimeError("pip could not install course_lib; on Kaggle switch Internet on (Session options)")
import course_lib
cfg = course_lib.setup(seed=0)"""
#: what a chapter needs beyond course_lib: (the pyproject extra its setup cell installs, the modules it checks for)
SETUP_EXTRAS = {
    "notebooks/ch03_unet3d_brats": ("medical", ("monai", "nibabel")),  # NIfTI files; MONAI computes the HD95
    "notebooks/ch06_pointnet": ("3d", ("open3d", "h5py")),  # mesh sampling; the HDF5 form of ModelNet40
    "notebooks/ch03_context_models": ("seg", ("timm",)),  # PraNet's Res2Net-50 backbone
    "notebooks/ch05_instance_segmentation": ("instance", ("pycocotools",)),  # COCO annotations, RLE, COCOeval
}


def setup_cell(entry: str) -> str:
    """The setup cell notebook ``entry`` must start with (its extras installed where it needs them)."""
    extra, modules = SETUP_EXTRAS.get(entry, ("", ()))
    names = ", ".join(f'"{m}"' for m in ("course_lib", *modules)) + ("," if not modules else "")
    return SETUP_CELL.format(url=REPO_URL, extras=f"[{extra}]" if extra else "", modules=f"({names})")


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
#: the chapter number of every _toc.yml entry named chNN_..., in the order of the table of contents
TOC_CHAPTERS = [int(m.group(1)) for e in TOC_FILES if (m := re.search(r"ch(\d\d)_", e))]
NOTEBOOKS = [e for e in TOC_FILES if e.startswith("notebooks/") or e.endswith(".ipynb")]


def _load_notebook(entry: str) -> dict:
    path = _resolve(entry)
    assert path is not None, f"_toc.yml lists {entry!r} but neither {entry}.ipynb nor {entry}.md exists"
    return json.loads(path.read_text(encoding="utf-8"))


def test_toc_lists_existing_files_in_lecture_order():
    missing = [e for e in TOC_FILES if _resolve(e) is None]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"
    assert TOC["root"] == "book/intro"
    assert TOC_CHAPTERS == sorted(TOC_CHAPTERS), f"chapters out of lecture order: {TOC_FILES}"
    assert "notebooks/ch01_tasks_and_metrics" in TOC_FILES


def test_intro_chapter_table_marks_exactly_the_chapters_in_the_toc_as_available():
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \|[^|]*\| ([^|]+) \|$", (ROOT / "book/intro.md").read_text("utf-8"), re.M)
    assert len(rows) == 11, f"book/intro.md: expected the lecture's 11 chapters in its table, found {len(rows)}"
    for number, title, status in rows:
        written = int(number) in TOC_CHAPTERS
        assert ("{doc}`available" in status) == written, (
            f"book/intro.md: chapter {number} ({title.strip()}) is {status.strip()!r}, but it is "
            f"{'in' if written else 'not in'} _toc.yml")


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
    assert source == setup_cell(entry), (
        f"{entry}: the first code cell must be the setup cell of the book's convention, installing "
        f"git+{REPO_URL} (the repository url of _config.yml)")


def test_setup_extras_exist_and_hold_what_the_cells_check_for():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for entry, (extra, modules) in SETUP_EXTRAS.items():
        assert entry in NOTEBOOKS, f"{entry} is not in _toc.yml"
        packages = " ".join(extras.get(extra, []))
        assert extra in extras, f"pyproject.toml has no extra {extra!r} for {entry}"
        for module in modules:
            assert module in packages, f"the {extra!r} extra does not install {module} ({entry} needs it)"


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


# ------------------------------------------------------------------------------------- offline assets
def _tarball(folder: Path, files: dict[str, str]) -> Path:
    """A small npm-like tarball (members under ``package/``)."""
    import io
    import tarfile

    path = folder / "tiny-pkg-1.0.0.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_npm_tarball_names_follow_npm_pack():
    ext = _extension()
    assert ext.npm_tarball_name("mathjax", "3.2.2") == "mathjax-3.2.2.tgz"
    assert ext.npm_tarball_name("@jupyter-widgets/html-manager", "1.0.15") == "jupyter-widgets-html-manager-1.0.15.tgz"
    assert set(ext.NPM_PACKAGES) == {p for p, *_ in ext.STATIC_FILES}
    assert ext.NPM_PACKAGES["mathjax"][0].startswith("3.")
    assert CONFIG["sphinx"]["config"]["mathjax_path"] == ext.MATHJAX_PATH
    assert (ext.STATIC_FILES[0][2] + "/") == ext.MATHJAX_PATH.split("/")[0] + "/"


def test_vendored_package_is_checked_and_unpacked_once(tmp_path, monkeypatch):
    import base64
    import hashlib

    ext = _extension()
    cache = tmp_path / "cache"
    cache.mkdir()
    tarball = _tarball(cache, {"dist/a.js": "var a = 1;", "b.css": "b{}"})
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    monkeypatch.setitem(ext.NPM_PACKAGES, "tiny-pkg", ("1.0.0", integrity))
    monkeypatch.setattr(ext.shutil, "which", lambda name: None)  # no npm: the tarball in the cache must do
    package = ext.vendor_npm_package("tiny-pkg", cache)
    assert (package / "dist" / "a.js").read_text() == "var a = 1;" and (package / "b.css").is_file()
    (package / "dist" / "a.js").write_text("edited")
    assert ext.vendor_npm_package("tiny-pkg", cache) == package
    assert (package / "dist" / "a.js").read_text() == "edited", "a second build must not unpack again"


def test_vendored_package_with_a_wrong_checksum_or_without_npm_fails_clearly(tmp_path, monkeypatch):
    from sphinx.errors import ExtensionError

    ext = _extension()
    tarball = _tarball(tmp_path, {"a.js": "tampered"})
    monkeypatch.setitem(ext.NPM_PACKAGES, "tiny-pkg", ("1.0.0", "sha512-" + "A" * 86 + "=="))
    with pytest.raises(ExtensionError, match=r"tiny-pkg-1\.0\.0\.tgz: sha512 .* differs from the pinned"):
        ext.vendor_npm_package("tiny-pkg", tmp_path)
    assert not (tmp_path / "tiny-pkg-1.0.0").exists(), "nothing is unpacked from a tarball that fails its check"
    tarball.unlink()
    monkeypatch.setattr(ext.shutil, "which", lambda name: None)
    with pytest.raises(ExtensionError, match=r"npm is needed once .* tiny-pkg-1\.0\.0\.tgz"):
        ext.vendor_npm_package("tiny-pkg", tmp_path)


def test_remote_references_finds_what_a_page_would_fetch_from_another_site(tmp_path):
    ext = _extension()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "page.html").write_text(
        '<link rel="canonical" href="https://example.org/page.html" />'          # navigation: allowed
        '<a href="https://arxiv.org/abs/1411.4038">paper</a>'                     # a link: allowed
        '<script src="../_static/local.js"></script>'
        '<script defer src="https://cdn.example.org/x.js"></script>'
        '<link href="//fonts.example.org/css?family=A" rel="stylesheet" />'
        '<img alt="" src="https://img.example.org/a.png" />'
        '<script type="module">import "https://cdn.plot.ly/plotly-3.0.0.min"</script>', encoding="utf-8")
    (tmp_path / "style.css").write_text('/* @import url("https://commented.out/a.css"); */\n'
                                        '@font-face {src: url(fonts/a.woff2), url("https://fonts.example.org/b.woff")}',
                                        encoding="utf-8")
    found = ext.remote_references(tmp_path)
    assert sorted(found) == sorted([
        "sub/page.html: https://cdn.example.org/x.js", "sub/page.html: //fonts.example.org/css?family=A",
        "sub/page.html: https://img.example.org/a.png", "sub/page.html: https://cdn.plot.ly/plotly-3.0.0.min",
        "style.css: https://fonts.example.org/b.woff"])


def test_offline_page_drops_thebe_and_configures_the_widget_scripts():
    from sphinx.builders.html._assets import _JavaScript

    ext = _extension()
    added = []
    app = _FakeApp({"launch_buttons": {"colab_url": "https://colab.research.google.com"}}, {})
    app.add_js_file = lambda filename, **kw: added.append((filename, kw))
    scripts = [_JavaScript("_static/doctools.js"), _JavaScript("", body='const THEBE_JS_URL = "https://unpkg.com/t"'),
               _JavaScript("_static/sphinx-thebe.js", **{"async": "async"}), _JavaScript("_static/widgets/require.js")]
    context = {"script_files": scripts, "pathto": lambda name, resource: f"../{name}"}
    ext._offline_page(app, "notebooks/ch01", "page.html", context, doctree=None)
    assert [str(js.filename) for js in context["script_files"]] == ["_static/doctools.js", "_static/widgets/require.js"]
    bodies = [kw["body"] for name, kw in added if name is None]
    assert any('"@jupyter-widgets/html-manager/dist": "../_static/widgets"' in b for b in bodies)
    assert any("MathJax" in b and "typesetPromise" in b for b in bodies)
    assert all(kw["priority"] < 500 for _, kw in added), "the configuration must come before require.js (500)"
    added.clear()
    ext._offline_page(app, "book/intro", "page.html", {"script_files": [_JavaScript("_static/doctools.js")]}, None)
    assert added == [], "pages without widgets get no widget configuration"


# ------------------------------------------------------------------------------------- the full build
@pytest.mark.slow
def test_book_builds_with_warnings_as_errors(built_book):
    ext = _extension()
    site = built_book
    page = (site / "notebooks" / "ch01_tasks_and_metrics.html").read_text(encoding="utf-8")

    # matplotlib figures became PNG files that the page shows
    pngs = re.findall(r'<img[^>]+src="\.\./_images/([^"]+\.png)"', page)
    assert len(pngs) >= 5 and all((site / "_images" / p).is_file() for p in pngs)
    # the plotly figure, with plotly.js served from _static instead of a CDN
    assert "plotly-graph-div" in page and "Plotly.newPlot" in page
    scripts = re.findall(r'<script src="\.\./_static/(plotly-[\d.]+\.min\.js)"', page)
    assert scripts and (site / "_static" / scripts[0]).is_file()
    assert "cdn.plot.ly" not in page
    # ipywidgets: the view in the page and the saved state that the html manager renders it from, and the manager,
    # require.js and MathJax served from _static (browser checks: tests/test_site_offline.py)
    # (Chapter 1's slider is a plotly figure; the BraTS chapter's volume viewer is the ipywidgets one)
    widget_page = (site / "notebooks" / "ch03_unet3d_brats.html").read_text(encoding="utf-8")
    assert "application/vnd.jupyter.widget-view+json" in widget_page
    assert "application/vnd.jupyter.widget-state+json" in widget_page
    for script in ("_static/widgets/require.js", "_static/widgets/embed-amd.js", "_static/" + ext.MATHJAX_PATH):
        assert f'src="../{script}"' in widget_page and (site / script).is_file(), script
    assert any((site / "_static" / "widgets").glob("*.woff2")), "the widgets' icon fonts are served beside the bundle"
    assert (site / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2" / "MathJax_Main-Regular.woff"
            ).is_file(), "MathJax's CHTML fonts are served beside it"
    assert "THEBE_JS_URL" not in page
    # nothing loads a script, a stylesheet, a font or an image from another site
    assert ext.remote_references(site) == []
    # launch links built from _config.yml
    assert f"https://kaggle.com/kernels/welcome?src={REPO_URL}/blob/{BRANCH}/notebooks/ch01_tasks_and_metrics.ipynb" \
        in page
    org_repo = REPO_URL.split("github.com/")[1]
    assert f"https://colab.research.google.com/github/{org_repo}/blob/{BRANCH}/notebooks/ch01_tasks_and_metrics.ipynb" \
        in page
    # every chapter of the toc became a page
    for entry in TOC_FILES:
        assert (site / f"{entry}.html").is_file(), f"{entry}.html missing from the site"
