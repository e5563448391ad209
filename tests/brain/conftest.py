"""Fixtures for the brain: a local Anthropic API, plan requests, and small real vaults on disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest

from tests.stubs.anthropic_stub import AnthropicStub
from vaultzoe.brain.learnings import Learned
from vaultzoe.protocols import AttemptEvidence, PlanRequest, TaskBrief
from vaultzoe.settings import RepoConfig

TEST_KEY = "sk-ant-api03-TESTKEYdoNotLeak0123456789"


@pytest.fixture
def stub() -> Iterator[AnthropicStub]:
    with AnthropicStub() as server:
        yield server


def client_for(stub: AnthropicStub, max_retries: int = 2, timeout: float = 5.0) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=TEST_KEY, base_url=stub.url, max_retries=max_retries, timeout=timeout)


def brief(**overrides: object) -> TaskBrief:
    values: dict[str, object] = dict(
        id="t1", title="CSV export for invoices", path="Tasks/CSV export.md",
        body="## Goal\nLet Acme export invoices as CSV.\n\n## Acceptance criteria\n- [ ] a CSV button on /invoices\n",
        goal="Let Acme export invoices as CSV.", acceptance="- [ ] a CSV button on /invoices",
        kind="backend", tags=("#task", "#billing"))
    values.update(overrides)
    return TaskBrief(**values)  # type: ignore[arg-type]


def repo() -> RepoConfig:
    return RepoConfig(name="example-app", path=Path("/tmp/example-app"), base="main",
                      check=("pytest", "-q"), note_path="Zoe/Repos/example-app.md")


def request(attempt: int = 1, previous: tuple[AttemptEvidence, ...] = (), **overrides: object) -> PlanRequest:
    values: dict[str, object] = dict(
        task=brief(), attempt=attempt, context="### Acme Corp\nAcme wants semicolon-separated CSV files.\n",
        context_notes=(("Customers/Acme Corp.md", 12),), repo=repo(), learnings=Learned(),
        previous=previous, agents=("claude", "codex"), default_agent="claude", requested_agent="auto")
    values.update(overrides)
    return PlanRequest(**values)  # type: ignore[arg-type]


def failed_attempt(n: int = 1) -> AttemptEvidence:
    return AttemptEvidence(
        attempt=n, agent="claude", exit_code=1, outcome="failed",
        log_tail="running tests\nwrote export.py\nError: test_export_delimiter failed\n",
        check_output="FAILED tests/test_export.py::test_delimiter - AssertionError: ',' != ';'\n1 failed, 3 passed",
        review_comments="", final_message="Added CSV export.")


def write_vault(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
