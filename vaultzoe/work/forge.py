"""Forge: the local forge (bare remote + local check command) and the table that picks a forge.

API CONTRACT (fixed):

    LocalForge(workspace: Workspace) implements protocols.Forge (name "local")
        submit(job): items "commits" (new commits on the branch since job.base_commit), "checks" (repo.check
        run in the worktree, argv, output kept in job.log_dir/check.log; no check command -> skipped),
        then pushes the branch to origin when the repo has one. evidence = check output tail / "no commits".
        observe(job): merged into base -> merged=True; otherwise the last judgement.
    make_forge(settings, repo, environ, workspace) -> Forge   "github" when settings.forge is github, or auto and
        repo.github is set and GITHUB_TOKEN/GH_TOKEN present; else local.
"""

from __future__ import annotations
