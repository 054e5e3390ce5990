"""Local copies of the JavaScript the book and the slides load, so that neither needs a CDN.

The versions are pinned in ``tools/web/package.json`` and ``package-lock.json``; ``npm ci`` installs them
from the npm registry into ``build/web/`` (ignored by git), once. :func:`copy_assets` copies the parts a
page loads into a build's ``assets/`` folder:

- ``mathjax/``       MathJax 2.7 (what nbconvert's templates are written for), CommonHTML output only
- ``require.js``     require.js, which nbconvert's pages use to load the widget renderer
- ``html-manager/``  ``@jupyter-widgets/html-manager`` 1.x, which draws ipywidgets 8 from their saved state
- ``reveal.js/``     reveal.js 4.0.2, the version nbconvert's slide template is written for, and
  ``jquery.min.js``, which that template also loads

:func:`remote_references` lists what a page would fetch from another machine; the builders and the tests
use it to check that the answer is nothing.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tools" / "web"
INSTALLED = ROOT / "build" / "web"

MATHJAX_CONFIG = "TeX-AMS_CHTML-full,Safe"
MATHJAX_PARTS = ["MathJax.js", "config", "extensions", "jax/element", "jax/input/TeX", "jax/output/CommonHTML",
                 "fonts/HTML-CSS/TeX/woff", "localization/en"]  # fmt: skip


class AssetsError(RuntimeError):
    """The JavaScript assets could not be installed."""


def _lock_digest() -> str:
    return hashlib.sha256((PACKAGE / "package-lock.json").read_bytes()).hexdigest()


def install() -> Path:
    """``build/web/node_modules``, installed with ``npm ci`` from the lock file unless already in step."""
    stamp = INSTALLED / ".lock-sha256"
    modules = INSTALLED / "node_modules"
    if modules.is_dir() and stamp.is_file() and stamp.read_text() == _lock_digest():
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise AssetsError("npm is not installed: the book and the slides need it once, to fetch their JavaScript "
                          "(MathJax, require.js, the widget renderer, reveal.js) from the npm registry")  # fmt: skip
    INSTALLED.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(PACKAGE / name, INSTALLED / name)
    result = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
                            cwd=INSTALLED, capture_output=True, text=True)  # fmt: skip
    if result.returncode != 0:
        raise AssetsError(f"`npm ci` in {INSTALLED} failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
    stamp.write_text(_lock_digest())
    return modules


def _copy(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def copy_assets(assets: Path, *, reveal: bool = False) -> dict[str, str]:
    """Copy the assets into ``assets`` (a folder of the build); return the URLs, relative to the pages
    that sit beside ``assets``, that nbconvert's exporters are given."""
    modules = install()
    for part in MATHJAX_PARTS:
        _copy(modules / "mathjax" / part, assets / "mathjax" / part)
    _copy(modules / "requirejs" / "require.js", assets / "require.js")
    _copy(modules / "@jupyter-widgets" / "html-manager" / "dist", assets / "html-manager")
    if reveal:
        for part in ("dist", "plugin"):
            _copy(modules / "reveal.js" / part, assets / "reveal.js" / part)
        _copy(modules / "jquery" / "dist" / "jquery.min.js", assets / "jquery.min.js")
    name = assets.name
    return {
        "mathjax_url": f"{name}/mathjax/MathJax.js?config={MATHJAX_CONFIG}",
        "require_js_url": f"{name}/require.js",
        "widget_renderer_url": f"{name}/html-manager/embed-amd.js",
        "jupyter_widgets_base_url": f"{name}/",
        "reveal_url_prefix": f"{name}/reveal.js",
        "jquery_url": f"{name}/jquery.min.js",
    }


_ANCHOR = re.compile(r"<a\b[^>]*>", re.I)
_LOADED = re.compile(
    r"""(?:\bsrc\s*=|\bhref\s*=|\burl\(|\bimport\s*\(|@import)\s*["']?((?:https?:)?//[^"'\s)>]+)"""
    r"""|["']((?:https?:)?//(?:[\w-]+\.)*(?:unpkg\.com|cdnjs\.cloudflare\.com|jsdelivr\.net|googleapis\.com"""
    r"""|gstatic\.com|code\.jquery\.com)[^"']*)["']""",
    re.I,
)


def remote_references(html: str) -> list[str]:
    """The addresses on other machines that ``html`` would fetch when opened: scripts, styles, images,
    fonts, frames, and CDN addresses written in its scripts. Plain links (``<a href="https://...">``) do
    not count: the reader follows them or not.

    >>> remote_references('<a href="https://pytorch.org">docs</a><script src="assets/require.js"></script>')
    []
    >>> remote_references('<script src="https://unpkg.com/x.js"></script><style>@import url(//fonts.x/y.css)</style>')
    ['https://unpkg.com/x.js', '//fonts.x/y.css']
    """
    html = _ANCHOR.sub("<a>", html)
    return [a or b for a, b in _LOADED.findall(html)]
