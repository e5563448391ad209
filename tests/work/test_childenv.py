"""What environment a child process gets: the user's, without credentials, plus what an agent note names."""

from __future__ import annotations

import pytest

from vaultzoe.work.childenv import child_env, is_secret_name, pass_through, withheld_names

PARENT = {
    "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/home/me", "LANG": "en_US.UTF-8", "LC_ALL": "C.UTF-8",
    "TERM": "xterm-256color", "SSH_AUTH_SOCK": "/tmp/ssh-abc/agent.1", "TOKENIZERS_PARALLELISM": "false",
    "GITHUB_TOKEN": "ghp_Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0UvWxYz12", "GH_TOKEN": "gho_x", "ANTHROPIC_API_KEY": "sk-ant-x",
    "OPENAI_API_KEY": "sk-x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "MY_SERVICE_SECRET": "x", "DB_PASSWORD": "x", "PGPASSWORD": "x", "MYSQL_PWD": "x", "NPM_TOKEN": "x",
    "VAULTZOE_NOTIFY": "tgram://bottoken/chat", "VAULTZOE_GITHUB_TRIES": "3",
    "DATABASE_URL": "postgres://app:pa55word@db/app", "INNOCENT_NAME": "ghp_Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0PpOoNn",
    "PWD": "/work", "OLDPWD": "/", "PYTHONPATH": "/src", "GIT_ASKPASS": "/usr/bin/helper",
}


def test_children_keep_the_basics_and_lose_every_credential():
    env = child_env(parent=PARENT)
    for kept in ("PATH", "HOME", "LANG", "LC_ALL", "TERM", "SSH_AUTH_SOCK", "TOKENIZERS_PARALLELISM", "PWD",
                 "OLDPWD", "PYTHONPATH"):
        assert env[kept] == PARENT[kept]
    assert set(env) == {"PATH", "HOME", "LANG", "LC_ALL", "TERM", "SSH_AUTH_SOCK", "TOKENIZERS_PARALLELISM",
                        "PWD", "OLDPWD", "PYTHONPATH"}
    assert withheld_names(PARENT) == sorted(set(PARENT) - set(env))


def test_an_agent_note_names_what_it_needs():
    extra = {"ANTHROPIC_API_KEY": "$ANTHROPIC_API_KEY", "GH_TOKEN": "${GITHUB_TOKEN}", "STUB_KEY": "test",
             "MISSING": "$NOT_SET", "VAULTZOE_PROMPT_FILE": "/runs/prompt.md"}
    env = child_env(extra, parent=PARENT)
    assert env["ANTHROPIC_API_KEY"] == "sk-ant-x" and env["GH_TOKEN"] == PARENT["GITHUB_TOKEN"]
    assert env["STUB_KEY"] == "test" and env["VAULTZOE_PROMPT_FILE"] == "/runs/prompt.md"
    assert "MISSING" not in env and "GITHUB_TOKEN" not in env and "OPENAI_API_KEY" not in env
    assert "ANTHROPIC_API_KEY" not in withheld_names(PARENT, extra)


@pytest.mark.parametrize("name, secret", [
    ("GITHUB_TOKEN", True), ("my_api_key", True), ("CLIENTSECRET", True), ("DB_PASS", True), ("GITHUB_PAT", True),
    ("SENTRY_DSN", True), ("PATH", False), ("KEYBOARD_LAYOUT", False), ("TOKENIZERS_PARALLELISM", False),
    ("PWD", False), ("DBUS_SESSION_BUS_ADDRESS", False), ("SSH_AUTH_SOCK", False),
])
def test_secret_names(name, secret):
    assert is_secret_name(name) is secret


def test_pass_through_only_for_a_whole_reference():
    assert pass_through("$HOME", {"HOME": "/h"}) == "/h"
    assert pass_through("Bearer $HOME", {"HOME": "/h"}) == "Bearer $HOME"
    assert pass_through("$HOME", {}) is None
