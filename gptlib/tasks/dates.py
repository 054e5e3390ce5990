"""Dates in words and their ISO form: "the third of March, 1997" -> "1997-03-03".

- :func:`ordinal_words`     ``23 -> "twenty-third"`` (1..31, the days of a month)
- :func:`date_words`        a :class:`datetime.date` in words: "the {day} of {Month}, {year}"
- :func:`parse_date_words`  the inverse, back to a :class:`datetime.date` (``datetime`` checks validity)
- :func:`words_to_iso`      the task's exact answer: the ISO 8601 form "YYYY-MM-DD"
- :func:`all_dates`, :func:`random_dates`  every valid date of a year range, or ``n`` distinct ones

The year stays in digits, so the task is about the day and the month; month names are written
here, not taken from :mod:`calendar`, whose names follow the machine's locale.

>>> import datetime
>>> date_words(datetime.date(1997, 3, 3))
'the third of March, 1997'
>>> words_to_iso("the twenty-ninth of February, 2024")
'2024-02-29'
"""

from __future__ import annotations

import datetime
import random
import re
from collections.abc import Iterator

from .._checks import check_int, is_int

__all__ = [
    "MONTHS",
    "ordinal_words",
    "date_words",
    "parse_date_words",
    "words_to_iso",
    "all_dates",
    "random_dates",
]

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

_FIRST_ORDINALS = (
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
    "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth"
).split()


def ordinal_words(day: int) -> str:
    """The ordinal of ``day`` (1..31) in words, hyphenated like the cardinals.

    >>> ordinal_words(1), ordinal_words(12), ordinal_words(20), ordinal_words(31)
    ('first', 'twelfth', 'twentieth', 'thirty-first')
    """
    day = check_int("ordinal_words: day", day, minimum=1, maximum=31)
    if day < 20:
        return _FIRST_ORDINALS[day - 1]
    tens, units = divmod(day, 10)
    stem = ("twenty", "thirty")[tens - 2]
    return f"{stem}-{_FIRST_ORDINALS[units - 1]}" if units else f"{stem[:-1]}ieth"


_DAY_OF = {ordinal_words(d): d for d in range(1, 32)}
_DATE_RE = re.compile(r"the ([a-z-]+) of ([A-Za-z]+), (\d{1,4})")


def date_words(date: datetime.date) -> str:
    """``date`` in words, e.g. "the first of May, 2001" (the year in digits, no leading zeros).

    >>> date_words(datetime.date(2001, 5, 1))
    'the first of May, 2001'
    """
    if not isinstance(date, datetime.date):
        raise TypeError(f"date_words: date must be a datetime.date, got {type(date).__name__}")
    return f"the {ordinal_words(date.day)} of {MONTHS[date.month - 1]}, {date.year}"


def parse_date_words(text: str) -> datetime.date:
    """The date :func:`date_words` writes as ``text``; ``ValueError`` for a bad form or an impossible date.

    >>> parse_date_words("the thirtieth of February, 2001")
    Traceback (most recent call last):
    ...
    ValueError: parse_date_words: 'the thirtieth of February, 2001' is not a valid date (day is out of range for month)
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_date_words: text must be a str, got {type(text).__name__}")
    match = _DATE_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"parse_date_words: {text!r} is not of the form 'the <ordinal> of <Month>, <year>'")
    day_word, month_word, year = match.groups()
    if day_word not in _DAY_OF:
        raise ValueError(f"parse_date_words: {day_word!r} is not a day ordinal 'first'..'thirty-first'")
    if month_word not in MONTHS:
        raise ValueError(f"parse_date_words: {month_word!r} is not a month; allowed: {', '.join(MONTHS)}")
    if year.startswith("0"):
        raise ValueError(f"parse_date_words: year {year!r} has a leading zero")
    try:
        return datetime.date(int(year), MONTHS.index(month_word) + 1, _DAY_OF[day_word])
    except ValueError as err:
        raise ValueError(f"parse_date_words: {text!r} is not a valid date ({err})") from None


def words_to_iso(text: str) -> str:
    """The ISO 8601 date ("YYYY-MM-DD") of a date in words: the exact answer of the dates task.

    >>> words_to_iso("the third of March, 1997")
    '1997-03-03'
    """
    return parse_date_words(text).isoformat()


def _check_years(start_year: object, end_year: object, who: str) -> tuple[int, int]:
    start = check_int(f"{who}: start_year", start_year, minimum=datetime.MINYEAR, maximum=datetime.MAXYEAR)
    end = check_int(f"{who}: end_year", end_year, minimum=datetime.MINYEAR, maximum=datetime.MAXYEAR)
    if start > end:
        raise ValueError(f"{who}: start_year ({start}) is after end_year ({end})")
    return start, end


def all_dates(start_year: int, end_year: int) -> Iterator[datetime.date]:
    """Every valid date from 1 January ``start_year`` to 31 December ``end_year``, in order.

    >>> sum(1 for _ in all_dates(2023, 2024))   # 365 + 366: 2024 is a leap year
    731
    """
    start, end = _check_years(start_year, end_year, "all_dates")
    first = datetime.date(start, 1, 1).toordinal()
    for ordinal in range(first, datetime.date(end, 12, 31).toordinal() + 1):
        yield datetime.date.fromordinal(ordinal)


def random_dates(n: int, seed: int, start_year: int = 1950, end_year: int = 2049) -> list[datetime.date]:
    """``n`` distinct valid dates in ``[start_year, end_year]``, drawn with ``random.Random(seed)``.

    >>> random_dates(3, seed=0) == random_dates(3, seed=0)
    True
    """
    start, end = _check_years(start_year, end_year, "random_dates")
    if not is_int(seed):
        raise ValueError(f"random_dates: seed must be an integer, got {seed!r}")
    first, last = datetime.date(start, 1, 1).toordinal(), datetime.date(end, 12, 31).toordinal()
    n = check_int("random_dates: n", n, minimum=0, maximum=last - first + 1)
    picks = random.Random(seed).sample(range(first, last + 1), n)
    return [datetime.date.fromordinal(o) for o in picks]
