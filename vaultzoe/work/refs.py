"""Reading refs of the user's clone (GitPython): which commit a ref names, ancestry, recorded ref sets.

Read-only helpers for work/workspace.py, which is the one place that changes the clone; a git command that
fails reads as "no such ref" (or "" / [] / None), never an exception.
"""

from __future__ import annotations

import git


def has_ref(clone: git.Repo, ref: str) -> bool:
    try:
        clone.git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}")
    except git.GitCommandError:
        return False
    return True


def is_ancestor(clone: git.Repo, commit: str, ref: str) -> bool:
    try:
        clone.git.merge_base("--is-ancestor", commit, ref)
    except git.GitCommandError:
        return False
    return True


def base_refs(base: str) -> tuple[str, str]:
    return f"refs/heads/{base}", f"refs/remotes/origin/{base}"


def record(clone: git.Repo, branch: str, base: str) -> str:
    refs = (*base_refs(base), f"refs/heads/{branch}")
    shas = commits_of(clone, refs)
    return " ".join(f"{ref}={shas[ref]}" for ref in refs if shas.get(ref))


def commits_of(clone: git.Repo, refs: tuple[str, ...]) -> dict[str, str]:
    """{ref: commit} of those refs that exist, in one git call (a ref to anything but a commit as `commit_of` says)."""
    try:
        out = clone.git.for_each_ref("--format=%(refname) %(objecttype) %(objectname)", *refs)
    except git.GitCommandError:
        return {ref: commit_of(clone, ref) for ref in refs}
    rows = (line.split(" ") for line in out.splitlines())     # ref names hold no spaces
    # a pattern also matches the refs below it (refs/heads/a matches refs/heads/a/b): only the exact names count
    return {name: sha if kind == "commit" else commit_of(clone, name) for name, kind, sha in rows if name in refs}


def branch_commits(clone: git.Repo) -> dict[str, str] | None:
    """{ref: commit} of every branch and remote branch, "" for one naming no commit; None when git fails."""
    try:
        out = clone.git.for_each_ref("--format=%(refname) %(objecttype) %(objectname)", "refs/heads", "refs/remotes")
    except git.GitCommandError:
        return None
    rows = (line.split(" ") for line in out.splitlines())
    return {name: sha if kind == "commit" else "" for name, kind, sha in rows}


def parse_refs(record: str) -> dict[str, str]:
    """record_refs()'s text back as {ref: sha}."""
    pairs = (item.partition("=") for item in (record or "").split())
    return {ref: sha for ref, _, sha in pairs if ref and sha}


def commit_of(clone: git.Repo, ref: str) -> str:
    try:
        return clone.git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}")
    except git.GitCommandError:
        return ""


def revs(clone: git.Repo, *args: str) -> list[str]:
    """`git rev-list` of args; [] when git cannot (a commit gone after a gc, say)."""
    try:
        return clone.git.rev_list(*args).split()
    except git.GitCommandError:
        return []
