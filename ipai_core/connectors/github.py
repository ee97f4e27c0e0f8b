"""GitHub connector: repositories, commits, pull requests, issues, Actions workflow runs,
deployments and their statuses, releases, and Spec Kit coverage, over GitHub's REST API (httpx).

Bronze layout — the interface silver and gold models are written against. Each stream lands in
`<target_schema>.<table_prefix><stream>` (prefix `github_` by default) with the columns below,
primary key first, plus `_ipai_synced_at`, `_ipai_run_id`, `_ipai_deleted`. Timestamps are
`timestamptz` in UTC; lists are jsonb arrays; `repository` is the configured `owner/name` on every
stream, so streams join on it.

- `repositories` (id): repository, full_name, name, owner_login, private, visibility,
  default_branch, language, description, archived, html_url, created_at, updated_at, pushed_at
- `commits` (repository, sha): message, author_login, author_name, author_date, committer_login,
  committer_date, parent_shas (jsonb array), is_merge, html_url
- `pull_requests` (id): repository, number, state, title, user_login, draft, created_at,
  updated_at, closed_at, merged_at, merge_commit_sha, base_ref, head_ref, head_sha, html_url
- `issues` (id): repository, number, state, state_reason, title, user_login, labels (jsonb array
  of names), comments, is_pull_request, created_at, updated_at, closed_at, html_url
- `workflow_runs` (id): repository, workflow_id, name, run_number, run_attempt, event, status,
  conclusion, head_branch, head_sha, actor_login, created_at, updated_at, run_started_at, html_url
- `deployments` (id): repository, sha, ref, task, environment, description, creator_login,
  production_environment, transient_environment, created_at, updated_at
- `deployment_statuses` (id): repository, deployment_id, state, environment, description,
  creator_login, created_at, updated_at
- `releases` (id): repository, tag_name, name, target_commitish, draft, prerelease,
  author_login, created_at, published_at, html_url
- `spec_files` (repository, path): feature, file, exists, sha, size

Notes for models built on it:
- `commits` are those reachable from the default branch. A PR's merge commit is
  `pull_requests.merge_commit_sha` (null unless merged), which links commits to PRs.
- `issues` includes the issue side of every PR (GitHub lists PRs as issues); `is_pull_request`
  tells them apart. Incidents can be told by label (`labels ? 'incident'`).
- `workflow_runs` holds the latest attempt of each run (`run_attempt` > 1 means re-run); `status`
  is `completed` once `conclusion` (success, failure, cancelled, …) is known.
- A deployment's outcome is its first `success`, `failure` or `error` status; GitHub later adds
  `inactive` to superseded non-production deployments.
- `spec_files` has one row per Spec Kit document expected (`constitution.md`, `prd.md`, `plan.md`,
  `tasks.md`) of each feature directory `spec/<feature>/`, with `exists`; a repository without
  `spec/` has no rows.

Incremental reads. Each stream keeps, per repository, the newest cursor value seen (`updated_at`;
the committer date for commits, the creation time for statuses, publication for releases), the
keys seen at exactly that value (so equal timestamps never skip or repeat a row), and the `ETag`
of the listing's first page. A run first asks for that page with `If-None-Match`: an unchanged
listing answers `304 Not Modified`, which costs no rate limit and reads nothing. Otherwise:
- commits and issues (newest first): when the first page does not reach back to the cursor,
  `since=<cursor>` lets GitHub cut the listing;
- pull requests are listed by `updated` descending and paging stops at the first row older than
  the cursor; workflow runs, deployments and releases cannot be sorted by update (GitHub lists
  them newest created first), so paging stops once rows were created `revisit_window_h` before the
  cursor, and only rows updated after the cursor are kept — a run re-run later than that window
  is caught by the next full refresh;
- deployment statuses are read for each deployment walked, and, while no deployment is created,
  for the deployments of the last `revisit_window_h` with their own `ETag`s.
A full refresh reads everything (and so finds deletions); the cursor it saves starts the next
incremental run.

HTTP: `Authorization: Bearer <token>` (the token is the vault secret `token_secret` and never
appears in a message), `Link` pagination, retries with exponential backoff on 5xx and timeouts,
`Retry-After` (secondary limits) and `X-RateLimit-Reset` (primary limit, remaining 0) honoured by
sleeping — but never longer than `max_rate_limit_wait_s`: the stream then fails saying when the
limit resets, and later streams of the run fail at once instead of knocking again. Sleeping goes
through `GithubConnector.clock`, the seam tests replace.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property, partial
from typing import Annotated, Any, ClassVar, Protocol

import httpx
import pyarrow as pa
from pydantic import Field, StringConstraints

from ipai_core.connectors.base import (
    Checkpoint,
    Column,
    Connector,
    Deletes,
    Item,
    ReadRequest,
    StreamSchema,
    SyncMode,
    SyncOptions,
)
from ipai_core.connectors.registry import register
from ipai_core.connectors.typespec import arrow_type
from ipai_core.errors import ConfigError, SourceError
from ipai_core.governance.spec_check import REQUIRED_SPEC_FILES

Json = dict[str, Any]
RepoName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")]


class GithubConfig(SyncOptions):
    api_url: str = Field(default="https://api.github.com", description="GitHub's REST API root")
    repositories: list[RepoName] = Field(min_length=1, description="`owner/name` of each repo")
    token_secret: str = Field(default="github/token", description="Vault secret holding a token")
    table_prefix: str = Field(default="github_", pattern=r"^[a-z0-9_]*$")
    per_page: int = Field(default=100, ge=1, le=100)
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    max_retries: int = Field(default=4, ge=0, le=10, description="On 5xx answers and timeouts")
    max_rate_limit_wait_s: float = Field(
        default=900.0, ge=0, description="Longest sleep for a rate limit; longer fails the stream"
    )
    revisit_window_h: float = Field(
        default=72.0,
        ge=0,
        description="How far back changes to runs and deployments are looked for",
    )


class Clock(Protocol):
    def time(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


# -- HTTP ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    items: list[Json]
    etag: str | None = None
    next_url: str | None = None
    not_modified: bool = False


class GithubClient:
    """GETs with GitHub's etiquette: conditional requests, `Link` pages, rate limits, retries."""

    def __init__(self, config: GithubConfig, token: str, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self._blocked: tuple[float, str] | None = None  # (until, message) after a refused wait
        self._http = httpx.Client(
            base_url=config.api_url.rstrip("/"),
            timeout=config.timeout_s,
            follow_redirects=True,
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {token}",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "ipai-databricks",
            },
        )

    def close(self) -> None:
        self._http.close()

    def page(
        self,
        url: str,
        params: Mapping[str, str] | None = None,
        etag: str | None = None,
        *,
        envelope: str | None = None,
    ) -> Page:
        """One page; `not_modified` (and no items) when `etag` still holds."""
        response = self._get(url, params, etag)
        if response.status_code == 304:
            return Page([], etag, not_modified=True)
        if response.status_code != 200:
            raise self._refused(response)
        try:
            body = response.json()
            items = body[envelope] if envelope else body
        except (ValueError, KeyError, TypeError):
            raise SourceError(
                f"GitHub's answer to `GET {response.request.url.path}` is not the JSON expected "
                f"({response.text[:120]!r}); check that `api_url` points at GitHub's REST API"
            ) from None
        return Page(
            items if isinstance(items, list) else [items],
            response.headers.get("etag"),
            response.links.get("next", {}).get("url"),
        )

    def optional_page(self, url: str, etag: str | None = None) -> Page | None:
        """Like `page`, but None where GitHub has nothing (404), e.g. an absent directory."""
        try:
            return self.page(url, etag=etag)
        except _Missing:
            return None

    def pages(self, first: Page, envelope: str | None = None) -> Iterator[Page]:
        """`first` and the pages its `Link: rel="next"` chain leads to, one at a time."""
        page: Page | None = first
        while page is not None:
            yield page
            page = self.page(page.next_url, envelope=envelope) if page.next_url else None

    def _get(self, url: str, params: Mapping[str, str] | None, etag: str | None) -> httpx.Response:
        headers = {"If-None-Match": etag} if etag else {}
        failures = waits = 0
        while True:
            self._check_blocked()
            try:
                response = self._http.get(url, params=params, headers=headers)
            except httpx.TransportError as exc:
                failures += 1
                if failures > self.config.max_retries:
                    raise SourceError(
                        f"GitHub did not answer `GET {_where(url, params)}` after {failures} "
                        f"attempts ({type(exc).__name__}: {exc}); check `api_url` "
                        f"`{self.config.api_url}` and the network, or raise `timeout_s`"
                    ) from None
                self._backoff(failures)
                continue
            wait = _rate_limit_wait(response, self.clock.time())
            if wait is not None:
                waits += 1
                self._wait_for_limit(response, wait, waits)
                continue
            if response.status_code >= 500:
                failures += 1
                if failures > self.config.max_retries:
                    raise SourceError(
                        f"GitHub answered {response.status_code} to `GET {_where(url, params)}` "
                        f"{failures} times: {_message(response)}; try again later"
                    )
                self._backoff(failures)
                continue
            return response

    def _backoff(self, failures: int) -> None:
        self.clock.sleep(min(0.5 * 2 ** (failures - 1), 30.0))

    def _check_blocked(self) -> None:
        if self._blocked is not None and self.clock.time() < self._blocked[0]:
            raise SourceError(self._blocked[1])

    def _wait_for_limit(self, response: httpx.Response, wait: float, waits: int) -> None:
        limit = self.config.max_rate_limit_wait_s
        resets = datetime.fromtimestamp(self.clock.time() + wait, UTC)
        if waits > self.config.max_retries + 5:
            raise SourceError(
                f"GitHub still rate-limits `GET {response.request.url.path}` after {waits - 1} "
                f"waits ({_message(response)}); run again after {resets:%Y-%m-%dT%H:%M:%SZ}"
            )
        if wait > limit:
            message = (
                f"GitHub's rate limit stops `GET {response.request.url.path}` "
                f"({_message(response)}); it resets at {resets:%Y-%m-%dT%H:%M:%SZ} "
                f"(in {wait:.0f} s), later than `max_rate_limit_wait_s` = {limit:g} s allows. "
                f"Run again after {resets:%H:%M:%S} UTC, or raise `max_rate_limit_wait_s`"
            )
            self._blocked = (self.clock.time() + wait, message)
            raise SourceError(message)
        self.clock.sleep(wait)

    def _refused(self, response: httpx.Response) -> SourceError:
        where = _where(str(response.request.url.path), dict(response.request.url.params))
        status, message = response.status_code, _message(response)
        if status == 401:
            hint = f"store a valid token with `ipai secrets set {self.config.token_secret}`"
        elif status == 404:
            hint = "the repository does not exist or the token cannot see it; check `repositories`"
        elif status == 403:
            hint = "the token lacks a permission (it needs read access to contents and actions)"
        else:
            hint = "see GitHub's message"
        error = _Missing if status == 404 else SourceError
        return error(f"GitHub answered {status} to `GET {where}`: {message}; {hint}")


class _Missing(SourceError):
    """GitHub answered 404 Not Found."""


def _rate_limit_wait(response: httpx.Response, now: float) -> float | None:
    """Seconds to wait before retrying, when `response` is a rate-limit answer."""
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    if headers.get("retry-after", "").isdigit():
        return float(headers["retry-after"])
    if headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
        return max(0.0, float(headers["x-ratelimit-reset"]) - now) + 1.0
    if response.status_code == 429 or "secondary rate limit" in _message(response).lower():
        return 60.0  # GitHub: without either header, wait at least a minute
    return None


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason_phrase
    if not isinstance(body, dict):
        return str(body)[:200]
    errors = body.get("errors") or []
    details = "; ".join(str(e.get("message", e) if isinstance(e, dict) else e) for e in errors)
    return f"{body.get('message', '')}{f' ({details})' if details else ''}"


def _where(url: str, params: Mapping[str, str] | None) -> str:
    query = "&".join(f"{k}={v}" for k, v in (params or {}).items() if k != "per_page")
    return f"{url}?{query}" if query else url


# -- streams -------------------------------------------------------------------------------------


def _ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC) if text else None


def _dig(item: Json, path: str) -> Any:
    value: Any = item
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _arrow(spec: str) -> pa.DataType:
    return pa.list_(pa.string()) if spec == "text[]" else arrow_type(spec)


@dataclass(frozen=True)
class Listing:
    """How a stream's list endpoint is paged (`path` under `/repos/{owner}/{repo}`)."""

    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    envelope: str | None = None
    by_cursor: bool = True  # newest first by the cursor field (else by creation time)
    since: bool = False  # accepts `since=<cursor>`


@dataclass(frozen=True)
class Stream:
    """A stream as data: its bronze columns and where each comes from in GitHub's JSON."""

    name: str
    key: tuple[str, ...]
    cursor_field: str | None
    columns: str  # "name type, …" with connector-config type names (`text[]`: a list of text)
    listing: Listing | None = None
    paths: Mapping[str, str] = field(default_factory=dict)  # column → dotted path, if renamed
    computed: Mapping[str, Callable[[Json], Any]] = field(default_factory=dict)

    @cached_property
    def schema(self) -> StreamSchema:
        pairs = [c.split() for c in self.columns.split(",")]
        return StreamSchema(
            name=self.name,
            columns=tuple(Column(n, _arrow(t), nullable=n not in self.key) for n, t in pairs),
            primary_key=self.key,
            cursor_field=self.cursor_field,
            modes=frozenset({SyncMode.FULL_REFRESH, SyncMode.INCREMENTAL}),
        )

    def row(self, repo: str, item: Json) -> Json:
        row: Json = {}
        for column in self.schema.columns:
            if column.name == "repository":
                row["repository"] = repo
            elif column.name in self.computed:
                row[column.name] = self.computed[column.name](item)
            else:
                value = _dig(item, self.paths.get(column.name, column.name))
                row[column.name] = _ts(value) if pa.types.is_timestamp(column.type) else value
        return row

    def cursor(self, item: Json) -> str:
        field_ = self.cursor_field or "updated_at"
        return str(_dig(item, self.paths.get(field_, field_)) or item["created_at"])

    def item_key(self, item: Json) -> str:
        parts = [_dig(item, self.paths.get(k, k)) for k in self.key if k != "repository"]
        return "/".join(map(str, parts))


def _names(items: list[Any] | None) -> list[str]:
    return [x["name"] if isinstance(x, dict) else str(x) for x in items or []]


_AT = "created_at timestamptz, updated_at timestamptz"
_NEWEST_UPDATED = {"state": "all", "sort": "updated", "direction": "desc"}
STREAMS: dict[str, Stream] = {
    s.name: s
    for s in (
        Stream(
            "repositories",
            ("id",),
            "updated_at",
            "id bigint, repository text, full_name text, name text, owner_login text, "
            "private boolean, visibility text, default_branch text, language text, "
            f"description text, archived boolean, html_url text, {_AT}, pushed_at timestamptz",
            paths={"owner_login": "owner.login"},
        ),
        Stream(
            "commits",
            ("repository", "sha"),
            "committer_date",
            "repository text, sha text, message text, author_login text, author_name text, "
            "author_date timestamptz, committer_login text, committer_date timestamptz, "
            "parent_shas text[], is_merge boolean, html_url text",
            Listing("/commits", since=True),
            paths={
                "message": "commit.message",
                "author_login": "author.login",
                "author_name": "commit.author.name",
                "author_date": "commit.author.date",
                "committer_login": "committer.login",
                "committer_date": "commit.committer.date",
            },
            computed={
                "parent_shas": lambda c: [p["sha"] for p in c.get("parents") or []],
                "is_merge": lambda c: len(c.get("parents") or []) > 1,
            },
        ),
        Stream(
            "pull_requests",
            ("id",),
            "updated_at",
            "id bigint, repository text, number bigint, state text, title text, "
            f"user_login text, draft boolean, {_AT}, closed_at timestamptz, "
            "merged_at timestamptz, merge_commit_sha text, base_ref text, head_ref text, "
            "head_sha text, html_url text",
            Listing("/pulls", _NEWEST_UPDATED),
            paths={
                "user_login": "user.login",
                "base_ref": "base.ref",
                "head_ref": "head.ref",
                "head_sha": "head.sha",
            },
            computed={"merge_commit_sha": lambda p: p.get("merged_at") and p["merge_commit_sha"]},
        ),
        Stream(
            "issues",
            ("id",),
            "updated_at",
            "id bigint, repository text, number bigint, state text, state_reason text, "
            "title text, user_login text, labels text[], comments bigint, "
            f"is_pull_request boolean, {_AT}, closed_at timestamptz, html_url text",
            Listing("/issues", _NEWEST_UPDATED, since=True),
            paths={"user_login": "user.login"},
            computed={
                "labels": lambda i: _names(i.get("labels")),
                "is_pull_request": lambda i: "pull_request" in i,
            },
        ),
        Stream(
            "workflow_runs",
            ("id",),
            "updated_at",
            "id bigint, repository text, workflow_id bigint, name text, run_number bigint, "
            "run_attempt bigint, event text, status text, conclusion text, head_branch text, "
            f"head_sha text, actor_login text, {_AT}, run_started_at timestamptz, html_url text",
            Listing("/actions/runs", envelope="workflow_runs", by_cursor=False),
            paths={"actor_login": "actor.login"},
        ),
        Stream(
            "deployments",
            ("id",),
            "updated_at",
            "id bigint, repository text, sha text, ref text, task text, environment text, "
            "description text, creator_login text, production_environment boolean, "
            f"transient_environment boolean, {_AT}",
            Listing("/deployments", by_cursor=False),
            paths={"creator_login": "creator.login"},
        ),
        Stream(
            "deployment_statuses",
            ("id",),
            "created_at",
            "id bigint, repository text, deployment_id bigint, state text, environment text, "
            f"description text, creator_login text, {_AT}",
            paths={"creator_login": "creator.login"},
        ),
        Stream(
            "releases",
            ("id",),
            "published_at",
            "id bigint, repository text, tag_name text, name text, target_commitish text, "
            "draft boolean, prerelease boolean, author_login text, created_at timestamptz, "
            "published_at timestamptz, html_url text",
            Listing("/releases", by_cursor=False),
            paths={"author_login": "author.login"},
        ),
        Stream(
            "spec_files",
            ("repository", "path"),
            None,
            "repository text, path text, feature text, file text, exists boolean, sha text, "
            "size bigint",
        ),
    )
}


# -- cursors -------------------------------------------------------------------------------------


@dataclass
class Mark:
    """Where one repository stands in one stream; saved in the stream's checkpoint."""

    cursor: str | None = None  # newest cursor value seen
    keys: list[str] = field(default_factory=list)  # keys seen at exactly `cursor`
    etag: str | None = None  # ETag of the listing's first page
    # deployment_statuses: deployment id → [created_at, ETag of its statuses]
    watch: dict[str, list[str | None]] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)  # spec_files: paths last seen

    @classmethod
    def load(cls, value: Mapping[str, Any] | None) -> Mark | None:
        """A saved mark (None when there is none); unknown keys of other versions are ignored."""
        if not value:
            return None
        return cls(**{k: v for k, v in value.items() if k in cls.__dataclass_fields__})

    def is_new(self, value: str, key: str) -> bool:
        if self.cursor is None:
            return True
        when, cursor = _ts(value), _ts(self.cursor)
        if when is None or cursor is None:
            return True
        return when > cursor or (when == cursor and key not in self.keys)

    def advance(self, value: str, key: str) -> None:
        if self.is_new(value, key):
            if self.cursor is not None and _ts(value) == _ts(self.cursor):
                self.keys.append(key)
            else:
                self.cursor, self.keys = value, [key]

    def older_than(self, value: str, hours: float) -> bool:
        """Is `value` more than `hours` before the cursor?"""
        cursor, when = _ts(self.cursor), _ts(value)
        return cursor is not None and when is not None and when < cursor - timedelta(hours=hours)


def _checkpoint(marks: Mapping[str, Mark]) -> Checkpoint:
    cursors = [m.cursor for m in marks.values() if m.cursor]
    newest = max(cursors, key=lambda c: _ts(c) or datetime.min.replace(tzinfo=UTC), default=None)
    return Checkpoint({"updated_at": newest, "repos": {r: asdict(m) for r, m in marks.items()}})


# -- the connector -------------------------------------------------------------------------------

Reader = Generator[Item, None, Mark | None]
_DEPLOYMENTS = STREAMS["deployments"].listing or Listing("/deployments")


@register
class GithubConnector(Connector[GithubConfig]):
    """GitHub → bronze. Secret: the token, under the vault name `token_secret`."""

    connector_type = "github"
    config_model = GithubConfig
    clock: ClassVar[Clock] = SystemClock()

    def discover(self) -> list[StreamSchema]:
        return [s.schema for s in STREAMS.values()]

    def read(self, request: ReadRequest) -> Iterator[Item]:
        stream = STREAMS[request.stream.name]
        incremental = request.mode is not SyncMode.FULL_REFRESH
        saved = (request.cursor or {}).get("repos", {}) if incremental else {}
        reader = self._reader(stream)
        marks: dict[str, Mark] = {}
        for repo in self.config.repositories:
            mark = yield from reader(repo, Mark.load(saved.get(repo)))
            if mark is not None:
                marks[repo] = mark
            yield _checkpoint(marks)

    def close(self) -> None:
        if hasattr(self, "_http_client"):
            self._http_client.close()

    @property
    def _client(self) -> GithubClient:
        if not hasattr(self, "_http_client"):
            secret = self.secrets.get(self.config.token_secret)
            if secret is None:
                raise ConfigError(
                    f"the GitHub token secret `{self.config.token_secret}` is not among this "
                    "connector's secrets; store it with `ipai secrets set` and add the connector "
                    "with `--secret` naming it"
                )
            self._http_client = GithubClient(self.config, secret.reveal(), self.clock)
        return self._http_client

    def _reader(self, stream: Stream) -> Callable[[str, Mark | None], Reader]:
        if stream.listing is not None:
            return partial(self._read_listing, stream, stream.listing)
        special = {
            "repositories": self._read_repository,
            "deployment_statuses": self._read_statuses,
            "spec_files": self._read_spec,
        }
        return partial(special[stream.name], stream)

    # -- readers: each yields one repository's rows and returns its new mark --------------------

    def _read_repository(self, stream: Stream, repo: str, old: Mark | None) -> Reader:
        page = self._client.page(f"/repos/{repo}", etag=old.etag if old else None)
        if page.not_modified:
            return old
        item = page.items[0]
        yield _batch(stream, [stream.row(repo, item)])
        return Mark(cursor=item.get("updated_at"), etag=page.etag)

    def _read_listing(
        self, stream: Stream, listing: Listing, repo: str, old: Mark | None
    ) -> Reader:
        url, params = f"/repos/{repo}{listing.path}", self._params(listing)
        first = self._client.page(url, params, old.etag if old else None, envelope=listing.envelope)
        if first.not_modified:
            return old
        mark = Mark(old.cursor, list(old.keys), first.etag) if old else Mark(etag=first.etag)
        if listing.since and old and old.cursor and not self._reaches(stream, first, old):
            params = {**params, "since": old.cursor}  # a long way back: let GitHub cut the list
            first = self._client.page(url, params, envelope=listing.envelope)
        for page in self._client.pages(first, listing.envelope):
            rows, done = self._new_rows(stream, repo, page.items, old, mark, listing.by_cursor)
            if rows:
                yield _batch(stream, rows)
            if done:
                break
        return mark

    def _read_statuses(self, stream: Stream, repo: str, old: Mark | None) -> Reader:
        url, params = f"/repos/{repo}{_DEPLOYMENTS.path}", self._params(_DEPLOYMENTS)
        first = self._client.page(url, params, old.etag if old else None)
        mark = Mark(old.cursor, list(old.keys), old.etag) if old else Mark()
        watch = dict(old.watch) if old else {}
        if not first.not_modified:
            mark.etag = first.etag
            for deployment in self._walk_deployments(first, old):
                known = watch.get(str(deployment["id"]), [None, None])
                watch[str(deployment["id"])] = [deployment["created_at"], known[1]]
        for deployment_id, (created, etag) in sorted(watch.items()):
            page = self._client.page(f"{url}/{deployment_id}/statuses", params, etag)
            if page.not_modified:
                continue
            watch[deployment_id] = [created, page.etag]
            for each in self._client.pages(page):
                items = [{**s, "deployment_id": int(deployment_id)} for s in each.items]
                rows, done = self._new_rows(stream, repo, items, old, mark, by_cursor=True)
                if rows:
                    yield _batch(stream, rows)
                if done:
                    break
        mark.watch = self._recent(watch)
        return mark

    def _read_spec(self, stream: Stream, repo: str, old: Mark | None) -> Reader:
        top = self._client.optional_page(f"/repos/{repo}/contents/spec", old.etag if old else None)
        if top is not None and top.not_modified:
            return old
        rows = []
        for entry in top.items if top else []:
            if entry.get("type") == "dir":
                folder = self._client.optional_page(f"/repos/{repo}/contents/{entry['path']}")
                present = {f["name"]: f for f in (folder.items if folder else [])}
                rows += [_spec_file(entry, name, present.get(name)) for name in REQUIRED_SPEC_FILES]
        if rows:
            yield _batch(stream, [stream.row(repo, r) for r in rows])
        paths = sorted(r["path"] for r in rows)
        gone = sorted(set(old.paths) - set(paths)) if old else []
        if gone:
            keys = [{"repository": repo, "path": p} for p in gone]
            yield Deletes(pa.RecordBatch.from_pylist(keys))
        return Mark(etag=top.etag if top else None, paths=paths)

    # -- helpers -------------------------------------------------------------------------------

    def _params(self, listing: Listing) -> dict[str, str]:
        return {**listing.params, "per_page": str(self.config.per_page)}

    def _reaches(self, stream: Stream, page: Page, old: Mark) -> bool:
        """Does `page` (newest first) reach back to the cursor, or is it the only page?"""
        return page.next_url is None or any(
            not old.is_new(stream.cursor(i), stream.item_key(i)) for i in page.items
        )

    def _new_rows(
        self,
        stream: Stream,
        repo: str,
        items: list[Json],
        old: Mark | None,
        mark: Mark,
        by_cursor: bool,
    ) -> tuple[list[Json], bool]:
        """Rows changed since `old` (all when None), and whether paging can stop here.

        `by_cursor`: the items are newest first by the cursor, so the first older one ends the
        walk; otherwise they are newest first by creation and the walk ends `revisit_window_h`
        before the cursor."""
        rows: list[Json] = []
        for item in items:
            value, key = stream.cursor(item), stream.item_key(item)
            if old is not None and not old.is_new(value, key):
                if by_cursor and _ts(value) != _ts(old.cursor):
                    return rows, True
                if not by_cursor and old.older_than(item["created_at"], self._window):
                    return rows, True
                continue
            rows.append(stream.row(repo, item))
            mark.advance(value, key)
        return rows, False

    @property
    def _window(self) -> float:
        return self.config.revisit_window_h

    def _walk_deployments(self, first: Page, old: Mark | None) -> Iterator[Json]:
        """Deployments, newest first, down to `revisit_window_h` before the statuses cursor."""
        for page in self._client.pages(first):
            for deployment in page.items:
                if old is not None and old.older_than(deployment["created_at"], self._window):
                    return
                yield deployment

    def _recent(self, watch: dict[str, list[str | None]]) -> dict[str, list[str | None]]:
        """The deployments created within `revisit_window_h` of the newest one."""
        created = {k: _ts(v[0]) for k, v in watch.items()}
        newest = max((c for c in created.values() if c), default=None)
        if newest is None:
            return {}
        since = newest - timedelta(hours=self._window)
        return {k: watch[k] for k, c in created.items() if c is not None and c >= since}


def _batch(stream: Stream, rows: list[Json]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(rows, schema=stream.schema.arrow_schema)


def _spec_file(folder: Json, name: str, found: Json | None) -> Json:
    return {
        "path": f"{folder['path']}/{name}",
        "feature": folder["name"],
        "file": name,
        "exists": found is not None,
        "sha": (found or {}).get("sha"),
        "size": (found or {}).get("size"),
    }
