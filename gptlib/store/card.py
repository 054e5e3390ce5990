"""Model cards: a model's ``README.md``, facts in YAML front matter, prose below, in the Hub's format.

A model card tells a reader what a model is, how it was made, how well it does and what it is not for.
The Hugging Face Hub keeps the machine-readable part as YAML between two ``---`` lines at the top of
``README.md``; ``huggingface_hub``'s ``ModelCard`` and ``ModelCardData`` write and read it. The store
searches and filters on those facts, so every published model must have them:

- ``parameters``         how many numbers the model has (the size; cost per token is about 2 x this)
- ``val_loss``           mean cross-entropy on held-out text, in nats per token (lower is better)
- ``tokens_per_second``  generation speed measured on the machine named in ``measured_on``
- ``license``, ``datasets``, ``intended_use``, ``limitations``

>>> card = make_card("# tiny\\nA toy.", CardFacts(parameters=1000, val_loss=2.5, tokens_per_second=100.0,
...                  measured_on="a laptop", context=64, vocab_size=65))
>>> card.splitlines()[0], "gptlib:" in card, read_facts(card).parameters
('---', True, 1000)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CardError",
    "CardFacts",
    "facts_from_data",
    "make_card",
    "read_card_data",
    "read_facts",
]

#: The key under which gptlib's own facts sit in the front matter (the Hub keeps unknown keys as they are).
FACTS_KEY = "gptlib"


class CardError(ValueError):
    """A model card without the front matter or facts the store needs."""


@dataclass(frozen=True)
class CardFacts:
    """What the store needs to know about a model to list, search, filter and compare it."""

    parameters: int
    val_loss: float
    tokens_per_second: float
    measured_on: str
    context: int
    vocab_size: int
    val_loss_note: str = "mean cross-entropy in nats per token on the held-out split"
    license: str = "mit"
    datasets: tuple[str, ...] = ("tinyshakespeare",)
    tags: tuple[str, ...] = ("gptlib", "character-level", "text-generation")
    intended_use: str = "learning how a GPT works; generating Shakespeare-shaped text for fun"
    limitations: str = "a small character-level model: it invents words and knows nothing but Shakespeare's plays"
    price_per_million_tokens: float | None = None  # a listing's price, if it had one; nothing is ever charged
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("parameters", "context", "vocab_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise CardError(f"card fact {name} must be a positive integer, got {value!r}")
        for name in ("val_loss", "tokens_per_second"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise CardError(f"card fact {name} must be a positive number, got {value!r}")


def _hub():
    try:
        import huggingface_hub
    except ImportError as e:  # pragma: no cover - installed with transformers
        raise ImportError("model cards need the 'huggingface_hub' package: pip install huggingface_hub") from e
    return huggingface_hub


def make_card(body: str, facts: CardFacts, *, model_name: str | None = None) -> str:
    """The text of a ``README.md``: ``facts`` as the Hub's YAML front matter, then ``body``.

    A ``body`` that already starts with front matter has it replaced. The validation loss is also
    written as the Hub's ``model-index`` evaluation result, so the Hub would show it on the model page.
    """
    hub = _hub()
    body = hub.ModelCard(body, ignore_metadata_errors=True).text if body.startswith("---") else body
    own = {k: v for k, v in dataclasses.asdict(facts).items()
           if k not in ("license", "datasets", "tags", "extra")}
    own.update(facts.extra)
    eval_results = None
    if model_name is not None:
        eval_results = [hub.EvalResult(task_type="text-generation", dataset_type=facts.datasets[0],
                                       dataset_name=facts.datasets[0], dataset_split="validation",
                                       metric_type="loss", metric_name="cross-entropy (nats/token)",
                                       metric_value=round(float(facts.val_loss), 4))]
    data = hub.ModelCardData(license=facts.license, library_name="gptlib", pipeline_tag="text-generation",
                             datasets=list(facts.datasets), tags=list(facts.tags), model_name=model_name,
                             eval_results=eval_results, **{FACTS_KEY: own})
    return str(hub.ModelCard.from_template(data, template_str="---\n{{ card_data }}\n---\n\n" + body.lstrip("\n")))


def read_card_data(text: str) -> dict[str, Any]:
    """The front matter of a model card as a plain dict (``{}`` when it has none)."""
    hub = _hub()
    if not text.startswith("---"):
        return {}
    return hub.ModelCard(text, ignore_metadata_errors=True).data.to_dict()


def read_facts(text: str) -> CardFacts:
    """The :class:`CardFacts` of a model card; :class:`CardError` naming what is missing."""
    data = read_card_data(text)
    if not data:
        raise CardError("the model card (README.md) has no YAML front matter between '---' lines")
    return facts_from_data(data)


def facts_from_data(data: dict[str, Any]) -> CardFacts:
    """The :class:`CardFacts` in a card's front matter, already parsed into a dict (see :func:`read_card_data`)."""
    own = data.get(FACTS_KEY)
    if not isinstance(own, dict):
        raise CardError(f"the model card's front matter has no '{FACTS_KEY}:' section with the model's facts")
    known = {f.name for f in dataclasses.fields(CardFacts)} - {"license", "datasets", "tags", "extra"}
    missing = sorted(n for n in ("parameters", "val_loss", "tokens_per_second", "measured_on", "context",
                                 "vocab_size") if n not in own)
    if missing:
        raise CardError(f"the model card's '{FACTS_KEY}:' section lacks {', '.join(missing)}")
    kwargs = {k: v for k, v in own.items() if k in known}
    extra = {k: v for k, v in own.items() if k not in known}
    return CardFacts(license=data.get("license", "unknown"), datasets=tuple(data.get("datasets") or ()),
                     tags=tuple(data.get("tags") or ()), extra=extra, **kwargs)
