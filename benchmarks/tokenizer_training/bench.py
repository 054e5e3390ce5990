"""Benchmark: gptlib's pure-Python byte-level BPE against Hugging Face ``tokenizers`` (Rust) and tiktoken.

One run measures, on tiny Shakespeare:

1. training to ``--vocab-size`` (default 1024: 256 bytes + 767 merges + ``<|endoftext|>``),
   ``--repeats`` times each, median wall time:
   - ``gptlib.tokenizers.BPETokenizer.train``;
   - HF ``tokenizers`` BPE with the ByteLevel pre-tokenizer (``add_prefix_space=False``), the
     full 256-byte alphabet and the same special token, fed the text as one string (the same
     job as gptlib) and, separately, fed it line by line (lets HF count words in parallel);
2. encoding the whole corpus, in MB/s (median): gptlib (cold: a fresh tokenizer, empty chunk
   cache; warm: the same tokenizer again), HF (one string, and ``encode_batch`` of its lines)
   and tiktoken built from gptlib's merges (whose ids must equal gptlib's);
3. how many merges gptlib and HF learn in common (they need not agree: HF breaks ties between
   equally frequent pairs by its own token order, and counts words differently at line ends).

The goal from the project issue: gptlib trains within 3x the time HF takes (the faster HF variant).

Usage (from the repository root)::

    .venv/bin/python benchmarks/tokenizer_training/bench.py [--data PATH] [--vocab-size 1024] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))  # run from a checkout without installing gptlib

import tiktoken  # noqa: E402
import tokenizers as hf  # noqa: E402

from gptlib.data import ensure_dataset  # noqa: E402
from gptlib.tokenizers import ENDOFTEXT, GPT2_SPLIT_PATTERN, BPETokenizer, bytes_to_unicode  # noqa: E402

GOAL_FACTOR = 3.0


def default_data_path() -> Path:
    return ensure_dataset("tinyshakespeare", progress=False)


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall time of ``repeats`` calls of ``fn``, and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


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


def hf_merges_as_bytes(tok: hf.Tokenizer) -> list[tuple[bytes, bytes]]:
    """HF's merges as pairs of byte strings (HF writes tokens with GPT-2's byte -> char table)."""
    import json

    to_byte = {ch: b for b, ch in bytes_to_unicode().items()}
    merges = json.loads(tok.to_str())["model"]["merges"]
    pairs = [m.split(" ") if isinstance(m, str) else m for m in merges]
    return [(bytes(to_byte[c] for c in a), bytes(to_byte[c] for c in b)) for a, b in pairs]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data_path(), help="the corpus (tiny Shakespeare)")
    parser.add_argument("--vocab-size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    text = args.data.read_text(encoding="utf-8")
    megabytes = len(text.encode("utf-8")) / 1e6
    lines = text.splitlines(keepends=True)
    n = args.repeats

    # --- training ---------------------------------------------------------------------------
    t_ours, ours = timed(lambda: BPETokenizer.train(text, args.vocab_size), n)
    t_hf_one, hf_tok = timed(lambda: hf_train([text], args.vocab_size), n)
    t_hf_lines, _ = timed(lambda: hf_train(lines, args.vocab_size), n)
    t_hf = min(t_hf_one, t_hf_lines)
    assert ours.vocab_size == hf_tok.get_vocab_size() == args.vocab_size

    # --- encoding ---------------------------------------------------------------------------
    def ours_cold() -> list[int]:
        fresh = BPETokenizer(ours.merges, ours.special_tokens)  # empty chunk cache
        return fresh.encode(text)

    ranks = {ours.vocab[i]: i for i in range(ours.vocab_size) if i not in ours.special_tokens.values()}
    tt = tiktoken.Encoding(
        name="gptlib-trained", pat_str=GPT2_SPLIT_PATTERN, mergeable_ranks=ranks, special_tokens=ours.special_tokens
    )
    e_cold, ids_ours = timed(ours_cold, n)
    e_warm, _ = timed(lambda: ours.encode(text), n)
    e_hf, hf_enc = timed(lambda: hf_tok.encode(text), n)
    e_hf_lines, _ = timed(lambda: hf_tok.encode_batch(lines), n)
    e_tt, ids_tt = timed(lambda: tt.encode_ordinary(text), n)
    assert ours.decode(ids_ours) == text
    assert ids_ours == ids_tt, "gptlib and tiktoken (same merges) should give identical ids"

    # --- agreement of the learned merges ------------------------------------------------------
    vocab = ours.vocab
    ours_merges = [(vocab[a], vocab[b]) for a, b in ours.merges]
    hf_merges = hf_merges_as_bytes(hf_tok)
    common = len(set(ours_merges) & set(hf_merges))
    same_prefix = next((i for i, (a, b) in enumerate(zip(ours_merges, hf_merges)) if a != b), len(ours_merges))
    same_place = sum(a == b for a, b in zip(ours_merges, hf_merges))

    # --- report -------------------------------------------------------------------------------
    ratio = t_ours / t_hf
    verdict = "PASS" if ratio <= GOAL_FACTOR else "FAIL"

    def mbps(seconds: float) -> str:
        return f"{megabytes / seconds:.2f} MB/s"

    print(f"Corpus: {args.data} ({megabytes:.2f} MB), vocab_size {args.vocab_size}, median of {n} runs")
    print(f"Machine: {cpu_name()}, {os.cpu_count()} cores; Python {platform.python_version()}, "
          f"tokenizers {hf.__version__}, tiktoken {tiktoken.__version__}")  # fmt: skip
    print()
    print("| | gptlib (pure Python) | HF tokenizers (Rust) | tiktoken (Rust) |")
    print("|---|---|---|---|")
    print(f"| train, text as one string | {t_ours:.2f} s | {t_hf_one:.2f} s | - |")
    print(f"| train, text as lines (HF counts in parallel) | - | {t_hf_lines:.2f} s | - |")
    print(f"| encode whole corpus, cold cache | {mbps(e_cold)} ({e_cold:.2f} s) | "
          f"{mbps(e_hf)} ({e_hf:.2f} s) | {mbps(e_tt)} ({e_tt:.2f} s) |")  # fmt: skip
    print(f"| encode whole corpus, warm cache | {mbps(e_warm)} ({e_warm:.2f} s) | - | - |")
    print(f"| encode corpus as a batch of lines (HF in parallel) | - | {mbps(e_hf_lines)} ({e_hf_lines:.2f} s) | - |")
    print(
        f"| tokens for the corpus | {len(ids_ours):,} | {len(hf_enc.ids):,} | {len(ids_tt):,} (identical to gptlib) |"
    )
    print()
    print(f"Training goal: gptlib <= {GOAL_FACTOR:g} x HF (faster variant, {t_hf:.2f} s): "
          f"{t_ours:.2f} s = {ratio:.2f} x -> {verdict}")  # fmt: skip
    print(f"Merges in common: {common} of {len(ours_merges)}; the first {same_prefix} are identical in order, "
          f"{same_place} sit at the same rank.")  # fmt: skip
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
