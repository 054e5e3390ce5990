"""Wrong answers to the exercises of 04_gpt_model beyond their catalogues' examples, each with a piece of the
message the student must see (the typical mistakes and their examples are in gptlib/exercises/model.py)."""

from gptlib.model import param_count


def _shrinks_the_config(config):
    config.n_layer = 1  # writes into the config: the checker's own count must not follow
    return param_count(config)


WRONG = {
    "04_gpt_model.gpt2_param_count": [
        (_shrinks_the_config, "you counted one block"),
    ],
}
