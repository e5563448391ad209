"""Where things live in a vault: vaultzoe's notes under `Zoe/` and its machine state in `.vaultzoe/`.

Paths are vault-relative with forward slashes (how the index names notes); join STATE_DIR to the vault root.
"""

from __future__ import annotations

ZOE_DIR = "Zoe"                          # vaultzoe's own notes; never context for a prompt
SETTINGS_NOTE = f"{ZOE_DIR}/Zoe.md"      # the settings layer a human edits (frontmatter)
REGISTRY_NOTE = f"{ZOE_DIR}/Registry.md"
INBOX_NOTE = f"{ZOE_DIR}/Inbox.md"
REPOS_DIR = f"{ZOE_DIR}/Repos"           # one note per repository: <name>.md with `path:`
AGENTS_DIR = f"{ZOE_DIR}/Agents"         # one note per agent: <name>.md with `command:`
ATTEMPTS_DIR = f"{ZOE_DIR}/Attempts"
LEARNINGS_DIR = f"{ZOE_DIR}/Learnings"   # <kind>.md per kind of task
STATE_DIR = ".vaultzoe"                  # task memory, run folders, index cache, lock (Obsidian ignores dot-folders)

__all__ = ["AGENTS_DIR", "ATTEMPTS_DIR", "INBOX_NOTE", "LEARNINGS_DIR", "REGISTRY_NOTE", "REPOS_DIR",
           "SETTINGS_NOTE", "STATE_DIR", "ZOE_DIR"]
