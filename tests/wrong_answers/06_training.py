"""Wrong answers to the exercises of 06_training beyond their catalogues' examples, each with a piece of the
message the student must see (the typical mistakes and their examples are in gptlib/exercises/training/, one
module per exercise)."""


def _freezes_everything(model):
    for p in model.parameters():
        p.requires_grad_(False)  # writes into the model: the checker's answer must not follow
    return [], []


WRONG = {
    "06_training.weight_decay_groups": [
        (_freezes_everything, "is in neither list"),
    ],
}
