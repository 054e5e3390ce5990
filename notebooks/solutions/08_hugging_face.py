"""Solutions to the exercises of 08_hugging_face.ipynb. Try them yourself first!"""

import torch.nn.functional as F

CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def hf_to_gptlib_state_dict(hf_state):
    """Hugging Face's GPT-2 state dict -> gptlib's: drop 'transformer.', transpose the Conv1D weights."""
    state = {}
    for name, tensor in hf_state.items():
        ours = name.removeprefix("transformer.")  # lm_head.weight has no prefix on either side
        state[ours] = tensor.T if name.endswith(CONV1D) else tensor  # Conv1D: (in, out) -> Linear: (out, in)
    return state


def shifted_lm_loss(logits, labels):
    """transformers' causal-LM loss: the scores at t against labels[t + 1], -100 left out, the mean."""
    V = logits.size(-1)
    scores = logits[:, :-1].reshape(-1, V)  # (B * (T - 1), V): every position but the last predicts ...
    targets = labels[:, 1:].reshape(-1)  # ... the label one step to its right
    return F.cross_entropy(scores, targets, ignore_index=-100)  # the mean over the labels that are not -100
