"""Time phrases in English questions, resolved against an injected "today".

Ranges are half-open `[start, end)` and whole periods: "last quarter" on 2026-11-01 is
2026-07-01..2026-10-01, "last 3 months" the three complete months before the current one,
"March" the latest March that has begun, "since March" from its first day on. Weeks start on
Monday, as PostgreSQL's `date_trunc('week', …)` does. Grains come from "by month", "per week",
"monthly", "quarter over quarter"; "over time" / "trend" asks for the dataset's natural grain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from ipai_core.genie.text import NUMBER_WORD, number
from ipai_core.semantic.query import TimeGrain, TimeRange

Unit = TimeGrain
_MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3}
_ORDINALS |= {"fourth": 4, "4th": 4}
_GRAIN_WORDS: dict[str, TimeGrain] = {
    "daily": "day",
    "weekly": "week",
    "monthly": "month",
    "quarterly": "quarter",
    "yearly": "year",
    "annually": "year",
}
_MONTH_WORDS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_UNIT = r"(?P<unit>day|week|month|quarter|year)s?"
_COUNT = r"(?P<n>\d{1,3}|" + NUMBER_WORD + ")"


_TIME_TEXT = """january february march april may june july august september october november
    december day days week weeks month months quarter quarters year years daily weekly monthly
    quarterly yearly annually last this next previous past current since between until before
    after through till ago today yesterday date dated end start beginning over time trend trends
    timeline history series ytd mtd qtd"""
TIME_WORDS = frozenset(_TIME_TEXT.split())


def _year(name: str) -> str:
    return rf"(?P<{name}>(?:19|20)\d{{2}})"


def _point_pattern(key: str) -> str:
    """A point in time that names a period: a month (and year), a quarter, a date, a year."""
    weekday = r"(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?,?\s+)?"
    return (
        rf"(?:{weekday}(?P<{key}d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?"
        rf"(?P<{key}dm>{_MONTH_WORDS})(?:,?\s+{_year(key + 'dy')})?"
        rf"|{weekday}(?P<{key}md>{_MONTH_WORDS})\s+(?P<{key}mdd>\d{{1,2}})(?:st|nd|rd|th)?\b"
        rf"(?:,?\s+{_year(key + 'mdy')})?"
        rf"|(?P<{key}m>{_MONTH_WORDS})(?:\s+{_year(key + 'my')})?"
        rf"|q(?P<{key}q>[1-4])(?:\s+{_year(key + 'qy')})?"
        rf"|(?P<{key}iso>\d{{4}}-\d{{2}}-\d{{2}})|{_year(key + 'y')})"
    )


@dataclass(frozen=True)
class TimeMatch:
    """What the time phrases of a question say, and the character spans they used."""

    time_range: TimeRange | None = None
    grain: TimeGrain | None = None
    natural_grain: bool = False  # "over time", "trend": the dataset's own grain
    spans: tuple[tuple[int, int], ...] = ()
    phrases: tuple[str, ...] = field(default=())

    @property
    def found(self) -> bool:
        return self.time_range is not None or self.grain is not None or self.natural_grain

    def covers(self, day: date) -> bool:
        """Whether the range named includes `day` ("this month", "today")."""
        r = self.time_range
        return r is not None and (r.start or day) <= day and (r.end is None or day < r.end)


def parse_time(question: str, today: date) -> TimeMatch:
    """The time range and grain named in `question`, relative to `today`."""
    text = question.lower()
    spans: list[tuple[int, int]] = []
    phrases: list[str] = []
    grain, natural = _grain(text, spans, phrases)
    time_range = None
    for pattern, resolve in _RANGE_RULES:
        for match in re.finditer(pattern, text):
            if _overlaps(match.span(), spans):
                continue
            resolved = resolve(match, today)
            if resolved is None:
                continue
            time_range = resolved
            spans.append(match.span())
            phrases.append(match.group().strip())
            break
        if time_range is not None:
            break
    for match in _ALL_TIME.finditer(text):  # says no period is meant: consumed, no range
        if not _overlaps(match.span(), spans):
            spans.append(match.span())
            phrases.append(match.group())
    return TimeMatch(time_range, grain, natural, tuple(spans), tuple(phrases))


def _grain(
    text: str, spans: list[tuple[int, int]], phrases: list[str]
) -> tuple[TimeGrain | None, bool]:
    patterns: list[tuple[str, TimeGrain | None]] = [
        (r"\b(?:by|per|each|every|a|which|what)\s+(?P<g>day|week|month|quarter|year)\b", None),
        (r"\b(?P<g>day|week|month|quarter|year)\s+(?:over|on)\s+(?P=g)\b", None),
        (r"\b(?P<w>daily|weekly|monthly|quarterly|yearly|annually)\b", None),
    ]
    for pattern, _ in patterns:
        match = re.search(pattern, text)
        if match:
            spans.append(match.span())
            phrases.append(match.group())
            groups = match.groupdict()
            word = groups.get("g") or ""
            return (_GRAIN_WORDS[groups["w"]] if groups.get("w") else _as_unit(word)), False
    match = re.search(r"\b(?:over time|trends?|timeline|time series|history)\b", text)
    if match:
        spans.append(match.span())
        phrases.append(match.group())
        return None, True
    return None, False


# --- resolvers: each returns the range a matched phrase names, or None when it names none


def _to_date(match: re.Match[str], today: date) -> TimeRange | None:
    start = _start_of(today, _as_unit(match.group("unit")))
    return TimeRange(start=start, end=today + timedelta(days=1))


def _to_date_abbrev(match: re.Match[str], today: date) -> TimeRange | None:
    unit = {"y": "year", "q": "quarter", "m": "month", "w": "week"}[match.group("u")]
    return TimeRange(start=_start_of(today, _as_unit(unit)), end=today + timedelta(days=1))


def _last_n(match: re.Match[str], today: date) -> TimeRange | None:
    n = number(match.group("n"))
    unit = _as_unit(match.group("unit"))
    current = _start_of(today, unit)
    if match.group("rel") == "next":
        return TimeRange(start=_shift(current, unit, 1), end=_shift(current, unit, n + 1))
    return TimeRange(start=_shift(current, unit, -n), end=current)


def _relative(match: re.Match[str], today: date) -> TimeRange | None:
    unit = _as_unit(match.group("unit"))
    current = _start_of(today, unit)
    offset = {"this": 0, "current": 0, "last": -1, "previous": -1, "past": -1, "next": 1}
    start = _shift(current, unit, offset[match.group("rel")])
    return TimeRange(start=start, end=_shift(start, unit, 1))


def _day_word(match: re.Match[str], today: date) -> TimeRange | None:
    day = today if match.group("d") == "today" else today - timedelta(days=1)
    return TimeRange(start=day, end=day + timedelta(days=1))


def _ordinal_quarter(match: re.Match[str], today: date) -> TimeRange | None:
    quarter = _ORDINALS[match.group("o")]
    year = int(match.group("y")) if match.group("y") else _latest_year(today, (quarter - 1) * 3 + 1)
    start = date(year, (quarter - 1) * 3 + 1, 1)
    return TimeRange(start=start, end=_shift(start, "quarter", 1))


def _between(match: re.Match[str], today: date) -> TimeRange | None:
    first = _point(match, "a", today)
    last = _point(match, "b", today)
    if first is None or last is None or first.start is None or last.end is None:
        return None
    if first.start >= last.end:
        return None
    return TimeRange(start=first.start, end=last.end)


def _since(match: re.Match[str], today: date) -> TimeRange | None:
    point = _point(match, "a", today)
    return None if point is None or point.start is None else TimeRange(start=point.start)


def _until(match: re.Match[str], today: date) -> TimeRange | None:
    point = _point(match, "a", today)
    if point is None or point.start is None:
        return None
    end = point.start if match.group("kind") == "before" else point.end
    return TimeRange(end=end)


def _at(match: re.Match[str], today: date) -> TimeRange | None:
    return _point(match, "a", today)


def _bare(match: re.Match[str], today: date) -> TimeRange | None:
    """A point with no preposition: "may" or "mar" alone is more likely a word than a month."""
    month = match.group("am")
    if month and not match.group("amy") and (month == "may" or len(month) < 4):
        return None
    return _point(match, "a", today)


def _point(match: re.Match[str], key: str, today: date) -> TimeRange | None:
    groups = match.groupdict()
    for day_key, month_key, year_key in (
        (f"{key}d", f"{key}dm", f"{key}dy"),
        (f"{key}mdd", f"{key}md", f"{key}mdy"),
    ):
        if groups.get(day_key):
            month = _MONTHS[groups[month_key][:3]]
            year = int(groups[year_key]) if groups.get(year_key) else _latest_year(today, month)
            try:
                day = date(year, month, int(groups[day_key]))
            except ValueError:
                return None
            return TimeRange(start=day, end=day + timedelta(days=1))
    if groups.get(f"{key}m"):
        month = _MONTHS[groups[f"{key}m"][:3]]
        year_text = groups.get(f"{key}my")
        year = int(year_text) if year_text else _latest_year(today, month)
        start = date(year, month, 1)
        return TimeRange(start=start, end=_shift(start, "month", 1))
    if groups.get(f"{key}q"):
        quarter = int(groups[f"{key}q"])
        year_text = groups.get(f"{key}qy")
        year = int(year_text) if year_text else _latest_year(today, (quarter - 1) * 3 + 1)
        start = date(year, (quarter - 1) * 3 + 1, 1)
        return TimeRange(start=start, end=_shift(start, "quarter", 1))
    if groups.get(f"{key}iso"):
        try:
            day = date.fromisoformat(groups[f"{key}iso"])
        except ValueError:
            return None
        return TimeRange(start=day, end=day + timedelta(days=1))
    if groups.get(f"{key}y"):
        year = int(groups[f"{key}y"])
        return TimeRange(start=date(year, 1, 1), end=date(year + 1, 1, 1))
    return None


def _weeks_from(match: re.Match[str], today: date) -> TimeRange | None:
    """ "the week of Monday 7 September", "the 4 weeks starting 5 October": whole weeks from
    that day on."""
    point = _point(match, "a", today)
    if point is None or point.start is None:
        return None
    if match.group("open"):  # "starting the week of …": from that week on
        return TimeRange(start=point.start)
    weeks = number(match.group("n")) if match.group("n") else 1
    return TimeRange(start=point.start, end=point.start + timedelta(weeks=weeks))


def _year_ending(match: re.Match[str], today: date) -> TimeRange | None:
    """ "the financial year ending October 2026": the twelve months up to that month's end."""
    point = _point(match, "a", today)
    if point is None or point.start is None or point.end is None:
        return None
    last = point.start.replace(day=1)
    return TimeRange(start=_shift(last, "month", -11), end=_shift(last, "month", 1))


_ALL_TIME = re.compile(
    r"\b(?:all[- ]time|of all time|ever|to date|so far|since (?:the )?(?:start|beginning)"
    r"|(?:over|for|across|in|during) the (?:whole|entire|full|complete) (?:period|history|time"
    r"|data|year range|range))\b"
)

_RANGE_RULES = [
    (
        rf"\b(?:(?P<open>starting|from|since|beginning)\s+)?"
        rf"(?:(?:the|for the|over the|in the)\s+)?"
        rf"(?:(?P<n>\d{{1,2}}|{NUMBER_WORD})\s+weeks?|week)"
        rf"\s+(?:of|starting|beginning|commencing|from)\s+(?:on\s+)?{_point_pattern('a')}",
        _weeks_from,
    ),
    (
        rf"\b(?:financial|fiscal|business)\s+year\s+(?:ending|ended|to|through)\s+(?:in\s+)?"
        rf"{_point_pattern('a')}",
        _year_ending,
    ),
    (r"\b(?P<unit>year|quarter|month|week)[- ]to[- ]date\b", _to_date),
    (r"\b(?P<u>[yqmw])td\b", _to_date_abbrev),
    (r"\b(?P<rel>last|past|previous|next)\s+" + _COUNT + r"\s+" + _UNIT + r"\b", _last_n),
    (r"\b(?P<rel>this|current|last|previous|past|next)\s+" + _UNIT + r"\b", _relative),
    (r"\b(?P<d>today|yesterday)\b", _day_word),
    (
        r"\b(?:the\s+)?(?P<o>first|1st|second|2nd|third|3rd|fourth|4th)\s+quarter"
        rf"(?:\s+(?:of\s+)?{_year('y')})?\b",
        _ordinal_quarter,
    ),
    (
        rf"\b(?:between|from)\s+{_point_pattern('a')}\s+(?:and|to|until|through|till)\s+"
        rf"(?:the\s+end\s+of\s+)?{_point_pattern('b')}\b",
        _between,
    ),
    (rf"\bsince\s+{_point_pattern('a')}\b", _since),
    (rf"\b(?P<kind>before|until|through|till)\s+{_point_pattern('a')}\b", _until),
    (rf"\b(?:in|during|for|of|on|at)\s+(?:the\s+end\s+of\s+)?{_point_pattern('a')}\b", _at),
    (rf"\b{_point_pattern('a')}\b", _bare),
]


def _start_of(day: date, unit: Unit) -> date:
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return date(day.year, 1, 1)


def _shift(start: date, unit: Unit, n: int) -> date:
    """`start` (the first day of a period) moved by `n` periods."""
    if unit == "day":
        return start + timedelta(days=n)
    if unit == "week":
        return start + timedelta(weeks=n)
    months = {"month": 1, "quarter": 3, "year": 12}[unit] * n
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _latest_year(today: date, month: int) -> int:
    """The year of the latest month `month` that has begun by `today`."""
    return today.year if month <= today.month else today.year - 1


def _as_unit(word: str) -> Unit:
    unit: Unit = {"day": "day", "week": "week", "month": "month", "quarter": "quarter"}.get(
        word, "year"
    )  # type: ignore[assignment]
    return unit


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in taken)
