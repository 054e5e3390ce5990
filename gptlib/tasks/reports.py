"""Short generated weather reports and their summaries (the key fields in a fixed short form).

- :class:`Weather`      the key fields (city, day, sky, temperature) and which sentence template
- :data:`TEMPLATES`     three wordings that put the fields in different places and orders
- :func:`report`        the report sentence; :func:`summary` its TL;DR: "Oslo, Monday, sunny, 21C"
- :func:`all_weather`   every combination of fields and template (the task's whole space)

Summarizing here means extracting: find the four fields wherever the template put them and write
them in the fixed order city, day, sky, temperature. Every field of the summary appears in the
report, word for word (the temperature as its number).

>>> w = Weather("Oslo", "Monday", "sunny", 21, template=0)
>>> report(w)
'On Monday Oslo was sunny, with a high of 21 degrees.'
>>> summary(w)
'Oslo, Monday, sunny, 21C'
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["CITIES", "DAYS", "SKIES", "TEMPERATURES", "TEMPLATES", "Weather", "report", "summary", "all_weather"]

CITIES = (
    "Oslo", "Rome", "Paris", "Lima", "Cairo", "Delhi", "Tokyo", "Quito", "Dakar", "Seoul",
    "Lagos", "Perth", "Milan", "Kyiv", "Riga", "Hanoi", "Bern", "Accra", "Dublin", "Santiago",
)  # fmt: skip
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SKIES = ("sunny", "cloudy", "rainy", "windy", "snowy", "foggy")
TEMPERATURES = range(-5, 31)
TEMPLATES = (
    "On {day} {city} was {sky}, with a high of {temp} {degrees}.",
    "It was {sky} in {city} on {day}, and the temperature reached {temp} {degrees}.",
    "{city} had a {sky} {day}: the thermometer read {temp} {degrees}.",
)


@dataclass(frozen=True)
class Weather:
    """The key fields of one report, and the index of its template in :data:`TEMPLATES`."""

    city: str
    day: str
    sky: str
    temp: int
    template: int = 0

    def __post_init__(self) -> None:
        for name, value, allowed in (("city", self.city, CITIES), ("day", self.day, DAYS), ("sky", self.sky, SKIES)):
            if value not in allowed:
                raise ValueError(f"Weather: {name} must be one of {allowed}, got {value!r}")
        if isinstance(self.temp, bool) or self.temp not in TEMPERATURES:
            raise ValueError(f"Weather: temp must be an integer in [-5, 30], got {self.temp!r}")
        if isinstance(self.template, bool) or self.template not in range(len(TEMPLATES)):
            raise ValueError(f"Weather: template must be 0, 1 or 2, got {self.template!r}")


def report(weather: Weather) -> str:
    """The report: the template filled with the fields.

    >>> report(Weather("Riga", "Friday", "snowy", -3, template=2))
    'Riga had a snowy Friday: the thermometer read -3 degrees.'
    >>> report(Weather("Riga", "Friday", "snowy", 1))
    'On Friday Riga was snowy, with a high of 1 degree.'
    """
    w = weather
    degrees = "degree" if abs(w.temp) == 1 else "degrees"  # 1 degree, -1 degree; 0, 2, 21 degrees
    return TEMPLATES[w.template].format(city=w.city, day=w.day, sky=w.sky, temp=w.temp, degrees=degrees)


def summary(weather: Weather) -> str:
    """The TL;DR: "city, day, sky, temperatureC", the same whatever the template.

    >>> summary(Weather("Riga", "Friday", "snowy", -3, template=2))
    'Riga, Friday, snowy, -3C'
    """
    w = weather
    return f"{w.city}, {w.day}, {w.sky}, {w.temp}C"


def all_weather() -> Iterator[Weather]:
    """Every report there is: 20 cities x 7 days x 6 skies x 36 temperatures x 3 templates.

    >>> sum(1 for _ in all_weather())
    90720
    """
    for city in CITIES:
        for template in range(len(TEMPLATES)):
            for day in DAYS:
                for sky in SKIES:
                    for temp in TEMPERATURES:
                        yield Weather(city, day, sky, temp, template)
