#!/usr/bin/env python3
"""Build the series as a static HTML book, to read without running anything, and offline.

    python tools/build_book.py              # or: make book; then open build/book/index.html

The pages are the notebooks as committed (their stored outputs, nothing is executed), in the series'
order, with a table of contents (``index.html``: each notebook and its sections), links to the previous
and next notebook on every page, the glossary, math rendered by a local MathJax, and the widgets drawn
from their saved final state (``notebooks/widget_state/``, written by tools/run_notebooks.py) by a local
copy of the widget renderer. Every plot carries the alt text its cell declares in
``metadata.gptlib.alt``. Nothing is fetched from another machine when a page is opened: the build checks
each page with :func:`web_assets.remote_references` and fails if anything is.

The Chinese edition (notebooks/zh/, built by tools/build_zh.py) becomes a second book beside the first, in
``zh/``, with its own contents page; the two share the glossary and the assets, and each notebook's link
to the other edition leads to the other book's page.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import sys
from pathlib import Path

import mistune
import nbformat
from nbconvert import HTMLExporter

sys.path.insert(0, str(Path(__file__).resolve().parent))
import web_assets  # noqa: E402  (tools/ is not a package)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
DEFAULT_OUT = ROOT / "build" / "book"
IMAGE = re.compile(r'<img\b(?=[^>]*\bsrc="data:image/png;base64,)([^>]*)>')  # a plot: its whole <img> tag
NO_ALT = re.compile(r'\salt="[^"]*"')


class BookError(RuntimeError):
    """The book cannot be built as promised (a plot without alt text, a remote reference)."""


def title_and_sections(nb) -> tuple[str, list[str]]:
    """The notebook's title (its first ``# `` heading) and its section headings (``## ``), as text."""
    title, sections = None, []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("# ") and title is None:
                title = line[2:].strip()
            elif line.startswith("## "):
                sections.append(line[3:].strip())
    return title or "(untitled)", sections


def plain(markdown_text: str) -> str:
    """Markdown heading text as plain text: `code` and **bold** marks dropped."""
    return re.sub(r"[`*]", "", markdown_text)


def alt_texts(nb, name: str) -> list[str]:
    """The alt text of every PNG output, in order; raises :class:`BookError` naming a plot without one."""
    texts = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
        if not images:
            continue
        alt = cell.metadata.get("gptlib", {}).get("alt")
        alts = [alt] if isinstance(alt, str) else list(alt or [])
        if len(alts) != len(images) or not all(isinstance(a, str) and a.strip() for a in alts):
            raise BookError(f"{name}, cell {index} (id {cell.get('id')}): {len(images)} plot(s) but alt text "
                            f"{alt!r}; give metadata.gptlib.alt a description (a list for several plots)")  # fmt: skip
        texts += alts
    return texts


def with_alt_text(page: str, alts: list[str]) -> str:
    """The exported page with each plot's ``<img>`` given its alt text, in order (nbconvert's lab template
    writes none)."""
    texts = iter(alts)
    page = IMAGE.sub(lambda m: f'<img alt="{html.escape(next(texts))}"{NO_ALT.sub("", m.group(1))}>', page)
    if next(texts, None) is not None:
        raise BookError("more alt texts than plots on the page")
    return page


def with_widget_state(nb, path: Path):
    """The notebook with its saved widget state (if any) in ``metadata.widgets``, where nbconvert looks
    (a Chinese notebook's is its English one's: the same widgets, made by the same run)."""
    sidecar = NOTEBOOKS / "widget_state" / f"{path.stem}.json"
    if sidecar.is_file():
        nb.metadata["widgets"] = json.loads(sidecar.read_text(encoding="utf-8"))
    return nb


def navigation(pages: list[tuple[str, str]], i: int) -> str:
    previous = f'<a href="{pages[i - 1][0]}">← {html.escape(pages[i - 1][1])}</a>' if i > 0 else ""
    following = f'<a href="{pages[i + 1][0]}">{html.escape(pages[i + 1][1])} →</a>' if i + 1 < len(pages) else ""
    return (f'<nav class="book-nav" style="display:flex;justify-content:space-between;gap:1em;'
            f'padding:0.6em 1em;font:14px sans-serif;border-bottom:1px solid #ddd">'
            f'<span>{previous}</span><a href="index.html">Contents</a><span>{following}</span></nav>')  # fmt: skip


def local_links(page: str, depth: int = 0) -> str:
    """Links between notebooks (``03_transformer_block.ipynb#...``, ``zh/00_welcome.ipynb``,
    ``../00_welcome.ipynb``) and to the glossary point at the book's pages; a link to a README points at
    the contents page of its edition, which stands in for it in the book. ``depth``: how many folders below
    the book's top the page is (1 for the Chinese edition's pages)."""
    page = re.sub(r'href="(?:\./)?((?:\.\./|zh/)?\d\d_[\w]+)\.ipynb', r'href="\1.html', page)
    page = re.sub(r'href="(?:\.\./)+README\.zh\.md"', f'href="{"../" * depth}zh/index.html"', page)
    page = re.sub(r'href="(?:\.\./)+README\.md"', f'href="{"../" * depth}index.html"', page)
    return re.sub(r'href="(?:\./)?((?:\.\./)?)glossary\.md', r'href="\1glossary.html', page)


def build(out: Path) -> list[Path]:
    """Build the book into ``out`` (replaced whole); return the pages written."""
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    urls = web_assets.copy_assets(staging / "assets")
    written = _edition(_exporter(urls), NOTEBOOKS, staging, EDITIONS["en"])
    written += _edition(_exporter({k: f"../{v}" for k, v in urls.items()}), NOTEBOOKS / "zh", staging / "zh", EDITIONS["zh"])
    glossary = mistune.html((NOTEBOOKS / "glossary.md").read_text(encoding="utf-8"))
    written.append(staging / "glossary.html")
    written[-1].write_text(page_html("Glossary", '<p><a href="index.html">Contents</a> · <a href="zh/index.html">目录'
                                     '</a></p>' + local_links(glossary)), encoding="utf-8")  # fmt: skip

    for page in written:
        remote = web_assets.remote_references(page.read_text(encoding="utf-8"))
        if remote:
            raise BookError(f"{page.name} would fetch from other machines: {remote[:5]}")
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)  # the old book is replaced only by a whole new one
    return [out / p.relative_to(staging) for p in written]


def _exporter(urls: dict[str, str]) -> HTMLExporter:
    """nbconvert's exporter, loading MathJax, require.js and the widget renderer from ``urls``."""
    exporter = HTMLExporter(template_name="lab", mathjax_url=urls["mathjax_url"], require_js_url=urls["require_js_url"],
                            widget_renderer_url=urls["widget_renderer_url"],
                            jupyter_widgets_base_url=urls["jupyter_widgets_base_url"])  # fmt: skip
    exporter.mermaid_js_url = exporter.mermaid_layout_elk_js_url = ""  # no diagrams here: nothing to load
    return exporter


# What each edition's pages say around the notebooks: its contents page's title and words, its language, and
# how many folders below the book's top its pages are.
EDITIONS = {
    "en": {"lang": "en", "depth": 0, "title": "GPT from scratch", "glossary": "glossary.html", "contents": "Contents",
           "intro": "The series as executed, to read without running it. Open the notebooks in JupyterLab to run "
                    "and change them.", "other": '<a href="zh/index.html">中文版</a>',
           "glossary_item": "Glossary (Chinese–English)"},
    "zh": {"lang": "zh", "depth": 1, "title": "从零构建 GPT（中文版）", "glossary": "../glossary.html", "contents": "目录",
           "intro": "执行过的整个系列，无需运行即可阅读。要运行和修改笔记本，请在 JupyterLab 中打开它们。",
           "other": '<a href="../index.html">English</a>', "glossary_item": "术语表（中英对照）"},
}


def _edition(exporter: HTMLExporter, folder: Path, staging: Path, words: dict) -> list[Path]:
    """The pages of one edition's notebooks and its contents page, written into ``staging``."""
    staging.mkdir(parents=True, exist_ok=True)
    paths = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    notebooks = [nbformat.read(p, as_version=4) for p in paths]
    headings = [title_and_sections(nb) for nb in notebooks]
    pages = [(f"{p.stem}.html", plain(t)) for p, (t, _) in zip(paths, headings)]
    pages.append((words["glossary"], words["glossary_item"]))
    written = []
    for i, (path, nb) in enumerate(zip(paths, notebooks)):
        body, _ = exporter.from_notebook_node(with_widget_state(nb, path))
        body = with_alt_text(body, alt_texts(nb, path.name))
        nav = navigation(pages, i).replace(">Contents</a>", f">{words['contents']}</a>")
        body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + nav, body, count=1)
        body = body.replace("</body>", nav + "</body>", 1).replace('<html lang="en">', f'<html lang="{words["lang"]}">', 1)
        written.append(staging / pages[i][0])
        written[-1].write_text(local_links(body, depth=words["depth"]), encoding="utf-8")
    items = []
    for (file, title), (_, sections) in zip(pages, headings):
        subs = "".join(f"<li>{html.escape(plain(s))}</li>" for s in sections)
        items.append(f'<li><a href="{file}">{html.escape(title)}</a><ul>{subs}</ul></li>')
    items.append(f'<li><a href="{words["glossary"]}">{words["glossary_item"]}</a></li>')
    written.append(staging / "index.html")
    written[-1].write_text(page_html(words["title"], f"<p>{words['other']}</p><h1>{html.escape(words['title'])}</h1>"
                                     f"<p>{words['intro']}</p><ol start=\"0\">{''.join(items)}</ol>",
                                     lang=words["lang"]), encoding="utf-8")  # fmt: skip
    return written


def page_html(title: str, body: str, lang: str = "en") -> str:
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<style>body{{font:16px/1.5 sans-serif;max-width:60em;margin:auto;padding:1em}}'
            f'table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:0.2em 0.5em}}</style>'
            f"</head><body>{body}</body></html>")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    try:
        pages = build(args.out.resolve())
    except (BookError, web_assets.AssetsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{len(pages)} pages in {args.out}; open {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
