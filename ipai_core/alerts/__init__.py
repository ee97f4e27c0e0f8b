"""Alerts and outgoing webhooks (PRD 4.1.6): alert state, events, destinations and delivery.

    a watcher (a data quality check; issue 7's rules)
        │ fire / resolve                      state.py      ipai_alert (deduplicated by key)
        ▼
    OutgoingEvent ── publish ──▶ ipai_alert_event + one pending ipai_alert_delivery per
        ▲                        subscribed destination (same transaction)     events.py
        │ connector / transformation runs finished or failed                 run_events.py
        │
    scheduler job `alert_delivery` (job.py) ── deliver_due ──▶ HTTP POST, retried with backoff,
                                                               every attempt recorded  delivery.py
    body per destination format: Slack, Mattermost, n8n / generic          payloads.py
    where to send, how to sign, which events                               destinations.py

Modules are imported by path (`from ipai_core.alerts.state import fire`): this package imports
nothing itself, so the sync engine can reach `events` without loading the scheduler.
"""
