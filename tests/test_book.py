"""The offline book (tools/build_book.py) and slides (tools/build_slides.py), built from the stored notebooks.

Both need npm once, to fetch their JavaScript (tools/web/package-lock.json); the pages are then opened in
headless Chromium with every request to another machine blocked and recorded, and the test checks that
none was made and that math and widgets were drawn. ``GPTLIB_SKIP_OUTER=1`` leaves these tests out.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from tests.conftest import missing_tool
from tests.helpers import skip_inside_newcomer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_book  # noqa: E402
import build_slides  # noqa: E402
import slides  # noqa: E402
import web_assets  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ARTIFACTS = ROOT / "test-artifacts" / "book"


# ---------------------------------------------------------------- in step with the notebooks (no npm needed)


def test_every_cell_has_the_slide_type_of_the_rule():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        assert slides.apply(nb) == [], f"{path.name}: slide types out of step; run python tools/slides.py"
        kinds = [c.metadata["slideshow"]["slide_type"] for c in nb.cells]
        assert kinds.count("slide") >= 3, f"{path.name}: fewer than 3 slides"


def test_every_plot_has_alt_text():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for alt in build_book.alt_texts(nb, path.name):  # raises, naming the cell, where one is missing
            assert len(alt) >= 20, f"{path.name}: alt text {alt!r} is too short to describe a plot"


def test_saved_widget_state_belongs_to_the_stored_outputs():
    """Each widget shown in a stored output has its model in notebooks/widget_state/ (same run)."""
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        shown = {o["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
                 for c in nb.cells if c.cell_type == "code" for o in c.outputs
                 if "application/vnd.jupyter.widget-view+json" in o.get("data", {})}  # fmt: skip
        sidecar = path.parent / "widget_state" / f"{path.stem}.json"
        if not shown:
            assert not sidecar.exists(), f"{sidecar.name}: state of a notebook that shows no widget"
            continue
        assert sidecar.is_file(), f"{path.name} shows widgets but has no {sidecar}: re-run tools/run_notebooks.py"
        state = json.loads(sidecar.read_text())["application/vnd.jupyter.widget-state+json"]["state"]
        assert shown <= set(state), f"{sidecar.name} is from another run than {path.name}'s outputs"


# ---------------------------------------------------------------- the builds (npm once), opened in Chromium


@pytest.fixture(scope="module")
def assets_installed():
    if shutil.which("npm") is None and not (web_assets.INSTALLED / "node_modules").is_dir():
        missing_tool("the book and the slides need npm once, to fetch MathJax, require.js and reveal.js")


def open_offline(browser, page_file: Path, shot: str):
    """Open a file in Chromium with every non-local request blocked; return (page, blocked URLs)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    blocked = []

    def route(r):
        if r.request.url.startswith(("file:", "data:", "blob:")):
            return r.continue_()
        blocked.append(r.request.url)
        return r.abort()

    page.route("**/*", route)
    page.goto(page_file.as_uri())
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1500)  # MathJax and the widget renderer draw after the load event
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{shot}.png"))
    return page, blocked


@skip_inside_newcomer
def test_book_builds_offline_with_contents_math_widgets_and_alt_text(assets_installed, browser, tmp_path):
    out = tmp_path / "book"
    pages = build_book.build(out)  # raises if a page references another machine
    names = [p.relative_to(out).as_posix() for p in pages]
    editions = [f"{p.stem}.html" for p in NOTEBOOKS] + ["index.html"]
    assert names == editions + [f"zh/{n}" for n in editions] + ["glossary.html"]

    index = (out / "index.html").read_text(encoding="utf-8")
    order = [index.index(f'href="{p.stem}.html"') for p in NOTEBOOKS]
    assert order == sorted(order), "the contents are not in the series' order"
    for page in pages:
        if page.name == "index.html":
            continue
        text = page.read_text(encoding="utf-8")
        assert web_assets.remote_references(text) == []
        assert re.search(r'href="index.html">(Contents|目录)</a>', text), f"{page.name} has no way back to the contents"
        assert not re.search(r'href="[^"]*\d\d_\w+\.ipynb', text), f"{page.name} links to a notebook, not a page"
        assert not re.search(r'href="[^"]*\.md"', text), f"{page.name} links to a markdown file outside the book"
        assert text.count("<img ") == text.count('<img alt="'), f"{page.name} has an image without alt text"

    page, blocked = open_offline(browser, out / "05_likelihood.html", "05-book")
    assert page.locator(".MathJax_CHTML").count() > 10, "MathJax drew no formulas"
    assert blocked == []
    page, blocked = open_offline(browser, out / "07_generation.html", "07-book-playground")
    assert page.locator(".widget-slider").count() >= 4, "the playground's saved state was not drawn"
    assert "temperature" in page.locator(".widget-slider").first.inner_text()
    assert blocked == []
    page, blocked = open_offline(browser, out / "index.html", "book-contents")
    assert page.locator("a").count() >= len(NOTEBOOKS) + 1 and blocked == []
    page, blocked = open_offline(browser, out / "zh" / "05_likelihood.html", "05-book-zh")
    assert page.locator(".MathJax_CHTML").count() > 10, "MathJax drew no formulas in the Chinese edition"
    assert blocked == []
    page, blocked = open_offline(browser, out / "zh" / "07_generation.html", "07-book-zh-playground")
    assert page.locator(".widget-slider").count() >= 4 and blocked == [], "the Chinese 07 lost the playground's state"
    zh_index = (out / "zh" / "index.html").read_text(encoding="utf-8")
    order = [zh_index.index(f'href="{p.stem}.html"') for p in NOTEBOOKS]
    assert order == sorted(order), "the Chinese contents are not in the series' order"
    assert 'href="zh/00_welcome.html"' in (out / "00_welcome.html").read_text(encoding="utf-8")
    assert 'href="zh/index.html"' in (out / "00_welcome.html").read_text(encoding="utf-8")  # its README link
    assert 'href="../00_welcome.html"' in (out / "zh" / "00_welcome.html").read_text(encoding="utf-8")


@skip_inside_newcomer
def test_slides_of_one_notebook_build_and_present_offline(assets_installed, browser, tmp_path):
    [deck] = build_slides.build([ROOT / "notebooks" / "03_transformer_block.ipynb"], tmp_path / "slides")
    html = deck.read_text(encoding="utf-8")
    assert web_assets.remote_references(html) == []
    page, blocked = open_offline(browser, deck, "03-slides")
    assert blocked == []
    assert page.locator(".reveal .slides > section").count() >= 5, "reveal.js shows too few slides"
    assert page.locator(".reveal.ready").count() == 1, "reveal.js did not start"
    assert html.count("<img ") == html.count('<img alt="'), "a plot without alt text"
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(800)
    assert page.url.endswith("#/1"), page.url  # the second slide


@skip_inside_newcomer
def test_a_chinese_notebooks_slides_are_named_for_their_edition_and_link_back(assets_installed, tmp_path):
    [deck] = build_slides.build([ROOT / "notebooks" / "zh" / "00_welcome.ipynb"], tmp_path / "slides")
    assert deck.name == "00_welcome.zh.slides.html"
    html = deck.read_text(encoding="utf-8")
    assert 'href="00_welcome.slides.html"' in html and 'href="01_tokens.zh.slides.html"' in html
    assert not re.search(r'href="[^"]*\.ipynb', html)
