"""Genie: questions in English answered from the semantic layer under the asking user's RLS.

`service.Genie` runs it: a planner (`offline` — synonyms, time phrases, top-N — or `llm_planner`
through any OpenAI-compatible endpoint) turns the question into a plan (`plan`), the semantic
compiler or `sqlguard.check_select` turns the plan into SQL, and the answer (`answer`) carries
the rows, a suggested chart, the SQL and one line of explanation. `evaluation` scores a planner
against a YAML set of questions."""

from ipai_core.genie.answer import ChartSpec, GenieAnswer
from ipai_core.genie.llm_planner import LlmPlanner
from ipai_core.genie.offline import OfflinePlanner
from ipai_core.genie.plan import Catalog, Clarification, PlanResult, QueryPlan, Refusal, SqlPlan
from ipai_core.genie.ranking import DatasetRanker, LexicalRanker
from ipai_core.genie.service import Genie
from ipai_core.genie.sqlguard import check_select

__all__ = [
    "Catalog",
    "ChartSpec",
    "Clarification",
    "DatasetRanker",
    "Genie",
    "GenieAnswer",
    "LexicalRanker",
    "LlmPlanner",
    "OfflinePlanner",
    "PlanResult",
    "QueryPlan",
    "Refusal",
    "SqlPlan",
    "check_select",
]
