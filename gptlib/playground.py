"""A playground for sampling from a model: a prompt box and sliders, and a sample that follows them.

- :class:`Playground`  ipywidgets controls (prompt, temperature, top-k, top-p, length, seed) whose every
  change draws a new sample with :func:`gptlib.generation.generate`

Each control's ``observe`` callback re-samples, so the playground works the same whether a person moves
a slider in a browser or code sets ``.value`` (which is how ``tests/test_playground.py`` tests it, with
no browser). The sample is drawn with a CPU ``torch.Generator`` seeded from the seed box, so the same
settings always give the same text, and temperature 0 gives the greedy continuation.

>>> import torch
>>> from gptlib.generation import generate
>>> from gptlib.model import GPT, GPTConfig
>>> from gptlib.tokenizers import CharTokenizer
>>> tokenizer = CharTokenizer("abc ")
>>> _ = torch.manual_seed(0)
>>> model = GPT(GPTConfig(vocab_size=4, block_size=8, n_layer=1, n_head=1, n_embd=8)).eval()
>>> playground = Playground(model, tokenizer, prompt="ab", max_new_tokens=6)
>>> playground.temperature.value = 0.0  # a change re-samples: temperature 0 is greedy decoding
>>> greedy = generate(model, torch.tensor([tokenizer.encode("ab")]), 6, temperature=0)
>>> playground.text == tokenizer.decode(greedy[0].tolist())
True
>>> playground.prompt.value = ""  # a bad value is reported in the status line, not raised
>>> playground.status.value
'⚠ type a prompt: the model needs at least one character to continue'
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import Iterator

import ipywidgets as widgets
import torch

from gptlib.generation import generate

__all__ = ["Playground"]

_SLIDER = dict(continuous_update=False, style={"description_width": "initial"})


class Playground:
    """Controls for :func:`~gptlib.generation.generate` on ``model``, and the sample they give.

    Args:
        model: a :class:`~gptlib.model.GPT`, normally in eval mode.
        tokenizer: anything with ``encode(str) -> list[int]`` and ``decode(list[int]) -> str``, such as
            a :class:`~gptlib.tokenizers.CharTokenizer`.
        prompt, temperature, top_k, top_p, max_new_tokens, seed: the controls' starting values.
            ``top_k=0`` and ``top_p=1.0`` mean "no filter".

    Attributes (the widgets; set ``.value`` to change a setting from code):
        prompt: ``Textarea``, the text to continue.
        temperature: ``FloatSlider`` in ``[0, 2]``; 0 is greedy decoding.
        top_k: ``IntSlider`` in ``[0, vocab_size]``; 0 keeps every token.
        top_p: ``FloatSlider`` in ``[0.05, 1]``; 1 keeps every token.
        max_new_tokens: ``IntSlider``, how many tokens to add.
        seed: ``BoundedIntText``, the seed of the CPU generator the tokens are drawn with.
        output: ``HTML``, the prompt (bold) and its continuation.
        status: ``HTML``, what was drawn with which settings, or what is wrong with a value.
        widget: the whole playground, a ``VBox``; showing the ``Playground`` shows it.

    ``text`` is the last sample, prompt included (``""`` after a bad value, whose message is then in
    ``error``, otherwise ``None``). Sliders clamp values set
    out of their range; a prompt the tokenizer cannot encode, or an empty one, is reported in
    ``status`` instead of raising inside the callback, where a notebook would hide the error.
    """

    def __init__(
        self,
        model,
        tokenizer,
        prompt: str = "\n",
        *,
        temperature: float = 0.8,
        top_k: int = 0,
        top_p: float = 1.0,
        max_new_tokens: int = 200,
        seed: int = 0,
    ):
        self.model = model
        self.tokenizer = tokenizer
        vocab_size = model.config.vocab_size
        self.prompt = widgets.Textarea(value=prompt, description="prompt", continuous_update=False,
                                       layout=widgets.Layout(width="95%", height="4em"))  # fmt: skip
        self.temperature = widgets.FloatSlider(value=temperature, min=0.0, max=2.0, step=0.05,
                                               description="temperature", readout_format=".2f", **_SLIDER)  # fmt: skip
        self.top_k = widgets.IntSlider(value=top_k, min=0, max=vocab_size, description="top_k (0 = off)",
                                       **_SLIDER)  # fmt: skip
        self.top_p = widgets.FloatSlider(value=top_p, min=0.05, max=1.0, step=0.05, description="top_p (1 = off)",
                                         readout_format=".2f", **_SLIDER)  # fmt: skip
        self.max_new_tokens = widgets.IntSlider(value=max_new_tokens, min=1, max=1000, description="max_new_tokens",
                                                **_SLIDER)  # fmt: skip
        self.seed = widgets.BoundedIntText(value=seed, min=0, max=2**32 - 1, description="seed",
                                           layout=widgets.Layout(width="12em"))  # fmt: skip
        self.output = widgets.HTML()
        self.status = widgets.HTML()
        self.text = ""
        self.error: str | None = None
        self._holding = False
        self.controls = [self.prompt, self.temperature, self.top_k, self.top_p, self.max_new_tokens, self.seed]
        for control in self.controls:
            control.observe(self._on_change, names="value")
        self.widget = widgets.VBox([
            self.prompt,
            widgets.HBox([self.temperature, self.top_k, self.top_p]),
            widgets.HBox([self.max_new_tokens, self.seed]),
            self.status,
            self.output,
        ])  # fmt: skip
        self.update()

    # ------------------------------------------------------------------ settings and sampling

    def settings(self) -> dict:
        """The keyword arguments of :func:`~gptlib.generation.generate` that the controls stand for
        (without the prompt and the generator)."""
        return dict(
            max_new_tokens=self.max_new_tokens.value,
            temperature=self.temperature.value,
            top_k=self.top_k.value or None,  # 0: no filter
            top_p=self.top_p.value if self.top_p.value < 1.0 else None,
        )

    def sample(self) -> str:
        """Draw a continuation of the prompt with the current settings; return prompt + continuation.

        Raises ``ValueError`` for an empty prompt or one the tokenizer cannot encode.
        """
        prompt = self.prompt.value
        if not prompt:
            raise ValueError("type a prompt: the model needs at least one character to continue")
        ids = torch.tensor([self.tokenizer.encode(prompt)], dtype=torch.long)  # (1, T)
        generator = torch.Generator().manual_seed(self.seed.value)  # on the CPU: the same text on any device
        out = generate(self.model, ids, generator=generator, **self.settings())  # (1, T + new)
        return prompt + self.tokenizer.decode(out[0, ids.size(1):].tolist())

    def update(self) -> None:
        """Draw a new sample and show it; a bad value is shown in ``status`` (and ``text`` becomes ``""``)."""
        try:
            self.text = self.sample()
        except ValueError as err:
            self.text, self.error = "", str(err)
            self.output.value = ""
            self.status.value = f"⚠ {html.escape(self.error, quote=False)}"
            return
        self.error = None
        s = self.settings()
        if s["temperature"] == 0:
            how = "greedy (temperature 0: top_k and top_p change nothing)"
        else:
            top_p = "off" if s["top_p"] is None else f"{s['top_p']:.2f}"
            how = f"temperature {s['temperature']:.2f}, top_k {s['top_k'] or 'off'}, top_p {top_p}"
        self.status.value = f"{s['max_new_tokens']} new tokens, {how}, seed {self.seed.value}"
        prompt, continuation = self.text[: len(self.prompt.value)], self.text[len(self.prompt.value):]
        self.output.value = (f'<pre style="white-space: pre-wrap"><b>{html.escape(prompt)}</b>'
                             f"{html.escape(continuation)}</pre>")  # fmt: skip

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Change several controls, then sample once, when the block ends::

            with playground.hold():
                playground.temperature.value = 1.2
                playground.top_k.value = 10
        """
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
        self.update()

    def _on_change(self, change) -> None:  # the observe callback of every control
        if not self._holding:
            self.update()

    # ------------------------------------------------------------------ display

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"Playground(prompt={self.prompt.value!r}, {self.settings()}, seed={self.seed.value})"
