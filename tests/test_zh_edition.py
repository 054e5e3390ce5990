"""The Chinese edition (notebooks/zh/): built from the English notebooks and the translation files by
tools/build_zh.py, never by hand, and checked by tools/zh_checks.py.

In step: every English markdown cell has a translation made from its current text, and each Chinese
notebook is exactly what the build writes, so its code cells and outputs are the English ones (checked
again here cell by cell). Quality: every translated cell is mostly Chinese and keeps the code, formulas,
numbers, quotations, headings and links of its English cell; the glossary's terms are written one way.
"""

from __future__ import annotations

import doctest
import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_zh  # noqa: E402
import prose_numbers  # noqa: E402
import zh_checks  # noqa: E402

NAMES = build_zh.names()
ZH = ROOT / "notebooks" / "zh"


def _cells(name: str) -> list[tuple[str, str]]:
    """(cell id, English text, Chinese text as the notebook shows it) of each translated markdown cell."""
    english = build_zh.load_english(name)
    entries = build_zh.read_entries(build_zh.translation_path(name))
    return [(c.id, c.source, build_zh.join_chinese_lines(entries[c.id].text)) for c in english.cells
            if c.cell_type == "markdown" and c.id in entries]


def test_every_english_notebook_has_a_chinese_edition_and_nothing_else_is_there():
    assert len(NAMES) == 12
    assert sorted(p.stem for p in ZH.glob("*.ipynb")) == NAMES
    assert sorted(p.stem for p in build_zh.TRANSLATIONS.glob("*.md")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_every_markdown_cell_has_a_current_translation(name):
    english = build_zh.load_english(name)
    found = build_zh.problems(name, english, build_zh.read_entries(build_zh.translation_path(name)))
    assert not found, f"{len(found)} cell(s) of {name} not translated from their current English:\n" + \
        "\n".join(map(str, found))


@pytest.mark.parametrize("name", NAMES)
def test_the_chinese_notebook_is_what_the_build_writes(name):
    _, changed = build_zh.rebuild(name, write=False)
    assert not changed, f"notebooks/zh/{name}.ipynb is not what tools/build_zh.py builds: run python tools/build_zh.py"


@pytest.mark.parametrize("name", NAMES)
def test_code_cells_and_outputs_are_the_english_ones(name):
    english = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
    chinese = json.loads((ZH / f"{name}.ipynb").read_text(encoding="utf-8"))
    assert [(c["id"], c["cell_type"]) for c in chinese["cells"]] == [(c["id"], c["cell_type"]) for c in english["cells"]]
    for en, zh in zip(english["cells"], chinese["cells"]):
        assert zh["metadata"] == en["metadata"], f"{name}, cell {en['id']}: metadata differs"
        if en["cell_type"] == "code":
            assert zh == en, f"{name}, cell {en['id']}: the code cell or its outputs differ from the English"
        else:
            assert zh["source"] != en["source"], f"{name}, cell {en['id']}: the markdown is the English text"
    edition = chinese["metadata"]["gptlib"].pop("edition")
    assert edition == {"language": "zh", "english": f"../{name}.ipynb", "built_by": "tools/build_zh.py"}
    assert chinese["metadata"] == english["metadata"]


@pytest.mark.parametrize("name", NAMES)
def test_each_translated_cell_is_chinese_and_keeps_code_formulas_numbers_and_links(name):
    found = [f"cell {cell_id}: {f}" for cell_id, en, zh in _cells(name) for f in zh_checks.cell_findings(en, zh)]
    assert not found, f"{name}:\n" + "\n".join(found)


@pytest.mark.parametrize("name", NAMES)
def test_the_glossary_terms_are_written_one_way(name):
    found = zh_checks.notebook_findings(name, [zh for _, _, zh in _cells(name)], zh_checks.glossary())
    assert not found, f"{name}:\n" + "\n".join(found)


def test_the_glossary_gives_one_rendering_per_term():
    terms = zh_checks.glossary()
    assert len(terms) >= 70
    used = {t.zh for t in terms}
    for term in terms:
        assert term.zh and term.english, term
        assert set(term.taught_in) <= set(NAMES), term
        assert not used & set(term.not_used), f"{term.zh}: a rendering marked 'not used' is another term's"
        assert zh_checks.cjk_share(term.meaning_zh) >= zh_checks.MIN_CJK_SHARE and len(term.meaning_zh) >= 8, \
            f"{term.zh}: its 释义 (what it means, in Chinese) is missing or not Chinese: {term.meaning_zh!r}"


def test_the_editions_link_to_each_other():
    english = nbformat.read(ROOT / "notebooks" / "00_welcome.ipynb", as_version=4)
    chinese = nbformat.read(ZH / "00_welcome.ipynb", as_version=4)
    assert "](zh/00_welcome.ipynb)" in "".join(c.source for c in english.cells if c.cell_type == "markdown")
    assert "](../00_welcome.ipynb)" in "".join(c.source for c in chinese.cells if c.cell_type == "markdown")
    assert "](README.zh.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](README.md)" in (ROOT / "README.zh.md").read_text(encoding="utf-8")


def _commands(markdown: str) -> set[str]:
    """The shell commands in a markdown file's ```bash blocks, comments left out."""
    commands, language = set(), None
    for line in markdown.splitlines():
        if line.startswith("```"):
            language = None if language is not None else (line[3:].strip() or "plain")
        elif language in {"bash", "sh", "shell"} and line.split("#")[0].strip():
            commands.add(line.split("#")[0].strip())
    return commands


def test_readme_zh_is_chinese_lists_every_notebook_and_gives_the_english_readmes_commands():
    readme_zh = (ROOT / "README.zh.md").read_text(encoding="utf-8")
    assert zh_checks.cjk_share(readme_zh) >= zh_checks.MIN_CJK_SHARE
    for name in NAMES:
        assert f"](notebooks/zh/{name}.ipynb)" in readme_zh, f"README.zh.md's series table lacks {name}"
    commands = _commands(readme_zh)
    assert {"make lab EDITION=zh", "make test"} <= commands
    assert commands <= _commands((ROOT / "README.md").read_text(encoding="utf-8")), \
        f"README.zh.md gives commands the English README does not: {commands - _commands((ROOT / 'README.md').read_text())}"


# ---------------------------------------------------------------- the machinery, on a notebook made up here


def _notebook(folder: Path, texts: dict[str, str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    for cell_id, text in texts.items():
        nb.cells.append(nbformat.v4.new_markdown_cell(text, id=cell_id))
    code = nbformat.v4.new_code_cell("print(2 + 2)", id="sum")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="4\n")]
    nb.cells.insert(1, code)
    nbformat.write(nb, folder / "99_demo.ipynb")
    return nb


def test_a_missing_stale_or_left_over_translation_is_named_with_its_notebook_and_cell(tmp_path):
    english, chinese, translations = tmp_path / "en", tmp_path / "en" / "zh", tmp_path / "en" / "zh" / "translations"
    translations.mkdir(parents=True)
    _notebook(english, {"intro": "# 99 · Demo", "outro": "The end."})
    path = build_zh.translation_path("99_demo", translations)
    build_zh.write_entries(path, "99_demo", [build_zh.Entry("intro", build_zh.source_hash("# 99 · Demo"), "# 99 · 演示"),
                                             build_zh.Entry("gone", "0" * 12, "旧的一段")])
    found, changed = build_zh.rebuild("99_demo", english=english, chinese=chinese, translations=translations)
    assert changed and [(p.cell_id, p.kind) for p in found] == [("outro", "missing"), ("gone", "orphan")]
    assert str(found[0]).startswith("99_demo, cell outro: ") and build_zh.source_hash("The end.") in str(found[0])
    built = nbformat.read(chinese / "99_demo.ipynb", as_version=4)
    assert [c.source for c in built.cells] == ["# 99 · 演示", "print(2 + 2)", build_zh.MISSING_NOTICE + "The end."]
    assert built.cells[1].outputs[0].text == "4\n"

    _notebook(english, {"intro": "# 99 · A demo", "outro": "The end."})  # the English changes
    found, _ = build_zh.rebuild("99_demo", english=english, chinese=chinese, translations=translations)
    assert ("intro", "stale") in [(p.cell_id, p.kind) for p in found]
    stale = next(p for p in found if p.kind == "stale")
    assert build_zh.source_hash("# 99 · A demo") in str(stale) and build_zh.source_hash("# 99 · Demo") in str(stale)
    built = nbformat.read(chinese / "99_demo.ipynb", as_version=4)
    assert built.cells[0].source == build_zh.STALE_NOTICE + "# 99 · 演示"
    _, changed = build_zh.rebuild("99_demo", english=english, chinese=chinese, translations=translations)
    assert not changed  # a second build writes the same bytes


def test_a_translation_file_that_cannot_be_read_says_where(tmp_path):
    path = tmp_path / "x.md"
    path.write_text("<!-- cell a · en 000000000000 -->\n一\n<!-- cell a · en 000000000000 -->\n二\n", encoding="utf-8")
    with pytest.raises(build_zh.TranslationFileError, match=r"x.md, line 3: cell a is translated twice"):
        build_zh.read_entries(path)
    path.write_text("stray text\n<!-- cell a · en 000000000000 -->\n一\n", encoding="utf-8")
    with pytest.raises(build_zh.TranslationFileError, match="text before the first"):
        build_zh.read_entries(path)


def test_the_cell_checks_find_what_they_should():
    english = "## The loss\n\nThe loss is 2.48 nats for `vocab_size` tokens, $x^2$ ([see](05_likelihood.ipynb))."
    good = "## 损失\n\n损失为 2.48 奈特，对应 `vocab_size` 个词元，$x^2$（[见此](05_likelihood.ipynb)）。"
    assert zh_checks.cell_findings(english, good) == []
    assert zh_checks.cell_findings(english, english)[0].startswith("only 0% of it is Chinese")
    bad = "# 损失\n\n损失为 2.5 奈特，对应 vocab_size 个词元，x 的平方（[见此](../glossary.md)）。"
    found = " | ".join(zh_checks.cell_findings(english, bad))
    for expected in ("code span '`vocab_size`'", "formula '$x^2$'", "numbers differ", "headings differ",
                     "the English links to notebooks/05_likelihood.ipynb"):
        assert expected in found
    assert "points at nothing" in " ".join(zh_checks.cell_findings("see", "见[此](nowhere.md)"))
    quote = "The article says 以下是一个简单的GPT模型的训练代码实例 here."
    assert "quotation" in " ".join(zh_checks.cell_findings(quote, "文章说：这是一个简单的训练代码。"))


def test_the_glossary_checks_find_what_they_should():
    [token] = [t for t in zh_checks.glossary() if t.english[0] == "token"]
    assert zh_checks.notebook_findings("01_tokens", ["每个词元（token）都是整数。", "词元很多。"], [token]) == []
    assert "without its English" in " ".join(zh_checks.notebook_findings("01_tokens", ["词元很多。", "词元（token）"], [token]))
    assert "never writes '词元'" in " ".join(zh_checks.notebook_findings("01_tokens", ["没有。"], [token]))
    assert "writes '令牌'" in " ".join(zh_checks.notebook_findings("05_likelihood", ["令牌"], [token]))
    assert zh_checks.notebook_findings("05_likelihood", ["词元很多。"], [token]) == []  # not taught there


@pytest.mark.parametrize("module", [build_zh, zh_checks, prose_numbers], ids=["build_zh", "zh_checks", "prose_numbers"])
def test_the_tools_examples_hold(module):
    assert doctest.testmod(module).failed == 0


def test_run_notebooks_refuses_a_chinese_notebook_and_rebuilds_the_edition_after_a_run(monkeypatch, capsys):
    import run_notebooks

    with pytest.raises(SystemExit):
        run_notebooks.main([str(ZH / "00_welcome.ipynb")])
    assert "tools/build_zh.py builds from the English notebook" in capsys.readouterr().err
    rebuilt = []
    monkeypatch.delenv("GPTLIB_FAST", raising=False)
    for name, value in {"GPTLIB_DEVICE": "cpu", "PYTHONHASHSEED": "0"}.items():
        monkeypatch.setenv(name, value)  # main() sets both; monkeypatch puts back what was there
    monkeypatch.setattr(run_notebooks, "run", lambda path, timeout: 0.0)  # the English run itself is not tested here
    monkeypatch.setattr(run_notebooks.build_zh, "rebuild", lambda name: rebuilt.append(name) or ([], False))
    assert run_notebooks.main([str(ROOT / "notebooks" / "03_transformer_block.ipynb")]) == 0
    assert rebuilt == ["03_transformer_block"]
    assert "the Chinese edition rebuilt; 0 cell(s) of its prose behind the English" in capsys.readouterr().out
