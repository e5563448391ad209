"""RecordingNotifier: a Notifier that keeps every message instead of sending it (tests, demos, dry runs)."""

from __future__ import annotations


class RecordingNotifier:
    name = "recording"

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def notify(self, title: str, body: str) -> None:
        self.messages.append((title, body))

    @property
    def titles(self) -> list[str]:
        return [title for title, _ in self.messages]
