"""What a store shows about its models, and how a student searches and filters them.

>>> facts = CardFacts(parameters=818_048, val_loss=1.633, tokens_per_second=900.0, measured_on="x",
...                   context=128, vocab_size=65)
>>> infos = [ModelInfo("series/big", "a" * 40, ("main",), 3_300_000, facts),
...          ModelInfo("series/tiny", "b" * 40, ("main",), 100_000, replace(facts, parameters=20_000, val_loss=2.1))]
>>> [m.name for m in search(infos, max_parameters=100_000)], [m.name for m in search(infos, sort="val_loss")]
(['series/tiny'], ['series/big', 'series/tiny'])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace  # noqa: F401  (replace: used in the doctest)
from typing import Any

from .._checks import is_number
from .card import CardFacts

__all__ = ["SORT_KEYS", "ModelInfo", "price_per_million_tokens", "search", "table"]

#: What :func:`search` can sort by; the first three ascending (smaller is better), speed descending.
SORT_KEYS = ("name", "parameters", "val_loss", "size", "tokens_per_second")


@dataclass(frozen=True)
class ModelInfo:
    """One model as a store lists it: its name, its revision, the tags that point there, size and card facts.

    ``facts`` is ``None`` when the card could not be read (``card_error`` says why): such a model is listed
    but never matches a filter on its facts.
    """

    name: str
    revision: str
    tags: tuple[str, ...]
    size: int
    facts: CardFacts | None
    card_error: str | None = None

    def row(self) -> dict[str, Any]:
        """A flat dict for a table: name, short revision, tags, size in bytes and the main facts."""
        f = self.facts
        return {"name": self.name, "revision": self.revision[:12], "tags": ",".join(self.tags), "size": self.size,
                "parameters": f.parameters if f else None, "val_loss": f.val_loss if f else None,
                "tokens_per_second": f.tokens_per_second if f else None, "license": f.license if f else None}


def _limit(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if not is_number(value) or math.isnan(value):
        raise ValueError(f"{name} must be a number or None, got {value!r}")
    return float(value)


def search(models: list[ModelInfo], query: str = "", *, max_parameters: float | None = None,
           max_val_loss: float | None = None, min_tokens_per_second: float | None = None,
           sort: str = "name") -> list[ModelInfo]:
    """The models whose name, tags or intended use contain ``query`` (any case) and that pass every filter.

    Filters are upper bounds on size (``max_parameters``) and validation loss (``max_val_loss``) and a lower
    bound on measured speed (``min_tokens_per_second``); ``None`` means no bound. ``sort`` is one of
    :data:`SORT_KEYS`.
    """
    if not isinstance(query, str):
        raise TypeError(f"query must be a string, got {type(query).__name__}")
    if sort not in SORT_KEYS:
        raise ValueError(f"sort must be one of {', '.join(SORT_KEYS)}; got {sort!r}")
    bounds = {"max_parameters": _limit("max_parameters", max_parameters),
              "max_val_loss": _limit("max_val_loss", max_val_loss),
              "min_tokens_per_second": _limit("min_tokens_per_second", min_tokens_per_second)}
    needle = query.lower()

    def matches(m: ModelInfo) -> bool:
        f = m.facts
        text = " ".join([m.name, *m.tags, *(f.tags if f else ()), f.intended_use if f else ""]).lower()
        if needle not in text:
            return False
        if any(v is not None for v in bounds.values()) and f is None:
            return False
        return ((bounds["max_parameters"] is None or f.parameters <= bounds["max_parameters"])
                and (bounds["max_val_loss"] is None or f.val_loss <= bounds["max_val_loss"])
                and (bounds["min_tokens_per_second"] is None or f.tokens_per_second >= bounds["min_tokens_per_second"]))

    def key(m: ModelInfo):
        if sort in ("name", "size"):
            return (0, getattr(m, sort))
        if m.facts is None:
            return (1, 0)
        value = getattr(m.facts, sort)
        return (0, -value if sort == "tokens_per_second" else value)

    return sorted((m for m in models if matches(m)), key=key)


def table(models: list[ModelInfo]) -> str:
    """The models as a plain-text table, one row each (what ``python -m gptlib.store list`` prints)."""
    if not models:
        return "(no models)"
    header = ("name", "revision", "tags", "parameters", "val_loss", "tokens/s", "size", "license")
    rows = [header]
    for m in models:
        r = m.row()
        rows.append((r["name"], r["revision"], r["tags"], f"{r['parameters']:,}" if r["parameters"] else "?",
                     f"{r['val_loss']:.3f}" if r["val_loss"] else "?",
                     f"{r['tokens_per_second']:,.0f}" if r["tokens_per_second"] else "?",
                     f"{r['size'] / 1e6:.2f} MB", r["license"] or "?"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip() for row in rows)


def price_per_million_tokens(tokens_per_second: float, dollars_per_hour: float) -> float:
    """What generating one million tokens costs, in dollars, at ``tokens_per_second`` on a machine rented for
    ``dollars_per_hour``: a million tokens take ``1e6 / tokens_per_second`` seconds, and an hour has 3600.

    >>> round(price_per_million_tokens(1000, 3.6), 6)  # 1,000 seconds at $3.60 an hour
    1.0
    >>> price_per_million_tokens(0, 3.6)
    Traceback (most recent call last):
    ...
    ValueError: tokens_per_second must be a finite number > 0, got 0
    """
    if not is_number(tokens_per_second) or not math.isfinite(tokens_per_second) or tokens_per_second <= 0:
        raise ValueError(f"tokens_per_second must be a finite number > 0, got {tokens_per_second!r}")
    if not is_number(dollars_per_hour) or not math.isfinite(dollars_per_hour) or dollars_per_hour < 0:
        raise ValueError(f"dollars_per_hour must be a finite number >= 0 (0 for a machine you do not pay by the "
                         f"hour), got {dollars_per_hour!r}")
    return float(dollars_per_hour) * (1e6 / float(tokens_per_second)) / 3600
