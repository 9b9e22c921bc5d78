"""Sphinx extension of the course book (loaded through ``sphinx.local_extensions`` in ``_config.yml``).

It does four things the stock Jupyter Book does not:

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
4. **MathJax and the widget manager offline.** The npm packages ``mathjax@3`` (``es5/``, served as
   ``_static/mathjax/``; ``mathjax_path`` in ``_config.yml`` points there), ``@jupyter-widgets/html-manager``
   (``embed-amd.js`` and its fonts) and ``requirejs`` (``require.js``), both served from ``_static/widgets/``
   instead of myst-nb's CDN links, are vendored at build time: ``npm pack`` fetches each pinned version once (npm
   keeps it in its cache, so later builds work offline), its sha512 is checked against the pin below, and it is
   unpacked (``course_lib.io.archive.safe_extract``) into ``_build/.vendor_js`` (or ``$COURSE_JS_CACHE``). For a
   machine without npm or registry, put the three ``npm pack`` tarballs into that folder. Pages with widgets get a
   require.js path for the manager's fonts and a ``MathJax.Hub`` shim (the widgets call MathJax 2's API);
   sphinx-thebe's scripts (a CDN URL, declared twice) are dropped unless a thebe button is configured. The build
   warns (an error under ``-W``) if a page still loads a script, a stylesheet, a font or an image from another site.
"""

from __future__ import annotations

import base64
import hashlib
import os
import posixpath
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

from course_lib.io.archive import safe_extract

LOGGER = logging.getLogger(__name__)

#: plotly writes these CDN scripts into every figure; the page loads the local bundle instead.
_CDN_SCRIPTS = [
    re.compile(r'<script[^>]*\bsrc="https://cdn\.plot\.ly/[^"]*"[^>]*>\s*</script>'),
    re.compile(r'<script type="module">\s*import\s+"https://cdn\.plot\.ly/[^"]*"\s*;?\s*</script>'),
    re.compile(r'<script[^>]*\bsrc="https://cdnjs\.cloudflare\.com/ajax/libs/mathjax/[^"]*"[^>]*>\s*</script>'),
]


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

    config.nb_ipywidgets_js = {f"widgets/{name}": {} for name in WIDGETS_SCRIPTS}
    if _is_remote(getattr(config, "mathjax_path", "") or ""):
        LOGGER.warning(f"mathjax_path={config.mathjax_path!r} loads MathJax from another site; the offline site "
                       f"serves it from _static: set mathjax_path: {MATHJAX_PATH} in _config.yml")


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


# --------------------------------------------------------------------------------------------- 4. npm assets
#: npm packages the site serves itself: name -> (version, the tarball's sha512 as the npm registry publishes it).
NPM_PACKAGES = {
    "mathjax": (
        "3.2.2", "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw=="),
    "@jupyter-widgets/html-manager": (
        "1.0.15", "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA=="),
    "requirejs": (
        "2.3.8", "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw=="),
}
#: what of each package goes where under _static: (package, a folder or file in it, destination folder, the file
#: names and ".suffixes" to take from that folder, None for all of it)
STATIC_FILES = [
    ("mathjax", "es5", "mathjax", None),
    # the widget manager, and the Font Awesome files of the widgets' icons that its CSS loads from beside it
    ("@jupyter-widgets/html-manager", "dist", "widgets", ("embed-amd.js", ".woff2", ".woff", ".ttf", ".eot", ".svg")),
    ("requirejs", "require.js", "widgets", None),
]
#: the scripts a page with widgets loads, in order (the html manager needs require.js first)
WIDGETS_SCRIPTS = ["require.js", "embed-amd.js"]
MATHJAX_PATH = "mathjax/tex-mml-chtml.js"


def _is_remote(url: str) -> bool:
    return bool(re.match(r"(?i)^(?:[a-z][a-z0-9+.-]*:)?//", url.strip())) and not url.strip().startswith("file:")


def npm_tarball_name(name: str, version: str) -> str:
    """The file name ``npm pack NAME@VERSION`` writes (``@scope/pkg`` -> ``scope-pkg-VERSION.tgz``)."""
    return f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"


def _sha512(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return "sha512-" + base64.b64encode(digest.digest()).decode()


def _npm_pack(name: str, version: str, into: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise ExtensionError(
            f"the offline site serves {name}@{version} from _static, and npm is needed once to fetch it: install npm "
            f"(scripts/setup_env.sh does: apt-get install npm), or put {npm_tarball_name(name, version)} (from "
            f"`npm pack {name}@{version}` on another machine) into {into.parent}")
    proc = subprocess.run([npm, "pack", f"{name}@{version}", "--prefer-offline", "--silent",
                           "--pack-destination", str(into)], capture_output=True, text=True, timeout=600)
    tarball = into / npm_tarball_name(name, version)
    if proc.returncode != 0 or not tarball.is_file():
        raise ExtensionError(f"`npm pack {name}@{version}` failed (exit {proc.returncode}): "
                             f"{(proc.stderr or proc.stdout).strip()[-1500:]}\nWithout the npm registry, put "
                             f"{tarball.name} (from `npm pack` on another machine) into {into.parent}")
    return tarball


def vendor_npm_package(name: str, cache: Path) -> Path:
    """The unpacked folder (``package/`` of the tarball) of the pinned ``name``, fetched and checked once.

    The tarball is taken from ``cache`` when it is there (a machine without registry), else from ``npm pack`` (npm
    answers from its own cache when offline); its sha512 must equal the pin of :data:`NPM_PACKAGES`.
    """
    version, integrity = NPM_PACKAGES[name]
    tarball_name = npm_tarball_name(name, version)
    target = cache / tarball_name.removesuffix(".tgz")
    if (target / f".extracted-{tarball_name}").is_file() and (target / "package").is_dir():
        return target / "package"
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".npm-pack-", dir=cache) as tmp:
        tarball = cache / tarball_name
        if not tarball.is_file():
            tarball = _npm_pack(name, version, Path(tmp))
        found = _sha512(tarball)
        if found != integrity:
            raise ExtensionError(f"{tarball}: sha512 {found} differs from the pinned {integrity} of {name}@{version}; "
                                 "delete the file (or fix the pin in book/_ext/course_book.py) and build again")
        safe_extract(tarball, target)
    return target / "package"


#: Before require.js: the html manager's bundle finds its fonts beside the module uri of
#: ``@jupyter-widgets/html-manager/dist/libembed-amd``, which require.js resolves against the page; map it to _static.
_REQUIRE_CONFIG = 'var require = {{paths: {{"@jupyter-widgets/html-manager/dist": "{widgets}"}}}};'
#: The widgets typeset their labels with MathJax 2's ``MathJax.Hub.Queue``; the site runs MathJax 3, which has
#: ``typesetPromise`` instead (without this, every label throws and views stay empty).
_MATHJAX2_SHIM = """document.addEventListener("DOMContentLoaded", function () {
  var mj = window.MathJax;
  if (!mj || mj.Hub || !mj.startup) { return; }
  mj.Hub = {Queue: function () {
    Array.prototype.forEach.call(arguments, function (job) {
      if (Array.isArray(job) && job[0] === "Typeset") {
        mj.startup.promise = mj.startup.promise.then(function () {
          return mj.typesetPromise(job[2] ? [job[2]] : undefined);
        });
      }
    });
  }};
});"""


def _offline_page(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Per page: drop sphinx-thebe's scripts when no thebe button is configured (they name a CDN, and Jupyter Book
    loads them twice, which throws), and on pages with widgets configure require.js and the MathJax 2 shim."""
    scripts = context.get("script_files")
    if scripts is None:
        return
    launch = (app.config.html_theme_options or {}).get("launch_buttons") or {}
    if not launch.get("thebe"):
        scripts[:] = [js for js in scripts if not (str(js.filename or "").endswith("sphinx-thebe.js") or
                                                   "THEBE_JS_URL" in str(getattr(js, "attributes", {}).get("body")))]
    if any(str(js.filename or "").endswith(f"_static/widgets/{WIDGETS_SCRIPTS[0]}") for js in scripts):
        widgets = context["pathto"]("_static/widgets", 1)
        app.add_js_file(None, body=_REQUIRE_CONFIG.format(widgets=widgets), priority=490)
        app.add_js_file(None, body=_MATHJAX2_SHIM, priority=490)


def _vendor(app: Sphinx) -> None:
    """Before any notebook runs: fetch (once) what the HTML site serves from _static; other builders need none."""
    app.course_vendored = {}
    if app.builder.format == "html":
        cache = Path(os.environ.get("COURSE_JS_CACHE") or Path(app.outdir).parent / ".vendor_js")
        app.course_vendored = {name: vendor_npm_package(name, cache) for name in NPM_PACKAGES}


def _copy_assets(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    bundle = _plotly_bundle()
    if bundle:
        static.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(bundle[0], static / bundle[1])
    for package, inner, dest, suffixes in STATIC_FILES:
        src = app.course_vendored[package] / inner
        if src.is_file():
            (static / dest).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, static / dest / src.name)
        elif suffixes is None:
            shutil.copytree(src, static / dest, dirs_exist_ok=True)
        else:
            (static / dest).mkdir(parents=True, exist_ok=True)
            for path in sorted(src.iterdir()):
                if path.is_file() and (path.name in suffixes or path.suffix in suffixes):
                    shutil.copyfile(path, static / dest / path.name)
    _check_offline(Path(app.outdir))


# --------------------------------------------------------------------------------------------- offline check
_REMOTE_REFS = [  # what a page or stylesheet would fetch from another site
    re.compile(r'<script\b[^>]*?\ssrc="([^"]+)"', re.I),
    re.compile(r'<link\b[^>]*?\shref="([^"]+)"[^>]*>', re.I),
    re.compile(r'<(?:img|iframe|source|video|audio)\b[^>]*?\ssrc="([^"]+)"', re.I),
    re.compile(r'\bimport\s+"([^"]+)"'),
]
_CSS_REFS = re.compile(r'url\(\s*[\'"]?([^)\'"]+)|@import\s+[\'"]([^\'"]+)', re.I)
_LINK_FETCHES = re.compile(r'\brel="(?:[^"]*\s)?(?:stylesheet|preload|modulepreload|icon|prefetch|manifest)\b', re.I)


def remote_references(site: Path) -> list[str]:
    """Every script, stylesheet, font, image or frame the built site loads from another site, as ``file: url``."""
    found = []
    for page in sorted(site.rglob("*.html")):
        text = _HTML_COMMENTS.sub("", page.read_text(encoding="utf-8", errors="replace"))
        for pattern in _REMOTE_REFS:
            for match in pattern.finditer(text):
                if pattern.pattern.startswith("<link") and not _LINK_FETCHES.search(match.group(0)):
                    continue  # <link rel="canonical"> and the like navigate, they load nothing
                if _is_remote(match.group(1)):
                    found.append(f"{page.relative_to(site)}: {match.group(1)}")
    for sheet in sorted(site.rglob("*.css")):
        text = _CSS_COMMENTS.sub("", sheet.read_text(encoding="utf-8", errors="replace"))
        for match in _CSS_REFS.finditer(text):
            url = match.group(1) or match.group(2)
            if _is_remote(url):
                found.append(f"{sheet.relative_to(site)}: {url}")
    return found


_CSS_COMMENTS = re.compile(r"/\*.*?\*/", re.S)
_HTML_COMMENTS = re.compile(r"<!--.*?-->", re.S)


def _check_offline(site: Path) -> None:
    for ref in remote_references(site):
        LOGGER.warning(f"the built site loads {ref} from another site; it must work offline")


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _configure)
    app.connect("builder-inited", _vendor)
    app.connect("doctree-read", _strip_cdn_scripts)
    app.connect("html-page-context", _add_plotly_js)
    app.connect("html-page-context", _offline_page, priority=600)  # after myst-nb adds the widget scripts (500)
    app.connect("html-page-context", _add_kaggle_button, priority=502)  # after the theme's launch buttons (501)
    app.connect("build-finished", _copy_assets)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
