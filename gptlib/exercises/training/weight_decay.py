"""Exercise 2 of notebook 06_training: which parameters get weight decay (matrices) and which do not."""

from __future__ import annotations

import torch
from torch import nn

from ...train import decay_parameter_names
from .._core import RAISED, Catalogue, Mistake, call, exercise


class _Odd(nn.Module):
    """Parameters of unusual shapes: a 3-D tensor (decayed), a scalar and a frozen matrix (neither)."""

    def __init__(self):
        super().__init__()
        self.kernel = nn.Parameter(torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(0)))
        self.temperature = nn.Parameter(torch.tensor(1.0))
        self.frozen = nn.Parameter(torch.ones(3, 3), requires_grad=False)
        self.proj = nn.Linear(4, 4)


def _split_cases():
    from gptlib.model import GPT, GPTConfig

    with torch.random.fork_rng(devices=[]):  # building a GPT draws from the global generator: leave it as it was
        gpt = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8))
    return [("a 1-layer GPT", gpt), ("a module with a 3-D, a scalar and a frozen parameter", _Odd())]


def _by_ndim(pairs) -> tuple[list, list]:
    """Split ``(name, parameter)`` pairs by ``ndim >= 2``, frozen ones included (the wrong answers' helper)."""
    pairs = list(pairs)
    return [n for n, p in pairs if p.ndim >= 2], [n for n, p in pairs if p.ndim < 2]


def _by_name(model):  # decide by the name: LayerNorm gains (".weight", 1-D) get decayed
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    return [n for n in names if not n.endswith("bias")], [n for n in names if n.endswith("bias")]


def _linear_weights_only(model):  # decide by module type: embeddings and other matrices are missed
    decay = [f"{m}.weight" if m else "weight" for m, mod in model.named_modules() if isinstance(mod, nn.Linear)]
    decay = [n for n in decay if n != "lm_head.weight"]
    return decay, [n for n, p in model.named_parameters() if p.requires_grad and n not in decay]


def _each_module_on_its_own(model):  # local names: every module's parameters are called "weight", "bias"
    pairs = [pair for module in model.modules() for pair in module.named_parameters(recurse=False)]
    return _by_ndim((n, p) for n, p in pairs if p.requires_grad)


def _norms_only_spared(model):  # no decay for LayerNorm parameters only: the Linear biases are left out
    decay, _ = decay_parameter_names(model)
    return decay, [n for n, p in model.named_parameters() if p.requires_grad and ".ln" in f".{n}" and p.ndim < 2]


def _everything_decayed(model):
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    return names, decay_parameter_names(model)[1]


_SPLIT = Catalogue(
    RAISED.with_example(lambda model: _by_ndim(model.parameters())),  # parameters() yields tensors, not pairs
    Mistake("not_two_lists", "for {model}, return two lists, (decay_names, no_decay_names), not a {got}",
            example=lambda model: [n for n, _ in model.named_parameters()], shows="return two lists"),
    Mistake("not_a_list", "{which} is a {got}; return a list of parameter names",
            example=lambda model: tuple(map(set, decay_parameter_names(model)))),
    Mistake("tensors_not_names", "{which} holds tensors; return the parameter *names* (the strings from "
                                 "model.named_parameters())",
            example=lambda model: ([p for p in model.parameters() if p.ndim >= 2],
                                   [p for p in model.parameters() if p.ndim < 2])),
    Mistake("not_strings", "{which} must hold strings, the names from model.named_parameters()",
            example=lambda model: tuple([pair for pair in model.named_parameters() if pair[0] in names]
                                        for names in decay_parameter_names(model))),
    Mistake("listed_twice", "for {model}, your {label} list names {name!r} more than once",
            example=_each_module_on_its_own),
    Mistake("tied_weight_twice", "for {model}, you list 'lm_head.weight': it *is* 'wte.weight' (weight tying), one "
                                 "tensor under two names. Give it to the optimizer once: model.named_parameters() "
                                 "yields a shared tensor only once",
            example=lambda model: _by_ndim((n, p) for n, p in model.named_parameters(remove_duplicate=False)
                                           if p.requires_grad)),
    Mistake("unknown_name", "for {model}, {name!r} is not a parameter name of the model",
            example=lambda model: _by_ndim((n, p) for n, p in model.named_parameters(prefix="model")
                                           if p.requires_grad)),
    Mistake("frozen_listed", "for {model}, you list {name!r}, which has requires_grad=False: the optimizer never "
                             "updates it, so leave it out of both lists",
            example=lambda model: _by_ndim(model.named_parameters())),
    Mistake("left_out", "for {model}, {name!r} (shape {shape}) is in neither list; every trainable parameter goes in "
                        "exactly one",
            example=_norms_only_spared),
    Mistake("in_both_lists", "for {model}, {name!r} is in both lists", example=_everything_decayed),
    Mistake("vector_decayed", "for {model}, you decay {name!r}, shape {shape}: only tensors with 2 or more dimensions "
                              "(matrices) are decayed; a bias, a LayerNorm gain or a scalar is not",
            example=_by_name),
    Mistake("matrix_not_decayed", "for {model}, {name!r} has shape {shape}: a tensor with {ndim} dimensions, so it is "
                                  "decayed (decide by p.ndim >= 2, not by the module type or the name)",
            example=_linear_weights_only),
)


def _names(value, which: str) -> list[str]:
    if not isinstance(value, (list, tuple)):
        raise _SPLIT.not_a_list.wrong(which=which, got=type(value).__name__)
    if value and all(isinstance(v, torch.Tensor) for v in value):
        raise _SPLIT.tensors_not_names.wrong(which=which)
    if not all(isinstance(v, str) for v in value):
        raise _SPLIT.not_strings.wrong(which=which)
    return list(value)


@exercise("06_training", "weight_decay_groups",
          "correct: matrices decay; biases, LayerNorm gains and scalars do not; tied and frozen weights handled.",
          signature="model", mistakes=_SPLIT)
def check_weight_decay_groups(student) -> None:
    """Check ``student(model) -> (decay_names, no_decay_names)`` against gptlib's ``decay_parameter_names``."""
    for what_model, model in _split_cases():
        # What the model is before the student's function runs (it could freeze or replace parameters).
        want_decay, want_no_decay = map(set, decay_parameter_names(model))
        named = dict(model.named_parameters(remove_duplicate=False))
        trainable = {n: p.requires_grad for n, p in named.items()}
        shapes = {n: tuple(p.shape) for n, p in named.items()}
        result = call(student, model)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise _SPLIT.not_two_lists.wrong(model=what_model, got=type(result).__name__)
        decay = _names(result[0], "the first list (decay)")
        no_decay = _names(result[1], "the second list (no decay)")
        for names, label in ((decay, "decay"), (no_decay, "no-decay")):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise _SPLIT.listed_twice.wrong(model=what_model, label=label, name=repeated[0])
        everything = set(decay) | set(no_decay)
        if "lm_head.weight" in everything:
            raise _SPLIT.tied_weight_twice.wrong(model=what_model)
        unknown = sorted(everything - set(named))
        if unknown:
            raise _SPLIT.unknown_name.wrong(model=what_model, name=unknown[0])
        frozen = sorted(n for n in everything if not trainable[n])
        if frozen:
            raise _SPLIT.frozen_listed.wrong(model=what_model, name=frozen[0])
        missing = sorted((want_decay | want_no_decay) - everything)
        if missing:
            raise _SPLIT.left_out.wrong(model=what_model, name=missing[0], shape=shapes[missing[0]])
        both = sorted(set(decay) & set(no_decay))
        if both:
            raise _SPLIT.in_both_lists.wrong(model=what_model, name=both[0])
        wrongly_decayed = sorted(set(decay) - want_decay)
        if wrongly_decayed:
            n = wrongly_decayed[0]
            raise _SPLIT.vector_decayed.wrong(model=what_model, name=n, shape=shapes[n])
        not_decayed = sorted(want_decay - set(decay))
        if not_decayed:
            n = not_decayed[0]
            raise _SPLIT.matrix_not_decayed.wrong(model=what_model, name=n, shape=shapes[n],
                                                  ndim=len(shapes[n]))
