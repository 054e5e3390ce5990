"""Wrong answers to the exercises of 08_hugging_face beyond their catalogues' examples, each with a piece of the
message the student must see (the typical mistakes and their examples are in gptlib/exercises/hugging_face.py)."""

import torch.nn.functional as F


def _deletes_as_it_goes(hf_state):
    state = {}
    for name in list(hf_state):
        tensor = hf_state[name]
        del hf_state[name]  # writes into the checker's dict
        state[name.removeprefix("transformer.")] = tensor.T if name.endswith(("c_attn.weight", "c_proj.weight",
                                                                             "c_fc.weight")) else tensor
    return state


def _masks_padding_in_place(logits, labels):
    labels[labels == -100] = 0  # writes into the checker's labels
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), labels[:, 1:].reshape(-1))


def _flattens_before_shifting(logits, labels):
    V = logits.size(-1)  # shifting the flat sequence lets each row's last position predict the next row's first label
    return F.cross_entropy(logits.reshape(-1, V)[:-1], labels.reshape(-1)[1:])


WRONG = {
    "08_hugging_face.hf_to_gptlib_state_dict": [
        (_deletes_as_it_goes, "leave the given one as it was"),
    ],
    "08_hugging_face.shifted_lm_loss": [
        (_masks_padding_in_place, "in place"),
        (_flattens_before_shifting, "the loss should be"),
    ],
}
