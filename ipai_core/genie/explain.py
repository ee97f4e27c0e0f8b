"""One line that says what a semantic query computes, in the model's own labels: "Net profit by
month, 2026-01-01 to 2026-12-31, company = IPAI Demo Manila — profit_and_loss"."""

from __future__ import annotations

from datetime import timedelta

from ipai_core.semantic.models import SemanticModel
from ipai_core.semantic.query import Filter, SemanticQuery, TimeRange


def describe(model: SemanticModel, query: SemanticQuery) -> str:
    text = " and ".join(_label(model, name) for name in query.measures) or "Values"
    groups: list[str] = [query.time_grain] if query.time_grain else []
    groups += [_label(model, name).lower() for name in query.dimensions]
    if groups:
        text += " by " + " and ".join(groups)
    details = []
    if query.time_range is not None:
        details.append(_period(query.time_range))
    details += [condition(model, f) for f in query.filters]
    details += [f"{condition(model, f)} (default)" for f in defaults_in_force(model, query)]
    if query.order_by and query.limit <= 100:
        first = query.order_by[0]
        word = "top" if first.desc else "bottom"
        details.append(f"{word} {query.limit} by {_label(model, first.field).lower()}")
    return ", ".join([text, *details]) + f" — {model.dataset}"


def defaults_in_force(model: SemanticModel, query: SemanticQuery) -> list[Filter]:
    """The model's default filters the query did not override."""
    taken = {f.field for f in query.filters} | set(query.dimensions)
    time_dim = model.default_time_dimension
    if query.time_grain and time_dim is not None:
        taken.add(query.time_dimension or time_dim.name)
    return [f for f in model.default_filters if f.field not in taken]


def _period(time_range: TimeRange) -> str:
    if time_range.start and time_range.end:
        last = time_range.end - timedelta(days=1)
        if last == time_range.start:
            return f"on {last.isoformat()}"
        return f"{time_range.start.isoformat()} to {last.isoformat()}"
    if time_range.start:
        return f"since {time_range.start.isoformat()}"
    return f"before {time_range.end.isoformat() if time_range.end else ''}"


def period_name(time_range: TimeRange) -> str:
    """A range as people say it: "November 2026", "Q3 2026", "2026", else its first and last
    day."""
    start, end = time_range.start, time_range.end
    if start and end and start.day == 1 and end.day == 1:
        months = (end.year - start.year) * 12 + end.month - start.month
        if months == 1:
            return start.strftime("%B %Y")
        if months == 3 and start.month % 3 == 1:
            return f"Q{start.month // 3 + 1} {start.year}"
        if months == 12 and start.month == 1:
            return str(start.year)
    return _period(time_range)


def condition(model: SemanticModel, item: Filter) -> str:
    """A filter in the model's labels: "environment = production"."""
    label = _label(model, item.field).lower()
    if item.op == "latest":
        return f"latest {label}"
    if item.value is None:
        return f"{label} {item.op}"
    value = ", ".join(map(str, item.value)) if isinstance(item.value, list) else item.value
    return f"{label} {item.op} {value}"


def _label(model: SemanticModel, name: str) -> str:
    labels = {m.name: m.label for m in model.measures} | {d.name: d.label for d in model.dimensions}
    return labels.get(name, name)
