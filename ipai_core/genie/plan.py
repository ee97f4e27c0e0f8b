"""What a planner decides, as pure data: run a semantic query, run a (checked) SELECT, ask the
user to choose, or refuse. Planners see a `Catalog` — the semantic models, which of them the
asking user can read, and a way to look dimension values up under that user's RLS — and never
touch the database themselves."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, Protocol

from ipai_core.semantic.models import SemanticModel
from ipai_core.semantic.query import SemanticQuery

PlannerName = Literal["offline", "llm", "sql"]  # "sql": free-SQL mode, no planner


@dataclass(frozen=True)
class QueryPlan:
    query: SemanticQuery
    explanation: str
    notes: tuple[str, ...] = ()  # what the planner assumed, shown with the answer
    unused_words: tuple[str, ...] = ()  # words of the question the plan does not use


@dataclass(frozen=True)
class SqlPlan:
    sql: str
    explanation: str


@dataclass(frozen=True)
class Clarification:
    question: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class Refusal:
    reason: str


Plan = QueryPlan | SqlPlan | Clarification | Refusal


@dataclass(frozen=True)
class PlanUsage:
    """What planning cost (the LLM planner's tokens; zero offline)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    planner: PlannerName
    usage: PlanUsage = field(default_factory=PlanUsage)


ValueLookup = Callable[[SemanticModel, str], Sequence[str]]


@dataclass(frozen=True)
class Catalog:
    """The datasets a question can be answered from, as the asking user sees them."""

    models: Mapping[str, SemanticModel]
    readable: frozenset[str]
    today: date
    values: ValueLookup = field(default=lambda model, dimension: ())

    @property
    def readable_models(self) -> list[SemanticModel]:
        return [m for name, m in sorted(self.models.items()) if name in self.readable]

    @property
    def unreadable_models(self) -> list[SemanticModel]:
        return [m for name, m in sorted(self.models.items()) if name not in self.readable]


class Planner(Protocol):
    """Turns a question into a plan over the catalog."""

    @property
    def name(self) -> PlannerName: ...

    def plan(self, question: str, catalog: Catalog) -> PlanResult: ...
