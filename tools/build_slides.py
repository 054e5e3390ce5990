#!/usr/bin/env python3
"""Build a notebook's slides (reveal.js), to present offline.

    python tools/build_slides.py notebooks/02_self_attention.ipynb    # or: make slides NB=...
    python tools/build_slides.py                                      # every notebook

Writes ``build/slides/<notebook>.slides.html`` (``<notebook>.zh.slides.html`` for a notebook of the
Chinese edition, ``notebooks/zh/``) beside an ``assets/`` folder holding local copies of
reveal.js, MathJax, require.js and the widget renderer (tools/web_assets.py), so that a slide show opened
from disk fetches nothing from another machine. The slides follow each cell's
``metadata.slideshow.slide_type``, set by ``tools/slides.py``: a new slide at each ``##`` section,
a sub-slide (reveal.js's vertical step) at each ``###``, set-up cells skipped. In the browser: arrow keys or
space to move, ``s`` for speaker view, ``Esc`` for the overview.
Inside JupyterLab the same metadata drives the ``jupyterlab-rise`` extension, if installed.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat
from nbconvert import SlidesExporter

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_book  # noqa: E402  (tools/ is not a package)
import web_assets  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "build" / "slides"


def build(notebooks: list[Path], out: Path) -> list[Path]:
    """Write the slides of ``notebooks`` into ``out``; return the files written."""
    out.mkdir(parents=True, exist_ok=True)
    urls = web_assets.copy_assets(out / "assets", reveal=True)
    exporter = SlidesExporter(reveal_url_prefix=urls["reveal_url_prefix"], mathjax_url=urls["mathjax_url"],
                              require_js_url=urls["require_js_url"], widget_renderer_url=urls["widget_renderer_url"],
                              jupyter_widgets_base_url=urls["jupyter_widgets_base_url"],
                              jquery_url=urls["jquery_url"], reveal_scroll=True,
                              reveal_theme="white")  # the "simple" theme fetches Google fonts  # fmt: skip
    exporter.mermaid_js_url = exporter.mermaid_layout_elk_js_url = ""
    written = []
    for path in notebooks:
        nb = build_book.with_widget_state(nbformat.read(path, as_version=4), path)
        body, _ = exporter.from_notebook_node(nb)
        body = build_book.with_alt_text(body, build_book.alt_texts(nb, path.name))
        remote = web_assets.remote_references(body)
        if remote:
            raise build_book.BookError(f"the slides of {path.name} would fetch from other machines: {remote[:5]}")
        edition = ".zh" if path.parent.resolve() == (ROOT / "notebooks" / "zh").resolve() else ""  # the Chinese edition
        target = out / f"{path.stem}{edition}.slides.html"
        tmp = target.with_suffix(".partial")
        body = re.sub(r'href="\.\./(\d\d_\w+)\.ipynb', r'href="\1.slides.html', body)  # from a Chinese deck to English
        body = re.sub(r'href="zh/(\d\d_\w+)\.ipynb', r'href="\1.zh.slides.html', body)  # and back
        body = re.sub(r'href="(?:\./)?(\d\d_\w+)\.ipynb', rf'href="\1{edition}.slides.html', body)  # within an edition
        tmp.write_text(body, encoding="utf-8")
        tmp.replace(target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for p in paths:
        if p.suffix != ".ipynb" or not p.is_file():
            parser.error(f"{p} is not a notebook file")
    try:
        written = build(paths, args.out.resolve())
    except (build_book.BookError, web_assets.AssetsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for target in written:
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
