"""Notifications through apprise (the inbox note itself is written by tasks/journal.py).

    AppriseNotifier(urls: list[str]) implements protocols.Notifier; a failing channel never raises out of notify()
    (it is logged and returned in .failures).
    make_notifier(settings) -> Notifier

.failures holds NotifyFailure(channel, reason) values whose channel is the URL with
its secrets masked (apprise's privacy form); message_for(status, title, pr_url, task_uri) -> (title, body) words
the message for a task's new status. The orchestrator sends one message per state change; this module only sends.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Sequence

import apprise

from ..protocols import Notifier
from ..settings import Settings

log = logging.getLogger(__name__)

_PR_NUMBER = re.compile(r"/pull/(\d+)")


@dataclass(frozen=True)
class NotifyFailure:
    channel: str        # the URL with passwords and tokens masked
    reason: str


@dataclass(frozen=True)
class _Channel:
    label: str
    sender: apprise.Apprise


class AppriseNotifier:
    """Every URL in settings `notify` (Telegram, ntfy, Slack, email, desktop...), each tried on its own."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.failures: list[NotifyFailure] = []
        self._channels = [channel for channel in map(self._channel, urls) if channel is not None]

    def notify(self, title: str, body: str) -> None:
        """Send to every channel; a channel that fails is logged and kept in .failures, never raised."""
        for channel in self._channels:
            self._send(channel, title, body)

    def _channel(self, url: str) -> _Channel | None:
        sender = apprise.Apprise(asset=apprise.AppriseAsset(plugin_paths=[]))
        if not sender.add(url):
            self._fail(_scheme_only(url), "apprise does not understand this URL: fix it in the `notify` setting "
                                          "(see https://github.com/caronc/apprise/wiki for the URL forms)")
            return None
        return _Channel(sender[0].url(privacy=True), sender)

    def _send(self, channel: _Channel, title: str, body: str) -> None:
        try:
            delivered = bool(channel.sender.notify(body=body, title=title))
        except Exception as exc:  # noqa: BLE001 - any plugin may raise; a notification must never stop the loop
            self._fail(channel.label, f"{type(exc).__name__} while sending")
            return
        if not delivered:
            self._fail(channel.label, "not delivered: check the service is reachable and the URL's credentials")

    def _fail(self, channel: str, reason: str) -> None:
        log.warning("notification to %s failed: %s", channel, reason)
        self.failures.append(NotifyFailure(channel, reason))


def make_notifier(settings: Settings) -> Notifier:
    """The channels of settings `notify`; with none, notify() does nothing (the inbox note is always written)."""
    return AppriseNotifier(settings.notify)


def message_for(status: str, title: str, pr_url: str | None, task_uri: str) -> tuple[str, str]:
    """The (title, body) for a task's new status, e.g. "PR #12 ready for review: <task>" with both links."""
    headline = _HEADLINES.get(status, "{status}: {task}").format(status=status, task=title, pr=_pr_label(pr_url))
    lines = [_LEADS.get(status, ""), f"PR: {pr_url}" if pr_url else "", f"Task: {task_uri}" if task_uri else ""]
    return headline, "\n".join(line for line in lines if line)


_HEADLINES = {
    "review": "{pr} ready for review: {task}",
    "failed": "Task failed: {task}",
    "blocked": "Task blocked, needs you: {task}",
    "done": "Merged: {task}",
    "cancelled": "Task cancelled: {task}",
}
_LEADS = {
    "review": "Checks and reviews passed; it is your turn to review.",
    "failed": "vaultzoe used up its attempts; the task note shows the evidence.",
    "blocked": "vaultzoe cannot go on until you fix what the task note says.",
}


def _pr_label(pr_url: str | None) -> str:
    match = _PR_NUMBER.search(pr_url or "")
    return f"PR #{match.group(1)}" if match else "Branch"


def _scheme_only(url: str) -> str:
    """Enough of a URL apprise could not parse to recognise it, without anything that may be a secret."""
    scheme, sep, _ = url.partition("://")
    return f"{scheme}://..." if sep else "(not a URL)"
