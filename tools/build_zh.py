#!/usr/bin/env python3
"""Build the Chinese edition, notebooks/zh/, from the English notebooks and their translation files.

A Chinese notebook is its English notebook with every markdown cell replaced by its translation: the code
cells, their stored outputs and all metadata are copied as they are, so the two editions cannot differ in
what they run or print. Nothing in notebooks/zh/*.ipynb is edited by hand; edit the translation file and
run this script:

    python tools/build_zh.py                          # rebuild every Chinese notebook
    python tools/build_zh.py notebooks/05_likelihood.ipynb
    python tools/build_zh.py --check                  # write nothing; exit 1 on any problem
    python tools/build_zh.py --stub notebooks/05_likelihood.ipynb   # add the missing cells, in English

A translation file, ``notebooks/zh/translations/<notebook>.md``, holds one entry per markdown cell of the
English notebook, in any order, each under a marker line that names the English cell by its id and by a
hash of the English text it was translated from::

    <!-- cell background · en 3f2a9c1b7d0e -->
    ## 背景：生成式、预训练、Transformer
    ...

When the English text of a cell changes, its hash no longer matches the marker and the translation is
*stale*: the build still writes the notebook (the old translation, under a one-line notice), but
``--check`` and tests/test_zh_edition.py fail, naming the notebook and the cell, until the translation is
brought up to date and its marker given the new hash (the message prints it). ``--diff`` shows what
changed in the English text since the translation was made, from the git history.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import hashlib
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from gptlib.files import atomic_path

ROOT = Path(__file__).resolve().parents[1]
ENGLISH = ROOT / "notebooks"
CHINESE = ENGLISH / "zh"
TRANSLATIONS = CHINESE / "translations"

MARKER = re.compile(r"^<!-- cell (?P<id>[A-Za-z0-9_-]+) · en (?P<hash>[0-9a-f]{12}) -->$")
MISSING_NOTICE = "> **（此段尚未翻译，以下为英文原文。）**\n\n"
STALE_NOTICE = "> **（英文原文已更新，此段译文尚待更新。）**\n\n"
HEADER = ("<!-- The Chinese translation of notebooks/{name}.ipynb, one entry per markdown cell. tools/build_zh.py\n"
          "     builds notebooks/zh/{name}.ipynb from it; see that script for the format. -->\n")


def source_hash(text: str) -> str:
    """The first 12 hex digits of the SHA-256 of a cell's text, as the markers write it.

    >>> source_hash("# 00 · Welcome")
    '81d2f35cae68'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Entry:
    """One translation: the English cell's id, the hash of the English text it was made from, the text."""

    cell_id: str
    en_hash: str
    text: str


@dataclass(frozen=True)
class Problem:
    """Something that keeps a Chinese notebook from being current: ``kind`` is missing, stale or orphan."""

    notebook: str
    cell_id: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.notebook}, cell {self.cell_id}: {self.detail}"


class TranslationFileError(ValueError):
    """A translation file that cannot be read: text before the first marker, or a cell given twice."""


def translation_path(name: str, translations: Path = TRANSLATIONS) -> Path:
    return translations / f"{name}.md"


def read_entries(path: Path) -> dict[str, Entry]:
    """The entries of a translation file, by English cell id (an absent file has none).

    Each entry's text runs from the line after its marker to the next marker, without the blank lines
    around it. Text before the first marker is only allowed inside an HTML comment (the file's header).
    """
    if not path.is_file():
        return {}
    entries: dict[str, Entry] = {}
    current: tuple[str, str, int] | None = None
    lines: list[str] = []

    def close() -> None:
        if current is not None:
            cell_id, en_hash, line_no = current
            if cell_id in entries:
                raise TranslationFileError(f"{path.name}, line {line_no}: cell {cell_id} is translated twice")
            entries[cell_id] = Entry(cell_id, en_hash, "\n".join(lines).strip("\n"))

    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        m = MARKER.match(line)
        if m:
            if current is None:
                _check_preamble(path, lines)
            close()
            current, lines = (m["id"], m["hash"], line_no), []
        else:
            lines.append(line)
    if current is None:
        _check_preamble(path, lines)
    close()
    return entries


def _check_preamble(path: Path, lines: list[str]) -> None:
    preamble = "\n".join(lines).strip()
    if preamble and not (preamble.startswith("<!--") and preamble.endswith("-->")):
        raise TranslationFileError(f"{path.name}: text before the first '<!-- cell ID · en HASH -->' marker")


def write_entries(path: Path, name: str, entries: list[Entry]) -> None:
    """Write a translation file (atomically): the header, then the entries in the order given."""
    body = "".join(f"\n<!-- cell {e.cell_id} · en {e.en_hash} -->\n{e.text}\n" for e in entries)
    with atomic_path(path) as tmp:
        tmp.write_text(HEADER.format(name=name) + body, encoding="utf-8")


def problems(name: str, english: nbformat.NotebookNode, entries: dict[str, Entry]) -> list[Problem]:
    """What is missing, stale or left over in a notebook's translations, in the English cells' order."""
    found = []
    markdown = [c for c in english.cells if c.cell_type == "markdown"]
    for cell in markdown:
        entry, now = entries.get(cell.id), source_hash(cell.source)
        if entry is None:
            found.append(Problem(name, cell.id, "missing", "no translation of this English markdown cell (add "
                                 f"'<!-- cell {cell.id} · en {now} -->' and its translation to {name}.md)"))
        elif entry.en_hash != now:
            found.append(Problem(name, cell.id, "stale", f"translated from an older English text (en {entry.en_hash}); "
                                 f"the English is now en {now}: update the translation, then its marker "
                                 f"(python tools/build_zh.py --diff shows what changed)"))
        elif not entry.text.strip():
            found.append(Problem(name, cell.id, "missing", "the translation is empty"))
    known = {c.id for c in markdown}
    for cell_id in entries:
        if cell_id not in known:
            found.append(Problem(name, cell_id, "orphan", "translated, but the English notebook has no markdown "
                                 "cell with this id: remove the entry"))
    return found


_CJK_BREAK = re.compile(r"(?<=[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef])\n[ \t]*"
                        r"(?=[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef])")
_FENCE = re.compile(r"^```.*?^```[^\n]*$", re.S | re.M)


def join_chinese_lines(text: str) -> str:
    r"""The text with each line break between two Chinese characters removed, outside code blocks.

    A browser shows a line break inside a paragraph as a space, which Chinese text does not have, so a
    translation may be wrapped like the English and still read as one unbroken paragraph.

    >>> join_chinese_lines("这是一个\n  很长的句子。\nEnglish\n和中文")
    '这是一个很长的句子。\nEnglish\n和中文'
    """
    pieces, last = [], 0
    for fence in _FENCE.finditer(text):
        pieces += [_CJK_BREAK.sub("", text[last:fence.start()]), fence.group()]
        last = fence.end()
    return "".join(pieces + [_CJK_BREAK.sub("", text[last:])])


def build(name: str, english: nbformat.NotebookNode, entries: dict[str, Entry]) -> nbformat.NotebookNode:
    """The Chinese notebook: a copy of ``english`` whose markdown cells hold their translations.

    A cell without a translation keeps its English text, and one whose English text changed keeps its
    old translation, each under a notice, so that a reader sees what is behind. Line breaks between
    Chinese characters are removed (:func:`join_chinese_lines`)."""
    nb = copy.deepcopy(english)
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        entry = entries.get(cell.id)
        if entry is None or not entry.text.strip():
            cell.source = MISSING_NOTICE + cell.source
        elif entry.en_hash != source_hash(cell.source):
            cell.source = STALE_NOTICE + join_chinese_lines(entry.text)
        else:
            cell.source = join_chinese_lines(entry.text)
    nb.metadata.setdefault("gptlib", {})["edition"] = {
        "language": "zh", "english": f"../{name}.ipynb", "built_by": "tools/build_zh.py"}
    return nb


def load_english(name: str, folder: Path = ENGLISH) -> nbformat.NotebookNode:
    return nbformat.read(folder / f"{name}.ipynb", as_version=4)


def serialise(nb: nbformat.NotebookNode) -> str:
    """The notebook as nbformat writes it to disk (what the committed file must equal)."""
    return nbformat.writes(nb) + "\n"


def names(paths: list[Path] | None = None, folder: Path = ENGLISH) -> list[str]:
    """The English notebooks' names (``05_likelihood``), all of them or those given."""
    if not paths:
        return [p.stem for p in sorted(folder.glob("[0-9][0-9]_*.ipynb"))]
    for p in paths:
        if p.suffix != ".ipynb" or not (folder / p.name).is_file() or p.resolve().parent != folder.resolve():
            raise SystemExit(f"{p} is not an English notebook of the series (notebooks/NN_name.ipynb)")
    return [p.stem for p in paths]


def rebuild(name: str, *, write: bool = True, english: Path = ENGLISH, chinese: Path = CHINESE,
            translations: Path = TRANSLATIONS) -> tuple[list[Problem], bool]:
    """Build one Chinese notebook; return its problems and whether the file on disk was (or, with
    ``write=False``, would be) changed."""
    nb = load_english(name, english)
    entries = read_entries(translation_path(name, translations))
    text = serialise(build(name, nb, entries))
    target = chinese / f"{name}.ipynb"
    changed = not target.is_file() or target.read_text(encoding="utf-8") != text
    if write and changed:
        with atomic_path(target) as tmp:
            tmp.write_text(text, encoding="utf-8")
    return problems(name, nb, entries), changed


def english_text_at(name: str, cell_id: str, en_hash: str) -> str | None:
    """The English text of a cell as it was when its hash was ``en_hash``, from the git history."""
    log = subprocess.run(["git", "log", "--format=%H", "--", f"notebooks/{name}.ipynb"], cwd=ROOT,
                         capture_output=True, text=True, check=False).stdout.split()
    for commit in log:
        shown = subprocess.run(["git", "show", f"{commit}:notebooks/{name}.ipynb"], cwd=ROOT,
                               capture_output=True, text=True, check=False)
        if shown.returncode:
            continue
        for cell in nbformat.reads(shown.stdout, as_version=4).cells:
            if cell.get("id") == cell_id and source_hash(cell.source) == en_hash:
                return cell.source
    return None


def show_diff(problem: Problem) -> str:
    entry = read_entries(translation_path(problem.notebook))[problem.cell_id]
    now = next(c.source for c in load_english(problem.notebook).cells if c.get("id") == problem.cell_id)
    then = english_text_at(problem.notebook, problem.cell_id, entry.en_hash)
    if then is None:
        return f"(no commit of notebooks/{problem.notebook}.ipynb has the text en {entry.en_hash}); the English now:\n{now}"
    return "".join(difflib.unified_diff(then.splitlines(True), now.splitlines(True), "translated from", "English now"))


def stub(name: str) -> int:
    """Append an entry, holding the English text, for each cell the translation file lacks; return how many."""
    nb = load_english(name)
    path = translation_path(name)
    entries = read_entries(path)
    ordered = []
    added = 0
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        if cell.id in entries:
            ordered.append(entries[cell.id])
        else:
            ordered.append(Entry(cell.id, source_hash(cell.source), cell.source))
            added += 1
    ordered += [e for cell_id, e in entries.items() if cell_id not in {x.cell_id for x in ordered}]
    write_entries(path, name, ordered)
    return added


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="English notebooks (default: all of them)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="write nothing; exit 1 if a translation is missing or "
                      "stale, or a Chinese notebook is not what the build writes")
    mode.add_argument("--stub", action="store_true", help="add each missing cell to the translation file, in English")
    mode.add_argument("--diff", action="store_true", help="show how each stale cell's English text changed")
    args = parser.parse_args(argv)
    chosen = names(args.notebooks)
    if args.stub:
        for name in chosen:
            print(f"{translation_path(name).relative_to(ROOT)}: {stub(name)} cell(s) added, in English, to translate")
        return 0
    found: list[Problem] = []
    out_of_date = []
    for name in chosen:
        listed, changed = rebuild(name, write=not (args.check or args.diff))
        found += listed
        if changed:
            out_of_date.append(name)
    for problem in found:
        print(problem)
        if args.diff and problem.kind == "stale":
            print(show_diff(problem))
    if args.check:
        for name in out_of_date:
            print(f"notebooks/zh/{name}.ipynb is not what tools/build_zh.py builds: run it")
        return 1 if found or out_of_date else 0
    if not args.diff:
        print(f"{len(chosen)} Chinese notebook(s) built, {len(out_of_date)} changed; "
              f"{len(found)} cell(s) missing, stale or left over")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
