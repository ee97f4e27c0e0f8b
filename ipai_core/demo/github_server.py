"""A local HTTP server speaking GitHub's REST API over a `DevopsDemo`, for tests and for replaying
the demo through the real GitHub connector.

    with GithubServer(DevopsDemo.generate(), token="demo-token") as server:  # None: no check
        server.base_url            # http://127.0.0.1:<port>, the connector's `api_url`
        server.inject("rate_limit", path="/commits", reset_in=2)
        server.count("/pulls", status=304)

What it serves (GET only): `/repos/{o}/{r}`, `…/commits` (`since`, `until`), `…/pulls` (`state`,
`sort`, `direction`), `…/issues` (`state`, `since`, `sort`, `direction`; PRs included with a
`pull_request` key), `…/actions/runs` (`{"total_count", "workflow_runs"}`), `…/deployments`,
`…/deployments/{id}/statuses`, `…/releases`, `…/contents/{path}`. Lists are paged by `per_page`
(default 30, at most 100) and `page`, with a `Link` header (`next`, `last`, `first`, `prev`).

Like GitHub it sends an `ETag` per response body and answers `If-None-Match` with `304 Not
Modified`, which does not count against the rate limit; every response carries
`X-RateLimit-Limit/Remaining/Used/Reset/Resource`, and a spent budget answers 403 until the reset.
A wrong or missing token gets 401 with GitHub's JSON error body. Faults are queued with `inject`
and consumed by the next matching request: `"500"`, `"rate_limit"` (403, remaining 0, reset
`reset_in` seconds ahead), `"secondary"` (403 with `Retry-After`), `"timeout"` (no answer until
`timeout_delay_s` has passed; the connection is then closed). Every request is recorded in `hits`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, cast
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from ipai_core.demo.devops_data import DevopsDemo, Json, Repository, parse_time

FaultKind = Literal["500", "rate_limit", "secondary", "timeout"]
_DOCS = "https://docs.github.com/rest"
_RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
_WINDOW_S = 3600


@dataclass
class Fault:
    kind: FaultKind
    path: str | None = None  # only requests whose path contains this
    reset_in: float = 2.0  # rate_limit: seconds until X-RateLimit-Reset
    retry_after: int = 1  # secondary: the Retry-After header


@dataclass(frozen=True)
class Hit:
    """One request as the server saw it."""

    path: str
    query: dict[str, str]
    status: int

    @property
    def page(self) -> int:
        return int(self.query.get("page", "1"))


@dataclass
class _Answer:
    status: int
    body: Any = None
    headers: dict[str, str] | None = None


class _NotFound(Exception):
    pass


class GithubServer:
    """`start()` → base URL; `stop()`; or use it as a context manager."""

    def __init__(
        self,
        demo: DevopsDemo,
        *,
        token: str | None = None,
        rate_limit: int = 5000,
        timeout_delay_s: float = 2.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.demo = demo
        self.token = token
        self.rate_limit = rate_limit
        self.timeout_delay_s = timeout_delay_s
        self.hits: list[Hit] = []
        self.faults: list[Fault] = []
        self.errors: list[BaseException] = []
        self._address = (host, port)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._used = 0
        self._reset_at = 0

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> str:
        self._httpd = _HTTPServer(self._address, _Handler)
        self._httpd.app = self
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() returns within this
            name="github-demo-server",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> GithubServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the GitHub demo server is not running; call start() first")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- test controls -------------------------------------------------------------------------

    def inject(
        self,
        kind: FaultKind,
        *,
        path: str | None = None,
        reset_in: float = 2.0,
        retry_after: int = 1,
        times: int = 1,
    ) -> None:
        """Queue `times` faults for the next requests whose path contains `path` (any if None)."""
        with self._lock:
            self.faults.extend(Fault(kind, path, reset_in, retry_after) for _ in range(times))

    def count(self, path: str = "", *, status: int | None = None) -> int:
        """Requests whose path contains `path` (and answered `status`, when given)."""
        with self._lock:
            return sum(
                1 for h in self.hits if path in h.path and (status is None or h.status == status)
            )

    def pages(self, path: str) -> set[int]:
        with self._lock:
            return {h.page for h in self.hits if path in h.path}

    def clear(self) -> None:
        with self._lock:
            self.hits.clear()

    # -- one request ---------------------------------------------------------------------------

    def handle(self, path: str, query: dict[str, str], headers: dict[str, str]) -> _Answer | None:
        """The answer to `GET path?query`, or None when the connection must just be dropped."""
        fault = self._take_fault(path)
        if fault is not None and fault.kind == "timeout":
            self._record(path, query, 0)  # status 0: no answer
            self._stopping.wait(self.timeout_delay_s)
            return None
        answer = self._answer(path, query, headers, fault)
        self._record(path, query, answer.status)
        return answer

    def _answer(
        self, path: str, query: dict[str, str], headers: dict[str, str], fault: Fault | None
    ) -> _Answer:
        if self.token is not None and headers.get("authorization", "") not in (
            f"Bearer {self.token}",
            f"token {self.token}",
        ):
            return _error(401, "Bad credentials", _DOCS)
        if fault is not None:
            return self._fault_answer(fault)
        limit_headers = self._spend()
        if limit_headers is None:
            return self._rate_limited(self._reset_at)
        try:
            answer = self._route(path, query)
        except _NotFound:
            answer = _error(404, "Not Found", _DOCS)
        except Exception as exc:  # a bug in the demo server: answer it, and keep it for tests
            self.errors.append(exc)
            answer = _error(500, f"demo server error: {type(exc).__name__}: {exc}", _DOCS)
        if answer.status == 200:
            answer = _conditional(answer, headers.get("if-none-match"))
            if answer.status == 304:
                self._refund()
        answer.headers = {**(answer.headers or {}), **self._limit_headers()}
        return answer

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self.faults):
                if fault.path is None or fault.path in path:
                    return self.faults.pop(i)
        return None

    def _record(self, path: str, query: dict[str, str], status: int) -> None:
        with self._lock:
            self.hits.append(Hit(path, query, status))

    def _fault_answer(self, fault: Fault) -> _Answer:
        if fault.kind == "500":
            return _error(500, "Server Error", _DOCS)
        if fault.kind == "secondary":
            answer = _error(
                403,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you "
                "try again.",
                f"{_RATE_DOCS}#about-secondary-rate-limits",
            )
            answer.headers = {"Retry-After": str(fault.retry_after), **self._limit_headers()}
            return answer
        return self._rate_limited(math.ceil(time.time() + fault.reset_in))

    def _rate_limited(self, reset_at: int) -> _Answer:
        answer = _error(403, "API rate limit exceeded for user ID 1.", _RATE_DOCS)
        answer.headers = {
            **self._limit_headers(),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(reset_at),
        }
        return answer

    # -- rate limit budget ---------------------------------------------------------------------

    def _spend(self) -> dict[str, str] | None:
        with self._lock:
            now = int(time.time())
            if now >= self._reset_at:
                self._used, self._reset_at = 0, now + _WINDOW_S
            if self._used >= self.rate_limit:
                return None
            self._used += 1
        return self._limit_headers()

    def _refund(self) -> None:
        with self._lock:
            self._used = max(0, self._used - 1)

    def _limit_headers(self) -> dict[str, str]:
        with self._lock:
            return {
                "X-RateLimit-Limit": str(self.rate_limit),
                "X-RateLimit-Remaining": str(max(0, self.rate_limit - self._used)),
                "X-RateLimit-Used": str(self._used),
                "X-RateLimit-Reset": str(self._reset_at),
                "X-RateLimit-Resource": "core",
            }

    # -- routes --------------------------------------------------------------------------------

    def _route(self, path: str, query: dict[str, str]) -> _Answer:
        for pattern, name in _ROUTES:
            match = pattern.match(path)
            if match:
                repo = self.demo.repositories.get(f"{match['owner']}/{match['repo']}")
                if repo is None:
                    raise _NotFound
                groups = {k: v for k, v in match.groupdict().items() if k not in ("owner", "repo")}
                handler = cast(Callable[..., _Answer], getattr(self, name))
                return handler(repo, path, query, **groups)
        raise _NotFound

    def _repository(self, repo: Repository, path: str, query: dict[str, str]) -> _Answer:
        return _Answer(200, repo.info)

    def _commits(self, repo: Repository, path: str, query: dict[str, str]) -> _Answer:
        items = list(reversed(repo.commits))
        items.sort(key=lambda c: c["commit"]["committer"]["date"], reverse=True)
        since, until = query.get("since"), query.get("until")
        items = _between(items, lambda c: c["commit"]["committer"]["date"], since, until)
        return self._page(items, path, query)

    def _pulls(self, repo: Repository, path: str, query: dict[str, str]) -> _Answer:
        items = _state(repo.pulls, query.get("state", "open"))
        return self._page(_sorted(items, query, "created"), path, query)

    def _issues(self, repo: Repository, path: str, query: dict[str, str]) -> _Answer:
        items = _state(repo.issues, query.get("state", "open"))
        items = _between(items, lambda i: i["updated_at"], query.get("since"), None)
        return self._page(_sorted(items, query, "created"), path, query)

    def _runs(self, repo: Repository, path: str, query: dict[str, str]) -> _Answer:
        items = sorted(repo.workflow_runs, key=lambda r: r["id"], reverse=True)
        for name in ("branch", "event", "status", "head_sha"):
            if name in query:
                field = "head_branch" if name == "branch" else name
                items = [r for r in items if r.get(field) == query[name]]
        page = self._page(items, path, query)
        page.body = {"total_count": len(items), "workflow_runs": page.body}
        return page

    def _deployments(self, repo: Repository, path: str, query: dict[str, str]) -> _Answer:
        items = sorted(repo.deployments, key=lambda d: d["id"], reverse=True)
        for name in ("sha", "ref", "task", "environment"):
            if name in query:
                items = [d for d in items if d.get(name) == query[name]]
        return self._page(items, path, query)

    def _statuses(
        self, repo: Repository, path: str, query: dict[str, str], deployment: str
    ) -> _Answer:
        if int(deployment) not in repo.statuses:
            raise _NotFound
        items = sorted(repo.statuses[int(deployment)], key=lambda s: s["id"], reverse=True)
        return self._page(items, path, query)

    def _releases(self, repo: Repository, path: str, query: dict[str, str]) -> _Answer:
        items = sorted(repo.releases, key=lambda r: (r["created_at"], r["id"]), reverse=True)
        return self._page(items, path, query)

    def _contents(
        self, repo: Repository, path: str, query: dict[str, str], file: str | None = None
    ) -> _Answer:
        wanted = (file or "").strip("/")
        if wanted in repo.files:
            return _Answer(200, _content(repo, wanted, repo.files[wanted]))
        prefix = f"{wanted}/" if wanted else ""
        children: dict[str, Json] = {}
        for name, text in sorted(repo.files.items()):
            if not name.startswith(prefix):
                continue
            head, _, rest = name[len(prefix) :].partition("/")
            child = f"{prefix}{head}"
            if rest:
                tree = _tree_sha(repo, child)
                children.setdefault(head, _entry(repo, child, "dir", tree, 0))
            else:
                children[head] = _entry(repo, child, "file", _blob_sha(text), len(text))
        if not children:
            raise _NotFound
        return _Answer(200, list(children.values()))

    def _page(self, items: list[Json], path: str, query: dict[str, str]) -> _Answer:
        per_page = max(1, min(100, _int(query.get("per_page"), 30)))
        page = max(1, _int(query.get("page"), 1))
        last = max(1, math.ceil(len(items) / per_page))
        links = []
        for rel, number in (("prev", page - 1), ("next", page + 1), ("last", last), ("first", 1)):
            if (rel in ("prev", "first") and page > 1) or (rel in ("next", "last") and page < last):
                url = f"{self.base_url}{quote(path)}?{urlencode({**query, 'page': number})}"
                links.append(f'<{url}>; rel="{rel}"')
        headers = {"Link": ", ".join(links)} if links else {}
        return _Answer(200, items[(page - 1) * per_page : page * per_page], headers)


_REPO = r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
_ROUTES = [
    (re.compile(_REPO + r"$"), "_repository"),
    (re.compile(_REPO + r"/commits$"), "_commits"),
    (re.compile(_REPO + r"/pulls$"), "_pulls"),
    (re.compile(_REPO + r"/issues$"), "_issues"),
    (re.compile(_REPO + r"/actions/runs$"), "_runs"),
    (re.compile(_REPO + r"/deployments$"), "_deployments"),
    (re.compile(_REPO + r"/deployments/(?P<deployment>\d+)/statuses$"), "_statuses"),
    (re.compile(_REPO + r"/releases$"), "_releases"),
    (re.compile(_REPO + r"/contents(?:/(?P<file>.*))?$"), "_contents"),
]


def _error(status: int, message: str, docs: str) -> _Answer:
    return _Answer(
        status, {"message": message, "documentation_url": docs, "status": str(status)}, {}
    )


def _conditional(answer: _Answer, if_none_match: str | None) -> _Answer:
    body = json.dumps(answer.body, separators=(",", ":")).encode()
    etag = f'W/"{hashlib.sha256(body).hexdigest()[:40]}"'
    headers = {**(answer.headers or {}), "ETag": etag}
    tags = {t.strip() for t in (if_none_match or "").split(",")}
    if etag in tags or etag.removeprefix("W/") in tags:
        return _Answer(304, None, headers)
    return _Answer(200, answer.body, headers)


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def _state(items: list[Json], state: str) -> list[Json]:
    return items if state == "all" else [i for i in items if i["state"] == state]


def _between(
    items: list[Json], moment: Callable[[Json], str], since: str | None, until: str | None
) -> list[Json]:
    """GitHub's `since` and `until` are inclusive."""
    low = parse_time(since) if since else None
    high = parse_time(until) if until else None
    return [
        i
        for i in items
        if (low is None or parse_time(moment(i)) >= low)
        and (high is None or parse_time(moment(i)) <= high)
    ]


def _sorted(items: list[Json], query: dict[str, str], default: str) -> list[Json]:
    sort = query.get("sort", default)
    field = {"created": "created_at", "updated": "updated_at"}.get(sort, "created_at")
    direction = query.get("direction", "desc" if sort == "created" else "asc")
    return sorted(items, key=lambda i: (parse_time(i[field]), i["id"]), reverse=direction == "desc")


def _blob_sha(text: str) -> str:
    data = text.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _tree_sha(repo: Repository, directory: str) -> str:
    inside = sorted((k, v) for k, v in repo.files.items() if k.startswith(f"{directory}/"))
    return hashlib.sha1(json.dumps(inside).encode(), usedforsecurity=False).hexdigest()


def _entry(repo: Repository, path: str, kind: str, sha: str, size: int) -> Json:
    api = f"https://api.github.com/repos/{repo.full_name}"
    html = f"https://github.com/{repo.full_name}/{'tree' if kind == 'dir' else 'blob'}/main/{path}"
    return {
        "type": kind,
        "size": size,
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": sha,
        "url": f"{api}/contents/{path}?ref=main",
        "git_url": f"{api}/git/{'trees' if kind == 'dir' else 'blobs'}/{sha}",
        "html_url": html,
        "download_url": None
        if kind == "dir"
        else f"https://raw.githubusercontent.com/{repo.full_name}/main/{path}",
    }


def _content(repo: Repository, path: str, text: str) -> Json:
    entry = _entry(repo, path, "file", _blob_sha(text), len(text.encode()))
    return {**entry, "encoding": "base64", "content": base64.b64encode(text.encode()).decode()}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    app: GithubServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (after a timeout) is expected; anything else is kept."""
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, ConnectionError | TimeoutError):
            self.app.errors.append(error)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # one send per response (flushed by the base class) …
    disable_nagle_algorithm = True  # … and no Nagle delay on keep-alive connections
    server: _HTTPServer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer = self.server.app.handle(parts.path, query, headers)
        if answer is None:
            self.close_connection = True
            return
        body = b"" if answer.status == 304 else json.dumps(answer.body).encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
        for name, value in (answer.headers or {}).items():
            self.send_header(name, value)
        if answer.status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: requests are recorded in `GithubServer.hits`."""
