"""Training: the loop that turns a randomly initialised model into a language model.

One module per job:

- :mod:`~gptlib.train.config`        :class:`TrainConfig`, the knobs of a run, checked on creation
- :mod:`~gptlib.train.optimizer`     :func:`configure_optimizer` (AdamW, weight decay on matrices only,
  :func:`decay_parameter_names`), :func:`cosine_schedule` and :func:`lr_at` (linear warmup, then
  cosine decay to ``min_lr``)
- :mod:`~gptlib.train.trainer`       :class:`Trainer`: ``Trainer(model, train, val, cfg).fit()`` -> :class:`History`
- :mod:`~gptlib.train.history`       :class:`History`, and :class:`NonFiniteLossError`, raised when the loss
  or the gradient becomes NaN or infinite
- :mod:`~gptlib.train.dropout_rng`   the trainer's own random stream for dropout
- :mod:`~gptlib.train.interrupts`    Ctrl-C that waits for the step in progress
- :mod:`~gptlib.train.distributed`   :class:`DistInfo`, :func:`setup_distributed`: joining torchrun's process group
- :func:`evaluate` (mean loss over a whole split, every target token once) and :func:`estimate_loss`
  (over a few random batches: quick, noisy) live in :mod:`gptlib.evaluation`, beside
  :func:`gptlib.objective.model_token_nll`; they are importable from here too.

The trainer knows nothing about GPT: any ``nn.Module`` whose ``forward(x, y)`` returns
``(logits, loss)``, with ``loss`` the mean over all ``B * T`` targets, will do. Data are 1-D tensors
of token ids; batches come from :func:`gptlib.data.get_batch`.

**Distributed.** Started by ``torchrun --nproc_per_node=N script.py``, the trainer notices
torchrun's environment variables (``TORCHELASTIC_RUN_ID``, ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``,
...), joins the process group (gloo on CPU, nccl on CUDA) and wraps the model in
``DistributedDataParallel``. ``RANK``/``WORLD_SIZE`` without torchrun's marker (a Jupyter kernel
that inherited them) are ignored unless ``Trainer(..., distributed=True)``. ``batch_size`` is the
*global* batch: each of the N processes draws the same random offsets and keeps its own
``batch_size / N`` rows, and DDP averages the gradients, so one step is the step a single process
would take on the whole batch. Only rank 0 writes checkpoints, logs and the progress bar.
"""

from gptlib.evaluation import estimate_loss, evaluate
from gptlib.train.config import TrainConfig
from gptlib.train.distributed import DistInfo, setup_distributed
from gptlib.train.history import History, NonFiniteLossError
from gptlib.train.optimizer import configure_optimizer, cosine_schedule, decay_parameter_names, lr_at
from gptlib.train.trainer import Trainer

__all__ = [
    "TrainConfig",
    "History",
    "Trainer",
    "NonFiniteLossError",
    "configure_optimizer",
    "decay_parameter_names",
    "cosine_schedule",
    "lr_at",
    "evaluate",
    "estimate_loss",
    "DistInfo",
    "setup_distributed",
]
