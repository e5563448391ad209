"""The whole loop against GitHub, through the CLI: the real PyGithub talks to the local GitHub stub
(GITHUB_API_URL), branches go to a bare origin, a CI really runs the tests of each pushed head, and apprise
notifies a local webhook. Real git, real agent processes, real files; nothing of vaultzoe is mocked.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from tests.stubs.github_stub import Fault, GitHubStub
from vaultzoe.errors import SettingsError
from vaultzoe.work.github import GitHubPolicy

from .conftest import git
from .github_fixtures import FAST_GITHUB_ENV, PULLS, TOKEN, FakeCI, GitHubWorld, Webhook, write_github_setup


def links_to(text: str, note: str) -> bool:
    """text holds an obsidian://open link to the vault's note (however its slashes are encoded)."""
    for uri in re.findall(r"obsidian://open\?\S+", text):
        query = parse_qs(urlsplit(uri).query)
        if query.get("vault") == ["vault"] and query.get("file") == [note]:
            return True
    return False


@pytest.fixture
def gh(world, monkeypatch, tmp_path):
    webhook = Webhook()
    with GitHubStub(owner="octo", name="app", token=TOKEN, origin=world.origin) as stub:
        ci = FakeCI(stub, world.origin, tmp_path / "ci")
        write_github_setup(world, stub, webhook)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_API_URL", stub.api_url)
        for key, value in FAST_GITHUB_ENV.items():
            monkeypatch.setenv(key, value)
        ci.start()
        try:
            yield GitHubWorld(world, stub, ci, webhook)
        finally:
            ci.stop()
            webhook.close()


def frontmatter(path) -> dict:
    return yaml.safe_load(path.read_text().split("---", 2)[1]) or {}


def assert_no_token_leaked(gh: GitHubWorld, *outputs: str) -> None:
    assert gh.files_holding(TOKEN) == []
    assert all(TOKEN not in out for out in outputs)
    stored = [p.title + p.body for p in gh.stub.pulls.values()] + [r.body for r in gh.stub.reviews]
    assert all(TOKEN not in text for text in stored)


def test_red_ci_is_retried_with_its_output_then_the_pr_is_reviewed_notified_once_and_merged(gh):
    note = gh.task("Fix add", agent="ci-fixer")
    outputs = [gh.until_idle().output]

    state = gh.state("Fix add")
    assert state.status.value == "review", state
    assert [a.outcome for a in state.attempts] == ["failed", "succeeded"]
    # one PR, opened once, for the task's branch, with the task in its body
    assert list(gh.stub.pulls) == [1] and gh.stub.count("POST", PULLS) == 1
    pull = gh.stub.pulls[1]
    assert (pull.title, pull.head, pull.base, pull.state) == ("Fix add", state.branch, "main", "open")
    for needle in ("Make `add` add numbers.", "## Acceptance criteria", "- the tests pass",
                   f"<!-- vaultzoe:task={state.id} -->"):
        assert needle in pull.body, needle
    assert "obsidian://" not in pull.body and "Tasks/Fix add" not in pull.body   # no vault name or note path
    # CI ran on both heads: red, then green; the red run's output led the second prompt
    assert sorted(gh.ci.results.values()) == ["failure", "success"]
    first, second = gh.prompts("Fix add")
    assert "-1 != 5" not in first
    assert "unit tests" in second and "test_add_adds" in second and "AssertionError: -1 != 5" in second
    attempt1 = gh.world.read(f"Zoe/Attempts/{state.id} attempt 1.md")
    assert "outcome: failed" in attempt1 and "-1 != 5" in attempt1
    # the note, the registry and the inbox show the PR; one notification with both links
    fm = frontmatter(note)
    assert fm["status"] == "review" and fm["pr"] == "https://github.test/octo/app/pull/1"
    assert "github.test/octo/app/pull/1" in gh.world.read("Zoe/Registry.md")
    assert "**review**" in gh.world.read("Zoe/Inbox.md")
    assert len(gh.notifications) == 1
    message = gh.notifications[0]
    assert message["title"] == "PR #1 ready for review: Fix add"
    assert "https://github.test/octo/app/pull/1" in message["message"] and links_to(message["message"], "Tasks/Fix add")

    # more passes while the PR waits for the human: nothing new is sent, opened or started
    outputs += [gh.run_once().output, gh.run_once().output]
    assert gh.state("Fix add").status.value == "review" and len(gh.notifications) == 1
    assert gh.stub.count("POST", PULLS) == 1 and len(gh.state("Fix add").attempts) == 2
    worktree = Path(state.worktree)
    assert (worktree / "calc.py").is_file()
    assert_no_token_leaked(gh, *outputs)       # the worktree is still there to be searched

    gh.stub.merge(1)
    outputs.append(gh.run_once().output)
    done = gh.state("Fix add")
    assert done.status.value == "done" and frontmatter(note)["status"] == "done"
    assert not worktree.exists() and done.worktree == ""
    assert state.branch in git(gh.world.repo, "branch", "--list") and state.branch in git(gh.world.origin, "branch")
    learned = gh.world.read("Zoe/Learnings/general.md")
    assert "ci-fixer" in learned and "Fix add" in learned and "## What worked" in learned
    assert len(gh.notifications) == 1
    assert_no_token_leaked(gh, *outputs)


def test_changes_requested_by_a_human_are_retried_with_their_comments(gh):
    gh.task("Document add", agent="careful")
    gh.until_idle()
    state = gh.state("Document add")
    assert state.status.value == "review" and len(gh.notifications) == 1

    gh.stub.associations["alice"] = "COLLABORATOR"    # only collaborators' reviews count
    gh.stub.add_review(1, "alice", "CHANGES_REQUESTED", "Please document add before we ship it.",
                       comments=[("calc.py", 1, "Say what add returns.")])
    gh.run_once()                              # the review is seen; attempt 2 starts at once
    assert gh.state("Document add").status.value == "running"
    gh.until_idle()

    state = gh.state("Document add")
    assert state.status.value == "review" and [a.outcome for a in state.attempts] == ["failed", "succeeded"]
    first, second = gh.prompts("Document add")
    assert "Please document add" not in first
    assert "Please document add before we ship it." in second and "calc.py:1: Say what add returns." in second
    assert '"""The sum of a and b."""' in git(gh.world.origin, "show", f"{state.branch}:calc.py")
    assert list(gh.stub.pulls) == [1] and gh.stub.count("POST", PULLS) == 1
    # one message per state change: ready, then ready again after the changes
    assert [m["title"] for m in gh.notifications] == ["PR #1 ready for review: Document add"] * 2
    assert_no_token_leaked(gh)


def test_rate_limits_and_a_502_on_post_neither_duplicate_the_pr_nor_stall_the_loop(gh):
    gh.ci.paused.set()                         # CI picks up nothing until the test says so
    gh.stub.rate_limit_once("POST", r"/pulls$", kind="secondary", reset_in=1)
    gh.stub.inject(Fault("POST", r"/pulls$", 502, after=True))     # GitHub made the PR, then answered 502
    gh.task("Add numbers", agent="careful")
    gh.run_once()
    gh.wait_for_exit("Add numbers")
    gh.run_once()                              # push, then: 403 (retry after 1 s), 502 after creating, re-list

    assert gh.state("Add numbers").status.value == "checking"
    assert list(gh.stub.pulls) == [1] and gh.stub.count("POST", PULLS) == 2
    assert [r.status for r in gh.stub.requests if r.method == "POST"] == [403, 502]

    # a rate limit that lifts in an hour: the task waits, the pass goes on with the next task
    gh.stub.rate_limit_once("GET", r".*", kind="primary", reset_in=3600)
    gh.task("Subtract numbers", agent="careful")
    out = gh.run_once().output
    waiting = gh.state("Add numbers")
    assert waiting.status.value == "checking" and "rate limit" in waiting.waiting
    assert "rate limit" in out
    assert gh.state("Subtract numbers").status.value == "running"

    gh.ci.paused.clear()
    out += gh.until_idle().output
    states = gh.states()
    assert {t: s.status.value for t, s in states.items()} == {"Add numbers": "review", "Subtract numbers": "review"}
    assert sorted(p.head for p in gh.stub.pulls.values()) == sorted(s.branch for s in states.values())
    assert gh.stub.count("POST", PULLS) == 3 and len(gh.notifications) == 2
    assert all(s.waiting == "" for s in states.values())
    assert_no_token_leaked(gh, out)


def test_a_slow_ci_is_looked_at_every_poll_seconds_and_a_long_rate_limit_silences_vaultzoe(gh, monkeypatch):
    gh.ci.paused.set()
    gh.task("Add numbers", agent="careful")
    gh.run_once()
    gh.wait_for_exit("Add numbers")
    monkeypatch.setenv("VAULTZOE_POLL_SECONDS", "30")
    slow = gh.world.until_idle(timeout=2)      # submits, then passes every half second while CI stays silent
    assert slow.exit_code == 3 and gh.state("Add numbers").status.value == "checking"
    assert gh.stub.count("GET", r".*/check-runs") == 1          # the submit's look; later passes wait 30 s

    monkeypatch.setenv("VAULTZOE_POLL_SECONDS", "0.2")
    gh.stub.rate_limit_once("GET", r".*", kind="primary", reset_in=3600)
    asked = len(gh.stub.requests)
    limited = gh.world.until_idle(timeout=2)   # a look every pass, but the limit stands for an hour
    assert limited.exit_code == 3 and "rate limit" in gh.state("Add numbers").waiting
    assert [r.status for r in gh.stub.requests[asked:]] == [403]   # refused once, then not asked again

    gh.ci.paused.clear()
    out = gh.until_idle().output
    assert gh.state("Add numbers").status.value == "review" and len(gh.notifications) == 1
    assert_no_token_leaked(gh, slow.output, limited.output, out)


def test_the_github_policy_comes_from_the_environment_and_a_bad_value_names_the_variable():
    policy = GitHubPolicy.from_environ({**FAST_GITHUB_ENV, "VAULTZOE_GITHUB_TRIES": "2", "GITHUB_TOKEN": TOKEN})
    assert (policy.tries, policy.backoff_s, policy.request_spacing_s, policy.checks_grace_s) == (2, 0.05, 0.0, 300.0)
    assert GitHubPolicy.from_environ({}) == GitHubPolicy()
    for key, value in (("VAULTZOE_GITHUB_TRIES", "0"), ("VAULTZOE_GITHUB_TRIES", "2.5"),
                       ("VAULTZOE_GITHUB_MAX_WAIT_S", "soon"), ("VAULTZOE_GITHUB_BACKOFF_S", "-1")):
        with pytest.raises(SettingsError, match=f"{key}='{re.escape(value)}'"):
            GitHubPolicy.from_environ({key: value})


def test_a_token_github_refuses_blocks_the_task_with_the_fix_in_the_inbox_and_one_notification(gh, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_revokedToken0000000000000000000000")
    note = gh.task("Add numbers", agent="careful")
    gh.until_idle()
    state = gh.state("Add numbers")
    assert state.status.value == "blocked" and "GITHUB_TOKEN" in state.reason
    assert "GITHUB_TOKEN or GH_TOKEN" in note.read_text()
    assert "**blocked**" in gh.world.read("Zoe/Inbox.md")
    assert [a.outcome for a in state.attempts] == ["failed"]     # the agent ended; its attempt does not stay running
    assert [m["title"] for m in gh.notifications] == ["Task blocked, needs you: Add numbers"]
    gh.run_once()
    assert len(gh.notifications) == 1 and gh.stub.pulls == {}
