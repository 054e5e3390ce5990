"""The interactive parts in a real browser: 07's generation playground and 02's attention-head picker.

Each notebook is copied to a temporary folder (so nothing can ever save into the committed one), cut
after its widget cell, and served by Voilà on 127.0.0.1; headless Chromium (Debian's ``chromium``, by
``executable_path``: a browser downloaded by a test tool cannot work on these machines and is never used)
is driven through Playwright for Python. Each step checks that what the page shows changed, and saves a
screenshot in ``test-artifacts/browser/`` (ignored by git).

Without Chromium or Playwright the tests fail with what to install when ``CI`` is set (``.ci/run`` sets
it), and are skipped with that reason otherwise. ``GPTLIB_SKIP_OUTER=1`` leaves them out (the newcomer
test sets it for the suite it runs inside its fresh clone).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from tests.helpers import free_port, skip_inside_newcomer, wait_until_answers

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "browser"

pytestmark = skip_inside_newcomer


def notebook_until(source: Path, marker: str, folder: Path) -> Path:
    """A copy of ``source`` in ``folder``: its cells up to the first code cell containing ``marker``, without
    the cells that are meant to raise and without stored outputs."""
    nb = nbformat.read(source, as_version=4)
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            if "raises-exception" in cell.metadata.get("tags", []):
                continue
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
        if cell.cell_type == "code" and marker in cell.source:
            break
    else:
        raise AssertionError(f"{source.name} has no code cell containing {marker!r}")
    nb.cells = cells
    copy = folder / source.name
    nbformat.write(nb, copy)
    return copy


@pytest.fixture()
def voila(tmp_path):
    """Serve a notebook with Voilà; yields a function that starts it and returns the page's URL."""
    processes = []

    def serve(notebook: Path) -> str:
        port = free_port()
        env = {**os.environ, "GPTLIB_DEVICE": "cpu", "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
               "MPLBACKEND": "Agg"}  # fmt: skip
        log = open(tmp_path / "voila.log", "w")
        process = subprocess.Popen(
            [sys.executable, "-m", "voila", "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
             notebook.name],
            cwd=notebook.parent, env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        processes.append((process, log))
        url = f"http://127.0.0.1:{port}/"
        wait_until_answers(url + "static/", process, tmp_path / "voila.log", timeout_s=60)
        return url

    yield serve
    for process, log in processes:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def changed(read, before, what: str, timeout_s: float = 60):
    """Wait until ``read()`` differs from ``before``; return the new value."""
    deadline = time.monotonic() + timeout_s
    while (now := read()) == before:
        assert time.monotonic() < deadline, f"{what}: the page still shows the same thing after {timeout_s} s"
        time.sleep(0.2)
    return now


def slider(page, label: str):
    """The slider widget whose description is ``label``."""
    return page.locator(".widget-slider", has=page.locator(".widget-label", has_text=label)).first


def step_right(page, label: str, steps: int = 1) -> None:
    handle = slider(page, label).locator(".noUi-handle").first
    handle.focus()
    for _ in range(steps):
        handle.press("ArrowRight")


def test_playground_sample_changes_with_the_temperature_and_the_prompt(browser, voila, tmp_path):
    notebook = notebook_until(ROOT / "notebooks" / "07_generation.ipynb", "Playground(", tmp_path)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(voila(notebook), timeout=180_000)
    sample = page.locator(".widget-html pre").first
    sample.wait_for(timeout=180_000)  # Voilà runs the notebook's cells before it shows the widgets
    status = page.locator(".widget-html", has_text="new tokens").first
    first = sample.inner_text()
    assert first.startswith("ROMEO:") and len(first) > len("ROMEO:\n") + 50, first
    assert "temperature 0.80" in status.inner_text()
    shot(page, "07-playground-start")

    step_right(page, "temperature", steps=4)  # 0.80 -> 1.00, a new sample at each step
    showing = lambda text: (lambda: text in status.inner_text())  # noqa: E731
    changed(showing("temperature 1.00"), False, "the status line after four steps of the temperature slider")
    after_slider = sample.inner_text()
    assert after_slider != first and after_slider.startswith("ROMEO:"), after_slider
    shot(page, "07-playground-after-temperature-slider")

    prompt = page.locator(".widget-textarea textarea").first
    prompt.fill("JULIET:\n")
    prompt.press("Tab")  # the prompt is sent when the box loses focus (continuous_update=False)
    after_prompt = changed(sample.inner_text, after_slider, "the sample after editing the prompt")
    assert after_prompt.startswith("JULIET:"), after_prompt
    shot(page, "07-playground-after-prompt-edit")
    page.close()


def test_attention_head_picker_redraws_for_each_head(browser, voila, tmp_path):
    notebook = notebook_until(ROOT / "notebooks" / "02_self_attention.ipynb", "head_slider = widgets.IntSlider", tmp_path)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(voila(notebook), timeout=180_000)
    picture = page.locator(".jupyter-widgets img").last
    picture.wait_for(timeout=180_000)
    source = lambda: picture.get_attribute("src")  # noqa: E731  a blob: or data: URL of the PNG
    changed(source, None, "the first picture")
    shot(page, "02-head-picker-start")
    for steps, name in [(1, "head 1"), (1, "head 2")]:
        before = source()
        step_right(page, "head", steps)
        changed(source, before, f"the picture after moving the head slider to {name}")
        shot(page, f"02-head-picker-{name.replace(' ', '')}")
    before = source()
    step_right(page, "layer")
    changed(source, before, "the picture after moving the layer slider")
    page.close()
