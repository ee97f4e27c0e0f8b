"""Deterministic DevOps demo data: a GitHub organisation (`ipai-demo`) over the last months, held
as the JSON objects GitHub's REST API returns, so that `github_server` can serve it and the real
GitHub connector can read it.

`DevopsDemo.generate(seed=…, reference=…)` simulates, day by day up to `reference`, four
repositories of different activity:

- pull requests opened on working days, pushed to (each push runs the `CI` workflow, ~15 % fail,
  half of the failures are re-run as attempt 2), then squash-merged (~85 %), closed unmerged, or
  still open (some drafts) at the reference date; lead time from opening to merge: hours to days;
- the default branch `main`: one squash commit per merged PR (`"Title (#n)"`, committed by
  web-flow), a few direct pushes, and fix commits; every commit runs `CI` on `push`;
- deployments by a `Deploy` workflow: `staging` daily, `production` every few working days, always
  of the newest green commit. Statuses `in_progress` then `success` or `failure`; a newer
  successful staging deployment adds `inactive` to the previous one (GitHub's auto-inactive). A
  failed production deployment opens an `incident` issue, a `fix:` commit follows within hours and
  is deployed successfully, which closes the incident — so change failure rate and time to restore
  are computable. Every successful production deployment publishes a release (`vX.Y.Z`);
- issues (bug / enhancement / chore), and the issue twin of every PR (with a `pull_request` key);
- Spec Kit documents under `spec/<feature>/`: complete in two repositories, partial in two.

Generation is pure (seeded `random.Random`, no clock) and takes well under a second. `tick`,
`touch` and the `add_*` helpers change the data afterwards, stamping times after `reference`, so
incremental syncs can be tested.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ipai_core.governance.spec_check import REQUIRED_SPEC_FILES

Json = dict[str, Any]

ORG = "ipai-demo"
DEFAULT_REFERENCE = datetime(2026, 6, 30, 18, 0, tzinfo=UTC)
API = "https://api.github.com"
WEB = "https://github.com"
_BOT = "github-actions[bot]"
_DEVELOPERS = ("ana-dev", "bo-ops", "chen-sre", "dee-qa", "eli-fe", "fay-data")
_USERS = (*_DEVELOPERS, _BOT, "dependabot[bot]", "web-flow")
_TOPICS = (
    "ledger posting",
    "invoice export",
    "login flow",
    "retry policy",
    "metrics endpoint",
    "schema migration",
    "cache layer",
    "audit trail",
    "rate limiter",
    "search filters",
    "csv import",
    "dashboard tiles",
)
_VERBS = ("Add", "Fix", "Refactor", "Speed up", "Document", "Harden", "Simplify")


@dataclass(frozen=True)
class RepoPlan:
    """How busy a simulated repository is."""

    name: str
    language: str
    prs_per_day: float
    production_every: int  # working days between production deployments
    production_failure: float
    spec: Mapping[str, tuple[str, ...]]  # feature → Spec Kit files present
    draft_release: bool = False  # a draft of the next release waits at the reference date


_ALL: tuple[str, ...] = ()  # in `spec`: every one of REQUIRED_SPEC_FILES
_PORTAL_SPEC = {"portal-redesign": ("prd.md", "plan.md"), "sso-login": _ALL}
PLANS = (
    RepoPlan("ledger-api", "Python", 1.4, 2, 0.12, {"ledger-core": _ALL, "payments": _ALL}, True),
    RepoPlan("web-portal", "TypeScript", 1.0, 3, 0.15, _PORTAL_SPEC),
    RepoPlan("data-pipelines", "Python", 0.6, 5, 0.10, {"dora-metrics": ("constitution.md",)}),
    RepoPlan("infra-terraform", "HCL", 0.35, 7, 0.20, {"platform": _ALL}),
)


@dataclass
class Repository:
    """One repository's objects, in GitHub's REST shapes (lists in creation order)."""

    full_name: str
    info: Json
    commits: list[Json] = field(default_factory=list)  # reachable from `main`
    pulls: list[Json] = field(default_factory=list)
    issues: list[Json] = field(default_factory=list)  # includes PRs' issue twins
    workflow_runs: list[Json] = field(default_factory=list)
    deployments: list[Json] = field(default_factory=list)
    statuses: dict[int, list[Json]] = field(default_factory=dict)  # deployment id → statuses
    releases: list[Json] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # path → text (spec/…)

    def pull(self, number: int) -> Json:
        return next(p for p in self.pulls if p["number"] == number)

    def issue(self, number: int) -> Json:
        return next(i for i in self.issues if i["number"] == number)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _sha(*parts: object) -> str:
    return hashlib.sha1(":".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()


def _user(login: str) -> Json:
    uid = int(_sha("user", login)[:7], 16)
    kind = "Bot" if login.endswith("[bot]") else "User"
    return {"login": login, "id": uid, "type": kind, "html_url": f"{WEB}/{login}"}


class DevopsDemo:
    """The demo organisation; `repositories` maps `owner/name` to its objects."""

    def __init__(self, org: str, reference: datetime, repositories: dict[str, Repository]):
        self.org = org
        self.reference = reference
        self.repositories = repositories
        self.now = reference
        self._ids = itertools.count(_max_id(repositories) + 1)
        self._serial = itertools.count(1)

    @classmethod
    def generate(
        cls,
        *,
        seed: int = 42,
        reference: datetime = DEFAULT_REFERENCE,
        days: int = 182,
        plans: tuple[RepoPlan, ...] = PLANS,
    ) -> DevopsDemo:
        if reference.tzinfo is None:
            raise ValueError(f"`reference` must be timezone-aware (got `{reference}`); use UTC")
        reference = reference.astimezone(UTC)
        ids = itertools.count(1_000_000_000, 7)
        repos = {}
        for plan in plans:
            repo = _Simulation(plan, random.Random(f"{seed}:{plan.name}"), ids, reference, days)
            repos[repo.repo.full_name] = repo.run()
        return cls(ORG, reference, repos)

    def repository(self, full_name: str) -> Repository:
        return self.repositories[full_name]

    def counts(self) -> dict[str, int]:
        """Objects per kind over all repositories (what a full sync should read)."""
        repos = list(self.repositories.values())
        return {
            "repositories": len(repos),
            "commits": sum(len(r.commits) for r in repos),
            "pulls": sum(len(r.pulls) for r in repos),
            "issues": sum(len(r.issues) for r in repos),
            "workflow_runs": sum(len(r.workflow_runs) for r in repos),
            "deployments": sum(len(r.deployments) for r in repos),
            "deployment_statuses": sum(len(s) for r in repos for s in r.statuses.values()),
            "releases": sum(len(r.releases) for r in repos),
            "spec_features": len(
                {(r.full_name, f.rsplit("/", 1)[0]) for r in repos for f in r.files}
            ),
        }

    # -- changes after generation (for incremental tests) --------------------------------------

    def tick(self, minutes: int = 1) -> datetime:
        """Advance the demo clock (it starts at `reference`) and return the new time."""
        self.now += timedelta(minutes=minutes)
        return self.now

    def touch(self, repo: str, kind: str, key: int, **fields: Any) -> Json:
        """Change an object (`kind`: pulls, issues, workflow_runs, deployments — by number for
        pulls and issues, by id otherwise) and stamp its `updated_at` with the next tick."""
        r = self.repositories[repo]
        target = {
            "pulls": lambda: r.pull(key),
            "issues": lambda: r.issue(key),
            "workflow_runs": lambda: next(x for x in r.workflow_runs if x["id"] == key),
            "deployments": lambda: next(x for x in r.deployments if x["id"] == key),
        }[kind]()
        target.update(fields, updated_at=iso(self.tick()))
        if kind == "pulls":
            r.issue(key).update(title=target["title"], updated_at=target["updated_at"])
        return target

    def add_commit(self, repo: str, message: str, *, author: str = "ana-dev") -> Json:
        r = self.repositories[repo]
        parents = [r.commits[-1]["sha"]] if r.commits else []
        commit = _commit(r.full_name, _sha(repo, message, next(self._serial)), parents)
        when = iso(self.tick())
        _fill_commit(commit, message, author, author, parse_time(when))
        r.commits.append(commit)
        r.info.update(pushed_at=when, updated_at=when)
        return commit

    def add_workflow_run(
        self, repo: str, head_sha: str, *, conclusion: str = "success", name: str = "CI"
    ) -> Json:
        r = self.repositories[repo]
        start = self.tick()
        number = 1 + sum(1 for x in r.workflow_runs if x["name"] == name)
        run = _run(r.full_name, next(self._ids), name, number, head_sha, "main", "push", start)
        _finish_run(run, start, start + timedelta(minutes=4), conclusion, attempt=1)
        r.workflow_runs.append(run)
        self.now = parse_time(run["updated_at"])
        return run

    def add_deployment(
        self, repo: str, sha: str, *, environment: str = "production", state: str = "success"
    ) -> Json:
        r = self.repositories[repo]
        deployment = _deployment(r.full_name, next(self._ids), sha, environment, self.tick())
        r.deployments.append(deployment)
        r.statuses[deployment["id"]] = []
        for step in ("in_progress", state):
            status = _status(deployment, next(self._ids), step, self.tick())
            r.statuses[deployment["id"]].append(status)
        return deployment


def _max_id(repositories: Mapping[str, Repository]) -> int:
    ids = [0]
    for r in repositories.values():
        ids.append(r.info["id"])
        for group in (r.pulls, r.issues, r.workflow_runs, r.deployments, r.releases):
            ids.extend(x["id"] for x in group)
        ids.extend(s["id"] for statuses in r.statuses.values() for s in statuses)
    return max(ids)


# -- GitHub object shapes ------------------------------------------------------------------------


def _repo_info(full_name: str, rid: int, plan: RepoPlan, created: datetime) -> Json:
    owner, name = full_name.split("/")
    return {
        "id": rid,
        "node_id": f"R_{rid}",
        "name": name,
        "full_name": full_name,
        "private": True,
        "owner": {**_user(owner), "type": "Organization"},
        "html_url": f"{WEB}/{full_name}",
        "description": f"{name.replace('-', ' ').title()} service of the IPAI demo company",
        "fork": False,
        "url": f"{API}/repos/{full_name}",
        "created_at": iso(created),
        "updated_at": iso(created),
        "pushed_at": iso(created),
        "language": plan.language,
        "default_branch": "main",
        "archived": False,
        "visibility": "private",
        "topics": ["ipai-demo", plan.language.lower()],
    }


def _commit(full_name: str, sha: str, parents: list[str]) -> Json:
    return {
        "sha": sha,
        "node_id": f"C_{sha[:12]}",
        "url": f"{API}/repos/{full_name}/commits/{sha}",
        "html_url": f"{WEB}/{full_name}/commit/{sha}",
        "parents": [{"sha": p, "url": f"{API}/repos/{full_name}/commits/{p}"} for p in parents],
    }


def _fill_commit(commit: Json, message: str, author: str, committer: str, when: datetime) -> None:
    def person(login: str) -> Json:
        name = "GitHub" if login == "web-flow" else login.replace("-", " ").title()
        return {"name": name, "email": f"{login}@users.noreply.github.com", "date": iso(when)}

    commit["commit"] = {
        "author": person(author),
        "committer": person(committer),
        "message": message,
        "tree": {"sha": _sha("tree", commit["sha"])},
        "comment_count": 0,
    }
    commit["author"] = _user(author)
    commit["committer"] = _user(committer)


def _run(
    full_name: str,
    rid: int,
    name: str,
    number: int,
    sha: str,
    branch: str,
    event: str,
    created: datetime,
) -> Json:
    return {
        "id": rid,
        "name": name,
        "node_id": f"WFR_{rid}",
        "head_branch": branch,
        "head_sha": sha,
        "path": f".github/workflows/{name.lower()}.yml",
        "display_title": f"{name} on {branch}",
        "run_number": number,
        "event": event,
        "status": "queued",
        "conclusion": None,
        "workflow_id": int(_sha(full_name, name)[:8], 16),
        "url": f"{API}/repos/{full_name}/actions/runs/{rid}",
        "html_url": f"{WEB}/{full_name}/actions/runs/{rid}",
        "created_at": iso(created),
        "updated_at": iso(created),
        "run_attempt": 1,
        "run_started_at": iso(created),
        "actor": _user(_BOT),
    }


def _finish_run(
    run: Json, started: datetime, done: datetime, conclusion: str | None, *, attempt: int
) -> None:
    run.update(run_attempt=attempt, run_started_at=iso(started))
    if conclusion is None:
        run.update(status="in_progress", conclusion=None, updated_at=iso(started))
    else:
        run.update(status="completed", conclusion=conclusion, updated_at=iso(done))


def _deployment(full_name: str, did: int, sha: str, environment: str, when: datetime) -> Json:
    return {
        "id": did,
        "node_id": f"DE_{did}",
        "url": f"{API}/repos/{full_name}/deployments/{did}",
        "sha": sha,
        "ref": "main",
        "task": "deploy",
        "payload": {},
        "original_environment": environment,
        "environment": environment,
        "description": f"Deploy {sha[:7]} to {environment}",
        "creator": _user(_BOT),
        "created_at": iso(when),
        "updated_at": iso(when),
        "statuses_url": f"{API}/repos/{full_name}/deployments/{did}/statuses",
        "transient_environment": False,
        "production_environment": environment == "production",
    }


def _status(deployment: Json, sid: int, state: str, when: datetime) -> Json:
    deployment["updated_at"] = iso(when)
    return {
        "id": sid,
        "node_id": f"DES_{sid}",
        "url": f"{deployment['url']}/statuses/{sid}",
        "state": state,
        "creator": _user(_BOT),
        "description": f"Deployment {state.replace('_', ' ')}",
        "environment": deployment["environment"],
        "target_url": "",
        "log_url": "",
        "created_at": iso(when),
        "updated_at": iso(when),
        "deployment_url": deployment["url"],
    }


# -- the simulation ------------------------------------------------------------------------------


@dataclass(order=True)
class _Event:
    when: datetime
    seq: int
    kind: str = field(compare=False)
    data: Json = field(compare=False, default_factory=dict)


class _Simulation:
    """One repository's history, built by processing dated events in order."""

    def __init__(
        self,
        plan: RepoPlan,
        rng: random.Random,
        ids: Iterator[int],
        reference: datetime,
        days: int,
    ) -> None:
        self.plan, self.rng, self.ids, self.reference = plan, rng, ids, reference
        self.start = reference - timedelta(days=days)
        full_name = f"{ORG}/{plan.name}"
        created = self.start - timedelta(days=rng.randint(120, 900))
        self.repo = Repository(full_name, _repo_info(full_name, next(ids), plan, created))
        self.queue: list[_Event] = []
        self.seq = itertools.count()
        self.numbers = itertools.count(1)
        self.run_numbers: dict[str, Iterator[int]] = {}
        self.ci: dict[str, tuple[str | None, datetime]] = {}  # sha → conclusion, when known
        self.deployed: dict[str, str] = {}  # environment → sha
        self.last_staging: Json | None = None
        self.version = [1, 0, 0]

    def run(self) -> Repository:
        self._main_commit("Initial import", "ana-dev", self.start - timedelta(hours=2))
        self._plan_days()
        while self.queue:
            event = heapq.heappop(self.queue)
            if event.when <= self.reference:
                getattr(self, f"_on_{event.kind}")(event.when, **event.data)
        self._write_spec()
        if self.plan.draft_release and self.repo.commits:
            self._release(self._head(), self.reference - timedelta(hours=3), patch=False)
            draft = {"draft": True, "published_at": None, "name": "Next release", "body": "Draft."}
            self.repo.releases[-1].update(draft)
        last = max((c["commit"]["committer"]["date"] for c in self.repo.commits), default=None)
        if last:
            self.repo.info.update(updated_at=last, pushed_at=last)
        return self.repo

    def _at(self, when: datetime, kind: str, **data: Any) -> None:
        heapq.heappush(self.queue, _Event(when, next(self.seq), kind, data))

    def _plan_days(self) -> None:
        rng, plan = self.rng, self.plan
        working_day = 0
        day = self.start.replace(hour=0, minute=0, second=0)
        while day < self.reference:
            if day.weekday() < 5:
                working_day += 1
                for _ in range(_poisson(rng, plan.prs_per_day)):
                    self._at(day + timedelta(hours=8 + rng.uniform(0, 9)), "pull")
                for _ in range(_poisson(rng, 0.3)):
                    self._at(day + timedelta(hours=8 + rng.uniform(0, 9)), "issue")
                if rng.random() < 0.12:
                    self._at(day + timedelta(hours=rng.uniform(9, 18)), "push")
                self._at(day + timedelta(hours=17), "deploy", environment="staging")
                if working_day % plan.production_every == 0:
                    self._at(day + timedelta(hours=14), "deploy", environment="production")
            day += timedelta(days=1)

    # -- events --------------------------------------------------------------------------------

    def _on_pull(self, when: datetime) -> None:
        rng = self.rng
        author = rng.choice(_DEVELOPERS) if rng.random() > 0.08 else "dependabot[bot]"
        title = f"{rng.choice(_VERBS)} {rng.choice(_TOPICS)}"
        number = next(self.numbers)
        branch = f"{author.split('[')[0]}/{title.lower().replace(' ', '-')}-{number}"
        pr = self._pull(number, title, author, branch, when)
        closes = when + timedelta(hours=min(max(rng.lognormvariate(2.8, 1.0), 0.5), 150))
        pushes = sorted(
            when + (closes - when) * rng.random() * 0.8 for _ in range(rng.randint(0, 3))
        )
        for at in [when, *pushes]:
            self._at(at, "pull_push", number=number, force_green=False)
        fate = rng.random()
        if closes > self.reference:
            pr["draft"] = rng.random() < 0.3
        self._at(closes, "pull_close", number=number, merged=fate < 0.86, branch=branch)

    def _on_pull_push(self, when: datetime, number: int, force_green: bool) -> None:
        pr = self.repo.pull(number)
        if pr["state"] != "open":
            return
        sha = _sha(self.repo.full_name, "branch", number, when)
        pr["head"]["sha"] = sha
        self._touch_pull(pr, when)
        conclusion = self._ci(sha, pr["head"]["ref"], "pull_request", when, force_green)
        if conclusion == "failure":  # the author pushes a fix
            fix_at = when + timedelta(minutes=self.rng.uniform(25, 120))
            self._at(fix_at, "pull_push", number=number, force_green=True)

    def _on_pull_close(self, when: datetime, number: int, merged: bool, branch: str) -> None:
        pr = self.repo.pull(number)
        head_green = self.ci.get(pr["head"]["sha"], (None, when))
        if merged and (head_green[0] != "success" or head_green[1] > when):
            later = when + timedelta(minutes=45)
            self._at(later, "pull_close", number=number, merged=True, branch=branch)
            return
        self._touch_pull(pr, when)
        pr.update(state="closed", closed_at=iso(when))
        twin = self.repo.issue(number)
        twin.update(state="closed", closed_at=iso(when), state_reason="completed")
        if merged:
            commit = self._main_commit(f"{pr['title']} (#{number})", pr["user"]["login"], when)
            pr.update(merged_at=iso(when), merge_commit_sha=commit["sha"])
            twin["pull_request"]["merged_at"] = iso(when)

    def _on_push(self, when: datetime) -> None:
        topic = self.rng.choice(_TOPICS)
        self._main_commit(f"chore: tidy {topic}", self.rng.choice(_DEVELOPERS), when)

    def _on_issue(self, when: datetime) -> None:
        rng = self.rng
        label = rng.choices(("bug", "enhancement", "chore"), (5, 4, 2))[0]
        issue = self._issue(f"{label.title()}: {rng.choice(_TOPICS)}", [label], when)
        closes = when + timedelta(days=rng.lognormvariate(1.2, 1.0))
        if closes <= self.reference and rng.random() < 0.8:
            reason = "completed" if rng.random() < 0.85 else "not_planned"
            issue.update(state="closed", closed_at=iso(closes), state_reason=reason)
            issue["updated_at"] = iso(closes)

    def _on_deploy(self, when: datetime, environment: str, sha: str = "", fix_of: int = 0) -> None:
        sha = sha or self._newest_green(when)
        if not sha or self.deployed.get(environment) == sha:
            return
        failed = (
            environment == "production"
            and not fix_of
            and self.rng.random() < self.plan.production_failure
        )
        done = self._deploy(sha, environment, when, failed)
        if done > self.reference:
            return  # still running at the reference date
        if failed:
            incident = self._issue(
                f"Incident: production deploy of {sha[:7]} failed", ["incident"], done
            )
            fix_at = done + timedelta(minutes=self.rng.uniform(20, 300))
            self._at(fix_at, "fix", incident=incident["number"])
            return
        self.deployed[environment] = sha
        if environment == "production":
            self._release(sha, done, patch=bool(fix_of))
        if fix_of:
            issue = self.repo.issue(fix_of)
            issue.update(state="closed", closed_at=iso(done), state_reason="completed")
            issue["updated_at"] = iso(done)

    def _on_fix(self, when: datetime, incident: int) -> None:
        message = f"fix: roll forward after failed production deploy (#{incident})"
        commit = self._main_commit(message, self.rng.choice(_DEVELOPERS), when, force_green=True)
        ready = self.ci[commit["sha"]][1] + timedelta(minutes=2)
        self._at(ready, "deploy", environment="production", sha=commit["sha"], fix_of=incident)

    # -- building blocks -------------------------------------------------------------------------

    def _pull(self, number: int, title: str, author: str, branch: str, when: datetime) -> Json:
        full_name, pid = self.repo.full_name, next(self.ids)
        pr = {
            "url": f"{API}/repos/{full_name}/pulls/{number}",
            "id": pid,
            "node_id": f"PR_{pid}",
            "html_url": f"{WEB}/{full_name}/pull/{number}",
            "number": number,
            "state": "open",
            "locked": False,
            "title": title,
            "user": _user(author),
            "body": f"Implements {title.lower()}.",
            "labels": [],
            "created_at": iso(when),
            "updated_at": iso(when),
            "closed_at": None,
            "merged_at": None,
            "merge_commit_sha": None,
            "draft": False,
            "head": {"label": f"{ORG}:{branch}", "ref": branch, "sha": ""},
            "base": {"label": f"{ORG}:main", "ref": "main", "sha": self._head()},
            "author_association": "MEMBER",
        }
        self.repo.pulls.append(pr)
        twin = self._issue(title, [], when, number=number, author=author)
        twin["pull_request"] = {
            "url": pr["url"],
            "html_url": pr["html_url"],
            "diff_url": f"{pr['html_url']}.diff",
            "patch_url": f"{pr['html_url']}.patch",
            "merged_at": None,
        }
        return pr

    def _touch_pull(self, pr: Json, when: datetime) -> None:
        pr["updated_at"] = iso(when)
        self.repo.issue(pr["number"])["updated_at"] = iso(when)

    def _issue(
        self,
        title: str,
        labels: list[str],
        when: datetime,
        *,
        number: int = 0,
        author: str = "",
    ) -> Json:
        full_name, iid = self.repo.full_name, next(self.ids)
        number = number or next(self.numbers)
        issue = {
            "url": f"{API}/repos/{full_name}/issues/{number}",
            "id": iid,
            "node_id": f"I_{iid}",
            "html_url": f"{WEB}/{full_name}/issues/{number}",
            "number": number,
            "title": title,
            "user": _user(author or self.rng.choice(_DEVELOPERS)),
            "labels": [{"id": int(_sha("label", n)[:6], 16), "name": n} for n in labels],
            "state": "open",
            "state_reason": None,
            "locked": False,
            "assignee": None,
            "comments": self.rng.randint(0, 6),
            "created_at": iso(when),
            "updated_at": iso(when),
            "closed_at": None,
            "author_association": "MEMBER",
        }
        self.repo.issues.append(issue)
        return issue

    def _head(self) -> str:
        return str(self.repo.commits[-1]["sha"]) if self.repo.commits else ""

    def _main_commit(
        self, message: str, author: str, when: datetime, *, force_green: bool = False
    ) -> Json:
        parents = [self._head()] if self.repo.commits else []
        commit = _commit(self.repo.full_name, _sha(self.repo.full_name, message, when), parents)
        committer = "web-flow" if message.endswith(")") and "(#" in message else author
        _fill_commit(commit, message, author, committer, when)
        self.repo.commits.append(commit)
        self._ci(commit["sha"], "main", "push", when + timedelta(seconds=5), force_green)
        return commit

    def _ci(self, sha: str, branch: str, event: str, when: datetime, force_green: bool) -> str:
        """A `CI` run for `sha`; returns its final conclusion (may be 'pending')."""
        rng = self.rng
        run = self._new_run("CI", sha, branch, event, when)
        started = when + timedelta(seconds=rng.randint(5, 40))
        done = started + timedelta(minutes=rng.uniform(3, 12))
        conclusion = "success" if force_green or rng.random() < 0.85 else "failure"
        attempt = 1
        if conclusion == "failure" and rng.random() < 0.5:  # re-run as attempt 2
            started = done + timedelta(minutes=rng.uniform(10, 50))
            done = started + timedelta(minutes=rng.uniform(3, 12))
            conclusion, attempt = ("success" if rng.random() < 0.7 else "failure"), 2
        pending = done > self.reference
        _finish_run(run, started, done, None if pending else conclusion, attempt=attempt)
        self.ci[sha] = (None if pending else conclusion, done)
        return "pending" if pending else conclusion

    def _new_run(self, name: str, sha: str, branch: str, event: str, when: datetime) -> Json:
        numbers = self.run_numbers.setdefault(name, itertools.count(1))
        number, rid = next(numbers), next(self.ids)
        run = _run(self.repo.full_name, rid, name, number, sha, branch, event, when)
        self.repo.workflow_runs.append(run)
        return run

    def _newest_green(self, when: datetime) -> str:
        for commit in reversed(self.repo.commits[-30:]):
            conclusion, done = self.ci.get(commit["sha"], (None, when))
            if conclusion == "success" and done <= when:
                return str(commit["sha"])
        return ""

    def _deploy(self, sha: str, environment: str, when: datetime, failed: bool) -> datetime:
        """A `Deploy` run and its deployment with statuses; returns when it finished."""
        rng, repo = self.rng, self.repo
        event = "push" if environment == "staging" else "workflow_dispatch"
        run = self._new_run("Deploy", sha, "main", event, when)
        deployment = _deployment(repo.full_name, next(self.ids), sha, environment, when)
        repo.deployments.append(deployment)
        started = when + timedelta(seconds=rng.randint(10, 60))
        done = started + timedelta(minutes=rng.uniform(3, 15))
        statuses = [_status(deployment, next(self.ids), "in_progress", started)]
        final = "failure" if failed else "success"
        if done <= self.reference:
            statuses.append(_status(deployment, next(self.ids), final, done))
            if environment == "staging" and not failed and self.last_staging is not None:
                previous = self.last_staging
                repo.statuses[previous["id"]].append(
                    _status(previous, next(self.ids), "inactive", done)
                )
        repo.statuses[deployment["id"]] = statuses
        if environment == "staging" and not failed:
            self.last_staging = deployment
        _finish_run(run, started, done, None if done > self.reference else final, attempt=1)
        return done

    def _release(self, sha: str, when: datetime, *, patch: bool) -> None:
        if patch:
            self.version[2] += 1
        else:
            self.version[1:] = [self.version[1] + 1, 0]
        tag = "v" + ".".join(map(str, self.version))
        rid, full_name = next(self.ids), self.repo.full_name
        self.repo.releases.append(
            {
                "id": rid,
                "node_id": f"RE_{rid}",
                "url": f"{API}/repos/{full_name}/releases/{rid}",
                "html_url": f"{WEB}/{full_name}/releases/tag/{tag}",
                "tag_name": tag,
                "target_commitish": sha,
                "name": f"{tag}{' (hotfix)' if patch else ''}",
                "draft": False,
                "prerelease": False,
                "author": _user(_BOT),
                "created_at": iso(when),
                "published_at": iso(when + timedelta(minutes=1)),
                "body": f"Deployed {sha[:7]} to production.",
            }
        )

    def _write_spec(self) -> None:
        for feature, present in self.plan.spec.items():
            for name in present or REQUIRED_SPEC_FILES:
                title = name.removesuffix(".md").title()
                text = f"# {title}: {feature}\n\nThe {title.lower()} of `{feature}`.\n"
                self.repo.files[f"spec/{feature}/{name}"] = text
        for feature in list(self.plan.spec)[:1]:
            self.repo.files[f"spec/{feature}/notes.md"] = "# Notes\n\nNot a Spec Kit document.\n"


def _poisson(rng: random.Random, rate: float) -> int:
    """Events in one unit of time when they arrive at `rate` (count of exponential gaps)."""
    count, elapsed = 0, rng.expovariate(rate) if rate > 0 else 2.0
    while elapsed < 1.0:
        count += 1
        elapsed += rng.expovariate(rate)
    return count
