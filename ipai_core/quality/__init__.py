"""Data quality: checks on lakehouse relations, run after the syncs and refreshes that touch
them, on a schedule, or on request; their results feed the Data Quality Monitor and alerts.

    checks.py    the kinds: parameters (pydantic, a discriminated union), plan (SQL as data),
                 judgement (pure)
    store.py     `ipai_dq_check`: define, list, remove, request a run; history and snapshots
    runner.py    the one place a plan runs: service role, statement timeout, result + alert
    hooks.py     after a connector run / a transformation: the touched checks, the run's event
    schedule.py  the scheduler's `dq_check` job kind (checks with a cron schedule)
    defaults.py  the demo sources' default checks
    board.py     what the Data Quality Monitor app reads

Modules are imported by path; this package imports nothing itself (the sync engine loads
`hooks` early, and must not pull in the scheduler).
"""
