"""The environment of every process vaultzoe starts (agents, `setup:`, `check:`): the user's, minus credentials.

An agent runs code it was asked to write and prints what it likes; a check runs the repo's tests. Neither
should see the GitHub token vaultzoe pushes with, nor the model keys vaultzoe plans with. So children get
the parent's environment without credential-looking variables (by name, or by a value redact() would hide)
and without vaultzoe's own VAULTZOE_* settings; PATH, HOME, locale and the rest stay. An agent note's `env`
adds variables: a literal value, or `$NAME` / `${NAME}` to pass the parent's NAME through on purpose
(`ANTHROPIC_API_KEY: $ANTHROPIC_API_KEY`), so a key never has to be written into the vault.
"""

from __future__ import annotations

import os
import re
from typing import Mapping

from ..brain.redact import redact

# Names that are secrets whatever their spelling conventions say.
SECRET_NAMES = frozenset({
    "GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN", "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY", "CODEX_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN", "PGPASSWORD", "MYSQL_PWD", "NPM_TOKEN", "NODE_AUTH_TOKEN", "TWINE_PASSWORD",
    "DATABASE_URL", "SENTRY_DSN", "SSH_ASKPASS", "GIT_ASKPASS", "SUDO_ASKPASS",
})
# A name made of parts (split on _) holding one of these is a credential: GITHUB_TOKEN, MY_API_KEY, DB_PASS.
SECRET_PARTS = frozenset({
    "TOKEN", "TOKENS", "KEY", "KEYS", "SECRET", "SECRETS", "PASSWORD", "PASSWD", "PASS", "PASSPHRASE",
    "CREDENTIAL", "CREDENTIALS", "CREDS", "APIKEY", "DSN", "COOKIE", "PAT", "PWD",
})
SECRET_INFIXES = ("PASSWORD", "SECRET", "APIKEY", "ACCESSKEY", "PRIVATEKEY")   # PGPASSWORD, CLIENTSECRET
# Always kept: the basics every program needs, whatever their values look like.
KEEP = frozenset({"PATH", "HOME", "USER", "LOGNAME", "SHELL", "PWD", "OLDPWD", "LANG", "LANGUAGE", "TERM", "TZ",
                  "TMPDIR", "TEMP", "TMP", "SSH_AUTH_SOCK", "DISPLAY", "XDG_RUNTIME_DIR"})
OWN_PREFIX = "VAULTZOE_"
_PASS_THROUGH = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")


def is_secret_name(name: str) -> bool:
    """True for names that hold credentials by convention: *_TOKEN, *_KEY, *_SECRET, *PASSWORD*, GH_TOKEN..."""
    upper = name.upper()
    if upper in KEEP:
        return False
    if upper in SECRET_NAMES or any(infix in upper for infix in SECRET_INFIXES):
        return True
    parts = upper.split("_")
    return len(parts) > 1 and any(part in SECRET_PARTS for part in parts)


def withheld(name: str, value: str) -> bool:
    """True when a parent variable must not reach a child: a credential by name or by value, or vaultzoe's own."""
    if name.upper() in KEEP:
        return False
    return name.upper().startswith(OWN_PREFIX) or is_secret_name(name) or redact(value) != value


def child_env(extra: Mapping[str, str] | None = None, parent: Mapping[str, str] | None = None) -> dict[str, str]:
    """The parent's environment without credentials, plus extra (where `$NAME` passes the parent's NAME on)."""
    parent = os.environ if parent is None else parent
    env = {name: value for name, value in parent.items() if not withheld(name, value)}
    for name, value in (extra or {}).items():
        resolved = pass_through(value, parent)
        if resolved is not None:
            env[name] = resolved
    return env


def pass_through(value: str, parent: Mapping[str, str]) -> str | None:
    """A note's value: `$NAME`/`${NAME}` alone reads the parent's NAME (None when unset); else the value itself."""
    match = _PASS_THROUGH.fullmatch(value.strip())
    if match is None:
        return value
    return parent.get(match.group("braced") or match.group("bare"))


def withheld_names(parent: Mapping[str, str] | None = None, extra: Mapping[str, str] | None = None) -> list[str]:
    """The parent's variable names a child does not get (for the run record: names only, never values)."""
    parent = os.environ if parent is None else parent
    given = set(extra or {})
    return sorted(name for name, value in parent.items() if name not in given and withheld(name, value))
