"""Generation speed: gptlib's KV cache against transformers' generate, same weights, calls alternated.

    python benchmarks/generation_speed/bench.py [--rounds 5] [--skip-gpt2] [--write-readme]

Batch 1, greedy, 500 new tokens after an 8-token prompt, float32 on the CPU, both libraries on the
same weights (``gptlib.hf.to_hf``), checked to produce the same tokens. transformers runs with both
of its attention implementations for GPT-2, ``"eager"`` and ``"sdpa"`` (its default); the faster
(by median tokens/s) is the baseline. Two model sizes:

- **small**: the reference model's width and depth (``models/shakespeare-char``) with
  ``block_size`` 512, so 500 tokens fit (transformers cannot generate past ``n_positions``).
  Here per-step overhead dominates. Goal: gptlib >= 5x the baseline's tokens/s.
- **gpt2**: GPT-2 small's shape (124M parameters). Decoding one token reads every weight once,
  so memory bandwidth sets a limit: bandwidth / model bytes tokens per second. The script measures
  the bandwidth too. Goal: gptlib >= 1.3x the baseline's tokens/s.

Each call is one whole generation (prefill and 500 steps). After one warm-up call of each (whose
outputs are compared), every round runs gptlib, eager, gptlib, sdpa (the two pairs swap places
every other round), so each transformers call has a gptlib call next to it: a round's ratio is
gptlib's tokens/s over the baseline's, in the same pair. Reported: the median tokens/s of each
side, the median and the lowest of the per-round ratios (the goal is judged on the median), the
threads each library used, the no-cache paths (one call each) and the cache's memory. Prints a
markdown report (``--write-readme`` also puts it into README.md); exits 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import transformers  # noqa: E402

from benchmarks.readme import replace_results  # noqa: E402
from gptlib.generation import KVCache, fast_step, generate  # noqa: E402
from gptlib.hf import to_hf  # noqa: E402
from gptlib.model import GPT, GPTConfig  # noqa: E402

transformers.logging.set_verbosity_error()
NEW_TOKENS = 500
PROMPT_TOKENS = 8
HF_IMPLEMENTATIONS = ("eager", "sdpa")
README = Path(__file__).with_name("README.md")


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


def hf_generate(hf, idx, new_tokens, use_cache=True):
    config = transformers.GenerationConfig(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                                           eos_token_id=None, bos_token_id=None, pad_token_id=0, use_cache=use_cache)
    with torch.inference_mode():
        return hf.generate(idx, attention_mask=torch.ones_like(idx), generation_config=config)


def seconds(fn):
    """Seconds one call of ``fn`` takes, and its result."""
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


# ----------------------------------------------------------------------------- threads


def threads(n: int) -> str:
    return f"{n} thread" if n == 1 else f"{n} threads"


def gptlib_threads(model, idx) -> str:
    """What torch's thread count is inside gptlib's decoding steps, read during a short generation."""
    seen = set()
    decode = fast_step._decode

    def spy(plan, tokens, cache, parts):
        seen.add((torch.get_num_threads(), parts))
        return decode(plan, tokens, cache, parts)

    fast_step._decode = spy
    try:
        generate(model, idx, 3, temperature=0)
    finally:
        fast_step._decode = decode
    (torch_threads, parts), = seen
    if parts == 1:
        return f"torch at {threads(torch_threads)}"
    workers = threads(parts - 1).replace("thread", "gptlib worker thread")
    return (f"torch at {threads(torch_threads)} in decode_step, plus {workers} multiplying slices of the big "
            f"matrices ({threads(parts)} on them in all); the prompt at {threads(torch.get_num_threads())}")


def hf_threads(hf, idx) -> str:
    """What torch's thread count is inside transformers' forward passes, read during a short generation."""
    seen = set()
    handle = hf.register_forward_pre_hook(lambda module, args: seen.add(torch.get_num_threads()))
    try:
        hf_generate(hf, idx, 3)
    finally:
        handle.remove()
    return "torch at " + " and ".join(threads(n) for n in sorted(seen))


# ----------------------------------------------------------------------------- one model size


def measure(config: GPTConfig, rounds: int, no_cache_tokens: int) -> dict:
    torch.manual_seed(0)
    model = GPT(config).eval()
    hfs = {impl: to_hf(model, attn_implementation=impl).eval() for impl in HF_IMPLEMENTATIONS}
    idx = torch.randint(config.vocab_size, (1, PROMPT_TOKENS), generator=torch.Generator().manual_seed(0))
    calls = {"gptlib": lambda: generate(model, idx, NEW_TOKENS, temperature=0)}
    calls |= {impl: (lambda hf=hf: hf_generate(hf, idx, NEW_TOKENS)) for impl, hf in hfs.items()}

    outputs = {name: call() for name, call in calls.items()}  # the warm-up, and the check
    for impl in HF_IMPLEMENTATIONS:
        assert torch.equal(outputs["gptlib"], outputs[impl]), f"gptlib and transformers ({impl}) generated different tokens"

    speed = {name: [] for name in calls}  # tokens/s of every call
    pairs = {impl: [] for impl in HF_IMPLEMENTATIONS}  # per round: (gptlib tokens/s, transformers tokens/s)
    for r in range(rounds):
        for impl in HF_IMPLEMENTATIONS if r % 2 == 0 else HF_IMPLEMENTATIONS[::-1]:
            ours = NEW_TOKENS / seconds(calls["gptlib"])[0]
            theirs = NEW_TOKENS / seconds(calls[impl])[0]
            speed["gptlib"].append(ours)
            speed[impl].append(theirs)
            pairs[impl].append((ours, theirs))
        last = {impl: p[-1] for impl, p in pairs.items()}  # this round's (gptlib, transformers) tokens/s
        print(f"  round {r + 1}/{rounds}, tokens/s: "
              + ", ".join(f"gptlib {ours:,.0f} / {impl} {theirs:,.0f}" for impl, (ours, theirs) in last.items()),
              flush=True)
    median = {name: statistics.median(v) for name, v in speed.items()}
    base = max(HF_IMPLEMENTATIONS, key=median.get)
    ratios = {impl: [ours / theirs for ours, theirs in p] for impl, p in pairs.items()}

    ours_nc_s, ours_nc = seconds(lambda: generate(model, idx, no_cache_tokens, temperature=0, use_cache=False))
    hf_nc_s, theirs_nc = seconds(lambda: hf_generate(hfs[base], idx, no_cache_tokens, use_cache=False))
    assert torch.equal(ours_nc, theirs_nc) and torch.equal(ours_nc, outputs["gptlib"][:, :PROMPT_TOKENS + no_cache_tokens])

    cache = KVCache.for_model(model, batch_size=1, max_len=PROMPT_TOKENS + NEW_TOKENS - 1)
    return {
        "params": model.num_params(),
        "model_bytes": sum(p.numel() * p.element_size() for p in model.parameters()),
        "cache_bytes": sum(t.numel() * t.element_size() for t in (cache.k, cache.v)),
        "median": median, "base": base, "ratios": ratios,
        "nc": (no_cache_tokens / ours_nc_s, no_cache_tokens / hf_nc_s, no_cache_tokens),
        "threads": (gptlib_threads(model, idx), hf_threads(hfs[base], idx)),
    }


# ----------------------------------------------------------------------------- the report


def cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or "unknown CPU"


def environment(bandwidth: float, rounds: int) -> str:
    return (f"{datetime.date.today()}, {cpu_name()}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
            f"transformers {transformers.__version__}, Python {platform.python_version()}; {rounds} rounds; "
            f"memory read bandwidth (`x.sum()` of 512 MiB, same run) {bandwidth / 1e9:.1f} GB/s.")


def report(results: dict, goals: dict, bandwidth: float, rounds: int) -> tuple[str, bool]:
    lines = [environment(bandwidth, rounds), "",
             "| model | params | gptlib tokens/s | transformers eager / sdpa tokens/s | gptlib ÷ transformers "
             "(baseline): median, lowest of the rounds | gptlib vs the bandwidth limit (tokens/s) "
             "| no cache: gptlib / transformers tokens/s | KV cache memory |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    ok = True
    for name, r in results.items():
        m, base = r["median"], r["base"]
        ratio = statistics.median(r["ratios"][base])
        ok &= ratio >= goals[name]
        limit = bandwidth / r["model_bytes"]
        hf = " / ".join(f"**{m[i]:,.0f}**" if i == base else f"{m[i]:,.0f}" for i in HF_IMPLEMENTATIONS)
        ours_nc, hf_nc, nc_tokens = r["nc"]
        lines.append(f"| {name} | {r['params'] / 1e6:.2f}M | {m['gptlib']:,.0f} | {hf} | **{ratio:.2f}×**, "
                     f"{min(r['ratios'][base]):.2f}× ({base}; goal {goals[name]}×) | {m['gptlib'] / limit:.0%} of "
                     f"{limit:,.0f} | {ours_nc:,.0f} / {hf_nc:,.0f} ({nc_tokens} tokens, {base}) "
                     f"| {r['cache_bytes'] / 2**20:.1f} MiB |")  # fmt: skip
    lines.append("")
    for name, r in results.items():
        other = next(i for i in HF_IMPLEMENTATIONS if i != r["base"])
        ours, theirs = r["threads"]
        lines.append(f"- {name}: gptlib ÷ transformers {other}: median "
                     f"{statistics.median(r['ratios'][other]):.2f}×, lowest {min(r['ratios'][other]):.2f}×. "
                     f"Threads: gptlib {ours}; transformers {theirs}.")  # fmt: skip
    lines += ["", f"**Goals: {'met' if ok else 'MISSED'}.**"]
    return "\n".join(lines) + "\n", ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternated rounds per model, at least 5 (default 5)")
    parser.add_argument("--skip-gpt2", action="store_true", help="only the small model")
    parser.add_argument("--write-readme", action="store_true", help=f"put the report into {README.name}")
    args = parser.parse_args()
    if args.rounds < 5:
        parser.error("--rounds must be at least 5: the lowest and the median ratio need several rounds")
    bandwidth = memory_bandwidth()
    print(f"memory read bandwidth: {bandwidth / 1e9:.1f} GB/s; torch threads: {torch.get_num_threads()}", flush=True)
    sizes = {"small (reference shape, `block_size` 512)":
             (GPTConfig(vocab_size=65, block_size=512, n_layer=4, n_head=4, n_embd=128), 5.0, NEW_TOKENS)}
    if not args.skip_gpt2:
        sizes["GPT-2 small"] = (GPTConfig.from_preset("gpt2"), 1.3, 100)
    results = {}
    for name, (config, _, nc_tokens) in sizes.items():
        print(f"{name}:", flush=True)
        results[name] = measure(config, args.rounds, nc_tokens)
    text, ok = report(results, {name: goal for name, (_, goal, _) in sizes.items()}, bandwidth, args.rounds)
    print("\n" + text, end="")
    if args.write_readme:
        replace_results(README, text)
        print(f"written into {README.relative_to(ROOT)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
