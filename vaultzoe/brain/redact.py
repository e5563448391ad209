"""Redact secret-looking strings before any text leaves vaultzoe (prompts, API requests, attempt notes)."""

from __future__ import annotations

import re

MARK = "[REDACTED]"

# Whole-token secrets: the match itself is the secret. Each pattern runs only when its hint (a plain
# substring every match contains) is in the text: most notes hold no secret, and long notes are common.
_TOKEN_PATTERNS = (
    (("-----BEGIN",), r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
                      r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)"),
    (("sk-",), r"\bsk-ant-[A-Za-z0-9_\-]{8,}"),                          # Anthropic
    (("sk-",), r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}"),    # OpenAI and look-alikes
    (("k_live_", "k_test_"), r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{10,}"),  # Stripe secret / restricted keys
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"\bgh[pousr]_[A-Za-z0-9]{20,}"),   # GitHub tokens
    (("github_pat_",), r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    (("glpat-",), r"\bglpat-[A-Za-z0-9_\-]{16,}"),                        # GitLab
    (("AKIA", "ASIA"), r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),                 # AWS access key ids
    (("xox",), r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"),                      # Slack
    (("AIza",), r"\bAIza[0-9A-Za-z_\-]{35}"),                             # Google API keys
    (("eyJ",), r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),   # JWTs
    (("hooks.slack.com",), r"\bhooks\.slack\.com/services/[A-Za-z0-9/]+"),
)
_TOKENS = tuple((hints, re.compile(pattern)) for hints, pattern in _TOKEN_PATTERNS)

# `password: x`, `token = x`, `"api_key": "x"`, `export AWS_SECRET_ACCESS_KEY=x`: keep the key, hide the value.
# The key word must sit right before the operator, so "context_tokens: 8000" and "password reset" stay.
_KEY_WORDS = (r"password|passwd|passphrase|secret|api[_\-]?key|apikey|access[_\-]?key|private[_\-]?key|"
              r"token|bearer|pwd|credentials?")
_ASSIGNMENT = re.compile(
    rf"(?i)(?P<key>(?:{_KEY_WORDS})[\"']?[ \t]*(?::=|=>|:|=)[ \t]*)(?P<quote>[\"'`]?)(?P<value>[^\s\"'`,;]{{3,}})",
)
_KEY_HINTS = ("pass", "secret", "key", "token", "pwd", "bearer", "credential")
_BEARER = re.compile(r"(?i)(\bAuthorization:\s*(?:Bearer|Basic|token)\s+)([A-Za-z0-9._~+/\-=]{8,})")
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^\s:/@]+:)([^\s@/]{3,})(@)")


def redact(text: str) -> str:
    """The text with API keys, tokens, passwords and private keys replaced by [REDACTED]."""
    if not text:
        return text
    for hints, pattern in _TOKENS:
        if any(hint in text for hint in hints):
            text = pattern.sub(MARK, text)
    lower = text.lower()
    if "authorization" in lower:
        text = _BEARER.sub(lambda m: m.group(1) + MARK, text)
    if "://" in text and "@" in text:
        text = _URL_PASSWORD.sub(lambda m: m.group(1) + MARK + m.group(3), text)
    if any(hint in lower for hint in _KEY_HINTS):
        text = _ASSIGNMENT.sub(_hide_value, text)
    return text


def _hide_value(match: re.Match[str]) -> str:
    value = match.group("value")
    if value == MARK or value.startswith("[REDACTED"):
        return match.group(0)
    return f"{match.group('key')}{match.group('quote')}{MARK}"
