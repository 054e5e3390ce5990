"""Generation speed: gptlib's KV cache against transformers' generate, same weights, one run.

    python benchmarks/generation_speed/bench.py [--repeats 3] [--skip-gpt2]

Batch 1, greedy, 500 new tokens, float32 on the CPU, both libraries on the same weights
(``gptlib.hf.to_hf``), checked to produce the same tokens. Two model sizes:

- **small**: the reference model's width and depth (``models/shakespeare-char``) with
  ``block_size`` 512, so 500 tokens fit (transformers cannot generate past ``n_positions``).
  Here transformers' per-step overhead dominates. Goal: gptlib >= 5x transformers' tokens/s.
- **gpt2**: GPT-2 small's shape (124M parameters). Decoding one token reads every weight once,
  so memory bandwidth sets a limit: bandwidth / model bytes tokens per second. The script measures
  the bandwidth too. Goal: gptlib >= 1.3x transformers' tokens/s.

The no-cache paths of both are timed on the small model for reference (on fewer tokens for gpt2,
where they are slow), and the cache's memory is reported. Prints a markdown table; exits 1 if a
goal is missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import transformers  # noqa: E402

from gptlib.generation import KVCache, generate  # noqa: E402
from gptlib.hf import to_hf  # noqa: E402
from gptlib.model import GPT, GPTConfig  # noqa: E402

transformers.logging.set_verbosity_error()
NEW_TOKENS = 500


def memory_bandwidth(n_bytes: int = 1 << 29, repeats: int = 5) -> float:
    """Median read bandwidth in bytes/s: summing a float32 tensor of ``n_bytes`` reads each byte once."""
    x = torch.ones(n_bytes // 4)
    x.sum()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        x.sum()
        times.append(time.perf_counter() - t)
    return n_bytes / statistics.median(times)


def hf_generate(hf, idx, new_tokens, use_cache):
    config = transformers.GenerationConfig(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                                           eos_token_id=None, bos_token_id=None, pad_token_id=0, use_cache=use_cache)
    with torch.inference_mode():
        return hf.generate(idx, attention_mask=torch.ones_like(idx), generation_config=config)


def timed(fn, repeats: int):
    """Median seconds of ``repeats`` calls (after one warm-up call), and the last result."""
    fn()
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def measure(config: GPTConfig, repeats: int, no_cache_tokens: int) -> dict:
    torch.manual_seed(0)
    model = GPT(config).eval()
    hf = to_hf(model).eval()
    idx = torch.randint(config.vocab_size, (1, 8), generator=torch.Generator().manual_seed(0))
    ours_s, ours = timed(lambda: generate(model, idx, NEW_TOKENS, temperature=0), repeats)
    hf_s, theirs = timed(lambda: hf_generate(hf, idx, NEW_TOKENS, True), repeats)
    assert torch.equal(ours, theirs), "gptlib and transformers generated different tokens"
    ours_nc_s, ours_nc = timed(lambda: generate(model, idx, no_cache_tokens, temperature=0, use_cache=False), 1)
    hf_nc_s, theirs_nc = timed(lambda: hf_generate(hf, idx, no_cache_tokens, False), 1)
    assert torch.equal(ours_nc, theirs_nc) and torch.equal(ours_nc, ours[:, :8 + no_cache_tokens])
    cache = KVCache.for_model(model, batch_size=1, max_len=8 + NEW_TOKENS - 1)
    cache_bytes = sum(t.numel() * t.element_size() for t in (cache.k, cache.v))
    model_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    return {
        "params": model.num_params(), "model_bytes": model_bytes, "cache_bytes": cache_bytes,
        "ours": NEW_TOKENS / ours_s, "hf": NEW_TOKENS / hf_s,
        "ours_nc": no_cache_tokens / ours_nc_s, "hf_nc": no_cache_tokens / hf_nc_s, "nc_tokens": no_cache_tokens,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-gpt2", action="store_true", help="only the small model")
    args = parser.parse_args()
    bandwidth = memory_bandwidth()
    print(f"memory read bandwidth: {bandwidth / 1e9:.1f} GB/s; torch threads: {torch.get_num_threads()}", flush=True)
    sizes = {"small": (GPTConfig(vocab_size=65, block_size=512, n_layer=4, n_head=4, n_embd=128), 5.0, NEW_TOKENS)}
    if not args.skip_gpt2:
        sizes["gpt2 (124M)"] = (GPTConfig.from_preset("gpt2"), 1.3, 100)
    ok = True
    rows = []
    for name, (config, goal, nc_tokens) in sizes.items():
        r = measure(config, args.repeats, nc_tokens)
        speedup = r["ours"] / r["hf"]
        ok &= speedup >= goal
        limit = bandwidth / r["model_bytes"]
        rows.append(f"| {name} | {r['params'] / 1e6:.2f}M | {r['ours']:,.0f} | {r['hf']:,.0f} | **{speedup:.1f}x** "
                    f"(goal {goal}x) | {r['ours'] / limit:.0%} of {limit:,.0f} | {r['ours_nc']:,.0f} / {r['hf_nc']:,.0f} "
                    f"({r['nc_tokens']} tokens) | {r['cache_bytes'] / 2**20:.1f} MiB |")
        print(rows[-1], flush=True)
    print()
    print("| model | params | gptlib tokens/s (KV cache) | transformers tokens/s (use_cache=True) | speedup "
          "| gptlib vs the bandwidth limit (tokens/s) | no cache: gptlib / transformers tokens/s | KV cache memory |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nGoals: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
