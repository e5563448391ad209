"""Notifications through the real apprise to a local HTTP endpoint (apprise's json:// to 127.0.0.1)."""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from vaultzoe.fakes.notifier import RecordingNotifier
from vaultzoe.protocols import Notifier
from vaultzoe.settings import resolve_settings
from vaultzoe.work.notify import AppriseNotifier, make_notifier, message_for

SECRET = "hunter2-notify-secret"
URI = "obsidian://open?vault=Work&file=Tasks%2FFix%20login"


class Endpoint:
    """A local webhook: records every JSON body POSTed to it, answers with `status`."""

    def __init__(self, status: int = 200) -> None:
        self.received: list[dict] = []
        received, code = self.received, status

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    server = Endpoint()
    yield server
    server.close()


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_one_notify_sends_exactly_one_message_with_title_and_body(endpoint):
    notifier = AppriseNotifier([f"json://127.0.0.1:{endpoint.port}/hook"])
    notifier.notify("PR #12 ready for review: Fix the login", f"PR: https://github.com/o/r/pull/12\nTask: {URI}")
    assert len(endpoint.received) == 1
    message = endpoint.received[0]
    assert message["title"] == "PR #12 ready for review: Fix the login"
    assert "https://github.com/o/r/pull/12" in message["message"] and URI in message["message"]
    assert notifier.failures == []


def test_a_dead_or_failing_channel_never_raises_and_the_others_still_get_the_message(endpoint, caplog):
    caplog.set_level(logging.DEBUG)
    failing = Endpoint(status=500)
    try:
        notifier = AppriseNotifier([f"json://zoe:{SECRET}@127.0.0.1:{dead_port()}/hook",
                                    f"json://127.0.0.1:{failing.port}/hook", "not a url at all",
                                    f"json://127.0.0.1:{endpoint.port}/hook"])
        notifier.notify("Task failed: Fix the login", "attempts used up")
    finally:
        failing.close()
    assert len(endpoint.received) == 1 and len(failing.received) == 1
    assert len(notifier.failures) == 3
    assert "does not understand" in notifier.failures[0].reason
    assert all("reachable" in f.reason for f in notifier.failures[1:])
    assert SECRET not in caplog.text and all(SECRET not in f.channel for f in notifier.failures)


def test_make_notifier_uses_the_notify_setting(endpoint):
    settings = resolve_settings({"notify": f"json://127.0.0.1:{endpoint.port}/a, json://127.0.0.1:{endpoint.port}/b"},
                                environ={})
    notifier = make_notifier(settings)
    notifier.notify("t", "b")
    assert len(endpoint.received) == 2
    silent = make_notifier(resolve_settings({}, environ={}))
    silent.notify("t", "b")
    assert len(endpoint.received) == 2


def test_message_for_each_status():
    title, body = message_for("review", "Fix the login", "https://github.com/o/r/pull/12", URI)
    assert title == "PR #12 ready for review: Fix the login"
    assert "https://github.com/o/r/pull/12" in body and URI in body
    assert message_for("review", "Fix the login", None, URI)[0] == "Branch ready for review: Fix the login"
    failed_title, failed_body = message_for("failed", "Fix the login", None, URI)
    assert failed_title == "Task failed: Fix the login" and URI in failed_body and "PR:" not in failed_body
    assert message_for("blocked", "Fix the login", None, URI)[0] == "Task blocked, needs you: Fix the login"
    assert message_for("done", "Fix the login", "https://github.com/o/r/pull/3", URI)[0] == "Merged: Fix the login"


def test_recording_notifier_is_a_notifier():
    recorder: Notifier = RecordingNotifier()
    recorder.notify(*message_for("failed", "Fix the login", None, URI))
    assert recorder.titles == ["Task failed: Fix the login"]
