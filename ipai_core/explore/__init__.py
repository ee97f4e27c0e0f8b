"""The explorer: ad-hoc, read-only SQL over files in the blob store (CSV, Parquet, JSON) with
DuckDB, for users allowed to see them, and a file connector drafted from what was explored."""

from ipai_core.explore.access import check_access
from ipai_core.explore.duck import ExploreResult, explore, file_connector_draft

__all__ = ["ExploreResult", "check_access", "explore", "file_connector_draft"]
