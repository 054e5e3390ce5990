"""Benchmark: gptlib's pure-Python byte-level BPE against Hugging Face ``tokenizers`` and tiktoken (both Rust).

    .venv/bin/python benchmarks/tokenizer_training/bench.py [--data PATH] [--gpt2-ranks PATH]
        [--vocab-size 1024] [--repeats 5] [--write-readme]

One run measures, on tiny Shakespeare, every time as the median of ``--repeats`` calls:

1. Training to ``--vocab-size`` (default 1024: 256 bytes + 767 merges + ``<|endoftext|>``):
   ``gptlib.tokenizers.BPETokenizer.train``, and HF ``tokenizers`` BPE with the ByteLevel
   pre-tokenizer (``add_prefix_space=False``), the full 256-byte alphabet and the same special
   token, fed the text as one string (the same job as gptlib) and, separately, line by line
   (which lets HF count words in parallel).
2. Encoding, with two sets of merges, by three encoders built from the same merges:
   - GPT-2's own 50,000 merges, obtained as the tests obtain them (``tests/gpt2_assets.py``):
     gptlib's ``BPETokenizer.from_gpt2_files`` and HF's ``BPE.from_file`` on the same
     ``vocab.json`` + ``merges.txt``, and a ``tiktoken.Encoding`` on GPT-2's ranks;
   - the merges gptlib has just trained: gptlib itself, HF on the same merges written as
     ``vocab.json`` + ``merges.txt``, tiktoken with ``mergeable_ranks`` = gptlib's tokens.
   Two input forms: the whole corpus as one string, and the corpus as a list of its lines (each
   encoder's batch form: gptlib ``encode`` per line, HF ``encode_batch`` and
   ``encode_batch_fast``, tiktoken ``encode_ordinary_batch``). Within a form every encoder's ids
   must be identical (asserted); the forms differ from each other at blank lines, legitimately.
   "Cold" is a fresh tokenizer per call (made outside the timed part), so caches start empty;
   "warm" is the same tokenizer again. Every encoder returns Python lists of ids.
3. How many merges gptlib and HF learn in common.

``--data PATH`` given means nothing is downloaded: GPT-2's ranks then come from
``--gpt2-ranks PATH`` or the tests' asset cache, and if neither has them the GPT-2 rows are
skipped (the script says how to get them). Without ``--data``, the corpus (``gptlib.data``) and
the ranks (``pip download`` from PyPI, as the tests do) are fetched when missing.

``--write-readme`` puts the printed report between the result markers of README.md. Exits 1 if
the training goal is missed: gptlib within 3x the time of HF's faster training variant.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
README = Path(__file__).with_name("README.md")
sys.path.insert(0, str(REPO_ROOT))  # run from a checkout without installing gptlib
sys.path.insert(0, str(REPO_ROOT / "tests"))  # gpt2_assets: GPT-2's ranks, the way the tests get them

import gpt2_assets  # noqa: E402
import regex  # noqa: E402
import tiktoken  # noqa: E402
import tokenizers as hf  # noqa: E402

import gptlib  # noqa: E402
from benchmarks.readme import replace_results  # noqa: E402
from gptlib.data import data_dir, ensure_dataset  # noqa: E402
from gptlib.files import sha256_of  # noqa: E402
from gptlib.tokenizers import ENDOFTEXT, GPT2_SPLIT_PATTERN, BPETokenizer, bytes_to_unicode  # noqa: E402

GOAL_FACTOR = 3.0
GET_RANKS = (
    "python -c \"import sys; sys.path.insert(0, 'tests'); import gpt2_assets; print(gpt2_assets.gpt2_ranks_file())\""
)


# ---- inputs -----------------------------------------------------------------------------------


def find_gpt2_ranks(args: argparse.Namespace, parser: argparse.ArgumentParser) -> tuple[Path | None, str]:
    """GPT-2's ``gpt2.tiktoken``, or None and why not. Downloads only when ``--data`` is not given."""
    if args.gpt2_ranks is not None:
        path = args.gpt2_ranks
        if not path.is_file():
            parser.error(f"--gpt2-ranks {path}: no such file")
    elif args.data is None:
        try:
            return gpt2_assets.gpt2_ranks_file(), ""
        except gpt2_assets.AssetError as err:
            return None, f"GPT-2's ranks could not be fetched: {err}"
    else:
        path = gpt2_assets.asset_cache_dir() / gpt2_assets.RANKS_FILENAME
        if not path.is_file():
            return None, (
                f"--data was given, so nothing is downloaded, and GPT-2's ranks are neither given "
                f"(--gpt2-ranks PATH) nor in the tests' asset cache ({path})"
            )
    digest = sha256_of(path)
    if digest != gpt2_assets.RANKS_SHA256:
        expected = gpt2_assets.RANKS_SHA256
        message = f"{path} is not GPT-2's {gpt2_assets.RANKS_FILENAME}: SHA-256 {digest}, expected {expected}"
        if args.gpt2_ranks is not None:
            parser.error(message)
        return None, message
    return path, ""


def token_ranks(tok: BPETokenizer) -> dict[bytes, int]:
    """Token bytes -> id for every token but the special ones: tiktoken's ``mergeable_ranks``."""
    special_ids = set(tok.special_tokens.values())
    return {token: i for i, token in tok.vocab.items() if i not in special_ids}


def write_as_gpt2_files(tok: BPETokenizer, folder: Path) -> tuple[Path, Path]:
    """``tok`` as ``vocab.json`` + ``merges.txt`` (GPT-2's layout), written by the tests' writer."""
    vocab = tok.vocab
    merges = [(vocab[a], vocab[b]) for a, b in tok.merges]
    return gpt2_assets.write_gpt2_files(token_ranks(tok), merges, folder, tok.special_tokens)


# ---- the libraries ----------------------------------------------------------------------------


def hf_train(data: list[str], vocab_size: int) -> hf.Tokenizer:
    tok = hf.Tokenizer(hf.models.BPE())
    tok.pre_tokenizer = hf.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = hf.decoders.ByteLevel()
    trainer = hf.trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[ENDOFTEXT],
        initial_alphabet=hf.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(data, trainer=trainer)
    return tok


def hf_from_files(vocab_json: Path, merges_txt: Path) -> hf.Tokenizer:
    """HF's byte-level BPE on GPT-2 style files; special tokens are not added, so all text is ordinary."""
    tok = hf.Tokenizer(hf.models.BPE.from_file(str(vocab_json), str(merges_txt)))
    tok.pre_tokenizer = hf.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = hf.decoders.ByteLevel()
    return tok


def tiktoken_encoding(name: str, ranks: dict[bytes, int], special: dict[str, int]) -> tiktoken.Encoding:
    """tiktoken on ``ranks`` (token bytes -> id) with GPT-2's split pattern; no download."""
    return tiktoken.Encoding(name=name, pat_str=GPT2_SPLIT_PATTERN, mergeable_ranks=ranks, special_tokens=special)


def hf_merges_as_bytes(tok: hf.Tokenizer) -> list[tuple[bytes, bytes]]:
    """HF's merges as pairs of byte strings (HF writes tokens with GPT-2's byte -> char table)."""
    to_byte = {ch: b for b, ch in bytes_to_unicode().items()}
    merges = json.loads(tok.to_str())["model"]["merges"]
    pairs = [m.split(" ") if isinstance(m, str) else m for m in merges]
    return [(bytes(to_byte[c] for c in a), bytes(to_byte[c] for c in b)) for a, b in pairs]


def fresh_copy(tok: BPETokenizer) -> BPETokenizer:
    """The same tokenizer with an empty chunk cache."""
    return BPETokenizer(
        tok.merges, tok.special_tokens, byte_ids=tok.byte_ids, merged_ids=tok.merged_ids, pattern=tok.pattern
    )


# ---- measuring --------------------------------------------------------------------------------


def timed(fn: Callable[..., Any], repeats: int, fresh: Callable[[], Any] | None = None) -> tuple[float, Any]:
    """Median wall time of ``repeats`` calls of ``fn``, and the last call's result.

    With ``fresh``, each call is ``fn(fresh())``, the new object being made outside the timed part.
    """
    times, result = [], None
    for _ in range(repeats):
        arg = (fresh(),) if fresh is not None else ()
        start = time.perf_counter()
        result = fn(*arg)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def measure_encoding(
    ours: BPETokenizer, hf_tok: hf.Tokenizer, tt: tiktoken.Encoding, text: str, lines: list[str], repeats: int,
    threads: int,
) -> dict[str, Any]:  # fmt: skip
    """Time the three encoders on both input forms; assert that their ids agree within a form."""
    hf_json = hf_tok.to_str()

    def fresh_hf() -> hf.Tokenizer:
        return hf.Tokenizer.from_str(hf_json)

    def fresh_ours() -> BPETokenizer:
        return fresh_copy(ours)

    t: dict[str, float] = {}
    t["ours_cold"], ids = timed(lambda tok: tok.encode(text), repeats, fresh_ours)
    warm = fresh_ours()
    warm.encode(text)
    t["ours_warm"], _ = timed(lambda: warm.encode(text), repeats)
    t["hf_cold"], hf_ids = timed(lambda tok: tok.encode(text).ids, repeats, fresh_hf)
    hf_warm = fresh_hf()
    hf_warm.encode(text)
    t["hf_warm"], _ = timed(lambda: hf_warm.encode(text).ids, repeats)
    t["tt"], tt_ids = timed(lambda: tt.encode_ordinary(text), repeats)
    assert ours.decode(ids) == text
    assert ids == hf_ids, "gptlib and HF (same merges) should give identical ids for the whole corpus"
    assert ids == tt_ids, "gptlib and tiktoken (same merges) should give identical ids for the whole corpus"

    t["ours_lines"], line_ids = timed(lambda tok: [tok.encode(line) for line in lines], repeats, fresh_ours)
    t["hf_batch"], hf_line_ids = timed(lambda tok: [e.ids for e in tok.encode_batch(lines)], repeats, fresh_hf)
    t["hf_batch_fast"], hf_fast = timed(lambda tok: [e.ids for e in tok.encode_batch_fast(lines)], repeats, fresh_hf)
    t["tt_batch"], tt_line_ids = timed(lambda: tt.encode_ordinary_batch(lines, num_threads=threads), repeats)
    t["tt_lines"], tt_loop_ids = timed(lambda: [tt.encode_ordinary(line) for line in lines], repeats)
    assert line_ids == hf_line_ids == hf_fast, "gptlib and HF should give identical ids line by line"
    assert line_ids == tt_line_ids == tt_loop_ids, "gptlib and tiktoken should give identical ids line by line"
    return {"t": t, "tokens": len(ids), "line_tokens": sum(map(len, line_ids))}


# ---- the report ---------------------------------------------------------------------------------


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def encoding_table(title: str, r: dict[str, Any], megabytes: float, n_lines: int, threads: int) -> list[str]:
    t = r["t"]

    def speed(key: str) -> str:
        return f"{megabytes / t[key]:.2f} MB/s ({t[key]:.2f} s)"

    return [
        f"**{title}**",
        "",
        "| input | gptlib (pure Python, 1 thread) | HF tokenizers (Rust) | tiktoken (Rust) |",
        "|---|---|---|---|",
        f"| corpus as one string, cold | `encode`: {speed('ours_cold')} | `encode`: {speed('hf_cold')} | "
        f"`encode_ordinary`: {speed('tt')} |",
        f"| corpus as one string, warm cache | `encode`: {speed('ours_warm')} | `encode`: {speed('hf_warm')} | "
        "(no cache) |",
        f"| corpus as {n_lines:,} lines, cold | `encode` per line: {speed('ours_lines')} | "
        f"`encode_batch`: {speed('hf_batch')} | `encode_ordinary_batch`, {threads} threads: {speed('tt_batch')} |",
        f"| the same lines, the other call | - | `encode_batch_fast` (no offsets): {speed('hf_batch_fast')} | "
        f"`encode_ordinary` per line: {speed('tt_lines')} |",
        f"| tokens: one string / lines | {r['tokens']:,} / {r['line_tokens']:,} | identical | identical |",
        "",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, help="the corpus; given, nothing is downloaded (default: gptlib.data's tiny Shakespeare)"
    )
    parser.add_argument(
        "--gpt2-ranks", type=Path, help="GPT-2's gpt2.tiktoken (default: the tests' cache; fetched only without --data)"
    )
    parser.add_argument("--vocab-size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write-readme", action="store_true", help=f"put the report into {README.name}")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    data = args.data if args.data is not None else ensure_dataset("tinyshakespeare", progress=False)
    ranks_path, why_no_gpt2 = find_gpt2_ranks(args, parser)
    text = data.read_text(encoding="utf-8")
    megabytes = len(text.encode("utf-8")) / 1e6
    lines = text.splitlines(keepends=True)
    n, threads = args.repeats, usable_cores()

    # --- training ---------------------------------------------------------------------------
    print("training ...", file=sys.stderr, flush=True)
    t_ours, ours = timed(lambda: BPETokenizer.train(text, args.vocab_size), n)
    t_hf_one, hf_trained = timed(lambda: hf_train([text], args.vocab_size), n)
    t_hf_lines, _ = timed(lambda: hf_train(lines, args.vocab_size), n)
    t_hf = min(t_hf_one, t_hf_lines)
    assert ours.vocab_size == hf_trained.get_vocab_size() == args.vocab_size

    vocab = ours.vocab
    ours_merges = [(vocab[a], vocab[b]) for a, b in ours.merges]
    hf_merges = hf_merges_as_bytes(hf_trained)
    common = len(set(ours_merges) & set(hf_merges))
    same_prefix = next((i for i, (a, b) in enumerate(zip(ours_merges, hf_merges)) if a != b), len(ours_merges))
    same_place = sum(a == b for a, b in zip(ours_merges, hf_merges))

    # --- encoding ---------------------------------------------------------------------------
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="tokenizer-bench-") as tmp:
        if ranks_path is not None:
            print("encoding with GPT-2's merges ...", file=sys.stderr, flush=True)
            ranks = gpt2_assets.load_ranks(ranks_path)
            special = {ENDOFTEXT: gpt2_assets.ENDOFTEXT_ID}
            files = gpt2_assets.write_gpt2_files(ranks, gpt2_assets.ranks_to_merges(ranks), Path(tmp) / "gpt2", special)
            gpt2 = BPETokenizer.from_gpt2_files(*files)
            tt = tiktoken_encoding("gpt2", ranks, special)
            title = f"Encoding with GPT-2's own merges ({len(gpt2.merges):,} merges, vocab {gpt2.vocab_size:,})"
            results[title] = measure_encoding(gpt2, hf_from_files(*files), tt, text, lines, n, threads)

        print("encoding with gptlib's trained merges ...", file=sys.stderr, flush=True)
        files = write_as_gpt2_files(ours, Path(tmp) / "trained")
        tt = tiktoken_encoding("gptlib-trained", token_ranks(ours), ours.special_tokens)
        title = f"Encoding with gptlib's trained merges ({len(ours.merges):,} merges, vocab {ours.vocab_size:,})"
        results[title] = measure_encoding(ours, hf_from_files(*files), tt, text, lines, n, threads)

    # --- report -------------------------------------------------------------------------------
    ratio = t_ours / t_hf
    verdict = "PASS" if ratio <= GOAL_FACTOR else "FAIL"
    rayon = os.environ.get("RAYON_NUM_THREADS")
    hf_pool = f"{rayon} threads (RAYON_NUM_THREADS)" if rayon else f"{threads} threads (rayon's default: usable cores)"
    report = [
        f"Corpus: {data.name} ({megabytes:.2f} MB, {len(lines):,} lines), vocab_size {args.vocab_size}, "
        f"median of {n} run{'s' if n > 1 else ''}.",
        f"Machine: {cpu_name()}, {os.cpu_count()} logical cores, {threads} usable; Python {platform.python_version()}, "
        f"gptlib {gptlib.__version__}, regex {regex.__version__}, tokenizers {hf.__version__}, "
        f"tiktoken {tiktoken.__version__}.",
        f"Threads: gptlib 1; HF tokenizers {hf_pool} for training fed lines and `encode_batch*` "
        f"(TOKENIZERS_PARALLELISM {os.environ.get('TOKENIZERS_PARALLELISM', 'unset')}); "
        f"tiktoken `encode_ordinary_batch(num_threads={threads})`.",
        "",
        "**Training**",
        "",
        "| | gptlib (pure Python) | HF tokenizers (Rust) |",
        "|---|---|---|",
        f"| train, text as one string | {t_ours:.2f} s | {t_hf_one:.2f} s |",
        f"| train, text as lines (HF counts in parallel) | - | {t_hf_lines:.2f} s |",
        "",
        f"Training goal: gptlib <= {GOAL_FACTOR:g} x HF (faster variant, {t_hf:.2f} s): "
        f"{t_ours:.2f} s = {ratio:.2f} x -> **{verdict}**.",
        f"Merges in common with HF: {common} of {len(ours_merges)}; the first {same_prefix} are identical in order, "
        f"{same_place} sit at the same rank.",
        "",
    ]
    for title, r in results.items():
        report += encoding_table(title, r, megabytes, len(lines), threads)
    if ranks_path is None:
        report += [f"GPT-2 rows skipped: {why_no_gpt2}.", ""]
    text_out = "\n".join(report).rstrip() + "\n"
    print()
    print(text_out, end="")
    if ranks_path is None:
        print(
            f"\nTo get GPT-2's ranks (openai-whisper's gpt2.tiktoken, fetched from PyPI with pip as the tests do), "
            f"run once from the repository root:\n    GPTLIB_DATA_DIR={data_dir()} .venv/bin/{GET_RANKS}\n"
            f"or pass --gpt2-ranks PATH, or run without --data.",
            file=sys.stderr,
        )

    status = 0 if verdict == "PASS" else 1
    if args.write_readme:
        if ranks_path is None:
            print(f"{README.name} not written: its results include the GPT-2 rows.", file=sys.stderr)
            return status or 2
        replace_results(README, text_out)
        print(f"written into {README.relative_to(REPO_ROOT)}")
    return status


if __name__ == "__main__":
    sys.exit(main())
