"""Sphinx extension of the course book (loaded through ``sphinx.local_extensions`` in ``_config.yml``).

It does four small things the stock Jupyter Book does not:

1. **Build environment.** The notebooks executed during the build import *this checkout's* ``course_lib``
   (the repository root is put on ``PYTHONPATH`` of the kernels), run the ``quick`` profile unless
   ``COURSE_PROFILE`` says otherwise, and make plotly emit HTML (``PLOTLY_RENDERER=notebook_connected``):
   myst-nb cannot render plotly's own JSON mime type.
2. **plotly.js offline.** The plotly.js bundle of the *installed* plotly package is copied to
   ``_static/plotly-<version>.min.js`` and loaded on the pages that hold a plotly figure; the CDN ``<script>`` tags
   plotly writes into each figure (plotly.js and a second MathJax) are removed, so figures render without internet.
3. **Open in Kaggle.** Every notebook page gets a "Kaggle" entry next to "Colab" in the launch (rocket) menu:
   ``https://kaggle.com/kernels/welcome?src=<repository_url>/blob/<branch>/<path>.ipynb``. Repository URL, branch
   and book path are read from ``html_theme_options`` (``repository.url`` / ``branch`` / ``path_to_book`` in
   ``_config.yml``), so the URL lives in one place. ``./`` segments (``path_to_book: .``) are removed from the
   launch links.
4. **Widgets offline (optional).** ipywidgets need ``require.js`` and the ``@jupyter-widgets/html-manager`` bundle,
   which myst-nb loads from a CDN. Set ``COURSE_WIDGETS_JS_DIR`` (or ``course_widgets_js_dir``) to a folder that
   holds ``require.min.js`` (or ``require.js``) and ``embed-amd.js`` (from ``npm pack @jupyter-widgets/html-manager``)
   and they are served from ``_static/widgets/`` instead.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)

#: plotly writes these CDN scripts into every figure; the page loads the local bundle instead.
_CDN_SCRIPTS = [
    re.compile(r'<script[^>]*\bsrc="https://cdn\.plot\.ly/[^"]*"[^>]*>\s*</script>'),
    re.compile(r'<script type="module">\s*import\s+"https://cdn\.plot\.ly/[^"]*"\s*;?\s*</script>'),
    re.compile(r'<script[^>]*\bsrc="https://cdnjs\.cloudflare\.com/ajax/libs/mathjax/[^"]*"[^>]*>\s*</script>'),
]
_WIDGETS_CDN = "https://cdn.jsdelivr.net/npm/"


def _plotly_bundle() -> tuple[Path, str] | None:
    try:
        import plotly
        from plotly.offline import get_plotlyjs_version
    except ImportError:
        return None
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return (path, f"plotly-{get_plotlyjs_version()}.min.js") if path.is_file() else None


# --------------------------------------------------------------------------------------------- 1. environment
def _configure(app: Sphinx, config) -> None:
    root = str(Path(app.srcdir).resolve())
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *paths])
    os.environ.setdefault("COURSE_PROFILE", "quick")
    os.environ.setdefault("PLOTLY_RENDERER", "notebook_connected")

    widgets_dir = config.course_widgets_js_dir
    if widgets_dir:
        src = Path(widgets_dir)
        require = next((src / n for n in ("require.min.js", "require.js") if (src / n).is_file()), None)
        if require is None or not (src / "embed-amd.js").is_file():
            raise FileNotFoundError(f"course_widgets_js_dir={src}: expected require.min.js (or require.js) and "
                                    "embed-amd.js there")
        config.nb_ipywidgets_js = {
            "widgets/require.min.js": {},
            "widgets/embed-amd.js": {"data-jupyter-widgets-cdn": _WIDGETS_CDN, "crossorigin": "anonymous"},
        }
        app.course_widgets_files = {"require.min.js": require, "embed-amd.js": src / "embed-amd.js"}


# --------------------------------------------------------------------------------------------- 2. plotly
def _strip_cdn_scripts(app: Sphinx, doctree: nodes.document) -> None:
    for node in list(doctree.findall(nodes.raw)):
        if "html" not in node.get("format", "").split():
            continue
        text = node.astext()
        if "cdn.plot.ly" not in text and "ajax/libs/mathjax" not in text:
            continue
        for pattern in _CDN_SCRIPTS:
            text = pattern.sub("", text)
        node.replace_self(nodes.raw("", text, format=node["format"], classes=node.get("classes", [])))


def _add_plotly_js(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    bundle = _plotly_bundle()
    if bundle and "plotly-graph-div" in context.get("body", ""):
        app.add_js_file(bundle[1], priority=300)


# --------------------------------------------------------------------------------------------- 3. Kaggle
def _is_notebook(app: Sphinx, pagename: str, context: dict) -> bool:
    if "kernelspec" in app.env.metadata.get(pagename, {}):
        return True
    return "ipynb" in context.get("page_source_suffix", "")


def kaggle_url(repository_url: str, branch: str, path_in_repo: str) -> str:
    """The "Open in Kaggle" link of a notebook: Kaggle imports it from GitHub."""
    return f"https://kaggle.com/kernels/welcome?src={repository_url.rstrip('/')}/blob/{branch}/{path_in_repo}"


def _add_kaggle_button(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    if doctree is None or not _is_notebook(app, pagename, context):
        return
    opts = app.config.html_theme_options or {}
    repo = opts.get("repository_url")
    if not repo:
        return
    branch = opts.get("repository_branch") or "main"
    book = (opts.get("path_to_docs") or "").strip("/")
    path = posixpath.normpath(posixpath.join(book, pagename + ".ipynb"))
    button = {"type": "link", "text": "Kaggle", "tooltip": "Open in Kaggle", "icon": "fab fa-kaggle",
              "url": kaggle_url(repo, branch, path), "label": "kaggle-launch-button"}
    buttons = context.setdefault("header_buttons", [])
    group = next((b for b in buttons if b.get("label") == "launch-buttons"), None)
    if group is None:
        group = {"type": "group", "tooltip": "Launch interactive content", "icon": "fas fa-rocket",
                 "buttons": [], "label": "launch-buttons"}
        buttons.append(group)
    for b in group["buttons"]:  # "path_to_book: ." gives .../blob/main/./notebooks/...: drop the "./"
        if b.get("url"):
            b["url"] = b["url"].replace("/./", "/")
    group["buttons"].append(button)


# --------------------------------------------------------------------------------------------- assets
def _copy_assets(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    bundle = _plotly_bundle()
    if bundle:
        static.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(bundle[0], static / bundle[1])
    files = getattr(app, "course_widgets_files", None)
    if files:
        (static / "widgets").mkdir(parents=True, exist_ok=True)
        for name, src in files.items():
            shutil.copyfile(src, static / "widgets" / name)
        for extra in Path(files["embed-amd.js"]).parent.glob("*"):  # fonts and chunks the bundle loads lazily
            if extra.is_file() and extra.suffix in {".woff", ".woff2", ".ttf", ".eot", ".svg"} or \
                    extra.name.endswith(".embed.js"):
                shutil.copyfile(extra, static / "widgets" / extra.name)


def setup(app: Sphinx) -> dict:
    app.add_config_value("course_widgets_js_dir", os.environ.get("COURSE_WIDGETS_JS_DIR", ""), "html")
    app.connect("config-inited", _configure)
    app.connect("doctree-read", _strip_cdn_scripts)
    app.connect("html-page-context", _add_plotly_js)
    app.connect("html-page-context", _add_kaggle_button, priority=502)  # after the theme's launch buttons (501)
    app.connect("build-finished", _copy_assets)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
