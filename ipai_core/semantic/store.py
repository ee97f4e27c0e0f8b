"""Saving semantic models as the session's principal: `save_model` inserts or replaces one by
dataset name, `delete_model` removes one.

An unsafe definition meets three checks: the model's own validation when it is built, the same
validation run again here (a model built with `model_construct` skipped the first), and the
database's trigger `public.ipai_semantic_model_guard`, which refuses the row — for direct SQL
too — with SQLSTATE 42501, raised here as `AccessDenied`. RLS lets only data engineers (and
admins) write; every write leaves an audit entry (`public.ipai_semantic_model_audit`) saying who
changed what.
"""

from __future__ import annotations

import json

from ipai_core.db.scoped import ScopedSession
from ipai_core.semantic.models import SemanticModel

_UPSERT = """
INSERT INTO public.ipai_semantic_model
  (dataset, source_view, description, grain, measures, dimensions, synonyms, default_filters,
   rls_policy_refs, is_active)
VALUES (%s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s::jsonb, %s, %s)
ON CONFLICT (dataset) DO UPDATE SET
  source_view = EXCLUDED.source_view, description = EXCLUDED.description,
  grain = EXCLUDED.grain, measures = EXCLUDED.measures, dimensions = EXCLUDED.dimensions,
  synonyms = EXCLUDED.synonyms, default_filters = EXCLUDED.default_filters,
  rls_policy_refs = EXCLUDED.rls_policy_refs, is_active = EXCLUDED.is_active
RETURNING id::text
"""


def save_model(session: ScopedSession, model: SemanticModel, *, active: bool = True) -> str:
    """Insert `model`, or replace the one of the same dataset; returns the row's id. Raises
    `UnsafeExpression` (nothing written) for an expression off the allowlist, `AccessDenied` when
    the principal may not write models or the database refuses the row."""
    checked = SemanticModel.model_validate(model.model_dump(mode="json"))
    data = checked.model_dump(mode="json")
    return str(
        session.scalar(
            _UPSERT,
            [
                checked.dataset,
                checked.source_view,
                checked.description,
                checked.grain,
                json.dumps(data["measures"]),
                json.dumps(data["dimensions"]),
                list(checked.synonyms),
                json.dumps(data["default_filters"]),
                list(checked.rls_policy_refs),
                active,
            ],
        )
    )


def delete_model(session: ScopedSession, dataset: str) -> bool:
    """Remove the model `dataset`; False when there is none the principal may delete."""
    deleted = session.scalar(
        "DELETE FROM public.ipai_semantic_model WHERE dataset = %s RETURNING id", [dataset]
    )
    return deleted is not None
