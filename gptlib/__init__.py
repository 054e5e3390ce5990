"""gptlib: the small GPT library that the "GPT from scratch" notebooks build, one idea per module.

Modules, in series order:

- ``gptlib.device``      where tensors live (cpu / cuda / mps)
- ``gptlib.data``        text corpora (download, verify, cache, load), the train/val split, batches
- ``gptlib.tokenizers``  characters and byte-level BPE, exactly GPT-2's tokenizer
- ``gptlib.attention``   causal self-attention, softmax(QKᵀ/√d_k)V, one head and many
- ``gptlib.block``       LayerNorm, GELU, the MLP and the pre-norm Transformer block
- ``gptlib.model``       ``GPTConfig`` and ``GPT``: embeddings, the stack, the tied LM head
- ``gptlib.hf``          conversion to and from Hugging Face ``transformers``' GPT-2
- ``gptlib.objective``   the likelihood objective: NLL, perplexity, bits, baselines, the entropy floor
- ``gptlib.train``       a model-agnostic trainer: AdamW, warmup + cosine, clipping, evaluation, DDP
- ``gptlib.checkpoint``  atomic safetensors checkpoints that resume a run bit for bit
- ``gptlib.reference``   the series' trained Shakespeare model, loaded after a SHA-256 check
- ``gptlib.generation``  decoding: greedy, temperature, top-k, top-p, beam search, the KV cache
- ``gptlib.playground``  a widget playground: prompt and sliders, a sample that follows them
- ``gptlib.exercises``   checkers for the exercises at the end of each notebook
"""

__version__ = "0.1.0"
