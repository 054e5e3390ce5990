"""A small table of fictional people, and reading-comprehension questions about it.

- :class:`Person`       name, city, job, age
- :func:`fact_table`    the people: every first name x surname pair, with seeded city, job and age
- :func:`describe`      one person as a sentence: "Ada Lin is a baker in Oslo, aged 34."
- :func:`question`, :func:`answer`  a question about one field of a person, and its answer
- :func:`qa_triple`     (context, question, answer): the context describes the person asked about
  and one other person (a distractor), in a seeded order, so the answer has to be *found* in the
  context, next to a look-alike, rather than copied from a fixed place.

The answer is always a field of the context, written exactly as there.

>>> ada = Person("Ada Lin", "Oslo", "baker", 34)
>>> describe(ada)
'Ada Lin is a baker in Oslo, aged 34.'
>>> question(ada, "city"), answer(ada, "city")
('where does Ada Lin live?', 'Oslo')
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .._checks import check_int, is_int

__all__ = [
    "FIRST_NAMES",
    "SURNAMES",
    "CITIES",
    "JOBS",
    "AGES",
    "FIELDS",
    "Person",
    "fact_table",
    "describe",
    "question",
    "answer",
    "qa_triple",
]

FIRST_NAMES = (
    "Ada", "Ben", "Cara", "Dan", "Eva", "Finn", "Gus", "Hana", "Ivo", "Jade", "Kai", "Lena",
    "Max", "Nora", "Otto", "Pia", "Rex", "Sara", "Tom", "Una", "Vic", "Wendy", "Yuri", "Zoe",
)  # fmt: skip
SURNAMES = (
    "Lin", "Ito", "Berg", "Cole", "Diaz", "Eng", "Fox", "Gray", "Holm", "Ibsen", "Jung", "Kent",
    "Lund", "Moss", "Nash", "Ortiz", "Park", "Quinn", "Ross", "Shaw", "Tran", "Voss", "Webb", "Young",
)  # fmt: skip
CITIES = (
    "Oslo", "Rome", "Paris", "Lima", "Cairo", "Delhi", "Tokyo", "Quito",
    "Dakar", "Seoul", "Lagos", "Perth", "Milan", "Kyiv", "Riga", "Hanoi",
)  # fmt: skip
JOBS = (
    "baker", "nurse", "pilot", "farmer", "actor", "judge", "tailor", "miner",
    "chef", "poet", "dentist", "plumber", "editor", "painter", "teacher", "engineer",
)  # fmt: skip
AGES = range(20, 70)
FIELDS = ("city", "job", "age")


@dataclass(frozen=True)
class Person:
    """One row of the fact table."""

    name: str
    city: str
    job: str
    age: int


def fact_table(seed: int, n_people: int | None = None) -> list[Person]:
    """``n_people`` distinct people (default: all 24 x 24 = 576 name pairs), in a seeded order.

    Each gets a city, a job and an age drawn with ``random.Random(seed)``; the same seed gives the
    same table.

    >>> table = fact_table(seed=0)
    >>> len(table), len({p.name for p in table}), table == fact_table(seed=0)
    (576, 576, True)
    """
    if not is_int(seed):
        raise ValueError(f"fact_table: seed must be an integer, got {seed!r}")
    names = [f"{first} {last}" for first in FIRST_NAMES for last in SURNAMES]
    n = len(names) if n_people is None else check_int("fact_table: n_people", n_people, minimum=1, maximum=len(names))
    rng = random.Random(seed)
    rng.shuffle(names)
    return [Person(name, rng.choice(CITIES), rng.choice(JOBS), rng.choice(AGES)) for name in names[:n]]


def describe(person: Person) -> str:
    """One sentence with every field of ``person`` ("an" before a vowel).

    >>> describe(Person("Otto Eng", "Lima", "actor", 51))
    'Otto Eng is an actor in Lima, aged 51.'
    """
    article = "an" if person.job[:1] in "aeiou" else "a"
    return f"{person.name} is {article} {person.job} in {person.city}, aged {person.age}."


def _check_field(field: str, who: str) -> None:
    if field not in FIELDS:
        raise ValueError(f"{who}: field must be one of {FIELDS}, got {field!r}")


def question(person: Person, field: str) -> str:
    """The question asking for ``field`` ("city", "job" or "age") of ``person``.

    >>> [question(Person("Ada Lin", "Oslo", "baker", 34), f) for f in FIELDS]
    ['where does Ada Lin live?', "what is Ada Lin's job?", 'how old is Ada Lin?']
    """
    _check_field(field, "question")
    return {
        "city": f"where does {person.name} live?",
        "job": f"what is {person.name}'s job?",
        "age": f"how old is {person.name}?",
    }[field]


def answer(person: Person, field: str) -> str:
    """The value of ``field`` for ``person``, as text.

    >>> answer(Person("Ada Lin", "Oslo", "baker", 34), "age")
    '34'
    """
    _check_field(field, "answer")
    return str(getattr(person, field))


def qa_triple(person: Person, field: str, distractor: Person, person_first: bool) -> tuple[str, str, str]:
    """(context, question, answer): both people described, ``person`` first or second.

    >>> ada, ben = Person("Ada Lin", "Oslo", "baker", 34), Person("Ben Ito", "Rome", "nurse", 51)
    >>> qa_triple(ada, "job", ben, person_first=False)
    ('Ben Ito is a nurse in Rome, aged 51. Ada Lin is a baker in Oslo, aged 34.', "what is Ada Lin's job?", 'baker')
    """
    if distractor.name == person.name:
        raise ValueError(f"qa_triple: the distractor must be another person, got {person.name!r} twice")
    pair = (person, distractor) if person_first else (distractor, person)
    context = " ".join(describe(p) for p in pair)
    return context, question(person, field), answer(person, field)
