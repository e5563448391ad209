"""The one exception hierarchy. Every message names the fix."""

from __future__ import annotations

import errno as _errno


class VaultzoeError(Exception):
    """Base of every error vaultzoe raises on purpose."""


class VaultError(VaultzoeError):
    """The vault cannot be read or a path does not belong to it."""


class PathOutsideVault(VaultError):
    """A path or link points outside the vault."""


class WriteConflict(VaultError):
    """A note changed on disk between our read and our write."""


class VaultWriteError(VaultError):
    """The disk refused a write (full, read-only, no permission); it passes once the human fixes that."""

    def __init__(self, message: str, errno: int | None = None, filename: str | None = None):
        super().__init__(message)
        self.errno = errno
        self.filename = filename


class SettingsError(VaultzoeError):
    """Zoe/Zoe.md, a repo note or an agent note holds a value we cannot use."""


class TaskBlocked(VaultzoeError):
    """The human must fix something before this task can go on; the message says what."""


class WorkspaceError(VaultzoeError):
    """git could not create, update or remove a branch or worktree."""


class RunnerError(VaultzoeError):
    """An agent process could not be started or controlled."""


class ForgeError(VaultzoeError):
    """Pushing, opening a PR or reading CI failed."""


class ForgeUnavailable(ForgeError):
    """The forge cannot be reached right now (5xx, network, a long rate limit): try again on a later pass."""


class PushRejected(ForgeError):
    """The remote refused the branch."""


class PlannerError(VaultzoeError):
    """The planner could not produce a plan (the caller may fall back)."""


class AlreadyRunning(VaultzoeError):
    """Another vaultzoe already works on this vault."""


WRITE_REFUSALS = frozenset({_errno.ENOSPC, _errno.EDQUOT, _errno.EACCES, _errno.EPERM, _errno.EROFS, _errno.EIO})


def refused_write(error: BaseException | None) -> BaseException | None:
    """The refused write behind `error` (itself or a cause): the disk is full, read-only or not ours to write."""
    for _ in range(5):
        if error is None:
            return None
        if isinstance(error, VaultWriteError) or (isinstance(error, OSError) and error.errno in WRITE_REFUSALS):
            return error
        error = error.__cause__ or error.__context__
    return None
