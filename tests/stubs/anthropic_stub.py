"""A local Anthropic Messages API for the planner's tests: POST /v1/messages (JSON, or SSE when stream=true).

Scripted replies (tool_use or text), scripted failures (429 with retry-after, 500, 529 overloaded_error, an error
event in the middle of a stream) and a log of every request for assertions. The real `anthropic` client talks to
it through base_url / ANTHROPIC_BASE_URL.

Prompt caching is imitated: a request whose prefix up to its last cache_control breakpoint was seen before reports
that prefix as cache_read_input_tokens, otherwise as cache_creation_input_tokens.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Union

_ids = itertools.count(1)


@dataclass(frozen=True)
class ToolReply:
    """The model calls one tool (as the planner forces with tool_choice)."""

    name: str
    input: dict[str, Any]
    text: str = ""                 # an optional text block before the tool call
    output_tokens: int = 120


@dataclass(frozen=True)
class TextReply:
    text: str
    stop_reason: str = "end_turn"
    output_tokens: int = 40


@dataclass(frozen=True)
class Failure:
    """An HTTP error as the API sends it; mid_stream: HTTP 200, then an `error` event inside the SSE stream."""

    status: int
    error_type: str = "api_error"
    message: str = "scripted failure"
    retry_after: str | None = None          # the `retry-after` header (seconds)
    retry_after_ms: str | None = None       # the `retry-after-ms` header
    mid_stream: bool = False


def overloaded(**kw: Any) -> Failure:
    return Failure(529, "overloaded_error", "Overloaded", **kw)


def rate_limited(retry_after: str = "0.01", **kw: Any) -> Failure:
    return Failure(429, "rate_limit_error", "Number of requests has exceeded your rate limit", retry_after, **kw)


def server_error(**kw: Any) -> Failure:
    return Failure(500, "api_error", "Internal server error", **kw)


Reply = Union[ToolReply, TextReply, Failure]
Responder = Callable[[dict[str, Any]], Reply]


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body) if self.body else {}

    @property
    def text(self) -> str:
        """The request body as text (what tests search for leaks)."""
        return self.body.decode("utf-8", "replace")


@dataclass
class AnthropicStub:
    """Start with `with AnthropicStub() as stub:`; script with enqueue(); read stub.requests."""

    script: list[Reply | Responder] = field(default_factory=list)
    default: Reply | Responder | None = None        # when the script is used up (else a 500 saying so)
    model: str = "claude-sonnet-5-5"
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._seen_prefixes: set[str] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def __enter__(self) -> AnthropicStub:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        stub = self

        class Handler(_Handler):
            owner = stub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="anthropic-stub",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start the stub first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- scripting and assertions

    def enqueue(self, *replies: Reply | Responder) -> None:
        with self._lock:
            self.script.extend(replies)

    @property
    def message_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith("/v1/messages")]

    def all_bodies(self) -> str:
        return "\n".join(r.text for r in self.requests)

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            item = self.script.pop(0) if self.script else self.default
        if item is None:
            return Failure(500, "api_error", "stub: no scripted reply left")
        return item(body) if callable(item) else item

    def _record(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        with self._lock:
            self.requests.append(Recorded(method, path, headers, body))

    def _cache_usage(self, body: dict[str, Any]) -> dict[str, int]:
        prefix = _cached_prefix(body)
        if not prefix:
            return {"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        key = hashlib.sha256(prefix.encode()).hexdigest()
        with self._lock:
            hit = key in self._seen_prefixes
            self._seen_prefixes.add(key)
        tokens = len(prefix) // 4
        return {"cache_creation_input_tokens": 0 if hit else tokens, "cache_read_input_tokens": tokens if hit else 0}


def _cached_prefix(body: dict[str, Any]) -> str:
    """The serialized request parts up to (and including) the last block marked with cache_control."""
    parts: list[Any] = list(body.get("tools") or [])
    system = body.get("system")
    parts += system if isinstance(system, list) else ([{"type": "text", "text": system}] if system else [])
    for message in body.get("messages") or []:
        content = message.get("content")
        parts += content if isinstance(content, list) else [{"type": "text", "text": content}]
    last = max((i for i, p in enumerate(parts) if isinstance(p, dict) and p.get("cache_control")), default=-1)
    return json.dumps(parts[: last + 1], sort_keys=True) if last >= 0 else ""


class _Handler(BaseHTTPRequestHandler):
    owner: AnthropicStub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:   # keep test output quiet
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def do_HEAD(self) -> None:
        self._record(b"")
        self._send(200, b"", "text/plain")

    def do_GET(self) -> None:
        self._record(b"")
        if self.path.startswith("/v1/models"):
            data = {"data": [{"type": "model", "id": self.owner.model, "display_name": self.owner.model,
                              "created_at": "2026-01-01T00:00:00Z"}], "has_more": False,
                    "first_id": self.owner.model, "last_id": self.owner.model}
            self._json(200, data)
        else:
            self._json(404, _error_body("not_found_error", f"no route {self.path}"))

    def do_POST(self) -> None:
        raw = self._body()
        self._record(raw)
        if not self.path.startswith("/v1/messages"):
            self._json(404, _error_body("not_found_error", f"no route {self.path}"))
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._json(400, _error_body("invalid_request_error", "body is not JSON"))
            return
        if not (self.headers.get("x-api-key") or self.headers.get("authorization")):
            self._json(401, _error_body("authentication_error", "x-api-key header is required"))
            return
        if self.path.startswith("/v1/messages/count_tokens"):
            self._json(200, {"input_tokens": len(raw) // 4})
            return
        self._answer(body, self.owner._next(body))

    def _record(self, raw: bytes) -> None:
        self.owner._record(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, raw)

    def _answer(self, body: dict[str, Any], reply: Reply) -> None:
        if isinstance(reply, Failure) and not (reply.mid_stream and body.get("stream")):
            self._json(reply.status, _error_body(reply.error_type, reply.message), _retry_headers(reply))
            return
        message = _message(self.owner, body, reply) if not isinstance(reply, Failure) else None
        if body.get("stream"):
            self._send(200, _sse(message, reply if isinstance(reply, Failure) else None), "text/event-stream")
        else:
            self._json(200, message)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), "application/json", headers)

    def _send(self, status: int, payload: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(payload)))
        self.send_header("request-id", f"req_stub_{next(_ids)}")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


def _error_body(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": f"req_stub_{next(_ids)}"}


def _retry_headers(reply: Failure) -> dict[str, str]:
    headers = {}
    if reply.retry_after is not None:
        headers["retry-after"] = reply.retry_after
    if reply.retry_after_ms is not None:
        headers["retry-after-ms"] = reply.retry_after_ms
    return headers


def _message(stub: AnthropicStub, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if isinstance(reply, ToolReply):
        if reply.text:
            content.append({"type": "text", "text": reply.text})
        content.append({"type": "tool_use", "id": f"toolu_stub_{next(_ids)}", "name": reply.name,
                        "input": reply.input})
        stop, out = "tool_use", reply.output_tokens
    else:
        assert isinstance(reply, TextReply)
        content.append({"type": "text", "text": reply.text})
        stop, out = reply.stop_reason, reply.output_tokens
    cache = stub._cache_usage(body)
    cached = cache["cache_creation_input_tokens"] + cache["cache_read_input_tokens"]
    uncached = max(len(json.dumps(body)) // 4 - cached, 1)
    return {"id": f"msg_stub_{next(_ids)}", "type": "message", "role": "assistant",
            "model": body.get("model") or stub.model, "content": content, "stop_reason": stop,
            "stop_sequence": None, "usage": {"input_tokens": uncached, "output_tokens": out, **cache}}


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


def _sse(message: dict[str, Any] | None, failure: Failure | None) -> bytes:
    """The message as the stream of events the API sends (an error event instead, for a mid-stream failure)."""
    if failure is not None:
        start = {"id": f"msg_stub_{next(_ids)}", "type": "message", "role": "assistant", "model": "stub",
                 "content": [], "stop_reason": None, "stop_sequence": None,
                 "usage": {"input_tokens": 1, "output_tokens": 1}}
        return (_event("message_start", {"type": "message_start", "message": start})
                + _event("error", _error_body(failure.error_type, failure.message))).encode()
    assert message is not None
    head = dict(message, content=[], stop_reason=None, usage=dict(message["usage"], output_tokens=1))
    events = [_event("message_start", {"type": "message_start", "message": head})]
    for index, block in enumerate(message["content"]):
        events += _block_events(index, block)
    events.append(_event("message_delta", {"type": "message_delta",
                                           "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                                           "usage": {"output_tokens": message["usage"]["output_tokens"]}}))
    events.append(_event("message_stop", {"type": "message_stop"}))
    return "".join(events).encode()


def _block_events(index: int, block: dict[str, Any]) -> list[str]:
    if block["type"] == "tool_use":
        start = dict(block, input={})
        raw = json.dumps(block["input"])
        deltas = [{"type": "input_json_delta", "partial_json": raw[i:i + 64]} for i in range(0, len(raw), 64)]
    else:
        start = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": block["text"][i:i + 64]} for i in range(0, len(block["text"]), 64)]
    return ([_event("content_block_start", {"type": "content_block_start", "index": index, "content_block": start})]
            + [_event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
               for d in deltas]
            + [_event("content_block_stop", {"type": "content_block_stop", "index": index})])
