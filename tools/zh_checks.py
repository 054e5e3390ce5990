"""What a test can check of a Chinese translation: that it is Chinese, that it keeps what is not prose, and
that it writes the glossary's terms one way.

Used by tests/test_zh_edition.py, and by ``python tools/zh_checks.py NN_name`` while translating (it
prints every finding for one notebook). The checks, for each markdown cell:

- **Chinese**: at least ``MIN_CJK_SHARE`` of it is Chinese, an English word weighing as much as two Chinese
  characters, and code, formulas, web addresses and HTML left aside (``cjk_share("词元（token）")`` is 2 / 4).
- **Kept**: every code span, formula and Chinese quotation (the article's sentences) of the English cell is
  in the translation, character for character; the numbers are the same; the headings have the same levels;
  every relative link resolves from notebooks/zh/ to the file the English links to (or to its Chinese edition);
  every emphasis mark renders (CommonMark does not close ``**…）**`` before a Chinese character).
  Counts written in Chinese units (``800 万``, ``1.24 亿``) are not new numbers.

and for each notebook, against notebooks/glossary.md:

- no rendering the glossary lists as "not used in the 中文版" appears;
- each term is used in every notebook that teaches it, with its English in parentheses where it first occurs
  outside a heading (``词元（token）``).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prose_numbers import NUMBER  # noqa: E402  (tools/ is not a package)

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "notebooks" / "glossary.md"
MIN_CJK_SHARE = 0.5
MIN_SIZE = 12  # a cell shorter than this, in characters and words (a heading alone), is not measured

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]+(?:['’-][A-Za-z]+)*")  # an English word
LATIN_WORD = 2  # an English word weighs as much as two Chinese characters (about what Chinese takes to say it)
_FENCE = re.compile(r"^(?:>[ \t]?)*```.*?^(?:>[ \t]?)*```", re.S | re.M)  # also a code block inside a quotation
_ADDRESS = re.compile(r"<?https?://[!-~]+|\b[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/[A-Za-z0-9_./#%?=&~+-]*")  # a web address
_CODE = re.compile(r"`(?:[^`\n]|\n(?![ \t]*\n))+`")  # a code span, which may go on over a line break
_MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$", re.S)
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_HTML = re.compile(r"<!--.*?-->|<[^>\n]+>", re.S)
_QUOTE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff][\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]{5,}")
_HEADING = re.compile(r"^(#+)\s", re.M)
_PAREN = re.compile(r"[（(]([^）)]*)[）)]")
_MARKDOWN = MarkdownIt("commonmark")


def prose(text: str) -> str:
    """The text with code, formulas, HTML and web addresses blanked out (a link's text stays)."""
    for pattern in (_FENCE, _HTML, _CODE, _MATH, _ADDRESS):
        text = pattern.sub(" ", text)
    return _LINK.sub("]", text)


def cjk_share(text: str) -> float:
    """How much of the prose is Chinese: its Chinese characters over those characters plus its English words,
    each word counted as ``LATIN_WORD`` characters (1.0 for a text with neither).

    >>> round(cjk_share("词元（token）是 `vocab_size` 之一"), 3)
    0.714
    """
    cjk, words = len(_CJK.findall(prose(text))), len(_LATIN.findall(prose(text)))
    return cjk / (cjk + LATIN_WORD * words) if cjk + words else 1.0


def _numbers(text: str) -> set[str]:
    return set(NUMBER.findall(_CODE.sub(" ", text)))


_SCALED = re.compile(r"(\d[\d.,]*)\s*[万亿]")  # "800 万", "1.24 亿": a count in Chinese units, not a new number


def _unrendered_emphasis(text: str) -> list[str]:
    """The places where a ``*`` is left as a literal star by a CommonMark renderer: an emphasis mark that
    does not open or close, as happens after full-width punctuation (``**词元（token）**是`` shows its stars)."""
    text = _MATH.sub("x", _FENCE.sub("", text))
    found = []
    for block in _MARKDOWN.parse(text):
        for child in block.children or []:
            if child.type == "text" and "*" in child.content:
                found.append(child.content)
    return found


def _links(text: str) -> list[str]:
    return [t for t in _LINK.findall(_CODE.sub(" ", text)) if not re.match(r"[a-z]+:|#", t)]


def _target(folder: Path, link: str) -> Path:
    """Where a relative link points, with a Chinese notebook counted as its English one."""
    path = (folder / link.split("#")[0]).resolve()
    zh = (ROOT / "notebooks" / "zh").resolve()
    return zh.parent / path.name if path.parent == zh and path.suffix == ".ipynb" else path


def cell_findings(english: str, chinese: str) -> list[str]:
    """What is wrong with one translated markdown cell, each finding one sentence."""
    found = []
    size = len(_CJK.findall(prose(chinese))) + LATIN_WORD * len(_LATIN.findall(prose(chinese)))
    if size >= MIN_SIZE and cjk_share(chinese) < MIN_CJK_SHARE:
        found.append(f"only {cjk_share(chinese):.0%} of it is Chinese (at least {MIN_CJK_SHARE:.0%}; an English word "
                     f"counts as {LATIN_WORD} characters)")
    outside_fences = _FENCE.sub(" ", english)
    kept = [("code block", _FENCE.findall(english)), ("code span", _CODE.findall(outside_fences)),
            ("formula", _MATH.findall(_CODE.sub(" ", outside_fences))),
            ("quotation", _QUOTE.findall(prose(english)))]
    for kind, pieces in kept:
        for piece in dict.fromkeys(pieces):
            if piece not in chinese:
                found.append(f"the English {kind} {piece[:60]!r} is not in the translation")
    scaled = set(_SCALED.findall(_CODE.sub(" ", chinese)))
    if _numbers(english) != _numbers(chinese) - scaled:
        found.append(f"numbers differ: English {sorted(_numbers(english))}, Chinese {sorted(_numbers(chinese))}")
    if not _unrendered_emphasis(english):
        for text in _unrendered_emphasis(chinese):
            found.append(f"a '*' would show as a star, not emphasis, in '…{text[:40]}…' (a closing mark right "
                         f"after full-width punctuation and before a character does not close)")
    levels = [len(h) for h in _HEADING.findall(_FENCE.sub("", english))]
    if levels != [len(h) for h in _HEADING.findall(_FENCE.sub("", chinese))]:
        found.append(f"headings differ: the English has levels {levels}")
    zh_folder, en_folder = ROOT / "notebooks" / "zh", ROOT / "notebooks"
    for link in _links(chinese):
        if not (zh_folder / link.split("#")[0]).exists():
            found.append(f"the link {link!r} points at nothing from notebooks/zh/")
    en_targets = {_target(en_folder, t) for t in _links(english)}
    zh_targets = {_target(zh_folder, t) for t in _links(chinese)}
    for missing in sorted(en_targets - zh_targets):
        found.append(f"the English links to {missing.relative_to(ROOT)}; the translation does not")
    return found


# ---------------------------------------------------------------- the glossary

@dataclass(frozen=True)
class Term:
    """One term of the glossary: how the 中文版 writes it, the English names, where it is taught, the
    renderings the 中文版 does not use, and what it means, in Chinese."""

    zh: str
    english: tuple[str, ...]
    taught_in: tuple[str, ...]
    not_used: tuple[str, ...]
    meaning_zh: str


COLUMNS = ("中文", "English", "what it means", "释义", "taught in", "not used in the 中文版")


def _english_names(text: str) -> tuple[str, ...]:
    text = text.replace("`", "")
    inner = [p.strip() for p in re.findall(r"\(([^)]*)\)", text)]
    outer = " ".join(re.sub(r"\([^)]*\)", " ", text).split())
    return tuple(n for n in (outer, *inner) if n)


def glossary(path: Path = GLOSSARY) -> list[Term]:
    """The glossary's terms, a row with parallel terms ("先验 / 后验" for "prior / posterior") giving one each.

    >>> [t.zh for t in glossary() if "prior" in t.english]
    ['先验']
    """
    rows = [[c.strip() for c in line.strip().strip("|").split(" | ")]
            for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("| ")]
    if not rows or tuple(rows[0]) != COLUMNS:
        raise ValueError(f"{path.name}: the table's columns must be {' | '.join(COLUMNS)}")
    terms = []
    for cells in rows[1:]:
        row = dict(zip(COLUMNS, cells))
        if len(cells) != len(COLUMNS):
            raise ValueError(f"glossary row {cells[0]!r}: {len(cells)} columns, not {len(COLUMNS)}")
        zh_parts, en_parts = row["中文"].split(" / "), row["English"].split(" / ")
        if len(zh_parts) != len(en_parts):
            raise ValueError(f"glossary row {cells[0]!r}: {len(zh_parts)} Chinese terms for {len(en_parts)} English ones")
        taught = tuple(re.findall(r"\(([0-9][0-9]_\w+)\.ipynb\)", row["taught in"]))
        not_used = tuple(v.strip() for v in row["not used in the 中文版"].split(",") if v.strip() not in {"", "—"})
        for zh, en in zip(zh_parts, en_parts):
            terms.append(Term(re.split(r"[（(]", zh)[0].strip(), _english_names(en), taught, not_used, row["释义"]))
    return terms


def _body(cells: list[str]) -> str:
    """A notebook's prose, headings and emphasis marks left out, cells joined by blank lines."""
    return "\n\n".join(re.sub(r"^#+\s.*$", "", prose(c), flags=re.M).replace("*", "") for c in cells)


def _names_english(parenthesis: str, term: Term) -> bool:
    inside = parenthesis.lower()
    return any(n.lower() in inside or n.lower().rstrip("s") in inside for n in term.english)


def notebook_findings(name: str, cells: list[str], terms: list[Term]) -> list[str]:
    """Glossary findings for one Chinese notebook, given the text of its markdown cells."""
    found = []
    body, everything = _body(cells), "\n\n".join(prose(c) for c in cells)
    for term in terms:
        for variant in term.not_used:
            if variant in everything:
                found.append(f"writes {variant!r}; the glossary's term for {term.english[0]!r} is {term.zh!r}")
        if name not in term.taught_in:
            continue
        if term.zh not in everything:
            found.append(f"teaches {term.english[0]!r} (glossary) but never writes {term.zh!r}")
            continue
        if _LATIN.search(term.zh):
            continue  # a term that is partly English ("top-k 采样") needs no English after it
        uses = [m.end() for m in re.finditer(re.escape(term.zh), body)]
        introduced = [end for end in uses if (p := _PAREN.match(body, end)) and _names_english(p.group(1), term)]
        if not introduced:
            found.append(f"never writes {term.zh!r} with its English in parentheses ({term.zh}（{term.english[0]}）)")
        elif len(term.zh) > 1 and introduced[0] != uses[0]:
            before = body[max(0, uses[0] - 30):uses[0] + len(term.zh) + 10].replace("\n", " ")
            found.append(f"first writes {term.zh!r} without its English in parentheses: '…{before}…'")
    return found


def main(argv: list[str]) -> int:
    import build_zh

    total = 0
    for name in argv or build_zh.names():
        english = build_zh.load_english(name)
        entries = build_zh.read_entries(build_zh.translation_path(name))
        listed = [str(p) for p in build_zh.problems(name, english, entries)]
        texts = []
        for cell in english.cells:
            if cell.cell_type == "markdown" and cell.id in entries:
                shown = build_zh.join_chinese_lines(entries[cell.id].text)  # the text as the notebook has it
                texts.append(shown)
                listed += [f"{name}, cell {cell.id}: {f}" for f in cell_findings(cell.source, shown)]
        listed += [f"{name}: {f}" for f in notebook_findings(name, texts, glossary())]
        print("\n".join(listed) or f"{name}: no findings")
        total += len(listed)
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
