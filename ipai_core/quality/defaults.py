"""The default checks of the demo's sources (ERP, DevOps, retail and creative), added by the demo
loader before it runs the connectors — so the first sync already has results on the board.

Why the demo loader and not a migration: these checks encode expectations about particular
sources — Odoo's move states, GitHub's conclusions, how often each connector is meant to land
data. Like the demo connectors themselves they are configuration of this installation, which
its operators edit or remove; a migration would impose them on installations that never sync
those sources (their freshness checks would fail forever on empty tables) and could not
snapshot a relation's columns as they are when the check is defined.

`ensure_default_checks` adds the missing ones and leaves existing ones as their owners left them.
"""

from __future__ import annotations

from typing import Any

from ipai_core.db.principal import Principal
from ipai_core.lakehouse import Lakehouse
from ipai_core.quality.store import (
    CheckSpec,
    Severity,
    current_columns,
    list_checks,
    save_check,
)

HOURLY = "17 * * * *"
DAY_AND_A_BIT = "PT26H"

_ERP = "ipai_bronze_erp"
_DEVOPS = "ipai_bronze_devops"
_RETAIL = "ipai_bronze_retail"
_MOVE_TYPES = (
    "entry",
    "out_invoice",
    "out_refund",
    "in_invoice",
    "in_refund",
    "out_receipt",
    "in_receipt",
)
_CONCLUSIONS = (
    "success",
    "failure",
    "cancelled",
    "skipped",
    "timed_out",
    "action_required",
    "neutral",
    "stale",
    "startup_failure",
)


def _check(
    name: str,
    target: str,
    kind: str,
    params: dict[str, Any],
    description: str,
    *,
    severity: Severity = "error",
    schedule: str | None = None,
) -> CheckSpec:
    return CheckSpec(
        name=name,
        target=target,
        kind=kind,
        params=params,
        severity=severity,
        schedule=schedule,
        description=description,
    )


def _freshness(name: str, target: str, max_age: str, what: str) -> CheckSpec:
    params = {"column": "_ipai_synced_at", "max_age": max_age}
    return _check(name, target, "freshness", params, what, severity="warn", schedule=HOURLY)


DEFAULT_CHECKS: tuple[CheckSpec, ...] = (
    # ERP (Odoo)
    _check(
        "erp.moves.state_values",
        f"{_ERP}.account_move",
        "accepted_values",
        {"column": "state", "values": ["draft", "posted", "cancel"]},
        "Journal entries are draft, posted or cancelled; anything else breaks the P&L filters.",
    ),
    _check(
        "erp.moves.type_values",
        f"{_ERP}.account_move",
        "accepted_values",
        {"column": "move_type", "values": list(_MOVE_TYPES)},
        "Odoo's move types: invoices, bills, refunds, receipts, entries.",
    ),
    _check(
        "erp.journal_items.account_exists",
        f"{_ERP}.account_move_line",
        "referential",
        {"column": "account_id", "to": f"{_ERP}.account_account", "to_column": "id"},
        "Every journal item points to a synced account (else it drops out of silver).",
    ),
    _check(
        "erp.journal_items.move_exists",
        f"{_ERP}.account_move_line",
        "referential",
        {"column": "move_id", "to": f"{_ERP}.account_move", "to_column": "id"},
        "Every journal item belongs to a synced journal entry.",
    ),
    _check(
        "erp.journal_items.account_not_null",
        f"{_ERP}.account_move_line",
        "not_null",
        {"column": "account_id", "key_columns": ["id"]},
        "Journal items without an account cannot be classified.",
    ),
    _check(
        "erp.journal_items.unique_line",
        "ipai_silver_erp.journal_items",
        "unique",
        {"columns": ["line_id"]},
        "One silver row per journal item (a duplicated account would double amounts).",
    ),
    _check(
        "erp.partners.unique_id",
        "ipai_silver_erp.partners",
        "unique",
        {"columns": ["partner_id"]},
        "One row per partner.",
    ),
    _check(
        "erp.journal_items.volume",
        f"{_ERP}.account_move_line",
        "volume",
        {"method": "zscore", "max_z": 3.0, "min_history": 5},
        "The number of journal items moves like it did before.",
        severity="warn",
    ),
    _freshness(
        "erp.journal_items.freshness",
        f"{_ERP}.account_move_line",
        DAY_AND_A_BIT,
        "The Odoo connector landed journal items within the last 26 hours.",
    ),
    # DevOps (GitHub)
    _check(
        "devops.workflow_runs.conclusion_values",
        f"{_DEVOPS}.github_workflow_runs",
        "accepted_values",
        {"column": "conclusion", "values": list(_CONCLUSIONS)},
        "GitHub's workflow run conclusions (NULL while running).",
    ),
    _check(
        "devops.pull_requests.state_values",
        f"{_DEVOPS}.github_pull_requests",
        "accepted_values",
        {"column": "state", "values": ["open", "closed"]},
        "Pull requests are open or closed.",
    ),
    _check(
        "devops.deployment_statuses.deployment_exists",
        f"{_DEVOPS}.github_deployment_statuses",
        "referential",
        {"column": "deployment_id", "to": f"{_DEVOPS}.github_deployments", "to_column": "id"},
        "Every deployment status belongs to a synced deployment (DORA metrics join them).",
    ),
    _check(
        "devops.ci_runs.unique_id",
        "ipai_silver_devops.ci_runs",
        "unique",
        {"columns": ["id"]},
        "One silver row per workflow run.",
    ),
    _check(
        "devops.commits.volume",
        f"{_DEVOPS}.github_commits",
        "volume",
        {"method": "ratio", "min_ratio": 0.5, "max_ratio": 3.0, "min_history": 3, "window": 10},
        "Commit counts do not halve or triple from one sync to the next.",
        severity="warn",
    ),
    _freshness(
        "devops.workflow_runs.freshness",
        f"{_DEVOPS}.github_workflow_runs",
        DAY_AND_A_BIT,
        "The GitHub connector landed workflow runs within the last 26 hours.",
    ),
    # Retail and creative (files)
    _check(
        "retail.transactions.quantity_not_null",
        f"{_RETAIL}.transactions",
        "not_null",
        {"column": "quantity", "max_null_share": 0.01, "key_columns": ["line_id"]},
        "At most 1% of transaction lines lack a quantity (silver drops them).",
        severity="warn",
    ),
    _check(
        "retail.transactions.campaign_exists",
        "ipai_silver_retail.transactions",
        "referential",
        {
            "column": "campaign_code",
            "to": "ipai_silver_retail.campaigns",
            "to_column": "campaign_code",
        },
        "Attributed sales name a known campaign (else campaign ROI misses them).",
        severity="warn",
    ),
    _check(
        "retail.transactions.volume",
        f"{_RETAIL}.transactions",
        "volume",
        {"method": "zscore", "max_z": 3.0, "min_history": 5},
        "The number of transaction lines moves like it did before.",
        severity="warn",
    ),
    _freshness(
        "retail.transactions.freshness",
        f"{_RETAIL}.transactions",
        DAY_AND_A_BIT,
        "The transactions file connector landed rows within the last 26 hours.",
    ),
    _freshness(
        "retail.campaigns.freshness",
        f"{_RETAIL}.campaigns",
        "P7D",
        "The campaigns file was loaded within the last week.",
    ),
    _freshness(
        "creative.results.freshness",
        "ipai_bronze_creative.creative_results",
        DAY_AND_A_BIT,
        "The creative results file connector landed rows within the last 26 hours.",
    ),
)

# Gold contracts the apps read: their columns as they are when the check is added.
_SNAPSHOTS = (
    ("erp.profit_and_loss.schema", "ipai_gold_erp.mv_profit_and_loss"),
    ("devops.ci_weekly.schema", "ipai_gold_devops.mv_ci_weekly"),
    ("retail.sales_daily.schema", "ipai_gold_retail.mv_sales_daily"),
)


def ensure_default_checks(lh: Lakehouse) -> list[str]:
    """Add the default checks that do not exist yet; returns the names added."""
    with lh.session(Principal.service("data quality: default checks")) as s:
        existing = {c.name for c in list_checks(s)}
        specs = [spec for spec in DEFAULT_CHECKS if spec.name not in existing]
        specs += [
            CheckSpec(
                name=name,
                target=target,
                kind="schema_drift",
                params={"columns": current_columns(s, target)},
                description="The gold contract apps read keeps its columns and types.",
            )
            for name, target in _SNAPSHOTS
            if name not in existing
        ]
        for spec in specs:
            save_check(s, spec)
    return [spec.name for spec in specs]
