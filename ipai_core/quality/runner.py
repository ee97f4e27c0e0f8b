"""Runs checks: the one place a check's plan meets the database.

Each check runs in its own service-role session (audited with the check's name and trigger)
under `IPAI_DQ_STATEMENT_TIMEOUT_MS`: measure, judge, sample the offenders when it fails, write
the result, and fire or resolve its alert — all in one transaction, so a result and its alert
never disagree. A check that cannot run (missing relation, timeout, invalid params) records an
`error` result and fires its alert too: a silently broken check is an incident of its own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

from ipai_core.alerts.state import AlertChange, fire, resolve
from ipai_core.db.principal import Principal
from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import ConfigError, NotFound
from ipai_core.lakehouse import Lakehouse
from ipai_core.quality.checks import Statement, Verdict, Volume
from ipai_core.quality.store import StoredCheck, history, list_checks, request_run

Trigger = Literal["connector_run", "transform", "schedule", "manual"]
Status = Literal["pass", "warn", "fail", "error"]


@dataclass(frozen=True)
class CheckOutcome:
    check: str
    target: str
    status: Status
    message: str
    observed: dict[str, Any]
    result_id: str
    alert: AlertChange | None  # what the result did to the check's alert

    @property
    def ok(self) -> bool:
        return self.status == "pass"


def select_checks(
    lh: Lakehouse, *, names: Sequence[str] | None = None, target: str | None = None
) -> list[StoredCheck]:
    """Enabled checks, all or by name or by target; a named check that is missing or disabled
    is an error (nothing silently skipped)."""
    with lh.session(Principal.service("data quality: select checks")) as s:
        checks = list_checks(s, names=names, target=target, enabled_only=True)
    missing = sorted(set(names or ()) - {c.name for c in checks})
    if missing:
        raise NotFound(
            f"no enabled check `{missing[0]}`; `ipai quality list` shows every check and "
            "whether it is enabled",
            name=missing[0],
        )
    return checks


def run_checks(
    lh: Lakehouse,
    checks: Sequence[StoredCheck],
    *,
    trigger: Trigger,
    run_id: str | None = None,
    requested_by: str | None = None,
) -> list[CheckOutcome]:
    return [
        run_check(lh, c, trigger=trigger, run_id=run_id, requested_by=requested_by) for c in checks
    ]


def run_requested(
    lh: Lakehouse, principal: Principal, names: Sequence[str] | None = None
) -> list[CheckOutcome]:
    """ "Run checks now" on a user's behalf: the request is made under the user's RLS (only data
    engineers may make it), then the requested checks run as the service role."""
    with lh.session(principal) as s:
        requested = request_run(s, names)
    checks = select_checks(lh, names=requested) if requested else []
    return run_checks(lh, checks, trigger="manual", requested_by=principal.user_id)


def run_check(
    lh: Lakehouse,
    check: StoredCheck,
    *,
    trigger: Trigger,
    run_id: str | None = None,
    requested_by: str | None = None,
) -> CheckOutcome:
    reason = f"data quality: {check.name} ({trigger})"
    with lh.session(Principal.service(reason)) as s:
        started = s.scalar("SELECT clock_timestamp()")
        status, verdict = _evaluate(s, check, lh.settings.dq_statement_timeout_ms)
        observed = json.loads(json.dumps(verdict.observed, default=str))
        result_id = s.scalar(
            "INSERT INTO public.ipai_dq_result (check_id, started_at, finished_at, status,"
            " observed, message, trigger, run_id, requested_by)"
            " VALUES (%s, %s, clock_timestamp(), %s, %s, %s, %s, %s, %s) RETURNING id::text",
            [
                check.id,
                started,
                status,
                json.dumps(observed),
                verdict.message,
                trigger,
                run_id,
                requested_by,
            ],
        )
        alert = _alert(s, check, status, verdict.message, observed | {"result_id": result_id})
    return CheckOutcome(
        check.name, check.target, status, verdict.message, observed, str(result_id), alert
    )


def _evaluate(s: ScopedSession, check: StoredCheck, timeout_ms: int) -> tuple[Status, Verdict]:
    try:
        rule = check.rule()
    except ConfigError as exc:
        return "error", Verdict(False, str(exc), {})
    plan = rule.plan(check.target)
    past = history(s, check.id, rule.window) if isinstance(rule, Volume) else []
    try:
        with s.connection.transaction():  # a savepoint: a failed measure still gets its result
            s.execute("SELECT set_config('statement_timeout', %s, true)", [str(timeout_ms)])
            verdict = rule.judge(_rows(s, plan.measure, plan.params)[0], past)
            if not verdict.passed and plan.sample is not None:
                verdict.observed["sample"] = _rows(s, plan.sample, plan.sample_params)
    except psycopg.errors.QueryCanceled:
        return "error", Verdict(
            False,
            f"timed out after {timeout_ms} ms on `{check.target}`; make the check cheaper or "
            "raise IPAI_DQ_STATEMENT_TIMEOUT_MS",
            {},
        )
    except psycopg.Error as exc:  # only the primary message: a DETAIL line can quote a row
        primary = exc.diag.message_primary or type(exc).__name__
        return "error", Verdict(False, f"could not run on `{check.target}`: {primary}", {})
    if verdict.passed:
        return "pass", verdict
    return ("fail" if check.severity == "error" else "warn"), verdict


def _rows(s: ScopedSession, statement: Statement, params: Sequence[Any]) -> list[dict[str, Any]]:
    with s.connection.cursor(row_factory=dict_row) as cur:
        cur.execute(statement, params or None)
        return cur.fetchall()


def _alert(
    s: ScopedSession, check: StoredCheck, status: Status, message: str, observed: dict[str, Any]
) -> AlertChange | None:
    """Fire or resolve the check's alert. Its details carry the measurements, not the sample of
    offending rows: alerts leave the database (webhooks); samples stay in the result, under RLS."""
    key = f"dq:{check.name}"
    measured = {k: v for k, v in observed.items() if k != "sample"}
    details = {"check": check.name, "target": check.target, "status": status, **measured}
    if status == "pass":
        return resolve(s, key=key, summary=f"{check.name} passes again: {message}", details=details)
    return fire(
        s,
        key=key,
        source=key,
        severity=check.severity,
        summary=f"{check.name} on {check.target}: {message}",
        details=details,
    )
