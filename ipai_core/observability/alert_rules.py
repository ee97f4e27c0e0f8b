"""Alert rules: rows of `public.ipai_alert_rule`, evaluated by the scheduler's `alert_rules` job.

A rule's kind decides what it looks at; its evaluator returns one `Observation` per subject (an
SLO, a connector, an agent, a probe target, or the rule itself) saying whether the condition
holds. Each observation then goes through `ipai_core.alerts.state`: `fire` while it holds (one
message, then deduplicated while firing), `resolve` when it no longer does (one resolve message).
Alerts are keyed `rule:<rule>:<subject>`; a firing alert whose subject is no longer observed (a
connector removed or disabled) is resolved as well. Every alert links its runbook,
`docs/runbooks/<kind>.md`, in its summary (what Slack and Mattermost show) and its details (what
n8n and generic endpoints get).

Parameters are validated per kind (unknown keys refused): see `PARAMS`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ipai_core.alerts.state import AlertChange, fire, resolve
from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import ConfigError, NotFound
from ipai_core.observability.scrub import scrub

RuleKind = Literal["slo_burn", "connector_failed", "dq_failed", "agent_errors", "uptime"]
RULE_KINDS: tuple[RuleKind, ...] = (
    "slo_burn",
    "connector_failed",
    "dq_failed",
    "agent_errors",
    "uptime",
)
RUNBOOK_DIR = "docs/runbooks"


def runbook_path(kind: str) -> str:
    """Where the runbook of a rule kind lives, relative to the repository root."""
    return f"{RUNBOOK_DIR}/{kind}.md"


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SloBurnParams(_Params):
    slo: str | None = None  # one SLO by name; None: every enabled SLO
    fast_burn: float = Field(default=14.4, gt=0)  # over the last hour
    slow_burn: float = Field(default=6.0, gt=0)  # over the last 6 hours


class ConnectorFailedParams(_Params):
    connector: str | None = None
    consecutive: int = Field(default=1, ge=1, le=50)


class DqFailedParams(_Params):
    severity: Literal["warn", "error"] = "error"
    min_checks: int = Field(default=1, ge=1)
    failing_for_minutes: int = Field(default=0, ge=0)
    target_prefix: str | None = None  # e.g. `ipai_gold_erp.`


class AgentErrorsParams(_Params):
    agent: str | None = None
    project: str | None = None
    threshold: int = Field(default=5, ge=1)
    window_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)


class UptimeParams(_Params):
    target: str = "workspace"
    consecutive: int = Field(default=3, ge=1, le=100)
    stale_minutes: int = Field(default=10, ge=2)


PARAMS: Mapping[RuleKind, type[_Params]] = {
    "slo_burn": SloBurnParams,
    "connector_failed": ConnectorFailedParams,
    "dq_failed": DqFailedParams,
    "agent_errors": AgentErrorsParams,
    "uptime": UptimeParams,
}


@dataclass(frozen=True)
class AlertRule:
    id: str
    name: str
    kind: RuleKind
    params: Mapping[str, Any]
    severity: Literal["warn", "error"]
    destinations: tuple[str, ...]
    schedule: str
    enabled: bool
    created_at: datetime

    @property
    def source(self) -> str:
        return f"rule:{self.name}"

    def key(self, subject: str) -> str:
        return f"{self.source}:{subject}"

    def validated(self) -> _Params:
        """The params as the kind's model; `ConfigError` naming the rule when they are wrong."""
        try:
            return PARAMS[self.kind].model_validate(self.params)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(
                f"alert rule `{self.name}` ({self.kind}) has invalid params: {problems}; fix "
                "them in public.ipai_alert_rule (see docs/runbooks/ for each kind's params)"
            ) from None


@dataclass(frozen=True)
class Observation:
    """One subject of a rule as seen now: `holds` means the alert condition is true."""

    subject: str
    holds: bool
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation:
    rule: str
    observations: tuple[Observation, ...]
    changes: tuple[AlertChange, ...]

    @property
    def firing(self) -> int:
        return sum(o.holds for o in self.observations)

    def describe(self) -> str:
        counts = {c: sum(x.change == c for x in self.changes) for c in ("fired", "resolved")}
        return (
            f"{len(self.observations)} subject(s), {self.firing} firing; "
            f"{counts['fired']} fired, {counts['resolved']} resolved"
        )


_RULES = (
    "SELECT id::text, name, kind, params, severity, destinations, schedule, enabled, created_at"
    " FROM public.ipai_alert_rule ORDER BY name"
)
_RULE = (
    "SELECT id::text, name, kind, params, severity, destinations, schedule, enabled, created_at"
    " FROM public.ipai_alert_rule WHERE id = %s"
)


def list_rules(s: ScopedSession) -> list[AlertRule]:
    return [_rule(r) for r in s.query(_RULES).iter_rows(named=True)]


def get_rule(s: ScopedSession, rule_id: str) -> AlertRule:
    rows = s.query(_RULE, [rule_id])
    if rows.is_empty():
        raise NotFound(f"alert rule `{rule_id}` does not exist (any more)", name=rule_id)
    return _rule(rows.row(0, named=True))


def evaluate(s: ScopedSession, rule: AlertRule) -> Evaluation:
    """Look at the rule's subjects and fire or resolve their alerts, in the caller's
    transaction (the alerts and their queued messages commit together)."""
    observations = tuple(_EVALUATORS[rule.kind](s, rule.validated()))
    changes = [_apply(s, rule, o) for o in observations]
    observed = {rule.key(o.subject) for o in observations}
    for key in _firing_keys(s, rule.source) - observed:
        gone = Observation(key.removeprefix(f"{rule.source}:"), False, "no longer observed")
        changes.append(_apply(s, rule, gone))
    done = tuple(c for c in changes if c is not None)
    for change in done:
        _route(s, change, rule.destinations)
    return Evaluation(rule.name, observations, done)


def _apply(s: ScopedSession, rule: AlertRule, o: Observation) -> AlertChange | None:
    runbook = runbook_path(rule.kind)
    details = {
        **o.details,
        "rule": rule.name,
        "kind": rule.kind,
        "subject": o.subject,
        "runbook": runbook,
    }
    key = rule.key(o.subject)
    if o.holds:
        summary = scrub(f"{rule.name} · {o.subject}: {o.summary}. Runbook: {runbook}")
        return fire(
            s, key=key, source=rule.source, severity=rule.severity, summary=summary, details=details
        )
    summary = scrub(f"{rule.name} · {o.subject} is fine again: {o.summary}. Runbook: {runbook}")
    return resolve(s, key=key, summary=summary, details=details)


def _route(s: ScopedSession, change: AlertChange, destinations: tuple[str, ...]) -> None:
    """Keep the messages this change queued only for the rule's own destinations (empty: every
    subscribed destination, as `publish` queued them). The event was created in this
    transaction, so its `created_at` is this transaction's `now()`."""
    if not destinations or not change.deliveries:
        return
    s.execute(
        "DELETE FROM public.ipai_alert_delivery d USING public.ipai_alert_event e,"
        " public.ipai_alert_destination t WHERE d.event_id = e.id AND t.id = d.destination_id"
        " AND e.alert_id = %s::uuid AND e.created_at = now() AND d.status = 'pending'"
        " AND NOT (t.name = ANY(%s::text[]))",
        [change.alert_id, list(destinations)],
    )


def _firing_keys(s: ScopedSession, source: str) -> set[str]:
    rows = s.query(
        "SELECT key FROM public.ipai_alert WHERE source = %s AND state = 'firing'", [source]
    ).rows()
    return {str(key) for (key,) in rows}


# --- the evaluators ---------------------------------------------------------------------------


def _slo_burn(s: ScopedSession, p: SloBurnParams) -> list[Observation]:
    rows = s.query(
        "SELECT name, subject, current_value, objective, budget_remaining, burn_rate_1h,"
        " burn_rate_6h, events FROM public.ipai_slo_status WHERE %(slo)s::text IS NULL"
        " OR name = %(slo)s ORDER BY name, subject",
        {"slo": p.slo},
    )
    found = []
    for r in rows.iter_rows(named=True):
        fast, slow = float(r["burn_rate_1h"] or 0), float(r["burn_rate_6h"] or 0)
        subject = r["name"] if r["subject"] == "all" else f"{r['name']}/{r['subject']}"
        summary = (
            f"burn rate {fast:g}x over 1 h, {slow:g}x over 6 h (alerts at {p.fast_burn:g}x / "
            f"{p.slow_burn:g}x); budget remaining {float(r['budget_remaining'] or 0):.0%}"
        )
        found.append(
            Observation(
                subject,
                fast >= p.fast_burn or slow >= p.slow_burn,
                summary,
                {k: _plain(v) for k, v in r.items()},
            )
        )
    return found


def _connector_failed(s: ScopedSession, p: ConnectorFailedParams) -> list[Observation]:
    rows = s.query(
        "WITH ranked AS (SELECT c.name, r.id::text AS run_id, r.status, r.error_message,"
        " r.ended_at, row_number() OVER (PARTITION BY c.id ORDER BY r.started_at DESC) AS n"
        " FROM public.ipai_connector_config c JOIN public.ipai_connector_run r"
        " ON r.connector_id = c.id WHERE c.is_enabled AND r.status IN ('success', 'failed')"
        " AND (%(connector)s::text IS NULL OR c.name = %(connector)s))"
        " SELECT name, count(*) AS considered, count(*) FILTER (WHERE status = 'failed') AS failed,"
        " max(run_id) FILTER (WHERE n = 1) AS last_run_id,"
        " max(error_message) FILTER (WHERE n = 1) AS last_error,"
        " max(ended_at) FILTER (WHERE n = 1) AS last_ended_at"
        " FROM ranked WHERE n <= %(k)s GROUP BY name ORDER BY name",
        {"connector": p.connector, "k": p.consecutive},
    )
    found = []
    for r in rows.iter_rows(named=True):
        holds = r["considered"] == p.consecutive and r["failed"] == p.consecutive
        summary = (
            f"the last {p.consecutive} run(s) failed: {r['last_error'] or 'no error recorded'}"
            if holds
            else "the latest run succeeded"
        )
        found.append(Observation(r["name"], holds, summary, {k: _plain(v) for k, v in r.items()}))
    return found


def _dq_failed(s: ScopedSession, p: DqFailedParams) -> list[Observation]:
    failing_statuses = ["fail", "error"] if p.severity == "error" else ["warn", "fail", "error"]
    rows = s.query(
        "WITH latest AS (SELECT DISTINCT ON (c.id) c.id, c.name, c.target, r.status, r.message"
        " FROM public.ipai_dq_check c JOIN public.ipai_dq_result r ON r.check_id = c.id"
        " WHERE c.enabled AND (%(prefix)s::text IS NULL OR starts_with(c.target, %(prefix)s))"
        " ORDER BY c.id, r.started_at DESC),"
        # a check's failing streak began with its first result after its last good one
        " streak AS (SELECT l.*, (SELECT min(r.started_at) FROM public.ipai_dq_result r"
        " WHERE r.check_id = l.id AND r.started_at > coalesce((SELECT max(g.started_at)"
        " FROM public.ipai_dq_result g WHERE g.check_id = l.id"
        " AND NOT (g.status = ANY(%(failing)s::text[]))), '-infinity')) AS failing_since"
        " FROM latest l WHERE l.status = ANY(%(failing)s::text[]))"
        " SELECT name, target, status, message, failing_since FROM streak"
        " WHERE failing_since <= now() - make_interval(mins => %(minutes)s) ORDER BY name",
        {"prefix": p.target_prefix, "failing": failing_statuses, "minutes": p.failing_for_minutes},
    )
    failing = [{k: _plain(v) for k, v in r.items()} for r in rows.iter_rows(named=True)]
    names = ", ".join(str(f["name"]) for f in failing[:10]) + (" …" if len(failing) > 10 else "")
    summary = (
        f"{len(failing)} data quality check(s) failing: {names}" if failing else "no check failing"
    )
    holds = len(failing) >= p.min_checks
    return [Observation("checks", holds, summary, {"failing": failing})]


def _agent_errors(s: ScopedSession, p: AgentErrorsParams) -> list[Observation]:
    rows = s.query(
        "SELECT a.code_name AS agent, count(r.id) AS calls,"
        " count(r.id) FILTER (WHERE r.status = 'failed') AS failed,"
        " (array_agg(r.error_message ORDER BY r.started_at DESC)"
        " FILTER (WHERE r.status = 'failed'))[1] AS last_error"
        " FROM public.ipai_agent a LEFT JOIN public.ipai_agent_run r ON r.agent_id = a.id"
        " AND r.started_at > now() - make_interval(mins => %(minutes)s)"
        " AND (%(project)s::text IS NULL OR coalesce(r.metadata ->> 'project',"
        " a.config ->> 'project', 'default') = %(project)s)"
        " WHERE a.is_active AND (%(agent)s::text IS NULL OR a.code_name = %(agent)s)"
        " GROUP BY a.code_name ORDER BY a.code_name",
        {"minutes": p.window_minutes, "project": p.project, "agent": p.agent},
    )
    found = []
    for r in rows.iter_rows(named=True):
        holds = r["failed"] >= p.threshold
        summary = (
            f"{r['failed']} of {r['calls']} call(s) failed in the last {p.window_minutes} min "
            f"(alerts at {p.threshold}); latest error: {r['last_error'] or 'none'}"
        )
        found.append(Observation(r["agent"], holds, summary, {k: _plain(v) for k, v in r.items()}))
    return found


def _uptime(s: ScopedSession, p: UptimeParams) -> list[Observation]:
    rows = s.query(
        "SELECT up, probed_at, status_code, error, now() - probed_at > make_interval("
        "mins => %(stale)s) AS stale FROM public.ipai_uptime_probe WHERE target = %(target)s"
        " ORDER BY probed_at DESC LIMIT %(k)s",
        {"target": p.target, "k": p.consecutive, "stale": p.stale_minutes},
    ).to_dicts()
    if not rows or rows[0]["stale"]:
        since = "ever" if not rows else f"since {rows[0]['probed_at'].isoformat()}"
        summary = (
            f"no probe of `{p.target}` {since} (over {p.stale_minutes} min): is a scheduler "
            "running (`ipai scheduler`)?"
        )
        return [Observation(p.target, True, summary, {"last_probe": _plain(rows[:1])})]
    down = len(rows) == p.consecutive and not any(r["up"] for r in rows)
    latest = rows[0]
    latest_problem = latest["error"] or latest["status_code"]
    summary = (
        f"the last {p.consecutive} probes failed; latest: {latest_problem}"
        if down
        else f"answering again (HTTP {latest['status_code']})"
    )
    return [Observation(p.target, down, summary, {"probes": _plain(rows)})]


_EVALUATORS: Mapping[str, Callable[[ScopedSession, Any], list[Observation]]] = {
    "slo_burn": _slo_burn,
    "connector_failed": _connector_failed,
    "dq_failed": _dq_failed,
    "agent_errors": _agent_errors,
    "uptime": _uptime,
}


def _rule(r: Mapping[str, Any]) -> AlertRule:
    if r["kind"] not in RULE_KINDS:
        raise ConfigError(f"alert rule `{r['name']}` has unknown kind `{r['kind']}`")
    return AlertRule(
        id=r["id"],
        name=r["name"],
        kind=r["kind"],
        params=json.loads(r["params"]),
        severity=r["severity"],
        destinations=tuple(r["destinations"] or ()),
        schedule=r["schedule"],
        enabled=bool(r["enabled"]),
        created_at=r["created_at"],
    )


def _plain(value: Any) -> Any:
    """JSON-ready: timestamps as ISO text, decimals as floats, lists and dicts recursively."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return float(value) if hasattr(value, "__float__") else str(value)
