"""A local GitHub: a threaded HTTP server on 127.0.0.1 speaking the REST paths vaultzoe's GitHub forge uses.

Driven through the real PyGithub (base_url = stub.api_url, like GITHUB_API_URL on GitHub Enterprise). It keeps
state (pulls, check runs, statuses, reviews, comments), reads branch heads from a bare git repo standing in for
the GitHub remote, injects faults (a POST that answers 502 after doing its work, rate limits, dropped
connections) and logs every request. JSON shapes and error bodies follow docs.github.com/rest: reviews,
comments and pulls carry `author_association` (the owner is OWNER, `stub.associations[login] = "COLLABORATOR"`
makes a collaborator, anyone else is NONE), and GET /user names the token's login (`stub.login`).
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

PREFIX = "/api/v3"
BLOB = "/_blob"                         # stands in for the storage host GitHub redirects log downloads to
WEB = "https://github.test"
PRIMARY_LIMIT = "API rate limit exceeded for user ID 1."
SECONDARY_LIMIT = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."


@dataclass
class Fault:
    """Answer the next matching request(s) with `status` instead of the real reply."""

    method: str
    path: str                           # regex, searched in the path after /repos/{owner}/{name}
    status: int = 502
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    after: bool = False                 # do the real work first (a POST that created the PR, then 502)
    drop: bool = False                  # close the connection without any reply
    times: int = 1


@dataclass
class Request:
    method: str
    path: str                           # without PREFIX and query
    query: dict[str, list[str]]
    body: Any
    authorized: bool
    status: int = 0
    sent_authorization: bool = False


@dataclass
class Pull:
    number: int
    title: str
    body: str
    head: str
    base: str
    user: str
    state: str = "open"
    merged: bool = False
    draft: bool = False
    mergeable_state: str = "clean"
    frozen_sha: str = ""                # the head sha once merged or closed, or when there is no origin
    created: str = ""


@dataclass
class CheckRun:
    id: int
    sha: str
    name: str
    status: str
    conclusion: str | None
    title: str = ""
    summary: str = ""
    text: str = ""
    annotations: list[dict[str, Any]] = field(default_factory=list)
    log: str = ""                       # the GitHub Actions job log (check run id == job id)
    app: str = "github-actions"


@dataclass
class Review:
    id: int
    number: int
    user: str
    state: str
    body: str
    commit_id: str


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class GitHubStub:
    """`with GitHubStub(origin=bare_repo, token=...) as gh:` then point PyGithub at gh.api_url."""

    def __init__(self, *, owner: str = "octo", name: str = "app", login: str = "octo", token: str | None = None,
                 origin: Path | None = None, default_branch: str = "main"):
        self.owner, self.name, self.login, self.token = owner, name, login, token
        self.origin, self.default_branch = origin, default_branch
        self.pulls: dict[int, Pull] = {}
        self.check_runs: list[CheckRun] = []
        self.statuses: dict[str, dict[str, dict[str, Any]]] = {}     # sha -> context -> status
        self.reviews: list[Review] = []
        self.review_comments: list[dict[str, Any]] = []
        self.issue_comments: list[dict[str, Any]] = []
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.remaining = 5000
        self.associations: dict[str, str] = {owner: "OWNER"}     # login -> author_association (else NONE)
        self._ids = 100
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> "GitHubStub":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        handler = type("Handler", (_Handler,), {"stub": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def api_url(self) -> str:
        assert self._server, "start the stub first"
        return f"http://127.0.0.1:{self._server.server_address[1]}{PREFIX}"

    @property
    def repo_api(self) -> str:
        return f"{self.api_url}/repos/{self.owner}/{self.name}"

    # ------------------------------------------------------------ what GitHub's other users do (test helpers)

    def open_pull(self, head: str, title: str = "opened by hand", body: str = "", base: str | None = None,
                  user: str | None = None) -> int:
        """A PR opened outside vaultzoe (by the agent itself, or a human)."""
        with self._lock:
            number = max(self.pulls, default=0) + 1
            self.pulls[number] = Pull(number, title, body, head, base or self.default_branch, user or self.login,
                                      created=_now(), frozen_sha=self._ref_sha(head) or "")
            return number

    def add_check_run(self, sha: str, name: str, status: str = "completed", conclusion: str | None = "success",
                      title: str = "", summary: str = "", text: str = "",
                      annotations: list[dict[str, Any]] | None = None, log: str = "",
                      app: str = "github-actions") -> int:
        with self._lock:
            run = CheckRun(self._next_id(), sha, name, status, conclusion, title, summary, text, annotations or [],
                           log, app)
            self.check_runs.append(run)
            return run.id

    def set_status(self, sha: str, context: str, state: str, description: str = "", target_url: str = "") -> None:
        with self._lock:
            self.statuses.setdefault(sha, {})[context] = {
                "id": self._next_id(), "context": context, "state": state, "description": description,
                "target_url": target_url, "created_at": _now(), "updated_at": _now()}

    def add_review(self, number: int, user: str, state: str, body: str = "", commit_id: str | None = None,
                   comments: list[tuple[str, int, str]] = ()) -> int:
        with self._lock:
            review = Review(self._next_id(), number, user, state, body, commit_id or self.head_sha(number))
            self.reviews.append(review)
            for path, line, text in comments:
                self.review_comments.append({"number": number, "id": self._next_id(), "user": user, "body": text,
                                             "path": path, "line": line, "commit_id": review.commit_id,
                                             "pull_request_review_id": review.id})
            return review.id

    def add_issue_comment(self, number: int, user: str, body: str) -> int:
        with self._lock:
            comment_id = self._next_id()
            self.issue_comments.append({"number": number, "id": comment_id, "user": user, "body": body})
            return comment_id

    def merge(self, number: int) -> None:
        with self._lock:
            pull = self.pulls[number]
            pull.frozen_sha, pull.state, pull.merged = self.head_sha(number), "closed", True

    def close(self, number: int) -> None:
        with self._lock:
            pull = self.pulls[number]
            pull.frozen_sha, pull.state = self.head_sha(number), "closed"

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def rate_limit_once(self, method: str = "GET", path: str = r".*", kind: str = "primary", reset_in: int = 1,
                        status: int = 403) -> None:
        """GitHub's primary (X-RateLimit-Remaining: 0 + Reset) or secondary (Retry-After) rate limit reply."""
        if kind == "primary":
            headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + reset_in)}
            body = {"message": PRIMARY_LIMIT, "documentation_url": "https://docs.github.com/rest/rate-limit"}
        else:
            headers = {"Retry-After": str(reset_in)}
            body = {"message": SECONDARY_LIMIT, "documentation_url": "https://docs.github.com/rest/rate-limit"}
        self.inject(Fault(method, path, status, headers, body))

    def head_sha(self, number: int) -> str:
        pull = self.pulls[number]
        if pull.frozen_sha and (pull.state != "open" or not self.origin):
            return pull.frozen_sha
        return self._ref_sha(pull.head) or pull.frozen_sha

    def count(self, method: str, path_regex: str) -> int:
        return sum(1 for r in self.requests if r.method == method and re.fullmatch(path_regex, r.path))

    # ------------------------------------------------------------ request handling

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any,
               authorization: str) -> tuple[int, dict[str, str], Any]:
        """Returns (status, headers, json body); status 0 means drop the connection."""
        with self._lock:
            request = Request(method, path, query, body, self._authorized(authorization) or path.startswith(BLOB),
                              sent_authorization=bool(authorization))
            self.requests.append(request)
            status, headers, payload = self._dispatch(request)
            request.status = status
            return status, headers, payload

    def _dispatch(self, request: Request) -> tuple[int, dict[str, str], Any]:
        if not request.authorized:
            return 401, {}, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
        fault = self._take_fault(request)
        if fault and not fault.after:
            return self._fault_reply(fault)
        status, payload, headers = self._route(request)
        if fault:
            return self._fault_reply(fault)
        return status, {**self._rate_headers(), **headers}, payload

    def _take_fault(self, request: Request) -> Fault | None:
        for fault in self.faults:
            if fault.method == request.method and re.search(fault.path, request.path):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _fault_reply(self, fault: Fault) -> tuple[int, dict[str, str], Any]:
        if fault.drop:
            return 0, {}, None
        body = fault.body if fault.body is not None else {"message": "Server Error"}
        return fault.status, {**self._rate_headers(), **fault.headers}, body

    def _rate_headers(self) -> dict[str, str]:
        self.remaining = max(self.remaining - 1, 1)
        return {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(int(time.time()) + 3600), "X-RateLimit-Resource": "core"}

    def _authorized(self, authorization: str) -> bool:
        return self.token is None or authorization in (f"token {self.token}", f"Bearer {self.token}")

    def _route(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        for method, pattern, handler in self._routes():
            match = re.fullmatch(pattern, request.path)
            if match and method == request.method:
                status, payload, *headers = handler(request, *match.groups())
                return status, payload, (headers[0] if headers else {})
        return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, {}

    def _routes(self) -> list[tuple[str, str, Callable[..., tuple]]]:
        repo = re.escape(f"/repos/{self.owner}/{self.name}")
        return [
            ("GET", repo, lambda r: (200, self._repo_json())),
            ("GET", repo + r"/pulls", self._list_pulls),
            ("POST", repo + r"/pulls", self._create_pull),
            ("GET", repo + r"/pulls/(\d+)", lambda r, n: self._with_pull(n, lambda p: (200, self._pull_json(p)))),
            ("GET", repo + r"/pulls/(\d+)/reviews", self._list_reviews),
            ("POST", repo + r"/pulls/(\d+)/reviews", self._create_review),
            ("GET", repo + r"/pulls/(\d+)/comments", self._list_review_comments),
            ("GET", repo + r"/issues/(\d+)/comments", self._list_issue_comments),
            ("POST", repo + r"/issues/(\d+)/comments", self._create_issue_comment),
            ("GET", repo + r"/commits/([0-9a-f]+)/check-runs", self._list_check_runs),
            ("GET", repo + r"/commits/([0-9a-f]+)/status", self._combined_status),
            ("GET", repo + r"/check-runs/(\d+)/annotations", self._list_annotations),
            ("GET", repo + r"/actions/jobs/(\d+)/logs", self._job_logs),
            ("GET", BLOB + r"/logs/(\d+)", self._log_blob),
            ("GET", r"/rate_limit", lambda r: (200, self._rate_limit_json())),
            ("GET", r"/user", lambda r: (200, {**self._user_json(self.login), "name": self.login})),
        ]

    # ------------------------------------------------------------ endpoints

    def _list_pulls(self, request: Request) -> tuple[int, Any]:
        state = request.query.get("state", ["open"])[0]
        head = request.query.get("head", [None])[0]
        base = request.query.get("base", [None])[0]
        pulls = [p for p in sorted(self.pulls.values(), key=lambda p: -p.number)
                 if (state == "all" or p.state == state) and (head is None or self._label(p.head) == head)
                 and (base is None or p.base == base)]
        return 200, [self._pull_json(p, full=False) for p in pulls]

    def _create_pull(self, request: Request) -> tuple[int, Any]:
        body = request.body or {}
        head = str(body.get("head", "")).split(":")[-1]
        base = body.get("base", "")
        if self.origin and not self._ref_sha(head):
            return 422, _validation({"resource": "PullRequest", "field": "head", "code": "invalid"})
        if any(p.head == head and p.base == base and p.state == "open" for p in self.pulls.values()):
            return 422, _validation({"resource": "PullRequest", "code": "custom",
                                     "message": f"A pull request already exists for {self._label(head)}."})
        number = self.open_pull(head, body.get("title", ""), body.get("body") or "", base, self.login)
        self.pulls[number].draft = bool(body.get("draft", False))
        return 201, self._pull_json(self.pulls[number])

    def _list_reviews(self, request: Request, number: str) -> tuple[int, Any]:
        return self._with_pull(number, lambda p: (200, [self._review_json(r) for r in self.reviews
                                                        if r.number == p.number]))

    def _create_review(self, request: Request, number: str) -> tuple[int, Any]:
        body = request.body or {}
        event = {"COMMENT": "COMMENTED", "APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED"}
        state = event.get(body.get("event", ""), "PENDING")
        review_id = self.add_review(int(number), self.login, state, body.get("body", ""), body.get("commit_id"))
        return 200, self._review_json(next(r for r in self.reviews if r.id == review_id))

    def _list_review_comments(self, request: Request, number: str) -> tuple[int, Any]:
        return self._with_pull(number, lambda p: (200, [self._review_comment_json(c) for c in self.review_comments
                                                        if c["number"] == p.number]))

    def _list_issue_comments(self, request: Request, number: str) -> tuple[int, Any]:
        return self._with_pull(number, lambda p: (200, [self._issue_comment_json(c) for c in self.issue_comments
                                                        if c["number"] == p.number]))

    def _create_issue_comment(self, request: Request, number: str) -> tuple[int, Any]:
        comment_id = self.add_issue_comment(int(number), self.login, (request.body or {}).get("body", ""))
        return 201, self._issue_comment_json(next(c for c in self.issue_comments if c["id"] == comment_id))

    def _list_check_runs(self, request: Request, sha: str) -> tuple[int, Any]:
        runs = [self._check_run_json(r) for r in self.check_runs if r.sha == sha]
        return 200, {"total_count": len(runs), "check_runs": runs}

    def _list_annotations(self, request: Request, run_id: str) -> tuple[int, Any]:
        run = next((r for r in self.check_runs if r.id == int(run_id)), None)
        if run is None:
            return 404, {"message": "Not Found"}
        return 200, run.annotations

    def _job_logs(self, request: Request, job_id: str) -> tuple:
        """Like GitHub: a 302 to a short-lived, pre-signed download URL on another host (no token needed)."""
        run = next((r for r in self.check_runs if r.id == int(job_id) and r.app == "github-actions"), None)
        if run is None:
            return 404, {"message": "Not Found"}
        root = self.api_url.removesuffix(PREFIX)
        return 302, None, {"Location": f"{root}{BLOB}/logs/{run.id}?sig=presigned"}

    def _log_blob(self, request: Request, job_id: str) -> tuple[int, Any]:
        run = next((r for r in self.check_runs if r.id == int(job_id)), None)
        return (200, run.log) if run else (404, "BlobNotFound")

    def _combined_status(self, request: Request, sha: str) -> tuple[int, Any]:
        statuses = list(self.statuses.get(sha, {}).values())
        states = {s["state"] for s in statuses}
        combined = ("failure" if states & {"failure", "error"} else
                    "pending" if "pending" in states or not states else "success")
        return 200, {"state": combined, "sha": sha, "total_count": len(statuses),
                     "statuses": [{**s, "url": f"{self.repo_api}/statuses/{sha}"} for s in statuses],
                     "commit_url": f"{self.repo_api}/commits/{sha}", "url": f"{self.repo_api}/commits/{sha}/status",
                     "repository": self._repo_json()}

    def _with_pull(self, number: str, reply: Callable[[Pull], tuple[int, Any]]) -> tuple[int, Any]:
        pull = self.pulls.get(int(number))
        if pull is None:
            return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest/pulls"}
        return reply(pull)

    # ------------------------------------------------------------ JSON shapes

    def association(self, login: str) -> str:
        return self.associations.get(login, "NONE")

    def _user_json(self, login: str) -> dict[str, Any]:
        return {"login": login, "id": abs(hash(login)) % 10_000, "type": "Bot" if login.endswith("[bot]") else "User",
                "url": f"{self.api_url}/users/{login}", "html_url": f"{WEB}/{login}"}

    def _repo_json(self) -> dict[str, Any]:
        return {"id": 1, "name": self.name, "full_name": f"{self.owner}/{self.name}", "private": True,
                "owner": self._user_json(self.owner), "html_url": f"{WEB}/{self.owner}/{self.name}",
                "url": self.repo_api, "default_branch": self.default_branch}

    def _pull_json(self, pull: Pull, full: bool = True) -> dict[str, Any]:
        sha = self.head_sha(pull.number)
        data = {
            "url": f"{self.repo_api}/pulls/{pull.number}", "id": 1000 + pull.number, "number": pull.number,
            "state": pull.state, "title": pull.title, "body": pull.body, "draft": pull.draft,
            "html_url": f"{WEB}/{self.owner}/{self.name}/pull/{pull.number}",
            "issue_url": f"{self.repo_api}/issues/{pull.number}", "user": self._user_json(pull.user),
            "author_association": self.association(pull.user),
            "created_at": pull.created, "updated_at": pull.created, "merged_at": _now() if pull.merged else None,
            "head": {"label": self._label(pull.head), "ref": pull.head, "sha": sha, "repo": self._repo_json()},
            "base": {"label": self._label(pull.base), "ref": pull.base, "sha": self._ref_sha(pull.base) or "",
                     "repo": self._repo_json()},
        }
        if full:   # the list endpoint leaves these out; PyGithub completes the object with GET /pulls/N
            data.update(merged=pull.merged, mergeable=pull.mergeable_state != "dirty",
                        mergeable_state=pull.mergeable_state, commits=self._commit_count(pull),
                        comments=sum(1 for c in self.issue_comments if c["number"] == pull.number))
        return data

    def _review_json(self, review: Review) -> dict[str, Any]:
        return {"id": review.id, "user": self._user_json(review.user), "body": review.body, "state": review.state,
                "author_association": self.association(review.user),
                "commit_id": review.commit_id, "submitted_at": _now(),
                "html_url": f"{WEB}/{self.owner}/{self.name}/pull/{review.number}#pullrequestreview-{review.id}",
                "pull_request_url": f"{self.repo_api}/pulls/{review.number}"}

    def _review_comment_json(self, comment: dict[str, Any]) -> dict[str, Any]:
        return {**{k: v for k, v in comment.items() if k != "number"}, "user": self._user_json(comment["user"]),
                "author_association": self.association(comment["user"]),
                "url": f"{self.repo_api}/pulls/comments/{comment['id']}", "created_at": _now(),
                "html_url": f"{WEB}/{self.owner}/{self.name}/pull/{comment['number']}#discussion_r{comment['id']}",
                "pull_request_url": f"{self.repo_api}/pulls/{comment['number']}"}

    def _issue_comment_json(self, comment: dict[str, Any]) -> dict[str, Any]:
        return {"id": comment["id"], "body": comment["body"], "user": self._user_json(comment["user"]),
                "author_association": self.association(comment["user"]),
                "url": f"{self.repo_api}/issues/comments/{comment['id']}", "created_at": _now(),
                "html_url": f"{WEB}/{self.owner}/{self.name}/pull/{comment['number']}#issuecomment-{comment['id']}",
                "issue_url": f"{self.repo_api}/issues/{comment['number']}"}

    def _check_run_json(self, run: CheckRun) -> dict[str, Any]:
        url = f"{self.repo_api}/check-runs/{run.id}"
        return {"id": run.id, "name": run.name, "head_sha": run.sha, "status": run.status,
                "conclusion": run.conclusion, "url": url, "html_url": f"{WEB}/{self.owner}/{self.name}/runs/{run.id}",
                "details_url": f"{WEB}/{self.owner}/{self.name}/actions/runs/{run.id}",
                "app": {"id": 15368, "slug": run.app, "name": run.app},
                "output": {"title": run.title, "summary": run.summary, "text": run.text,
                           "annotations_count": len(run.annotations), "annotations_url": f"{url}/annotations"}}

    def _rate_limit_json(self) -> dict[str, Any]:
        core = {"limit": 5000, "remaining": self.remaining, "reset": int(time.time()) + 3600, "used": 0}
        return {"resources": {"core": core}, "rate": core}

    # ------------------------------------------------------------ git

    def _label(self, branch: str) -> str:
        return f"{self.owner}:{branch}"

    def _ref_sha(self, branch: str) -> str | None:
        if not self.origin:
            return None
        out = self._git("rev-parse", "--verify", "-q", f"refs/heads/{branch}")
        return out or None

    def _commit_count(self, pull: Pull) -> int:
        if not self.origin:
            return 1
        count = self._git("rev-list", "--count", f"refs/heads/{pull.base}..{self.head_sha(pull.number)}")
        return int(count) if count.isdigit() else 0

    def _git(self, *args: str) -> str:
        done = subprocess.run(["git", "--git-dir", str(self.origin), *args], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids


def _validation(error: dict[str, Any]) -> dict[str, Any]:
    return {"message": "Validation Failed", "errors": [error],
            "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"}


class _Handler(BaseHTTPRequestHandler):
    stub: GitHubStub
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = parts.path[len(PREFIX):] if parts.path.startswith(PREFIX) else parts.path
        status, headers, payload = self.stub.handle(method, path.rstrip("/"), parse_qs(parts.query),
                                                    self._body(), self.headers.get("Authorization", ""))
        if status == 0:
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self._reply(status, headers, payload)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else None

    def _reply(self, status: int, headers: dict[str, str], payload: Any) -> None:
        text = isinstance(payload, str)
        data = payload.encode() if text else b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8" if text else "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:   # keep test output quiet
        pass
