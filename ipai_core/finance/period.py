"""Which slice of the books a figure covers: a run of whole months and, optionally, companies."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from ipai_core.errors import InvalidPeriod


@dataclass(frozen=True)
class Period:
    """Whole months from `start`'s month to `end`'s month, both included. Gold P&L and cash flow
    are monthly, so a period never cuts a month: a figure for the period and a sum over its
    journal lines (`first` to `last`) always agree."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InvalidPeriod(start=self.start, end=self.end)

    @property
    def first(self) -> date:
        """The period's first day."""
        return self.start.replace(day=1)

    @property
    def last(self) -> date:
        """The period's last day."""
        return self.end.replace(day=calendar.monthrange(self.end.year, self.end.month)[1])

    @classmethod
    def trailing(cls, months: int, *, before: date) -> Period:
        """The `months` whole months that end before `before`'s month."""
        if months < 1:
            raise InvalidPeriod(start=f"{months} months", end=before)
        end = _add_months(before.replace(day=1), -1)
        return cls(_add_months(end, 1 - months), end)

    def label(self) -> str:
        """`2026-01 to 2026-10`, or one month's `2026-10`."""
        first, last = f"{self.first:%Y-%m}", f"{self.last:%Y-%m}"
        return first if first == last else f"{first} to {last}"


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def company_filter(companies: Sequence[int] | None) -> list[int] | None:
    """Companies as a query parameter: None means every company the user may see."""
    return None if companies is None else sorted({int(c) for c in companies})
