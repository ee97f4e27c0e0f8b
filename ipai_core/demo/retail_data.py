"""Deterministic retail and creative demo files: transaction lines, campaigns and daily creative
results as CSV, written where the demo file connectors read them."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

STORES = ("MNL-01", "MNL-02", "CEB-01", "DVO-01")
CATALOG = {  # sku → (category, list price)
    "COF-250": ("beverages", Decimal("6.50")),
    "TEA-100": ("beverages", Decimal("4.20")),
    "CHO-080": ("snacks", Decimal("2.10")),
    "CHP-150": ("snacks", Decimal("1.80")),
    "SHA-400": ("personal care", Decimal("7.90")),
    "SOA-120": ("personal care", Decimal("1.50")),
    "DET-900": ("household", Decimal("9.40")),
    "TIS-006": ("household", Decimal("3.30")),
}
CHANNELS = ("social", "search", "in-store", "email")
FORMATS = ("video", "static", "carousel")


@dataclass(frozen=True)
class RetailFiles:
    transactions: Path
    campaigns: Path
    creative_results: Path

    @classmethod
    def in_folder(cls, folder: Path) -> RetailFiles:
        return cls(
            folder / "transactions.csv", folder / "campaigns.csv", folder / "creative_results.csv"
        )


def write_retail_demo(folder: Path, *, end: date, days: int = 120, seed: int = 7) -> RetailFiles:
    """Write the three CSV files into `folder`; the same arguments give the same bytes."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    start = end - timedelta(days=days)
    campaigns = _campaigns(rng, start, end)
    files = RetailFiles(
        folder / "transactions.csv", folder / "campaigns.csv", folder / "creative_results.csv"
    )
    _write(
        files.campaigns,
        ["campaign_code", "name", "channel", "start_date", "end_date", "budget"],
        campaigns,
    )
    _write(
        files.transactions,
        [
            "line_id",
            "txn_id",
            "txn_ts",
            "store_code",
            "sku",
            "category",
            "quantity",
            "unit_price",
            "discount",
            "campaign_code",
        ],
        _transactions(rng, start, days, campaigns),
    )
    _write(
        files.creative_results,
        [
            "creative_id",
            "day",
            "campaign_code",
            "format",
            "impressions",
            "clicks",
            "conversions",
            "spend",
        ],
        _creatives(rng, campaigns),
    )
    return files


def _campaigns(rng: random.Random, start: date, end: date) -> list[list[str]]:
    rows = []
    for n in range(6):
        begin = start + timedelta(days=rng.randrange(0, 90))
        finish = min(end, begin + timedelta(days=rng.randrange(14, 45)))
        rows.append(
            [
                f"CMP-{n + 1:03d}",
                f"Campaign {n + 1}",
                CHANNELS[n % len(CHANNELS)],
                begin.isoformat(),
                finish.isoformat(),
                str(Decimal(rng.randrange(2_000, 12_000)).quantize(Decimal("0.01"))),
            ]
        )
    return rows


def _transactions(
    rng: random.Random, start: date, days: int, campaigns: list[list[str]]
) -> list[list[str]]:
    rows: list[list[str]] = []
    line = 0
    skus = sorted(CATALOG)
    for offset in range(days):
        day = start + timedelta(days=offset)
        active = [c[0] for c in campaigns if c[3] <= day.isoformat() <= c[4]]
        for store in STORES:
            for txn in range(rng.randrange(8, 20)):
                txn_id = f"{store}-{day:%Y%m%d}-{txn:03d}"
                moment = datetime(
                    day.year,
                    day.month,
                    day.day,
                    rng.randrange(8, 21),
                    rng.randrange(60),
                    tzinfo=UTC,
                )
                campaign = rng.choice(active) if active and rng.random() < 0.3 else ""
                for _ in range(rng.randrange(1, 4)):
                    line += 1
                    sku = rng.choice(skus)
                    category, price = CATALOG[sku]
                    quantity = rng.randrange(1, 5)
                    discount = (
                        (price * quantity * Decimal("0.1")).quantize(Decimal("0.01"))
                        if campaign
                        else Decimal("0.00")
                    )
                    rows.append(
                        [
                            str(line),
                            txn_id,
                            moment.isoformat(),
                            store,
                            sku,
                            category,
                            str(quantity),
                            str(price),
                            str(discount),
                            campaign,
                        ]
                    )
    return rows


def _creatives(rng: random.Random, campaigns: list[list[str]]) -> list[list[str]]:
    rows = []
    for code, _, _, begin, finish, _ in campaigns:
        for n, fmt in enumerate(FORMATS):
            creative = f"{code}-CR{n + 1}"
            day = date.fromisoformat(begin)
            while day <= date.fromisoformat(finish):
                impressions = rng.randrange(800, 5_000)
                clicks = int(impressions * rng.uniform(0.005, 0.04))
                conversions = int(clicks * rng.uniform(0.02, 0.15))
                spend = (Decimal(impressions) * Decimal("0.004")).quantize(Decimal("0.01"))
                rows.append(
                    [
                        creative,
                        day.isoformat(),
                        code,
                        fmt,
                        str(impressions),
                        str(clicks),
                        str(conversions),
                        str(spend),
                    ]
                )
                day += timedelta(days=1)
    return rows


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
