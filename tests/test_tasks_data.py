"""gptlib.tasks: number words, dates, facts, reports, prompt formats, and deterministic disjoint splits."""

from __future__ import annotations

import datetime
import hashlib
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gptlib.tasks import (
    END,
    SPLITS,
    TASKS,
    YEAR_RANGE,
    Example,
    Person,
    Weather,
    all_dates,
    all_weather,
    alphabet,
    chinese_words,
    compositional_split,
    cut_answer,
    date_words,
    describe,
    english_words,
    fact_table,
    make_task,
    parse_chinese,
    parse_date_words,
    parse_english,
    qa_triple,
    random_dates,
    random_split,
    report,
    summary,
    task_size,
    training_text,
    words_to_iso,
)

REPO = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------------------------
# Number words


# Written out by hand, British style: "and" before the last two digits after a hundred or thousand.
ENGLISH_BY_HAND = {
    0: "zero",
    7: "seven",
    13: "thirteen",
    20: "twenty",
    21: "twenty-one",
    99: "ninety-nine",
    100: "one hundred",
    101: "one hundred and one",
    115: "one hundred and fifteen",
    305: "three hundred and five",
    340: "three hundred and forty",
    999: "nine hundred and ninety-nine",
    1000: "one thousand",
    1001: "one thousand and one",
    1010: "one thousand and ten",
    1100: "one thousand one hundred",
    1234: "one thousand two hundred and thirty-four",
    2021: "two thousand and twenty-one",
    4050: "four thousand and fifty",
    7008: "seven thousand and eight",
    9999: "nine thousand nine hundred and ninety-nine",
}

# Written out by hand from the standard reading rules: one 零 for any run of inner zeros, none at
# the end, 十 without 一 only when the number starts with it (十五 but 一百一十五).
CHINESE_BY_HAND = {
    0: "零",
    1: "一",
    10: "十",
    11: "十一",
    15: "十五",
    20: "二十",
    21: "二十一",
    99: "九十九",
    100: "一百",
    101: "一百零一",
    110: "一百一十",
    115: "一百一十五",
    305: "三百零五",
    340: "三百四十",
    1000: "一千",
    1001: "一千零一",
    1010: "一千零一十",
    1011: "一千零一十一",
    1020: "一千零二十",
    1100: "一千一百",
    1105: "一千一百零五",
    1200: "一千二百",
    2005: "二千零五",
    2021: "二千零二十一",
    2345: "二千三百四十五",
    4050: "四千零五十",
    9999: "九千九百九十九",
}


@pytest.mark.parametrize("n, words", ENGLISH_BY_HAND.items())
def test_english_words_table(n, words):
    assert english_words(n) == words
    assert parse_english(words) == n


@pytest.mark.parametrize("n, words", CHINESE_BY_HAND.items())
def test_chinese_words_table(n, words):
    assert chinese_words(n) == words
    assert parse_chinese(words) == n


def test_words_are_distinct_and_round_trip_for_every_number():
    # Exhaustive over 0..9999: cheaper than sampling and covers every case.
    english = [english_words(n) for n in range(10_000)]
    chinese = [chinese_words(n) for n in range(10_000)]
    assert len(set(english)) == len(set(chinese)) == 10_000
    assert [parse_english(w) for w in english] == list(range(10_000))
    assert [parse_chinese(w) for w in chinese] == list(range(10_000))


def test_chinese_words_follow_the_reading_rules():
    for n in range(1, 10_000):  # every number: the rules below are an independent reading of it
        _check_chinese_rules(n)


def _check_chinese_rules(n):
    words = chinese_words(n)
    assert not words.endswith("零") and "零零" not in words
    assert words.startswith("十") == (10 <= n <= 19)
    # Independent reading: dropping 零 and the units leaves the non-zero digits of n, in order
    # (a leading 十 stands for the digit 1).
    digits = "".join(str("零一二三四五六七八九".index(c)) for c in words if c in "一二三四五六七八九")
    expected = str(n).replace("0", "")
    assert digits == (expected[1:] if words.startswith("十") else expected)
    assert words.count("零") == len(re.findall(r"[1-9]0+[1-9]", str(n)))  # one 零 per inner run of zeros


def test_english_words_use_and_only_before_the_last_two_digits():
    for n in range(1, 10_000):
        _check_english_rules(n)


def _check_english_rules(n):
    words = english_words(n)
    assert words.endswith(("hundred", "thousand")) == (n % 100 == 0)
    assert (" and " in words) == (n >= 100 and n % 100 != 0)
    assert words.count("-") == (1 if n % 100 > 20 and n % 10 != 0 else 0)


@pytest.mark.parametrize("bad", [-1, 10_000, 2.0, True, "5", None])
def test_number_words_refuse_bad_input(bad):
    for fn in (english_words, chinese_words):
        with pytest.raises(ValueError, match=r"n must be an integer in \[0, 9999\]"):
            fn(bad)


@pytest.mark.parametrize(
    "text, message",
    [
        ("three hundred five", "only that spelling"),
        ("twenty one", "only that spelling"),
        ("Twenty-one", "unknown number word"),
        ("one million", "unknown number word"),
        ("hundred", "must follow"),
        ("ten thousand", "outside"),
        ("", "unknown number word"),
    ],
)
def test_parse_english_refuses_other_spellings(text, message):
    with pytest.raises(ValueError, match=message):
        parse_english(text)


@pytest.mark.parametrize(
    "text, message",
    [
        ("一十五", "only that spelling"),
        ("三百五", "only that spelling"),  # colloquial for 350; we write 三百五十
        ("一千零零一", "only that spelling"),
        ("两千", "unknown character"),
        ("百", "no digit before it"),
        ("二三", "two digits in a row"),
        ("九千九千", "outside"),
        ("", "empty"),
    ],
)
def test_parse_chinese_refuses_other_spellings(text, message):
    with pytest.raises(ValueError, match=message):
        parse_chinese(text)


def test_parsers_refuse_non_strings():
    for fn in (parse_english, parse_chinese, parse_date_words):
        with pytest.raises(TypeError, match="must be a str"):
            fn(305)


# ---------------------------------------------------------------------------------------------
# Dates


@pytest.mark.parametrize(
    "date, words",
    [  # written out by hand
        (datetime.date(1997, 3, 3), "the third of March, 1997"),
        (datetime.date(2000, 2, 29), "the twenty-ninth of February, 2000"),
        (datetime.date(1950, 1, 1), "the first of January, 1950"),
        (datetime.date(2049, 12, 31), "the thirty-first of December, 2049"),
        (datetime.date(2012, 11, 22), "the twenty-second of November, 2012"),
        (datetime.date(1984, 8, 20), "the twentieth of August, 1984"),
        (datetime.date(1971, 10, 12), "the twelfth of October, 1971"),
        (datetime.date(2030, 6, 30), "the thirtieth of June, 2030"),
    ],
)
def test_date_words_table(date, words):
    assert date_words(date) == words
    assert parse_date_words(words) == date
    assert words_to_iso(words) == f"{date.year:04d}-{date.month:02d}-{date.day:02d}"


@pytest.mark.parametrize(
    "text, message",
    [
        ("the thirtieth of February, 2001", "not a valid date"),
        ("the twenty-ninth of February, 1900", "not a valid date"),  # 1900 is not a leap year
        ("the thirty-first of April, 2001", "not a valid date"),
        ("the 3rd of March, 1997", "not of the form"),
        ("the third of Mars, 1997", "not a month"),
        ("the thirty-second of May, 1997", "not a day ordinal"),
        ("the third of March, 0997", "leading zero"),
    ],
)
def test_parse_date_words_refuses_bad_dates(text, message):
    with pytest.raises(ValueError, match=message):
        parse_date_words(text)


def test_all_dates_counts_every_valid_day():
    dates = list(all_dates(*YEAR_RANGE))
    assert len(dates) == 100 * 365 + 25  # 1950..2049: the leap years 1952, 1956, ..., 2048
    assert dates[0] == datetime.date(1950, 1, 1) and dates[-1] == datetime.date(2049, 12, 31)
    assert all((b - a).days == 1 for a, b in zip(dates, dates[1:]))
    with pytest.raises(ValueError, match="after end_year"):
        list(all_dates(2000, 1999))


def test_random_dates_are_distinct_valid_and_seeded():
    dates = random_dates(200, seed=3, start_year=1999, end_year=2001)
    assert len(set(dates)) == 200 and all(1999 <= d.year <= 2001 for d in dates)
    assert dates == random_dates(200, seed=3, start_year=1999, end_year=2001)
    assert dates != random_dates(200, seed=4, start_year=1999, end_year=2001)
    with pytest.raises(ValueError, match="n must be an integer in"):
        random_dates(366, seed=0, start_year=2001, end_year=2001)


# ---------------------------------------------------------------------------------------------
# Facts and reports


def test_fact_table_is_seeded_and_uses_each_name_once():
    table = fact_table(seed=5)
    assert len({p.name for p in table}) == len(table) == 576
    assert table == fact_table(seed=5) and table != fact_table(seed=6)
    assert len(fact_table(seed=5, n_people=10)) == 10
    with pytest.raises(ValueError, match="n_people"):
        fact_table(seed=0, n_people=577)


def test_describe_and_qa_triple():
    ada, ben = Person("Ada Lin", "Oslo", "engineer", 34), Person("Ben Ito", "Rome", "nurse", 51)
    assert describe(ada) == "Ada Lin is an engineer in Oslo, aged 34."
    context, question, answer = qa_triple(ben, "city", ada, person_first=True)
    assert context == "Ben Ito is a nurse in Rome, aged 51. Ada Lin is an engineer in Oslo, aged 34."
    assert (question, answer) == ("where does Ben Ito live?", "Rome")
    with pytest.raises(ValueError, match="field must be one of"):
        qa_triple(ben, "salary", ada, person_first=True)
    with pytest.raises(ValueError, match="another person"):
        qa_triple(ben, "city", ben, person_first=True)


def test_reports_and_summaries():
    w = Weather("Kyiv", "Sunday", "rainy", -5, template=1)
    assert report(w) == "It was rainy in Kyiv on Sunday, and the temperature reached -5 degrees."
    assert summary(w) == "Kyiv, Sunday, rainy, -5C"
    for bad in (dict(city="Atlantis"), dict(day="Funday"), dict(temp=31), dict(temp=True), dict(template=3)):
        fields = dict(city="Kyiv", day="Sunday", sky="rainy", temp=0, template=0) | bad
        with pytest.raises(ValueError, match=f"{next(iter(bad))} must be"):
            Weather(**fields)


def test_every_summary_field_appears_in_its_report():
    for w in all_weather():
        text, (city, day, sky, temp) = report(w), summary(w).split(", ")
        assert city in text and day in text and sky in text
        assert temp.endswith("C") and f" {temp[:-1]} degree" in text


# ---------------------------------------------------------------------------------------------
# Formats


def test_example_checks_its_fields():
    assert Example("t", "p ", "a\n").text == "p a\n"
    for prompt, answer in (("p", "a"), ("p", "a\nb\n"), ("p\n", "a\n"), ("", "a\n")):
        with pytest.raises(ValueError):
            Example("t", prompt, answer)
    with pytest.raises(TypeError, match="answer must be a str"):
        Example("t", "p", 5)
    with pytest.raises(AttributeError):  # frozen
        Example("t", "p", "a\n").answer = "b\n"


def test_training_text_alphabet_and_cut_answer():
    train, _ = make_task("translate_en_zh", 50, 0, seed=0)
    text = training_text(train)
    assert text == "".join(e.prompt + e.answer for e in train)
    assert text.count("\n") == 50 and text.endswith("\n")
    chars = alphabet(train)
    assert list(chars) == sorted(set(chars)) and set(chars) == set(text)
    assert cut_answer("二十一\nenglish") == "二十一\n" and cut_answer("二十") == "二十"
    with pytest.raises(TypeError, match="item 1"):
        training_text([train[0], "not an example"])


# ---------------------------------------------------------------------------------------------
# make_task


def _number(ex: Example) -> int:
    if ex.task == "words_to_digits":
        return int(ex.answer)
    return parse_english(ex.prompt.removeprefix("english: ").removesuffix(" = chinese: "))


def _qa_key(ex: Example) -> tuple[str, str]:
    question = re.search(r"question: (.*) answer: $", ex.prompt).group(1)
    patterns = (("city", r"where does (.+) live\?"), ("job", r"what is (.+)'s job\?"), ("age", r"how old is (.+)\?"))
    for field, pattern in patterns:
        match = re.fullmatch(pattern, question)
        if match:
            return match.group(1), field
    raise AssertionError(f"unknown question {question!r}")


def _date(ex: Example) -> datetime.date:
    return datetime.date.fromisoformat(ex.answer.strip())


def _template(text: str) -> int:
    return 0 if text.startswith("report: On ") else 1 if text.startswith("report: It was ") else 2


def _summary_key(ex: Example) -> tuple[str, int]:
    return ex.answer.split(", ")[0], _template(ex.prompt)


# (part a, part b) of an example, read back from its text, for the compositional property.
PARTS = {
    "translate_en_zh": lambda ex: divmod(_number(ex), 100),
    "words_to_digits": lambda ex: divmod(_number(ex), 100),
    "dates": lambda ex: (_date(ex).month, _date(ex).day),
    "qa": _qa_key,
    "summarize": _summary_key,
}


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("name", TASKS)
def test_make_task_is_deterministic_and_disjoint(name, split):
    train, test = make_task(name, 300, 60, seed=11, split=split)
    assert (len(train), len(test)) == (300, 60)
    assert all(isinstance(e, Example) and e.task == name for e in train + test)
    assert (train, test) == make_task(name, 300, 60, seed=11, split=split)
    assert (train, test) != make_task(name, 300, 60, seed=12, split=split)
    prompts = [e.prompt for e in train]
    assert len(set(prompts)) == len(prompts) and not set(prompts) & {e.prompt for e in test}
    assert len({e.prompt for e in test}) == len(test)


@pytest.mark.parametrize("name", TASKS)
def test_compositional_split_holds_out_combinations_of_seen_parts(name):
    train, test = make_task(name, 400, 80, seed=2, split="compositional")
    parts = PARTS[name]
    train_parts = [parts(e) for e in train]
    seen_a, seen_b, seen_cells = {a for a, _ in train_parts}, {b for _, b in train_parts}, set(train_parts)
    for ex in test:
        a, b = parts(ex)
        assert (a, b) not in seen_cells, ex  # the combination is new...
        assert a in seen_a and b in seen_b, ex  # ...its parts are not


def test_compositional_numbers_in_plain_words():
    # The property spelled out for numbers: every test number's hundreds digit and last two digits
    # are each in training, in the same positions, but the number itself never is.
    train, test = make_task("words_to_digits", 300, 50, seed=4, split="compositional")
    train_numbers = {int(e.answer) for e in train}
    for n in (int(e.answer) for e in test):
        assert n not in train_numbers
        assert any(m // 100 == n // 100 for m in train_numbers)
        assert any(m % 100 == n % 100 for m in train_numbers)


def test_task_answers_are_right():
    for ex in sum(make_task("translate_en_zh", 200, 20, seed=0), []):
        assert _number(ex) == parse_chinese(ex.answer.strip())
    for ex in sum(make_task("dates", 300, 30, seed=0, split="compositional"), []):
        date = _date(ex)  # fromisoformat: a valid date, written YYYY-MM-DD
        assert YEAR_RANGE[0] <= date.year <= YEAR_RANGE[1]
        assert ex.prompt == f"date: {date_words(date)} = iso: " and ex.answer == date.isoformat() + "\n"
    sentence = re.compile(r"([A-Z][a-z]+ [A-Z][a-z]+) is an? ([a-z]+) in ([A-Za-z]+), aged (\d+)\.")
    for ex in sum(make_task("qa", 300, 30, seed=0, split="compositional"), []):
        context = re.fullmatch(r"context: (.*) question: .*", ex.prompt).group(1)
        people = {name: dict(job=job, city=city, age=age) for name, job, city, age in sentence.findall(context)}
        name, field = _qa_key(ex)
        assert len(people) == 2 and name in people  # the person asked about, and a distractor
        assert ex.answer == people[name][field] + "\n"
        assert ex.answer.strip() in context
    for ex in sum(make_task("summarize", 300, 30, seed=0), []):
        city, day, sky, temp = ex.answer.strip().split(", ")
        assert all(f in ex.prompt for f in (city, day, sky, f" {temp.removesuffix('C')} degree"))


@pytest.mark.parametrize("name", TASKS)
def test_examples_are_short_single_lines(name):
    limit = 150 if name in ("qa", "summarize") else 80
    train, test = make_task(name, min(task_size(name) - 100, 3000), 100, seed=0)
    for ex in train + test:
        assert ex.answer.endswith(END) and ex.answer.count("\n") == 1 and "\n" not in ex.prompt
        assert len(ex.text) < limit, ex.text


def test_make_task_is_the_same_in_another_process():
    # No set or hash order leaks into the data: another PYTHONHASHSEED gives the same bytes.
    code = (
        "import hashlib; from gptlib.tasks import make_task, training_text; "
        "print(hashlib.sha256(''.join(training_text(a + b) for n in ('qa', 'summarize', 'dates') "
        "for a, b in [make_task(n, 200, 40, seed=1, split='compositional')]).encode()).hexdigest())"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        digests.add(out.stdout.strip())
    splits = [make_task(n, 200, 40, seed=1, split="compositional") for n in ("qa", "summarize", "dates")]
    digests.add(hashlib.sha256("".join(training_text(a + b) for a, b in splits).encode()).hexdigest())
    assert len(digests) == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="translate"), "unknown task 'translate'; known tasks: translate_en_zh, words_to_digits, dates, qa"),
        (dict(split="systematic"), "split must be one of"),
        (dict(n_train=-1), "n_train must be an integer >= 0, got -1"),
        (dict(n_test=2.5), "n_test must be an integer >= 0"),
        (dict(seed="0"), "seed must be an integer"),
        (dict(n_train=990, n_test=20), "n_train \\+ n_test = 1010, but the task has only 1000"),
        (dict(n_train=5, n_test=100, split="compositional"), "n_train = 5 is too small"),
        (dict(n_train=50, n_test=950, split="compositional"), "at most .* items can be held out"),
    ],
)
def test_make_task_errors(kwargs, message):
    args = dict(name="words_to_digits", n_train=10, n_test=10, seed=0, split="random") | kwargs
    with pytest.raises(ValueError, match=message):
        make_task(**args)


def test_task_size_refuses_unknown_names():
    with pytest.raises(ValueError, match="known tasks"):
        task_size("poems")


# ---------------------------------------------------------------------------------------------
# The split helpers on their own


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(2, 8),
    cols=st.integers(2, 8),
    per_cell=st.integers(1, 3),
    n_test=st.integers(0, 6),
    seed=st.integers(0, 10**6),
)
def test_compositional_split_property(rows, cols, per_cell, n_test, seed):
    items = [(a, b, k) for a in range(rows) for b in range(cols) for k in range(per_cell)]
    parts = lambda item: item[:2]  # noqa: E731
    n_train = len(items) // 2
    try:
        train, test = compositional_split(items, parts, n_train, n_test, random.Random(seed))
    except ValueError as err:  # allowed only for the documented reasons
        assert "held out" in str(err) or "too small" in str(err) or "left outside" in str(err)
        return
    assert len(train) == n_train and len(test) == n_test and not set(train) & set(test)
    train_cells = {parts(i) for i in train}
    for a, b, _ in test:
        assert (a, b) not in train_cells
        assert any(x == a for x, _ in train_cells) and any(y == b for _, y in train_cells)
    assert (train, test) == compositional_split(items, parts, n_train, n_test, random.Random(seed))


@settings(max_examples=30, deadline=None)
@given(size=st.integers(0, 40), n_train=st.integers(0, 40), n_test=st.integers(0, 40), seed=st.integers(0, 99))
def test_random_split_property(size, n_train, n_test, seed):
    items = list(range(size))
    if n_train + n_test > size:
        with pytest.raises(ValueError, match="only"):
            random_split(items, n_train, n_test, random.Random(seed))
        return
    train, test = random_split(items, n_train, n_test, random.Random(seed))
    assert len(train) == n_train and len(test) == n_test and len(set(train + test)) == n_train + n_test
