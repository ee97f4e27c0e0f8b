"""The semantic layer: named datasets over gold views with declared measures and dimensions
(`models`), saved by data engineers (`store`), queries over them as pure data (`query`), their
compilation to parameterised SQL (`compiler`) and execution under the caller's RLS (`run`)."""

from ipai_core.semantic.compiler import CompiledQuery, compile_query
from ipai_core.semantic.models import Dimension, Measure, SemanticModel, load_model, load_models
from ipai_core.semantic.query import Filter, OrderBy, SemanticQuery, TimeRange
from ipai_core.semantic.run import run_semantic_query
from ipai_core.semantic.store import delete_model, save_model

__all__ = [
    "CompiledQuery",
    "Dimension",
    "Filter",
    "Measure",
    "OrderBy",
    "SemanticModel",
    "SemanticQuery",
    "TimeRange",
    "compile_query",
    "delete_model",
    "load_model",
    "load_models",
    "run_semantic_query",
    "save_model",
]
