"""The challenges GPT must still overcome, measured: data bias, privacy and security.

- ``bias``     Δ = log P(" he" | "The nurse said that") − log P(" she" | …) for a character model,
  word boundaries handled; a corpus whose skew you choose; counterfactual augmentation:
  :func:`next_word_logprob`, :func:`pronoun_gap`, :func:`bias_table`, :func:`skewed_corpus`,
  :func:`swap_pronouns`, :func:`augment`
- ``privacy``  *The Secret Sharer* (Carlini et al., 2019): a canary's exposure among all
  candidates of its format, ranked exactly; extraction by greedy decoding; a loss-threshold
  membership-inference attack and its ROC AUC: :class:`CanaryFormat`, :func:`canary_exposure`,
  :func:`exposure`, :func:`extract`, :func:`deduplicate_lines`, :func:`membership_auc`, :func:`roc_curve`
- ``security`` a pickle that runs code when loaded, denylist and allowlist scanners, safetensors; prompt
  injection and a literal output filter: :func:`marker_pickle`, :func:`denylist_scan`, :func:`allowlist_scan`,
  :func:`inject`, :func:`output_filter`, :func:`evasions`

>>> exposure(rank=1, n_candidates=100_000) > 16.6
True
>>> swap_pronouns("she said")
'he said'
"""

from .bias import (
    BOUNDARY,
    CORPUS_TEMPLATES,
    FILLER,
    TEMPLATES,
    BiasRow,
    augment,
    bias_report,
    bias_table,
    corpus_counts,
    next_word_logprob,
    pronoun_gap,
    skewed_corpus,
    swap_pronouns,
)
from .privacy import (
    CanaryFormat,
    Exposure,
    canary_exposure,
    candidate_logperplexities,
    expected_exposure_of_random_rank,
    exposure,
    deduplicate_lines,
    extract,
    membership_auc,
    random_canary,
    rank_of,
    roc_curve,
    sequence_logperplexity,
    text_losses,
)
from .security import (
    DENYLIST,
    STATE_DICT_GLOBALS,
    FilterResult,
    allowlist_scan,
    denylist_scan,
    evasions,
    inject,
    marker_pickle,
    normalise,
    output_filter,
    pickle_bytes,
    pickle_globals,
    qa_prompt,
    safetensors_header,
)

__all__ = [
    # bias
    "BOUNDARY",
    "TEMPLATES",
    "CORPUS_TEMPLATES",
    "FILLER",
    "next_word_logprob",
    "pronoun_gap",
    "BiasRow",
    "bias_table",
    "bias_report",
    "skewed_corpus",
    "corpus_counts",
    "swap_pronouns",
    "augment",
    # privacy
    "CanaryFormat",
    "random_canary",
    "sequence_logperplexity",
    "candidate_logperplexities",
    "rank_of",
    "exposure",
    "Exposure",
    "canary_exposure",
    "expected_exposure_of_random_rank",
    "extract",
    "deduplicate_lines",
    "text_losses",
    "membership_auc",
    "roc_curve",
    # security
    "marker_pickle",
    "pickle_bytes",
    "pickle_globals",
    "DENYLIST",
    "denylist_scan",
    "STATE_DICT_GLOBALS",
    "allowlist_scan",
    "safetensors_header",
    "qa_prompt",
    "inject",
    "normalise",
    "FilterResult",
    "output_filter",
    "evasions",
]
