"""Number words, English and Chinese, for 0..9999, and parsers that read them back.

- :func:`english_words`  ``305 -> "three hundred and five"``
- :func:`chinese_words`  ``305 -> "三百零五"``
- :func:`parse_english`, :func:`parse_chinese`  the inverses; they accept only the exact spelling
  the writers produce, so ``parse(words(n)) == n`` and ``words(parse(s)) == s``.

The conventions, chosen once and used everywhere:

English (British style): "and" goes before the last two digits when they are not both zero and a
hundred or a thousand comes before them ("three hundred and five", "one thousand and one",
"two thousand one hundred"); tens and units are joined by a hyphen ("twenty-one"); no commas.

Chinese (the standard reading of digits, 小写 numerals):

- every non-zero digit is written with its unit 千, 百, 十 ("二千三百四十五" for 2345);
- zeros inside the number are read once, as 零, however many there are ("一千零一" for 1001,
  "三百零五" for 305, "一千零一十" for 1010); zeros at the end are not read ("一千一百" for 1100);
- a number that *starts* with ten drops the 一: "十五" for 15, but "一百一十五" for 115;
- 二 is used throughout (speech often says 两千 for 2000; we keep the one written form).

>>> english_words(2021), chinese_words(2021)
('two thousand and twenty-one', '二千零二十一')
>>> parse_english("one hundred and fifteen"), parse_chinese("一百一十五")
(115, 115)
"""

from __future__ import annotations

from .._checks import is_int

__all__ = ["MAX_NUMBER", "english_words", "chinese_words", "parse_english", "parse_chinese"]

MAX_NUMBER = 9999  # the writers cover 0..MAX_NUMBER

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")

_ZH_DIGITS = "零一二三四五六七八九"
_ZH_UNITS = ((1000, "千"), (100, "百"), (10, "十"), (1, ""))


def _check_number(n: object, who: str) -> int:
    if not is_int(n) or not 0 <= n <= MAX_NUMBER:  # type: ignore[operator]
        raise ValueError(f"{who}: n must be an integer in [0, {MAX_NUMBER}], got {n!r}")
    return int(n)  # type: ignore[call-overload]


def _below_hundred(n: int) -> str:
    if n < 20:
        return _ONES[n]
    tens, units = divmod(n, 10)
    return _TENS[tens] + (f"-{_ONES[units]}" if units else "")


def english_words(n: int) -> str:
    """``n`` in English words, British style (see the module docstring).

    >>> english_words(0), english_words(21), english_words(305)
    ('zero', 'twenty-one', 'three hundred and five')
    >>> english_words(1100), english_words(1001)
    ('one thousand one hundred', 'one thousand and one')
    >>> english_words(10000)
    Traceback (most recent call last):
    ...
    ValueError: english_words: n must be an integer in [0, 9999], got 10000
    """
    n = _check_number(n, "english_words")
    if n == 0:
        return "zero"
    thousands, rest = divmod(n, 1000)
    hundreds, last_two = divmod(rest, 100)
    parts = []
    if thousands:
        parts.append(f"{_ONES[thousands]} thousand")
    if hundreds:
        parts.append(f"{_ONES[hundreds]} hundred")
    if last_two:
        if parts:
            parts.append("and")
        parts.append(_below_hundred(last_two))
    return " ".join(parts)


def chinese_words(n: int) -> str:
    """``n`` in Chinese numerals (see the module docstring for the 零 and 十 rules).

    >>> [chinese_words(n) for n in (0, 10, 15, 21, 115, 305, 1001, 1010, 1100)]
    ['零', '十', '十五', '二十一', '一百一十五', '三百零五', '一千零一', '一千零一十', '一千一百']
    """
    n = _check_number(n, "chinese_words")
    if n == 0:
        return _ZH_DIGITS[0]
    out: list[str] = []
    started = False  # has a non-zero digit been written yet?
    zero_pending = False  # a zero since the last written digit, to be read as one 零
    for unit, unit_char in _ZH_UNITS:
        digit = n // unit % 10
        if digit == 0:
            zero_pending = zero_pending or started
            continue
        if zero_pending:
            out.append(_ZH_DIGITS[0])
            zero_pending = False
        if not (unit == 10 and digit == 1 and not started):  # 十五, not 一十五, only at the start
            out.append(_ZH_DIGITS[digit])
        out.append(unit_char)
        started = True
    return "".join(out)


def _not_canonical(text: str, n: int, expected: str, who: str) -> ValueError:
    return ValueError(f"{who}: {text!r} reads as {n}, but {n} is written {expected!r}; only that spelling is accepted")


_EN_VALUE = {word: i for i, word in enumerate(_ONES)} | {w: 10 * i for i, w in enumerate(_TENS) if w}


def parse_english(text: str) -> int:
    """The number that :func:`english_words` writes as ``text`` (that exact spelling only).

    >>> parse_english("two thousand and twenty-one")
    2021
    >>> parse_english("three hundred five")
    Traceback (most recent call last):
    ...
    ValueError: parse_english: 'three hundred five' reads as 305, but 305 is written 'three hundred and five'; ...
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_english: text must be a str, got {type(text).__name__}")
    total = group = 0  # total: the thousands already closed; group: the number being built
    for token in text.split(" "):
        if token == "and":
            continue
        if token in ("hundred", "thousand"):
            if group == 0 or group > 9 and token == "hundred":
                raise ValueError(f"parse_english: {token!r} must follow a digit word one..nine in {text!r}")
            if token == "hundred":
                group *= 100
            else:
                total, group = total + group * 1000, 0
            continue
        pieces = token.split("-")
        if not all(p in _EN_VALUE for p in pieces) or len(pieces) > 2:
            raise ValueError(
                f"parse_english: unknown number word {token!r} in {text!r}; allowed: zero..nineteen, "
                "twenty..ninety (with '-one'..'-nine'), 'hundred', 'thousand', 'and'"
            )
        group += sum(_EN_VALUE[p] for p in pieces)
    n = total + group
    if n > MAX_NUMBER:
        raise ValueError(f"parse_english: {text!r} reads as {n}, outside [0, {MAX_NUMBER}]")
    expected = english_words(n)
    if expected != text:
        raise _not_canonical(text, n, expected, "parse_english")
    return n


def parse_chinese(text: str) -> int:
    """The number that :func:`chinese_words` writes as ``text`` (that exact spelling only).

    >>> parse_chinese("一千零一"), parse_chinese("十五")
    (1001, 15)
    >>> parse_chinese("一十五")
    Traceback (most recent call last):
    ...
    ValueError: parse_chinese: '一十五' reads as 15, but 15 is written '十五'; only that spelling is accepted
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_chinese: text must be a str, got {type(text).__name__}")
    if not text:
        raise ValueError("parse_chinese: text is empty")
    units = {char: unit for unit, char in _ZH_UNITS if char}
    n = 0
    digit: int | None = None  # a digit waiting for its unit
    for i, char in enumerate(text):
        if char in units:
            if digit is None and not (char == "十" and i == 0):
                raise ValueError(f"parse_chinese: unit {char!r} at position {i} of {text!r} has no digit before it")
            n += (1 if digit is None else digit) * units[char]
            digit = None
        elif char in _ZH_DIGITS:
            if digit is not None:
                raise ValueError(f"parse_chinese: two digits in a row at position {i} of {text!r}")
            value = _ZH_DIGITS.index(char)
            digit = value if value else None
        else:
            raise ValueError(
                f"parse_chinese: unknown character {char!r} in {text!r}; allowed: {_ZH_DIGITS} and 十百千"
            )
    n += digit or 0
    if n > MAX_NUMBER:
        raise ValueError(f"parse_chinese: {text!r} reads as {n}, outside [0, {MAX_NUMBER}]")
    expected = chinese_words(n)
    if expected != text:
        raise _not_canonical(text, n, expected, "parse_chinese")
    return n
