"""GPT-2's tokenizer files, ``vocab.json`` + ``merges.txt``, and the byte table they are written in.

- :func:`bytes_to_unicode`   GPT-2's byte -> visible character table (why tokens show ``'Ġ'``)
- :func:`read_gpt2_files`    the two files -> the parts of a :class:`BPETokenizer` (:class:`BPEParts`)
- :func:`write_gpt2_files`   a :class:`BPETokenizer` -> the two files (the reverse of reading)

:meth:`BPETokenizer.from_gpt2_files` is the way in for users; this module does the reading. Writing
is how a gptlib tokenizer goes to other libraries: Hugging Face ``transformers``' ``GPT2Tokenizer``
reads the two files (notebook 08).

- ``vocab.json`` maps token strings to ids. A token string is its bytes written with
  :func:`bytes_to_unicode`, one stand-in character per byte (a space is ``'Ġ'``).
- ``merges.txt`` has an optional first line starting with ``#version``, then one merge per line,
  in rank order: the two parts' strings separated by one space.
- Every vocab entry that is neither one of the 256 byte tokens nor made by a merge is a special
  token, taken as the literal string (GPT-2: only ``<|endoftext|>`` = 50256).

Hugging Face ``tokenizers`` byte-level BPE models saved with ``model.save(folder)`` use the same
two files. A two-merge example:

>>> import json, tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> table = bytes_to_unicode()
>>> vocab = {table[b]: b for b in range(256)} | {"Ġt": 256, "Ġth": 257, "<|endoftext|>": 258}
>>> _ = (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
>>> _ = (folder / "merges.txt").write_text("#version: 0.2\\nĠ t\\nĠt h\\n", encoding="utf-8")
>>> parts = read_gpt2_files(folder / "vocab.json", folder / "merges.txt")
>>> parts.merges, parts.merged_ids, parts.special_tokens
([(32, 116), (256, 104)], [256, 257], {'<|endoftext|>': 258})
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .._checks import is_int
from ..files import write_text
from ._helpers import Pair, PathLike
from .building_blocks import GPT2_SPLIT_PATTERN
from .parts import BPEParts

if TYPE_CHECKING:  # pragma: no cover - only for type checkers (bpe imports this module)
    from .bpe import BPETokenizer

__all__ = ["bytes_to_unicode", "read_gpt2_files", "write_gpt2_files"]

#: The first line GPT-2's ``merges.txt`` starts with (readers skip a first line starting ``#version``).
MERGES_HEADER = "#version: 0.2"


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table from the 256 byte values to 256 visible characters.

    GPT-2's files (``vocab.json``, ``merges.txt``) store each token, which is a string of bytes,
    as a text string. Raw bytes would not do: a space would clash with the space that separates
    the two halves of a line of ``merges.txt``, control characters are invisible, and a lone byte
    >= 0x80 is not valid UTF-8. So every byte gets a printable stand-in character:

    - the 188 bytes that already are printable Latin-1 characters (``'!'``..``'~'``,
      ``'¡'``..``'¬'``, ``'®'``..``'ÿ'``) stand for themselves;
    - the other 68 (the control characters, space, DEL, no-break space and soft hyphen) get, in
      increasing byte order, the characters ``chr(256)``, ``chr(257)``, ..., ``chr(323)``.

    A token's string is the stand-ins of its bytes, joined. That is why GPT-2 tokens that start
    with a space show up as ``'Ġ...'``.

    >>> table = bytes_to_unicode()
    >>> table[ord("A")], table[ord(" ")], table[ord("\\n")], table[0]
    ('A', 'Ġ', 'Ċ', 'Ā')
    >>> "".join(table[b] for b in " café".encode("utf-8"))
    'ĠcafÃ©'
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    printable_set = set(printable)
    table: dict[int, str] = {}
    next_stand_in = 256
    for byte in range(256):
        if byte in printable_set:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(next_stand_in)
            next_stand_in += 1
    return table


def read_gpt2_files(
    vocab_json_path: PathLike, merges_txt_path: PathLike, pattern: str = GPT2_SPLIT_PATTERN
) -> BPEParts:
    """Read ``vocab.json`` + ``merges.txt`` into a tokenizer's parts (ids kept as in the vocab).

    The files must agree, else ``ValueError`` naming the file and the line or entry: every byte
    needs a vocab entry, a merge's two parts must be byte tokens or made by earlier merges, and
    its result must be in the vocab and made by no other merge. (That the ids are exactly
    ``0 .. len(vocab) - 1`` is checked by the tokenizer's constructor.)
    """
    vocab_path, merges_path = str(vocab_json_path), str(merges_txt_path)
    vocab = _read_gpt2_vocab(vocab_path)
    table = bytes_to_unicode()
    byte_ids: list[int] = []
    missing = []
    for byte, ch in table.items():
        if ch in vocab:
            byte_ids.append(vocab[ch])
        else:
            missing.append(f"0x{byte:02x} ({ch!r})")
    if missing:
        raise ValueError(
            f"{vocab_path}: the vocab must have a token for each of the 256 bytes, but "
            f"{len(missing)} are missing: {', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}"
        )

    made_by: dict[str, str] = {ch: f"byte 0x{b:02x}" for b, ch in table.items()}
    merges: list[Pair] = []
    merged_ids: list[int] = []
    try:
        with open(merges_path, encoding="utf-8", newline="") as f:
            lines = f.read().split("\n")
    except UnicodeDecodeError as err:
        raise ValueError(f"{merges_path}: not valid UTF-8 ({err})") from None
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    for line_no, raw_line in enumerate(lines, start=1):
        line = raw_line.removesuffix("\r")
        where = f"{merges_path}, line {line_no}"
        if line_no == 1 and line.startswith("#version"):
            continue
        parts = line.split(" ")
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise ValueError(f"{where}: expected two tokens separated by one space, got {line!r}")
        for part in parts:
            if part not in vocab:
                raise ValueError(f"{where}: merge {line!r}: token {part!r} is not in {vocab_path}")
            if part not in made_by:
                raise ValueError(
                    f"{where}: merge {line!r}: token {part!r} is neither a byte token nor made by an earlier merge"
                )
        result = parts[0] + parts[1]
        if result not in vocab:
            raise ValueError(f"{where}: merge {line!r}: the result {result!r} is not in {vocab_path}")
        if result in made_by:
            raise ValueError(f"{where}: merge {line!r}: its result {result!r} is already made by {made_by[result]}")
        made_by[result] = f"the merge on line {line_no}"
        merges.append((vocab[parts[0]], vocab[parts[1]]))
        merged_ids.append(vocab[result])

    special = {token: token_id for token, token_id in vocab.items() if token not in made_by}
    return BPEParts(merges=merges, special_tokens=special, byte_ids=byte_ids, merged_ids=merged_ids, pattern=pattern)


def write_gpt2_files(tokenizer: BPETokenizer, vocab_json_path: PathLike, merges_txt_path: PathLike) -> None:
    """Write ``tokenizer`` as GPT-2's ``vocab.json`` + ``merges.txt``; :func:`read_gpt2_files` reads them back.

    ``vocab.json`` lists every token in id order, its bytes written with :func:`bytes_to_unicode`
    (a special token: its text as it is); ``merges.txt`` is :data:`MERGES_HEADER` and then one
    merge per line, in rank order. Each file is written whole or not at all
    (:func:`gptlib.files.write_text`). Reading the files back gives an equal tokenizer, so does
    Hugging Face's ``GPT2Tokenizer(vocab=..., merges=...)`` (it encodes every text the same).

    Not every :class:`~gptlib.tokenizers.BPETokenizer` fits in these files; a ``ValueError`` says
    why when one does not:

    - the files have no place for the split pattern (readers assume GPT-2's), so the tokenizer's
      :attr:`~gptlib.tokenizers.BPETokenizer.pattern` must be :data:`GPT2_SPLIT_PATTERN`;
    - ``vocab.json`` maps each token string to one id, so no two tokens may stand for the same
      string: two merges that make the same bytes (``a`` + ``bc`` and ``ab`` + ``c``), or a special
      token whose text is also an ordinary token's string.

    >>> import tempfile, pathlib
    >>> from gptlib.tokenizers import BPETokenizer
    >>> tok = BPETokenizer.train("the theme", vocab_size=259)   # merges h+e, then t+he
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_gpt2_files(tok, folder / "vocab.json", folder / "merges.txt")
    >>> print((folder / "merges.txt").read_text(encoding="utf-8"), end="")
    #version: 0.2
    h e
    t he
    >>> BPETokenizer.from_gpt2_files(folder / "vocab.json", folder / "merges.txt") == tok
    True
    """
    if tokenizer.pattern != GPT2_SPLIT_PATTERN:
        raise ValueError(
            f"this tokenizer splits text with the pattern {tokenizer.pattern!r}, but GPT-2's files have no "
            f"place for a pattern: every reader of vocab.json + merges.txt splits with GPT-2's "
            f"(gptlib.tokenizers.GPT2_SPLIT_PATTERN), so the files would encode differently"
        )
    table = bytes_to_unicode()
    special_ids = {token_id: text for text, token_id in tokenizer.special_tokens.items()}
    strings: dict[int, str] = {}
    owner: dict[str, int] = {}
    for token_id, token_bytes in tokenizer.vocab.items():
        text = special_ids[token_id] if token_id in special_ids else "".join(table[b] for b in token_bytes)
        if text in owner:
            raise ValueError(
                f"tokens {owner[text]} and {token_id} both stand for {text!r} ({token_bytes!r}); vocab.json maps "
                f"each token string to one id, so this tokenizer cannot be written as GPT-2's files"
            )
        owner[text] = token_id
        strings[token_id] = text
    merges = [f"{strings[left]} {strings[right]}" for left, right in tokenizer.merges]
    write_text(vocab_json_path, json.dumps({text: token_id for token_id, text in strings.items()}, ensure_ascii=False))
    write_text(merges_txt_path, "\n".join([MERGES_HEADER, *merges]) + "\n")


def _read_gpt2_vocab(path: str) -> dict[str, int]:
    """Parse GPT-2's ``vocab.json``: a JSON object of token string -> id, no repeated keys."""

    def no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise ValueError(f"{path}: token {key!r} appears twice")
            result[key] = value
        return result

    try:
        with open(path, encoding="utf-8") as f:
            vocab = json.load(f, object_pairs_hook=no_repeats)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not valid UTF-8 ({err})") from None
    if not isinstance(vocab, dict):
        raise ValueError(f"{path}: expected a JSON object mapping token strings to ids")
    seen: dict[int, str] = {}
    for token, token_id in vocab.items():
        if not is_int(token_id) or token_id < 0:
            raise ValueError(f"{path}: token {token!r} has the id {token_id!r}, not a non-negative int")
        if token_id in seen:
            raise ValueError(f"{path}: tokens {seen[token_id]!r} and {token!r} both have the id {token_id}")
        seen[token_id] = token
    return vocab
