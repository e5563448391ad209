"""Local model servers for the real agent CLIs: Anthropic Messages and OpenAI Responses, scripted by turns.

One server answers both protocols on 127.0.0.1:<free port>:

- Claude Code (``ANTHROPIC_BASE_URL=stub.url``): ``HEAD /``, ``POST /v1/messages`` (SSE or JSON),
  ``POST /v1/messages/count_tokens``.
- Codex (a custom provider with ``base_url=stub.url + "/v1"``, ``wire_api="responses"``): ``POST /v1/responses`` (SSE).

The scenario is the model's side of one conversation: a list of turns, each either tool calls (shell commands
and file writes, mapped onto the CLI's own tools: Claude's Bash/Write, Codex's exec_command/apply_patch) or a
final text. Which turn to answer is read from the conversation history in the request (the number of assistant
turns it already holds), so a resumed session simply carries on with the next turn. Every request is recorded.
``fail_status`` makes every model call fail with that HTTP status (500, 529, ...).
"""

from __future__ import annotations

import gzip
import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator, Sequence

ANTHROPIC_SHELL_TOOL = "Bash"
ANTHROPIC_WRITE_TOOL = "Write"
CODEX_SHELL_TOOL = "exec_command"
CODEX_PATCH_TOOL = "apply_patch"
EXHAUSTED_TEXT = "Scenario exhausted: nothing more to do."


@dataclass(frozen=True)
class Shell:
    """The model asks the CLI to run a shell command."""

    command: str


@dataclass(frozen=True)
class WriteFile:
    """The model asks the CLI to create a file (absolute path for Claude; relative to the workdir for Codex)."""

    path: str
    content: str


@dataclass(frozen=True)
class Turn:
    """One model reply: tool calls, or (when there are none) a final text."""

    calls: tuple[Shell | WriteFile, ...] = ()
    text: str = ""


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 1200
    output_tokens: int = 34


@dataclass
class _State:
    scenario: tuple[Turn, ...]
    fail_status: int | None
    usage: Usage
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def next_id(self) -> int:
        with self.lock:
            return next(self.ids)

    def record(self, entry: Recorded) -> None:
        with self.lock:
            self.requests.append(entry)

    def turn(self, index: int) -> Turn:
        return self.scenario[index] if index < len(self.scenario) else Turn(text=EXHAUSTED_TEXT)


# ---------------------------------------------------------------- SSE framing


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


# ---------------------------------------------------------------- Anthropic Messages


def anthropic_turn_index(body: dict[str, Any]) -> int:
    return sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")


def anthropic_blocks(turn: Turn, state: _State) -> list[dict[str, Any]]:
    if not turn.calls:
        return [{"type": "text", "text": turn.text}]
    blocks = []
    for call in turn.calls:
        if isinstance(call, Shell):
            name, args = ANTHROPIC_SHELL_TOOL, {"command": call.command, "description": "run a command"}
        else:
            name, args = ANTHROPIC_WRITE_TOOL, {"file_path": call.path, "content": call.content}
        blocks.append({"type": "tool_use", "id": f"toolu_stub{state.next_id():04d}", "name": name, "input": args})
    return blocks


def anthropic_message(body: dict[str, Any], state: _State) -> dict[str, Any]:
    # Side requests (titles, quota probes) offer no tools: answer them with a short text.
    turn = state.turn(anthropic_turn_index(body)) if body.get("tools") else Turn(text="ok")
    blocks = anthropic_blocks(turn, state)
    return {
        "id": f"msg_stub{state.next_id():04d}", "type": "message", "role": "assistant",
        "model": body.get("model", "claude-stub"), "content": blocks,
        "stop_reason": "tool_use" if turn.calls else "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": state.usage.input_tokens, "output_tokens": state.usage.output_tokens,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    }


def anthropic_block_events(index: int, block: dict[str, Any]) -> list[bytes]:
    if block["type"] == "text":
        start = {"type": "text", "text": ""}
        delta = {"type": "text_delta", "text": block["text"]}
    else:
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
    return [
        sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}),
        sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}),
        sse("content_block_stop", {"type": "content_block_stop", "index": index}),
    ]


def anthropic_stream(message: dict[str, Any]) -> bytes:
    usage = message["usage"]
    start = dict(message, content=[], stop_reason=None, usage=dict(usage, output_tokens=1))
    events = [sse("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(message["content"]):
        events.extend(anthropic_block_events(index, block))
    events.append(sse("message_delta", {"type": "message_delta",
                                        "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                                        "usage": {"output_tokens": usage["output_tokens"]}}))
    events.append(sse("message_stop", {"type": "message_stop"}))
    return b"".join(events)


# ---------------------------------------------------------------- OpenAI Responses


_ASSISTANT_ITEMS = {"function_call", "custom_tool_call", "reasoning", "local_shell_call"}


def _is_assistant_item(item: dict[str, Any]) -> bool:
    kind = item.get("type", "message")
    return kind in _ASSISTANT_ITEMS or (kind == "message" and item.get("role") == "assistant")


def responses_turn_index(body: dict[str, Any]) -> int:
    """Count runs of assistant-side items in the input: one run per earlier model reply."""
    runs, inside = 0, False
    for item in body.get("input", []):
        assistant = _is_assistant_item(item)
        if assistant and not inside:
            runs += 1
        inside = assistant
    return runs


def patch_for(call: WriteFile) -> str:
    lines = "".join(f"+{line}\n" for line in call.content.splitlines())
    return f"*** Begin Patch\n*** Add File: {call.path}\n{lines}*** End Patch\n"


def _offered_tool(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((t for t in body.get("tools", []) if t.get("name") == name), None)


def responses_call_item(call: Shell | WriteFile, body: dict[str, Any], state: _State) -> dict[str, Any]:
    call_id = f"call_stub{state.next_id():04d}"
    if isinstance(call, Shell):
        args = json.dumps({"cmd": call.command, "yield_time_ms": 10000})
        return {"type": "function_call", "id": f"fc_{call_id}", "call_id": call_id,
                "name": CODEX_SHELL_TOOL, "arguments": args, "status": "completed"}
    tool = _offered_tool(body, CODEX_PATCH_TOOL) or {}
    if tool.get("type") == "custom":
        return {"type": "custom_tool_call", "id": f"ctc_{call_id}", "call_id": call_id,
                "name": CODEX_PATCH_TOOL, "input": patch_for(call), "status": "completed"}
    return {"type": "function_call", "id": f"fc_{call_id}", "call_id": call_id, "name": CODEX_PATCH_TOOL,
            "arguments": json.dumps({"input": patch_for(call)}), "status": "completed"}


def responses_items(turn: Turn, body: dict[str, Any], state: _State) -> list[dict[str, Any]]:
    if turn.calls:
        return [responses_call_item(call, body, state) for call in turn.calls]
    return [{"type": "message", "id": f"msg_stub{state.next_id():04d}", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": turn.text, "annotations": []}]}]


def responses_item_events(index: int, item: dict[str, Any], seq: Iterator[int]) -> list[bytes]:
    events = [sse("response.output_item.added", {"type": "response.output_item.added", "sequence_number": next(seq),
                                                 "output_index": index, "item": item})]
    if item["type"] == "message":
        text = item["content"][0]["text"]
        events.append(sse("response.output_text.delta", {
            "type": "response.output_text.delta", "sequence_number": next(seq), "item_id": item["id"],
            "output_index": index, "content_index": 0, "delta": text}))
    events.append(sse("response.output_item.done", {"type": "response.output_item.done", "sequence_number": next(seq),
                                                    "output_index": index, "item": item}))
    return events


def responses_stream(body: dict[str, Any], state: _State) -> bytes:
    turn = state.turn(responses_turn_index(body))
    items = responses_items(turn, body, state)
    seq = itertools.count()
    response = {"id": f"resp_stub{state.next_id():04d}", "object": "response", "status": "in_progress",
                "model": body.get("model", "gpt-stub"), "output": []}
    events = [sse("response.created", {"type": "response.created", "sequence_number": next(seq),
                                       "response": response})]
    for index, item in enumerate(items):
        events.extend(responses_item_events(index, item, seq))
    usage = {"input_tokens": state.usage.input_tokens, "input_tokens_details": {"cached_tokens": 0},
             "output_tokens": state.usage.output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
             "total_tokens": state.usage.input_tokens + state.usage.output_tokens}
    done = dict(response, status="completed", output=items, usage=usage)
    events.append(sse("response.completed", {"type": "response.completed", "sequence_number": next(seq),
                                             "response": done}))
    return b"".join(events)


# ---------------------------------------------------------------- HTTP


def _decode_body(raw: bytes, encoding: str) -> Any:
    if encoding == "gzip":
        raw = gzip.decompress(raw)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")


def _error_body(path: str, status: int) -> dict[str, Any]:
    message = f"model stub: scripted failure (HTTP {status})"
    if path.startswith("/v1/responses"):
        return {"error": {"message": message, "type": "server_error", "code": "server_error"}}
    kind = "overloaded_error" if status == 529 else "api_error"
    return {"type": "error", "error": {"type": kind, "message": message}}


def make_handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def _send(self, status: int, payload: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _json(self, status: int, data: Any) -> None:
            self._send(status, json.dumps(data).encode(), "application/json")

        def _record(self, body: Any) -> None:
            state.record(Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))

        def do_HEAD(self) -> None:
            self._record(None)
            self._send(200, b"", "text/plain")

        def do_GET(self) -> None:
            self._record(None)
            if self.path.split("?")[0] == "/v1/models":
                self._json(200, {"data": [], "object": "list"})
            else:
                self._json(404, {"error": {"message": f"model stub: no route for GET {self.path}"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = _decode_body(self.rfile.read(length), self.headers.get("Content-Encoding", ""))
            self._record(body)
            route = self.path.split("?")[0]
            if not isinstance(body, dict):
                self._json(400, {"error": {"message": "model stub: expected a JSON object body"}})
            elif route == "/v1/messages/count_tokens":
                self._json(200, {"input_tokens": state.usage.input_tokens})
            elif state.fail_status is not None and route in ("/v1/messages", "/v1/responses"):
                self._json(state.fail_status, _error_body(route, state.fail_status))
            elif route == "/v1/messages":
                self._messages(body)
            elif route == "/v1/responses":
                self._send(200, responses_stream(body, state), "text/event-stream")
            else:
                self._json(404, {"error": {"message": f"model stub: no route for POST {self.path}"}})

        def _messages(self, body: dict[str, Any]) -> None:
            message = anthropic_message(body, state)
            if body.get("stream"):
                self._send(200, anthropic_stream(message), "text/event-stream")
            else:
                self._json(200, message)

    return Handler


class ModelStub:
    """A scripted model server on 127.0.0.1; use as a context manager."""

    def __init__(self, scenario: Sequence[Turn] = (), *, fail_status: int | None = None,
                 usage: Usage = Usage()) -> None:
        self._state = _State(tuple(scenario), fail_status, usage)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self._state))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="model-stub", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> list[Recorded]:
        with self._state.lock:
            return list(self._state.requests)

    def model_calls(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path.split("?")[0] in
                ("/v1/messages", "/v1/responses")]

    def __enter__(self) -> ModelStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
