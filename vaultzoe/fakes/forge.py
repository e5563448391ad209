"""FakeForge: a deterministic Forge that hands out scripted ForgeReports and remembers every job.

submit() returns the next scripted submit report (a passing one when none is left); observe() returns
the next scripted observe report, else the last report it gave, so a task in review stays put until the
test scripts a change (e.g. FakeForge.merged()). A scripted exception (e.g. ForgeUnavailable for an outage)
is raised in its turn instead of a report.
"""

from __future__ import annotations

from typing import Any, Sequence, Union

from ..protocols import CheckItem, ForgeJob, ForgeReport


Scripted = Union[ForgeReport, Exception]


def passing(detail: str = "scripted") -> ForgeReport:
    """Every item passes."""
    return ForgeReport(checks=(CheckItem("commits", "pass", "1 new"), CheckItem("checks", "pass", detail),
                               CheckItem("pr", "pass", "local branch")))


def failing(evidence: str, item: str = "checks") -> ForgeReport:
    """One item fails with this evidence for the next prompt."""
    first_line = evidence.splitlines()[0] if evidence else "failed"
    return ForgeReport(checks=(CheckItem("commits", "pass", "1 new"), CheckItem(item, "fail", first_line)),
                       evidence=evidence)


def pending(item: str = "checks") -> ForgeReport:
    """CI (or a review) has not reported yet."""
    return ForgeReport(checks=(CheckItem("commits", "pass", "1 new"), CheckItem(item, "pending", "running")))


def merged() -> ForgeReport:
    """The branch went into base."""
    return ForgeReport(checks=passing().checks, merged=True)


class FakeForge:
    """Scripted judgements, in order."""

    def __init__(self, submits: Sequence[Scripted] = (), observes: Sequence[Scripted] = (),
                 name: str = "fake") -> None:
        self.name = name
        self._submits = list(submits)
        self._observes = list(observes)
        self._last: ForgeReport | None = None
        self.submitted: list[ForgeJob] = []
        self.observed: list[ForgeJob] = []

    def enqueue_submit(self, *reports: Scripted) -> None:
        self._submits.extend(reports)

    def enqueue_observe(self, *reports: Scripted) -> None:
        self._observes.extend(reports)

    def make(self, *args: Any, **kwargs: Any) -> FakeForge:
        """Stands in for make_forge(settings, repo, ...): always this forge."""
        return self

    def submit(self, job: ForgeJob) -> ForgeReport:
        self.submitted.append(job)
        self._last = _given(self._submits.pop(0)) if self._submits else passing()
        return self._last

    def observe(self, job: ForgeJob) -> ForgeReport:
        self.observed.append(job)
        if self._observes:
            self._last = _given(self._observes.pop(0))
        return self._last if self._last is not None else passing()


def _given(scripted: Scripted) -> ForgeReport:
    if isinstance(scripted, Exception):
        raise scripted
    return scripted
