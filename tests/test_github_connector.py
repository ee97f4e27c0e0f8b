"""The GitHub connector against a real local server speaking GitHub's REST API (the DevOps demo):
full and incremental syncs, Link pagination, ETags and 304s, primary and secondary rate limits,
5xx and timeouts, a bad token, and a rate-limit wait longer than allowed."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

import ipai_core.connectors.github as github
from ipai_core import Lakehouse, Principal
from ipai_core.connectors import store
from ipai_core.connectors.github import GithubConnector
from ipai_core.demo.devops_data import DevopsDemo, parse_time
from ipai_core.demo.github_server import GithubServer
from ipai_core.sync.engine import RunResult, run_connector
from ipai_core.vault import open_vault

TOKEN = "ghp_" + os.urandom(12).hex()
Add = Callable[..., str]

# demo object kind → connector stream
STREAM_OF = {
    "repositories": "repositories",
    "commits": "commits",
    "pulls": "pull_requests",
    "issues": "issues",
    "workflow_runs": "workflow_runs",
    "deployments": "deployments",
    "deployment_statuses": "deployment_statuses",
    "releases": "releases",
}


class FakeClock:
    """Real time plus whatever was 'slept'; sleeping only records."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.slept: list[float] = []

    def time(self) -> float:
        return time.time() + self.offset

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.offset += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(GithubConnector, "clock", fake)
    return fake


@pytest.fixture(scope="module")
def big_demo() -> DevopsDemo:
    return DevopsDemo.generate()


@pytest.fixture
def small_demo() -> DevopsDemo:
    return DevopsDemo.generate(days=40)


def _serve(demo: DevopsDemo) -> Iterator[GithubServer]:
    with GithubServer(demo, token=TOKEN, timeout_delay_s=1.0) as server:
        yield server
    assert server.errors == []


@pytest.fixture
def server(small_demo: DevopsDemo) -> Iterator[GithubServer]:
    yield from _serve(small_demo)


@pytest.fixture
def add(lakehouse: Lakehouse, request: pytest.FixtureRequest) -> Add:
    """`add(server, **config)` → name of a new github connector reading the server's demo."""

    def make(server: GithubServer, *, token: str = TOKEN, **config: Any) -> str:
        name = re.sub(r"[^a-z0-9]+", "_", f"gh_{request.node.name[5:30]}".lower()).strip("_")
        secret = f"github/{name}"
        open_vault(lakehouse).put(secret, token)
        full = {
            "target_schema": "ipai_bronze_devops",
            "table_prefix": f"{name}_",
            "api_url": server.base_url,
            "repositories": sorted(server.demo.repositories),
            "token_secret": secret,
            **config,
        }
        with lakehouse.session(Principal.service("test")) as s:
            store.add_connector(
                s,
                name=name,
                connector_type="github",
                config=full,
                secret_refs=[secret],
                replace=True,
            )
        return name

    return make


def _rows(result: RunResult, what: str = "rows_read") -> dict[str, int]:
    return {name: getattr(stats, what) for name, stats in result.streams.items()}


def test_a_full_sync_reads_every_object_through_all_pages(
    lakehouse: Lakehouse,
    big_demo: DevopsDemo,
    add: Add,
    clock: FakeClock,
    owner_conn: psycopg.Connection[Any],
) -> None:
    for server in _serve(big_demo):
        name = add(server)
        result = run_connector(lakehouse, name)
        assert result.ok, result.error
        assert server.pages("/actions/runs") >= {1, 2, 3}, "Link rel=next was followed"
        assert server.count(status=200) == len(server.hits)
    counts = big_demo.counts()
    expected = {stream: counts[kind] for kind, stream in STREAM_OF.items()}
    expected["spec_files"] = 4 * counts["spec_features"]
    assert _rows(result) == expected
    assert _rows(result, "rows_written") == expected

    def one(sql: str) -> Any:
        row = owner_conn.execute(sql.replace("T_", f"ipai_bronze_devops.{name}_")).fetchone()
        assert row is not None
        return row[0] if len(row) == 1 else row

    types = dict(
        owner_conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'ipai_bronze_devops' AND table_name = %s",
            [f"{name}_commits"],
        ).fetchall()
    )
    assert types["committer_date"] == "timestamp with time zone"
    assert types["parent_shas"] == "jsonb" and types["is_merge"] == "boolean"
    merged = sum(1 for r in big_demo.repositories.values() for p in r.pulls if p["merged_at"])
    assert merged == one(
        "SELECT count(*) FROM T_pull_requests p JOIN T_commits c"
        " ON c.repository = p.repository AND c.sha = p.merge_commit_sha"
    ), "every merged PR's merge commit is in commits"
    assert one("SELECT count(*) FROM T_issues WHERE is_pull_request") == counts["pulls"]
    failed_production = sum(
        1
        for r in big_demo.repositories.values()
        for d in r.deployments
        if d["environment"] == "production"
        and any(s["state"] == "failure" for s in r.statuses[d["id"]])
    )
    assert failed_production > 0
    assert failed_production == one(
        "SELECT count(DISTINCT d.id) FROM T_deployments d JOIN T_deployment_statuses s"
        " ON s.deployment_id = d.id WHERE d.environment = 'production' AND s.state = 'failure'"
    )
    coverage = dict(
        owner_conn.execute(
            f"SELECT repository, avg(exists::int)::float FROM ipai_bronze_devops.{name}_spec_files"
            " GROUP BY repository"
        ).fetchall()
    )
    assert coverage["ipai-demo/ledger-api"] == 1.0 and coverage["ipai-demo/data-pipelines"] == 0.25


def test_an_unchanged_source_costs_only_304s_and_changes_are_read_alone(
    lakehouse: Lakehouse,
    server: GithubServer,
    small_demo: DevopsDemo,
    add: Add,
    clock: FakeClock,
    owner_conn: psycopg.Connection[Any],
) -> None:
    name = add(server, per_page=10)
    first = run_connector(lakehouse, name)
    assert first.ok, first.error

    server.clear()
    second = run_connector(lakehouse, name)
    assert second.ok, second.error
    assert server.count(status=304) == len(server.hits) > 0, "every request was a free 304"
    assert set(_rows(second).values()) == {0} and set(_rows(second, "rows_written").values()) == {0}

    repo = "ipai-demo/ledger-api"
    demo = small_demo
    pull = demo.repository(repo).pulls[0]
    demo.touch(repo, "pulls", pull["number"], title="Renamed while syncing")
    commits = [demo.add_commit(repo, f"feat: change {i}") for i in range(12)]
    demo.add_workflow_run(repo, commits[-1]["sha"], conclusion="failure")
    demo.add_deployment(repo, commits[-1]["sha"], environment="production", state="failure")
    for path in [p for p in demo.repository("ipai-demo/web-portal").files if "redesign" in p]:
        del demo.repository("ipai-demo/web-portal").files[path]
    server.clear()
    third = run_connector(lakehouse, name)
    assert third.ok, third.error
    assert _rows(third) == {
        "repositories": 1,  # pushed_at moved
        "commits": 12,
        "pull_requests": 1,
        "issues": 1,  # the PR's issue twin
        "workflow_runs": 1,
        "deployments": 1,
        "deployment_statuses": 2,
        "releases": 0,
        "spec_files": 4,  # the web-portal folder left, re-listed
    }
    assert third.streams["spec_files"].rows_deleted == 4, "the 4 rows of spec/portal-redesign"
    listed = [(h.query.get("since"), h.page) for h in server.hits if h.path.endswith("api/commits")]
    since = listed[1][0]
    assert since and listed == [(None, 1), (since, 1), (since, 2)], (
        "the head page (10 new commits) does not reach the cursor, so `since` cuts the listing"
    )
    title = owner_conn.execute(
        f"SELECT title FROM ipai_bronze_devops.{name}_pull_requests WHERE id = %s", [pull["id"]]
    ).fetchone()
    assert title == ("Renamed while syncing",)


def test_a_primary_rate_limit_is_waited_out_until_its_reset(
    lakehouse: Lakehouse, server: GithubServer, add: Add, clock: FakeClock
) -> None:
    name = add(server, streams=["repositories", "pull_requests"])
    server.inject("rate_limit", path="/pulls", reset_in=2)
    result = run_connector(lakehouse, name)
    assert result.ok, result.error
    assert server.count("/pulls", status=403) == 1
    assert len(clock.slept) == 1 and 1.0 <= clock.slept[0] <= 4.5


def test_a_secondary_rate_limit_waits_retry_after(
    lakehouse: Lakehouse, server: GithubServer, add: Add, clock: FakeClock
) -> None:
    name = add(server, streams=["issues"])
    server.inject("secondary", path="/issues", retry_after=1)
    result = run_connector(lakehouse, name)
    assert result.ok, result.error
    assert clock.slept == [1.0]
    assert result.streams["issues"].rows_read == sum(
        len(r.issues) for r in server.demo.repositories.values()
    )


def test_5xx_and_timeouts_are_retried_with_backoff(
    lakehouse: Lakehouse, server: GithubServer, add: Add, clock: FakeClock
) -> None:
    name = add(server, streams=["commits"], timeout_s=0.3)
    server.inject("500", path="/commits")
    server.inject("timeout", path="/commits")
    result = run_connector(lakehouse, name)
    assert result.ok, result.error
    assert server.count("/commits", status=500) == 1 and server.count("/commits", status=0) == 1
    assert clock.slept == [0.5, 1.0]


def test_5xx_beyond_max_retries_fails_the_stream_with_githubs_message(
    lakehouse: Lakehouse, server: GithubServer, add: Add, clock: FakeClock
) -> None:
    name = add(server, streams=["repositories", "releases"], max_retries=2)
    server.inject("500", path="/releases", times=3)
    result = run_connector(lakehouse, name)
    assert not result.ok
    assert result.streams["repositories"].status == "success"
    error = result.streams["releases"].error or ""
    assert "500" in error and "Server Error" in error


def test_a_bad_token_fails_with_githubs_message_and_is_never_recorded(
    lakehouse: Lakehouse,
    server: GithubServer,
    add: Add,
    clock: FakeClock,
    owner_conn: psycopg.Connection[Any],
) -> None:
    wrong = "ghp_" + os.urandom(12).hex()
    name = add(server, token=wrong, streams=["repositories"])
    result = run_connector(lakehouse, name)
    assert not result.ok
    assert "Bad credentials" in (result.error or "") and "401" in (result.error or "")
    run = owner_conn.execute(
        "SELECT r::text FROM ipai_connector_run r WHERE r.id = %s", [result.run_id]
    ).fetchone()
    assert run is not None and "Bad credentials" in run[0] and wrong not in run[0]
    audit = owner_conn.execute("SELECT details::text FROM ipai_audit_log").fetchall()
    assert audit and all(wrong not in r[0] for r in audit)


def test_a_rate_limit_resetting_too_late_fails_the_stream_saying_when(
    lakehouse: Lakehouse, server: GithubServer, add: Add, clock: FakeClock
) -> None:
    name = add(
        server,
        streams=["repositories", "commits", "pull_requests"],
        max_rate_limit_wait_s=60,
    )
    server.inject("rate_limit", path="/commits", reset_in=3600)
    result = run_connector(lakehouse, name)
    assert not result.ok and clock.slept == []
    assert result.streams["repositories"].status == "success"
    error = result.streams["commits"].error or ""
    assert "resets at" in error and "max_rate_limit_wait_s" in error
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", error)
    assert result.streams["pull_requests"].status == "failed"
    assert server.count("/pulls") == 0, "later streams do not knock while the limit holds"


def test_the_module_docstring_documents_every_bronze_column() -> None:
    doc = github.__doc__ or ""
    for stream in github.STREAMS.values():
        line = re.search(rf"`{stream.name}` \(([^)]*)\):(.*?)(?=\n- |\n\n)", doc, re.S)
        assert line, f"stream `{stream.name}` is not documented"
        documented = set(re.findall(r"[a-z_]+", line[1] + " " + line[2]))
        missing = [c.name for c in stream.schema.columns if c.name not in documented]
        assert not missing, f"`{stream.name}` columns missing from the docstring: {missing}"


def test_a_full_refresh_rereads_everything_and_soft_deletes_what_is_gone(
    lakehouse: Lakehouse,
    server: GithubServer,
    small_demo: DevopsDemo,
    add: Add,
    clock: FakeClock,
    owner_conn: psycopg.Connection[Any],
) -> None:
    name = add(server, streams=["pull_requests"], mode="full_refresh")
    assert run_connector(lakehouse, name).ok
    pulls = small_demo.repository("ipai-demo/web-portal").pulls
    gone = pulls.pop(0)
    server.clear()
    result = run_connector(lakehouse, name)
    assert result.ok, result.error
    assert server.count(status=304) == 0, "a full refresh sends no If-None-Match"
    assert result.streams["pull_requests"].rows_deleted == 1
    deleted = owner_conn.execute(
        f"SELECT id FROM ipai_bronze_devops.{name}_pull_requests WHERE _ipai_deleted"
    ).fetchall()
    assert deleted == [(gone["id"],)]


def test_the_demo_is_deterministic_and_shaped_for_dora_metrics() -> None:
    demo = DevopsDemo.generate(seed=3, days=90)
    assert demo.counts() == DevopsDemo.generate(seed=3, days=90).counts()
    assert demo.counts() != DevopsDemo.generate(seed=4, days=90).counts()
    runs = [r for repo in demo.repositories.values() for r in repo.workflow_runs]
    ci = [r for r in runs if r["name"] == "CI" and r["status"] == "completed"]
    assert 0.75 < sum(r["conclusion"] == "success" for r in ci) / len(ci) < 0.95
    assert any(r["run_attempt"] == 2 for r in ci)
    for repo in demo.repositories.values():
        outcomes = [
            (d["created_at"], s["state"])
            for d in repo.deployments
            if d["environment"] == "production"
            for s in repo.statuses[d["id"]]
            if s["state"] in ("success", "failure")
        ]
        for i, (_, state) in enumerate(sorted(outcomes)[:-1]):
            if state == "failure":  # restored later: a success follows every failure
                assert any(later == "success" for _, later in sorted(outcomes)[i + 1 :])
        merged = [p for p in repo.pulls if p["merged_at"]]
        hours = [
            (parse_time(p["merged_at"]) - parse_time(p["created_at"])).total_seconds() / 3600
            for p in merged
        ]
        assert merged and min(hours) > 0.25 and max(hours) < 24 * 8
    spec = {name: len(r.files) for name, r in demo.repositories.items()}
    assert spec["ipai-demo/ledger-api"] > spec["ipai-demo/data-pipelines"] > 0
