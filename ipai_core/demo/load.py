"""`ipai up`'s demo: deterministic data that flows through the real connectors into bronze,
then through the transformation runner into silver and gold. No gold row is written directly.

Sources: retail and creative CSV files (file connectors); ERP records served by a local server
speaking Odoo's JSON-RPC (Odoo connector); repositories served by a local server speaking
GitHub's REST API (GitHub connector). The local servers live only while the demo loads.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from ipai_core.connectors import store
from ipai_core.db.principal import Principal
from ipai_core.demo.devops_data import DevopsDemo
from ipai_core.demo.erp_data import ErpDemo
from ipai_core.demo.github_server import GithubServer
from ipai_core.demo.odoo_server import OdooServer
from ipai_core.demo.retail_data import RetailFiles, write_retail_demo
from ipai_core.lakehouse import Lakehouse
from ipai_core.quality.defaults import ensure_default_checks
from ipai_core.sync.engine import RunResult, run_connector
from ipai_core.transform.runner import TransformResult, run_transformations
from ipai_core.vault import open_vault


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
    names = list(DEMO_CONNECTORS)
    with lh.session(Principal.service("demo: check")) as s:
        done = s.scalar(
            "SELECT count(DISTINCT c.name) FROM public.ipai_connector_config c"
            " JOIN public.ipai_connector_run r ON r.connector_id = c.id"
            " WHERE c.name = ANY(%s) AND r.status = 'success'",
            [names],
        )
    return bool(done == len(names))


def load_demo(lh: Lakehouse, *, today: date | None = None) -> DemoReport:
    """Register the demo connectors and their default data quality checks, run each connector
    once, then refresh every materialized view."""
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
        ensure_default_checks(lh)  # before the runs: their hooks put first results on the board
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
def _github(lh: Lakehouse, today: date) -> Iterator[list[DemoConnector]]:
    """DevOps data served by a local server speaking GitHub's REST API, for the github connector."""
    demo = DevopsDemo.generate(reference=datetime.combine(today, time(18), UTC))
    token = secrets.token_urlsafe(24)
    open_vault(lh).put(GITHUB_TOKEN, token, description="token of the local demo GitHub server")
    with GithubServer(demo, token=token) as server:
        yield [
            DemoConnector(
                "demo-github",
                "github",
                {
                    "target_schema": "ipai_bronze_devops",
                    "api_url": server.base_url,
                    "repositories": sorted(demo.repositories),
                    "token_secret": GITHUB_TOKEN,
                },
                (GITHUB_TOKEN,),
            )
        ]


@contextmanager
def _odoo(lh: Lakehouse, today: date) -> Iterator[list[DemoConnector]]:
    """ERP data served by a local server speaking Odoo's JSON-RPC, for the odoo connector."""
    password = secrets.token_urlsafe(24)
    open_vault(lh).put(ODOO_PASSWORD, password, description="password of the local demo Odoo")
    with OdooServer(ErpDemo.generate(reference_date=today), password=password) as server:
        yield [
            DemoConnector(
                "demo-odoo",
                "odoo",
                {
                    "target_schema": "ipai_bronze_erp",
                    "url": server.url,
                    "database": server.database,
                    "username": server.login,
                    "password_secret": ODOO_PASSWORD,
                },
                (ODOO_PASSWORD,),
            )
        ]


GITHUB_TOKEN = "demo/github_token"  # noqa: S105 - a vault reference, not a secret
ODOO_PASSWORD = "demo/odoo_password"  # noqa: S105 - a vault reference, not a secret

# Demo sources with a local server: each a context manager that starts the server, stores its
# secrets in the vault and yields its connectors; the server lives while the demo loads.
DEMO_SOURCES = (_odoo, _github)
DEMO_CONNECTORS = (
    "demo-retail-transactions",
    "demo-retail-campaigns",
    "demo-creative-results",
    "demo-github",
)
