"""gptlib.tasks.answers, .baselines and .model: asking a model, answering without one, the committed task model."""

from __future__ import annotations

import shutil

import pytest
import torch

from gptlib.generation import generate
from gptlib.model import GPT, GPTConfig
from gptlib.reference import ReferenceModelError
from gptlib.tasks import (
    END,
    TASKS,
    alphabet,
    answer_examples,
    can_express,
    complete,
    copy_input,
    cut_answer,
    evaluate_task,
    input_of,
    make_task,
    most_common_answer,
    task_model_chars,
    task_model_data,
    task_model_text,
    words_to_digits_example,
)
from gptlib.tasks import model as task_model
from gptlib.tokenizers import CharTokenizer


def _tiny(tok, seed=0, n_embd=16):
    g = torch.random.fork_rng()
    with g:
        torch.manual_seed(seed)
        return GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=1, n_head=2, n_embd=n_embd))


@pytest.fixture(scope="module")
def numbers():
    train, test = make_task("words_to_digits", 50, 30, seed=3)
    tok = CharTokenizer(alphabet(train + test))
    return train, test, tok


def _one_by_one(model, tok, prompt, max_new_tokens):
    idx = torch.tensor([tok.encode(prompt)])
    out = generate(model, idx, max_new_tokens, temperature=0)[0, idx.size(1):].tolist()
    return cut_answer(tok.decode(out))


def test_complete_equals_one_prompt_at_a_time_in_the_prompts_order(numbers):
    _, test, tok = numbers
    model = _tiny(tok).eval()
    prompts = [ex.prompt for ex in test]
    assert len({len(p) for p in prompts}) > 3  # several lengths, so several groups
    batched = complete(model, tok, prompts, 6, batch_size=4)
    assert batched == [_one_by_one(model, tok, p, 6) for p in prompts]


def test_complete_stops_at_the_end_marker_and_cuts_there():
    tok = CharTokenizer("ab\n")
    answers = complete(_tiny(tok, seed=4), tok, ["ab", "a", "b", "ba"], 30, temperature=1.0,
                       generator=torch.Generator().manual_seed(0))  # sampling: "\n" comes in 30 draws
    assert any(a.endswith(END) for a in answers)
    assert all(END not in a[:-1] and (a.endswith(END) or len(a) == 30) for a in answers)


def test_sampling_is_seeded_by_its_generator_and_leaves_the_global_rng_alone(numbers):
    _, test, tok = numbers
    model = _tiny(tok)
    prompts = [ex.prompt for ex in test]
    state = torch.get_rng_state()
    first = complete(model, tok, prompts, 6, temperature=1.0, generator=torch.Generator().manual_seed(1))
    again = complete(model, tok, prompts, 6, temperature=1.0, generator=torch.Generator().manual_seed(1))
    other = complete(model, tok, prompts, 6, temperature=1.0, generator=torch.Generator().manual_seed(2))
    assert first == again and first != other
    assert torch.equal(state, torch.get_rng_state())


def test_complete_restores_training_mode(numbers):
    _, test, tok = numbers
    model = _tiny(tok).train()
    complete(model, tok, [test[0].prompt], 3)
    assert model.training


@pytest.mark.parametrize("prompts, message", [(["ok", ""], "prompt 1 must be a non-empty str"),
                                              ([None], "prompt 0 must be a non-empty str"),
                                              (["ok", "zz!"], "prompt 1 .* cannot be encoded")])
def test_bad_prompts_are_named(prompts, message):
    tok = CharTokenizer("ok z\n")
    with pytest.raises(ValueError, match=message):
        complete(_tiny(tok), tok, prompts, 3)


@pytest.mark.parametrize("setting", [{"max_new_tokens": 0}, {"max_new_tokens": 2, "batch_size": 0}])
def test_bad_settings_are_named(setting):
    tok = CharTokenizer("ok\n")
    with pytest.raises(ValueError, match="must be a positive integer"):
        complete(_tiny(tok), tok, ["ok"], **setting)


def test_answer_examples_allows_the_longest_answer_plus_slack(numbers, monkeypatch):
    _, test, tok = numbers
    seen = {}
    import gptlib.tasks.answers as answers

    monkeypatch.setattr(answers, "complete", lambda m, t, p, n, **kw: seen.setdefault("n", n) and [""] * len(p))
    answer_examples(None, tok, test)
    assert seen["n"] == max(len(ex.answer) for ex in test) + answers.ANSWER_SLACK


def test_evaluate_task_scores_right_answers_as_right(numbers, monkeypatch):
    _, test, tok = numbers
    import gptlib.tasks.answers as answers

    monkeypatch.setattr(answers, "answer_examples", lambda m, t, ex, **kw: [e.answer for e in ex])
    score = evaluate_task(None, tok, test)
    assert score.n == len(test) and score.exact_match == 1.0 and score.chrf == pytest.approx(100.0)


def test_can_express():
    ex = [words_to_digits_example(305)]
    assert can_express(CharTokenizer(alphabet(ex)), ex)
    assert not can_express(CharTokenizer(alphabet(ex).replace("5", "")), ex)


# ---------------------------------------------------------------- baselines


def test_most_common_answer_counts_training_answers_only_and_breaks_ties_by_first_seen():
    train = [words_to_digits_example(n) for n in (7, 3, 3, 7)]
    test = [words_to_digits_example(9)] * 5  # the test answers never count
    assert most_common_answer(train, test) == ["7\n"] * 5
    assert most_common_answer(train + [words_to_digits_example(3)], test[:1]) == ["3\n"]
    with pytest.raises(ValueError, match="at least one training example"):
        most_common_answer([], test)


@pytest.mark.parametrize("task", TASKS)
def test_input_of_every_task_is_inside_its_prompt(task):
    _, test = make_task(task, 0, 20, seed=1)
    for ex in test:
        content = input_of(ex)
        assert content and content in ex.prompt and ": " + content in ex.prompt
    assert copy_input(test) == [input_of(ex) + END for ex in test]


def test_input_of_refuses_a_prompt_in_no_format():
    from gptlib.tasks import Example

    with pytest.raises(ValueError, match="not in one of the task formats"):
        input_of(Example("x", "what is this?", "1\n"))


# ---------------------------------------------------------------- the task model's data and files


@pytest.mark.parametrize("task", TASKS)
def test_task_model_data_is_deterministic_and_held_out(task):
    train, test = task_model_data(task)
    assert (train, test) == task_model_data(task)
    assert len(train) == task_model.TRAIN_SIZES[task] and len(test) == task_model.TEST_SIZE
    assert not {ex.prompt for ex in train} & {ex.prompt for ex in test}


def test_task_model_text_holds_every_training_example_as_often_as_repeated():
    text = task_model_text()
    lines = text.splitlines(keepends=True)
    for task in TASKS:
        train, test = task_model_data(task)
        assert lines.count(train[0].text) == task_model.REPEATS[task]
        assert test[0].text not in lines
    assert set(text) <= set(task_model_chars())


def test_unknown_task_is_named():
    with pytest.raises(ValueError, match="unknown task 'poems'"):
        task_model_data("poems")


committed = pytest.mark.skipif(task_model.MODEL_SHA256 == "0" * 64, reason="the task model is not trained yet")


@committed
def test_the_committed_task_model_loads_and_answers_held_out_questions():
    model, tok = task_model.load_task_model(device="cpu")
    assert tok.chars == task_model_chars() and not model.training
    train, test = task_model_data("dates")
    score = evaluate_task(model, tok, test[:50])
    assert score.exact_match > 0.5  # the card reports the full number; far above the baselines' 0


@committed
def test_a_changed_task_model_file_is_refused(tmp_path):
    copy = tmp_path / "tasks-char"
    shutil.copytree(task_model.TASK_MODEL_DIR, copy)
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-1] ^= 1
    (copy / "model.safetensors").write_bytes(bytes(data))
    from gptlib.reference import load_committed_model

    with pytest.raises(ReferenceModelError, match="expected " + task_model.MODEL_SHA256):
        load_committed_model(copy, task_model.MODEL_SHA256, task_model.TOKENIZER_SHA256,
                             tool="tools/train_task_model.py", module="gptlib/tasks/model.py")
