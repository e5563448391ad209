"""The local forge's check runs without the user's credentials, and what it returns as evidence is redacted."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from vaultzoe.protocols import ForgeJob
from vaultzoe.work.forge import LocalForge
from vaultzoe.work.workspace import Workspace

BRANCH = "zoe/secrets-t1"
GH = "ghp_" + "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0UvWxYz12"
# A failing check that prints its environment's token (if any) and a password from a file in the repo.
CHECK = (sys.executable, "-c", "import os, sys; print('sees GITHUB:', 'GITHUB_TOKEN' in os.environ); "
                               "print(open('settings.yml').read()); sys.exit(1)")


@pytest.fixture
def job(git_repo, worktrees_root, tmp_path) -> tuple[Workspace, ForgeJob]:
    ws = Workspace(worktrees_root)
    repo = git_repo.config(check=CHECK)
    tree = ws.ensure(repo, BRANCH, "t1")
    return ws, ForgeJob(task_id="t1", title="t", summary="", acceptance="", repo=repo, branch=BRANCH, base="main",
                        worktree=tree.path, base_commit=tree.base_commit, log_dir=tmp_path / "run")


def test_check_sees_no_token_and_its_output_is_redacted(job, git_repo, monkeypatch):
    ws, forge_job = job
    monkeypatch.setenv("GITHUB_TOKEN", GH)
    git_repo.commit_file(forge_job.worktree, "settings.yml", "db:\n  password: |\n    hunter2-prod\n", "settings")

    report = LocalForge(ws).submit(forge_job)

    assert report.failed and "sees GITHUB: False" in report.evidence
    assert "hunter2-prod" not in report.evidence and "[REDACTED]" in report.evidence
    assert "hunter2-prod" not in (forge_job.log_dir / "forge.json").read_text()


def test_a_push_error_quoting_a_token_is_redacted(job, git_repo, tmp_path):
    ws, forge_job = job
    git_repo.git(git_repo.path, "remote", "set-url", "origin", str(tmp_path / f"x-access-token:{GH}@host" / "r.git"))
    git_repo.commit_file(forge_job.worktree, "settings.yml", "ok\n", "settings")

    report = LocalForge(ws).submit(dataclasses.replace(forge_job, repo=git_repo.config(check=())))

    assert report.failed and "r.git" in report.evidence
    assert GH not in report.evidence and GH not in str(report.checks)
