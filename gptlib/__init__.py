"""gptlib: the small GPT library that the "GPT from scratch" notebooks build, one idea per module.

Modules, in series order:

- ``gptlib.device``      where tensors live (cpu / cuda / mps)
- ``gptlib.files``       files written whole or not at all (atomic writes), SHA-256 of a file
- ``gptlib.data``        text corpora (download, verify, cache, load), the train/val split, batches
- ``gptlib.tokenizers``  characters and byte-level BPE, exactly GPT-2's tokenizer (a package)
- ``gptlib.attention``   causal self-attention, softmax(QKᵀ/√d_k)V, one head and many
- ``gptlib.block``       LayerNorm, GELU, the MLP and the pre-norm Transformer block
- ``gptlib.model``       ``GPTConfig`` and ``GPT``: embeddings, the stack, the tied LM head
- ``gptlib.hf``          our models and tokenizers in and out of Hugging Face ``transformers`` (a package)
- ``gptlib.objective``   the likelihood objective: NLL, perplexity, bits, baselines, the entropy floor
- ``gptlib.evaluation``  the loss on held-out text: one windowing for the whole-split loss and per-token NLL
- ``gptlib.train``       a model-agnostic trainer: AdamW, warmup + cosine, clipping, DDP (a package)
- ``gptlib.checkpoint``  atomic safetensors checkpoints that resume a run bit for bit
- ``gptlib.reference``   the series' trained Shakespeare model, loaded after a SHA-256 check
- ``gptlib.generation``  decoding: greedy, temperature, top-k, top-p, beam search, the KV cache (a package)
- ``gptlib.playground``  a widget playground: prompt and sliders, a sample that follows them
- ``gptlib.store``       a model store: cards, hashed blobs, manifests, install, a server (a package)
- ``gptlib.tasks``       tasks as text: generated task data, prompt formats, splits, metrics (a package)
- ``gptlib.challenges``  bias, privacy: pronoun gaps, canary exposure, membership inference (a package)
- ``gptlib.exercises``   checkers for the exercises at the end of each notebook
"""

__version__ = "0.1.0"
