"""gptlib.hf.prompting: the series' prompt formats through transformers' text-generation pipeline, offline.

- transformers 5 has no translation, summarization or question-answering pipeline (checked against the
  installed SUPPORTED_TASKS), and text-generation is there;
- few_shot_prompt: the shots' texts, one per line, then the query's prompt, never its answer;
- one small character GPT trained for a few seconds on words_to_digits, two code paths: transformers'
  pipeline (from a folder written by save_pretrained) and gptlib's own greedy decoding
  (gptlib.tasks.answers.complete) give the same few-shot answers, each cut at "\\n";
- the hub path on a hub served from 127.0.0.1 (a byte-level BPE model this time), then no hub: a server that
  refuses, one that accepts and never answers: None and the reason within the timeout, nothing raised.
"""

from __future__ import annotations

import socket
import time

import pytest
import torch
from helpers import assert_global_state_unchanged, free_port, global_state, transformers_messages

from gptlib.hf import (
    REMOVED_TASKS,
    char_tokenizer_to_hf,
    few_shot_prompt,
    pipeline_answers,
    text_generation_pipeline,
    to_hf,
)
from gptlib.model import GPT, GPTConfig
from gptlib.tasks import alphabet, make_task, score_task, training_text, words_to_digits_example
from gptlib.tasks.answers import complete
from gptlib.tokenizers import CharTokenizer

transformers = pytest.importorskip("transformers")
pytest.importorskip("huggingface_hub")

# ---------------------------------------------------------------- what transformers 5 offers


def test_transformers_5_has_text_generation_and_none_of_the_task_pipelines():
    from transformers.pipelines import SUPPORTED_TASKS, TASK_ALIASES

    assert int(transformers.__version__.split(".")[0]) >= 5, transformers.__version__
    assert "text-generation" in SUPPORTED_TASKS
    for task in REMOVED_TASKS + ("translation_en_to_fr",):
        assert task not in SUPPORTED_TASKS and task not in TASK_ALIASES, task
        with pytest.raises(KeyError, match="has been removed from transformers"):
            transformers.pipeline(task)  # fails on the task name, before looking for any model


# ---------------------------------------------------------------- few_shot_prompt


def test_few_shot_prompt_is_the_shots_one_per_line_then_the_question():
    shots = [words_to_digits_example(n) for n in (7, 300)]
    query = words_to_digits_example(45)
    prompt = few_shot_prompt(shots, query)
    lines = prompt.split("\n")
    assert lines == ["words: seven = digits: 7", "words: three hundred = digits: 300", "words: forty-five = digits: "]
    assert not prompt.endswith(query.answer) and "45" not in prompt  # the answer is not given away
    assert few_shot_prompt((), query) == query.prompt
    assert few_shot_prompt(iter(shots), query) == prompt


def test_few_shot_prompt_refuses_bad_input_clearly():
    query = words_to_digits_example(45)
    with pytest.raises(ValueError, match="shot 1 is the query itself"):
        few_shot_prompt([words_to_digits_example(1), query], query)
    with pytest.raises(TypeError, match="shots must be a sequence of Examples, got one Example"):
        few_shot_prompt(words_to_digits_example(1), query)
    with pytest.raises(TypeError, match="shots: item 0 is a str"):
        few_shot_prompt(["words: one = digits: 1\n"], query)
    with pytest.raises(TypeError, match="query must be an Example, got str"):
        few_shot_prompt([], "words: two = digits: ")


# ---------------------------------------------------------------- one model, two code paths

BLOCK = 128


@pytest.fixture(scope="module")
def task():
    train, test = make_task("words_to_digits", 400, 12, seed=0)
    return train, test, CharTokenizer(alphabet(train + test))


@pytest.fixture(scope="module")
def trained(task):
    """A small character GPT trained for a few seconds on words_to_digits: it has learned the format (digits,
    then the end marker), though not yet the numbers. Its own random streams; torch's global one is left alone."""
    train, _, tok = task
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        gpt = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=BLOCK, n_layer=2, n_head=2, n_embd=32))
    data = torch.tensor(tok.encode(training_text(train)))
    g = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(gpt.parameters(), lr=3e-3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(250):
            ix = torch.randint(0, len(data) - BLOCK - 1, (8,), generator=g).tolist()
            x = torch.stack([data[i:i + BLOCK] for i in ix])
            y = torch.stack([data[i + 1:i + BLOCK + 1] for i in ix])
            _, loss = gpt(x, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    return gpt.eval()


@pytest.fixture(scope="module")
def folder(trained, task, tmp_path_factory):
    """The trained model and its tokenizer written as transformers' from_pretrained reads them."""
    path = tmp_path_factory.mktemp("char-gpt")
    to_hf(trained, end_of_text=False).save_pretrained(path)  # a character vocabulary has no end of text
    char_tokenizer_to_hf(task[2]).save_pretrained(path)
    return path


def test_pipeline_from_a_folder_gives_gptlibs_own_greedy_answers(trained, task, folder):
    train, test, tok = task
    shots = sorted(train, key=lambda ex: len(ex.text))[:2]  # short ones: the prompts fit in 128 characters
    before = global_state()
    found = text_generation_pipeline(folder)
    assert found.available and found.reason is None and found.folder == folder
    assert found.pipeline.task == "text-generation" and not found.pipeline.model.training
    with transformers_messages() as messages:
        answers = pipeline_answers(found.pipeline, test, shots=shots, max_new_tokens=12)
    assert_global_state_unchanged(before)
    assert messages == []  # greedy decoding, asked for plainly: no warning in a notebook's output
    assert len(answers) == len(test)
    for answer in answers:  # the model has learned to stop: every answer ends at its first "\n"
        assert answer.endswith("\n") and answer.count("\n") == 1, answer
    # the same model through gptlib: the same greedy answers, character for character
    ours = complete(trained, tok, [few_shot_prompt(shots, ex) for ex in test], max_new_tokens=12)
    assert answers == ours
    # and they score as gptlib's answers do
    score = score_task(answers, [ex.answer for ex in test])
    assert score.n == len(test) and 0.0 <= score.exact_match <= 1.0


def test_zero_shot_and_the_default_answer_length(trained, task, folder):
    _, test, tok = task
    generator = text_generation_pipeline(folder).pipeline
    longest = max(len(tok.encode(ex.answer)) for ex in test)
    from gptlib.tasks.answers import ANSWER_SLACK

    answers = pipeline_answers(generator, test[:4])
    assert answers == complete(trained, tok, [ex.prompt for ex in test[:4]], max_new_tokens=longest + ANSWER_SLACK)
    assert pipeline_answers(generator, []) == []


def test_pipeline_answers_refuses_what_it_cannot_do(task, folder):
    train, test, _ = task
    generator = text_generation_pipeline(folder).pipeline
    with pytest.raises(ValueError, match=r"more than the model's context of 128 tokens \(use fewer or shorter"):
        pipeline_answers(generator, test[:1], shots=train[:5], max_new_tokens=12)
    with pytest.raises(ValueError, match="max_new_tokens must be a positive integer, got 0"):
        pipeline_answers(generator, test[:1], max_new_tokens=0)
    with pytest.raises(TypeError, match="generator must be a transformers pipeline"):
        pipeline_answers(lambda text, **kw: [{"generated_text": "1\n"}], test[:1])
    with pytest.raises(ValueError, match="shot 0 is the query itself"):
        pipeline_answers(generator, test[:1], shots=test[:1])


def test_a_folder_without_a_tokenizer_says_what_it_needs(trained, tmp_path):
    to_hf(trained, end_of_text=False).save_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no tokenizer: it needs tokenizer.json or vocab.json \+ merges.txt"):
        text_generation_pipeline(tmp_path)
    with pytest.raises(TypeError, match="only apply to a hub name"):
        text_generation_pipeline(tmp_path, timeout_s=1)


# ---------------------------------------------------------------- the hub: on 127.0.0.1, then none


@pytest.fixture(scope="module")
def bpe_folder(tmp_path_factory):
    """A small random GPT with a 300-token byte-level BPE trained on task text, as GPT-2's files on the hub."""
    from gptlib.tokenizers import BPETokenizer
    from gptlib.tokenizers.gpt2_files import write_gpt2_files

    train, _ = make_task("words_to_digits", 400, 0, seed=1)
    tok = BPETokenizer.train(training_text(train), vocab_size=300)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        gpt = GPT(GPTConfig(vocab_size=300, block_size=96, n_layer=1, n_head=2, n_embd=16)).eval()
    with torch.no_grad():  # weights 10 times larger: logits far from uniform, greedy tokens that vary with the prompt
        for p in gpt.parameters():
            if p.dim() == 2:
                p.mul_(10)
    path = tmp_path_factory.mktemp("bpe-gpt")
    to_hf(gpt).save_pretrained(path)  # config.json, model.safetensors; the last id is <|endoftext|>
    write_gpt2_files(tok, path / "vocab.json", path / "merges.txt")
    return path, gpt, tok


def test_a_pipeline_from_a_hub_on_localhost_gives_gptlibs_answers(bpe_folder, tmp_path):
    from test_hf_hub import COMMIT, REPO, Hub

    path, gpt, tok = bpe_folder
    hub = Hub(path)
    try:
        found = text_generation_pipeline(REPO, cache_dir=tmp_path, endpoint=hub.endpoint, timeout_s=5)
    finally:
        hub.close()
    assert found.available and found.folder.name == COMMIT and str(found.folder).startswith(str(tmp_path))
    examples = [words_to_digits_example(n) for n in (12, 908, 77)]
    shots = [words_to_digits_example(3)]
    with transformers_messages() as messages:  # GPT-2 has no pad token: pipeline_answers names one, quietly
        answers = pipeline_answers(found.pipeline, examples, shots=shots, max_new_tokens=6)
    assert messages == []
    assert answers == complete(gpt, tok, [few_shot_prompt(shots, ex) for ex in examples], max_new_tokens=6)
    assert len(set(answers)) > 1  # not one token repeated whatever the prompt
    assert all(a.count("\n") <= 1 and (a.endswith("\n") or "\n" not in a) for a in answers)



def test_no_hub_gives_none_and_the_reason_quickly(tmp_path):
    endpoint = f"http://127.0.0.1:{free_port()}"
    before = global_state()
    started = time.perf_counter()
    found = text_generation_pipeline("gpt2", cache_dir=tmp_path, endpoint=endpoint, timeout_s=2)
    elapsed = time.perf_counter() - started
    assert_global_state_unchanged(before)
    assert (found.pipeline, found.folder, found.available) == (None, None, False)
    assert found.reason.startswith(f"'gpt2' is not available: the hub at {endpoint} could not be reached in 2 s "
                                   "(ConnectionRefusedError")
    assert found.reason.endswith("is not in the local cache")
    assert elapsed < 3, elapsed


def test_a_hub_that_never_answers_is_given_up_on_after_the_timeout(tmp_path):
    with socket.socket() as silent:  # listens (connections are accepted by the kernel) but never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.perf_counter()
        found = text_generation_pipeline("gpt2", cache_dir=tmp_path, endpoint=endpoint, timeout_s=1)
        elapsed = time.perf_counter() - started
    assert not found.available and found.pipeline is None
    assert "could not be reached in 1 s" in found.reason and "timed out" in found.reason, found.reason
    assert 0.9 < elapsed < 3, elapsed

