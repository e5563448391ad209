"""Notifications through apprise (the inbox note itself is written by tasks/journal.py).

API CONTRACT (fixed):

    AppriseNotifier(urls: list[str]) implements protocols.Notifier; a failing channel never raises out of notify()
    (it is logged and returned in .failures).
    make_notifier(settings) -> Notifier
"""

from __future__ import annotations
