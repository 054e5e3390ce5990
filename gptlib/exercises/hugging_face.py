"""Exercises of notebook 08_hugging_face: Hugging Face's weights into gptlib's names, and transformers' shifted loss."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..hf import CONV1D_SUFFIXES
from ._core import RAISED, Catalogue, Mistake, as_float, call, exercise, furthest

# --------------------------------------------------------------------------- 1. a state dict, HF -> gptlib

_PREFIX = "transformer."


def _hf_case():
    """A small GPT's state dict under Hugging Face's names and layouts, and gptlib's own state dict."""
    from ..hf import to_hf
    from ..model import GPT, GPTConfig

    with torch.random.fork_rng(devices=[]):  # building a GPT draws from the global generator: leave it as it was
        torch.manual_seed(8)
        gpt = GPT(GPTConfig(vocab_size=23, block_size=16, n_layer=2, n_head=2, n_embd=8))
    hf = to_hf(gpt)
    names = {*dict(hf.named_parameters()), "lm_head.weight"}  # parameters only (older releases add mask buffers)
    hf_state = {name: t.detach().clone() for name, t in hf.state_dict().items() if name in names}
    return hf_state, {name: t.detach().clone() for name, t in gpt.state_dict().items()}


def _strip(name: str) -> str:
    return name.removeprefix(_PREFIX)


def _converted(hf_state, transpose=CONV1D_SUFFIXES, how=lambda t: t.T):
    """The answer, with the knobs the wrong answers turn: which weights are transposed, and how."""
    return {_strip(k): how(v) if k.endswith(tuple(transpose)) else v for k, v in hf_state.items()}


def _pops(hf_state):
    return {_strip(k): v.T if k.endswith(CONV1D_SUFFIXES) else v for k, v in
            ((k, hf_state.pop(k)) for k in list(hf_state))}  # empties the caller's dict


_STATE = Catalogue(
    RAISED.with_example(lambda hf_state: {_strip(k): v.transpose(0, 1) for k, v in hf_state.items()}),  # 1-D too
    Mistake("not_a_dict", "return a dict from gptlib's parameter names to tensors, not a {got}",
            example=lambda hf_state: list(_converted(hf_state).values())),
    Mistake("changed_input", "your function changed the state dict it was given (pop, del, or assigning into it); "
                             "build a new dict and leave the given one as it was",
            example=_pops),
    Mistake("kept_prefix", "your names still start with 'transformer.': gptlib keeps the body at the top level, so "
                           "{hf!r} is {ours!r} in gptlib (only 'lm_head.weight' has no prefix in both)",
            example=lambda hf_state: {k: v.T if k.endswith(CONV1D_SUFFIXES) else v for k, v in hf_state.items()}),
    Mistake("wrong_names", "your names are not gptlib's: missing {missing}, unexpected {extra}",
            example=lambda hf_state: {k: v for k, v in _converted(hf_state).items() if not k.startswith("lm_head")}),
    Mistake("not_tensors", "your {name} is a {got}; the values must be torch tensors (the same ones, or transposed)",
            example=lambda hf_state: {k: v.numpy() for k, v in _converted(hf_state).items()}),
    Mistake("not_transposed", "{name} has shape {got}, but gptlib's nn.Linear wants {want}: Hugging Face's Conv1D "
                              "stores its weight as (in_features, out_features), nn.Linear as (out_features, "
                              "in_features). Transpose the four Conv1D weights ({suffixes}) with .T",
            example=lambda hf_state: _converted(hf_state, transpose=())),
    Mistake("transposed_too_much", "{name} has shape {got}, expected {want}: only the four Conv1D weights are "
                                   "transposed; embeddings (wte, wpe) and the head have the same layout in both",
            example=lambda hf_state: {_strip(k): v.T if v.ndim == 2 else v for k, v in hf_state.items()}),
    Mistake("reshaped", "{name} has the right shape but not the right numbers: reshape and view cut the same "
                        "numbers, in memory order, into new rows; a transpose (.T) swaps the two axes",
            example=lambda hf_state: _converted(hf_state, how=lambda t: t.reshape(t.shape[::-1]))),
    Mistake("square_not_transposed", "{name} is square ({shape}), so its shape cannot tell you, but it is a Conv1D "
                                     "weight too: transpose it like the other three",
            example=lambda hf_state: _converted(hf_state, transpose=[s for s in CONV1D_SUFFIXES
                                                                     if s != "attn.c_proj.weight"])),
    Mistake("wrong_values", "{name}[{index}] should be {want:.4f}, yours is {got:.4f}; everything is copied as it is, "
                            "except that the Conv1D weights are transposed",
            example=lambda hf_state: {k: v * 2 if k.endswith("ln_f.weight") else v
                                      for k, v in _converted(hf_state).items()}),
)


@exercise("08_hugging_face", "hf_to_gptlib_state_dict",
          "correct: 'transformer.' dropped, the four Conv1D weights transposed, everything else copied as it is.",
          signature="hf_state", mistakes=_STATE)
def check_hf_to_gptlib_state_dict(student) -> None:
    """Check ``student(hf_state) -> gptlib state dict`` on a 2-layer GPT's weights."""
    hf_state, want = _hf_case()
    given = dict(hf_state)
    got = call(student, given)
    if given.keys() != hf_state.keys() or any(given[k] is not hf_state[k] for k in hf_state):
        raise _STATE.changed_input.wrong()
    if not isinstance(got, dict):
        raise _STATE.not_a_dict.wrong(got=type(got).__name__)
    prefixed = [k for k in got if isinstance(k, str) and k.startswith(_PREFIX)]  # in the given order
    if prefixed:
        raise _STATE.kept_prefix.wrong(hf=prefixed[0], ours=_strip(prefixed[0]))
    if got.keys() != want.keys():
        raise _STATE.wrong_names.wrong(missing=sorted(want.keys() - got.keys()),
                                       extra=sorted(map(str, got.keys() - want.keys())))
    for name, expected in want.items():  # in gptlib's order: embeddings, block 0, block 1, ...
        value = got[name]
        if not isinstance(value, torch.Tensor):
            raise _STATE.not_tensors.wrong(name=name, got=type(value).__name__)
        shape, want_shape = tuple(value.shape), tuple(expected.shape)
        if shape != want_shape:
            conv1d = name.endswith(CONV1D_SUFFIXES)
            mistake = _STATE.not_transposed if conv1d and shape == want_shape[::-1] else _STATE.transposed_too_much
            raise mistake.wrong(name=name, got=shape, want=want_shape, suffixes=", ".join(CONV1D_SUFFIXES))
        if torch.equal(value, expected):
            continue
        original = hf_state["lm_head.weight" if name == "lm_head.weight" else _PREFIX + name]
        if value.ndim == 2 and shape[0] == shape[1] and torch.equal(value, original):
            raise _STATE.square_not_transposed.wrong(name=name, shape=" x ".join(map(str, shape)))
        if value.ndim == 2 and torch.equal(value, original.reshape(want_shape)):
            raise _STATE.reshaped.wrong(name=name)
        index = furthest(value.double(), expected.double())
        raise _STATE.wrong_values.wrong(name=name, index=", ".join(map(str, index)), want=expected[index].item(),
                                        got=value[index].item())


# --------------------------------------------------------------------------- 2. transformers' shifted loss

IGNORE = -100  # the label transformers (and F.cross_entropy's default) leave out


def _loss_case(seed: int, B: int = 3, T: int = 7, V: int = 11):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, T, V, generator=g) * 2.0  # (B, T, V)
    labels = torch.randint(0, V, (B, T), generator=g)  # (B, T), the input ids themselves
    labels[1, -3:] = IGNORE  # row 1 ends in padding
    labels[2, -1:] = IGNORE
    return logits, labels


def _shifted(logits, labels):
    V = logits.size(-1)
    return F.cross_entropy(logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=IGNORE)


def _unshifted(logits, labels):
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=IGNORE)


def _wrong_way(logits, labels):
    V = logits.size(-1)
    return F.cross_entropy(logits[:, 1:].reshape(-1, V), labels[:, :-1].reshape(-1), ignore_index=IGNORE)


def _padding_counted(logits, labels):
    return _shifted(logits, labels.clamp_min(0))  # -100 read as token 0


def _divided_by_all(logits, labels):
    V = logits.size(-1)
    total = F.cross_entropy(logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=IGNORE,
                            reduction="sum")
    return total / labels[:, 1:].numel()  # padding left out of the sum, but counted in the mean


def _mean_of_row_means(logits, labels):
    return torch.stack([_shifted(logits[b:b + 1], labels[b:b + 1]) for b in range(logits.size(0))]).mean()


def _summed(logits, labels):
    V = logits.size(-1)
    return F.cross_entropy(logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=IGNORE,
                           reduction="sum")


_LOSS_BY_VALUE = (
    Mistake("not_shifted", "{where}: you compared the scores at position t with labels[t], the token the model is "
                           "reading there. transformers shifts: the scores at position t predict labels[t + 1] "
                           "(logits[:, :-1] against labels[:, 1:])",
            example=_unshifted),
    Mistake("shifted_the_wrong_way", "{where}: you shifted the wrong way (logits[:, 1:] against labels[:, :-1]), so "
                                     "each position predicts the token before it",
            example=_wrong_way),
    Mistake("padding_counted", "{where}: your loss counts the positions labelled -100 as token 0; they are padding "
                               "and must be left out (F.cross_entropy's ignore_index=-100, its default)",
            example=_padding_counted),
    Mistake("divided_by_all", "{where}: you left the -100 positions out of the sum but still divided by every "
                              "position; the mean is over the positions that count",
            example=_divided_by_all),
    Mistake("mean_of_row_means", "{where}: you averaged each row, then the rows; rows with padding then weigh as much "
                                 "as full ones. transformers averages over all the positions that count at once",
            example=_mean_of_row_means),
    Mistake("summed", "{where}: you returned the sum over positions; the loss is their mean",
            example=_summed),
)

_LOSS = Catalogue(
    RAISED.with_example(lambda logits, labels: F.cross_entropy(  # gptlib's -1, so the -100 labels are out of range
        logits[:, :-1].reshape(-1, logits.size(-1)), labels[:, 1:].reshape(-1), ignore_index=-1)),
    Mistake("changed_input", "your function changed `logits` or `labels` in place; compute new tensors instead",
            example=lambda logits, labels: _shifted(logits, labels.clamp_(min=0))),
    Mistake("not_one_number", "your function returned shape {got}; expected one number, the mean over the "
                              "{n} positions that count",
            example=lambda logits, labels: F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)),
                                                           labels[:, 1:].reshape(-1), reduction="none")),
    Mistake("not_a_number", "expected a number (a Python float or a tensor with one element), got a {got}",
            example=lambda logits, labels: [_shifted(logits, labels).item()]),
    *_LOSS_BY_VALUE,
    Mistake("wrong_loss", "{where}: the loss should be {want:.4f}, yours is {got:.4f}",
            example=lambda logits, labels: _shifted(logits, labels) + 0.1),
)


@exercise("08_hugging_face", "shifted_lm_loss",
          "correct: the scores at position t against labels[t + 1], -100 left out, the mean over what counts; "
          "what model(idx, labels=idx).loss computes.",
          signature="logits, labels", mistakes=_LOSS)
def check_shifted_lm_loss(student) -> None:
    """Check ``student(logits (B, T, V), labels (B, T)) -> number``: transformers' causal-LM loss."""
    for seed in (0, 1):
        logits, labels = _loss_case(seed)
        given_logits, given_labels = logits.clone(), labels.clone()
        got = call(student, given_logits, given_labels)
        if not (torch.equal(given_logits, logits) and torch.equal(given_labels, labels)):
            raise _LOSS.changed_input.wrong()
        counted = int((labels[:, 1:] != IGNORE).sum())
        if isinstance(got, torch.Tensor) and got.numel() != 1:
            raise _LOSS.not_one_number.wrong(got=tuple(got.shape), n=counted)
        value = as_float(got)
        if value is None:
            raise _LOSS.not_a_number.wrong(got=type(got).__name__)
        want = _shifted(logits.double(), labels).item()
        if math.isclose(value, want, rel_tol=1e-5, abs_tol=1e-5):
            continue
        where = f"for logits of shape {tuple(logits.shape)}, with {labels[:, 1:].numel() - counted} padding labels"
        for mistake in _LOSS_BY_VALUE:
            if math.isclose(value, mistake.example(logits.double(), labels).item(), rel_tol=1e-5, abs_tol=1e-5):
                raise mistake.wrong(where=where)
        raise _LOSS.wrong_loss.wrong(where=where, want=want, got=value)
