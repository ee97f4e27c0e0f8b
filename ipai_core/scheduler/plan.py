"""What the scheduler will do, as data: which cron slots are due, and when a failed job may try
again. Pure — no database, no clock: the loop passes `now` in.

Catch-up policy: a job is due for the **latest** slot of its cron schedule that is at or before
`now` and after both its last enqueued slot and its `since` (a connector's creation time). Slots
missed while no scheduler ran are not replayed one by one: a sync brings its target up to date
anyway, so one run for the latest missed slot is enough (like Airflow's `catchup=False` or a
Kubernetes CronJob). A job never enqueued before is not due for slots before its `since`, so a
daily connector created at 15:00 first runs at the next 02:00, not at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import croniter

from ipai_core.errors import ConfigError


@dataclass(frozen=True)
class Schedulable:
    """Something that runs on a cron schedule: a connector today, an alert rule or a probe later.

    `key` identifies it within its `kind` (a connector's id); `since` is the instant before which
    no slot is ever due (its creation); `label` is for people (the connector's name).
    """

    kind: str
    key: str
    schedule: str | None
    enabled: bool
    since: datetime
    label: str = ""


@dataclass(frozen=True)
class PlannedRun:
    """One slot to enqueue: (kind, key, due_at) is unique in `ipai_scheduled_run`."""

    kind: str
    key: str
    due_at: datetime
    label: str = ""


@dataclass(frozen=True)
class Plan:
    """The slots to enqueue now, the keys that still have a schedule (queued rows of any other key
    are skipped), and the targets whose schedule does not parse (reported, never fatal)."""

    runs: tuple[PlannedRun, ...]
    active: frozenset[tuple[str, str]]
    invalid: tuple[tuple[Schedulable, str], ...] = ()


def plan_runs(
    targets: Iterable[Schedulable],
    last_enqueued: Mapping[tuple[str, str], datetime],
    now: datetime,
) -> Plan:
    """Due slots of `targets` at `now`; `last_enqueued[(kind, key)]` is each one's newest slot in
    the queue (absent when it has none). Disabled and unscheduled targets are never due."""
    _require_aware(now)
    runs: list[PlannedRun] = []
    active: set[tuple[str, str]] = set()
    invalid: list[tuple[Schedulable, str]] = []
    for target in targets:
        if not target.enabled or not target.schedule:
            continue
        active.add((target.kind, target.key))
        try:
            slot = latest_slot(target.schedule, now)
        except ConfigError as exc:
            invalid.append((target, str(exc)))
            continue
        floor = max(target.since, last_enqueued.get((target.kind, target.key), target.since))
        if slot is not None and slot > floor:
            runs.append(PlannedRun(target.kind, target.key, slot, target.label))
    runs.sort(key=lambda r: (r.kind, r.key, r.due_at))  # one lock order for every scheduler
    return Plan(tuple(runs), frozenset(active), tuple(invalid))


def latest_slot(schedule: str, now: datetime) -> datetime | None:
    """The newest instant at or before `now` that `schedule` (cron, UTC) names."""
    _require_aware(now)
    now = now.astimezone(UTC)
    if not croniter.is_valid(schedule):
        raise ConfigError(
            f"`{schedule}` is not a cron expression; fix the schedule, e.g. `*/15 * * * *`"
        )
    previous: datetime = croniter(schedule, now).get_prev(datetime)
    following: datetime = croniter(schedule, previous).get_next(datetime)
    return following if following <= now else previous


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped: after attempt n fails, wait `base * 2^(n-1)` (at
    most `max_delay`) scaled by a jitter draw into [1/2, 1] of it, so jobs that failed together
    do not all retry at the same instant."""

    max_attempts: int = 3
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(minutes=15)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1, got `{self.max_attempts}`")
        if self.base_delay <= timedelta(0) or self.max_delay < self.base_delay:
            raise ConfigError(
                f"retry delays must satisfy 0 < base ≤ max, got `{self.base_delay}` and "
                f"`{self.max_delay}`"
            )

    def delay(self, attempt: int, jitter: float) -> timedelta:
        """How long to wait after attempt number `attempt` (1-based) failed; `jitter` in [0, 1]."""
        exponential: timedelta = self.base_delay * 2 ** min(max(attempt - 1, 0), 30)
        return min(self.max_delay, exponential) * (0.5 + 0.5 * min(max(jitter, 0.0), 1.0))


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError(f"the scheduler works in UTC; `{now}` has no time zone")
