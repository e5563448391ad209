"""Redact secret-looking strings before any text leaves vaultzoe (prompts, API requests, attempt notes)."""

from __future__ import annotations

import re

MARK = "[REDACTED]"

# Whole-token secrets: the match itself is the secret.
_TOKEN_PATTERNS = (
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    r"\bsk-ant-[A-Za-z0-9_\-]{8,}",                     # Anthropic
    r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}",  # OpenAI and look-alikes
    r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{10,}",          # Stripe secret / restricted keys
    r"\bgh[pousr]_[A-Za-z0-9]{20,}",                    # GitHub tokens
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",
    r"\bglpat-[A-Za-z0-9_\-]{16,}",                     # GitLab
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",                   # AWS access key ids
    r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",                # Slack
    r"\bAIza[0-9A-Za-z_\-]{35}",                        # Google API keys
    r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",   # JWTs
    r"\bhooks\.slack\.com/services/[A-Za-z0-9/]+",
)
_TOKENS = re.compile("|".join(f"(?:{p})" for p in _TOKEN_PATTERNS))

# `password: x`, `token = x`, `"api_key": "x"`, `export AWS_SECRET_ACCESS_KEY=x`: keep the key, hide the value.
_KEY_WORDS = (r"[A-Za-z0-9_\-]*(?:password|passwd|passphrase|secret|api[_\-]?key|apikey|access[_\-]?key|"
              r"private[_\-]?key|auth[_\-]?token|access[_\-]?token|refresh[_\-]?token|bearer|token|pwd|credentials?)")
_ASSIGNMENT = re.compile(
    rf"(?i)(?P<key>\b{_KEY_WORDS}\b[\"']?\s*(?::|=|:=|=>)\s*)(?P<quote>[\"'`]?)(?P<value>[^\s\"'`,;]{{3,}})",
)
_BEARER = re.compile(r"(?i)(\bAuthorization:\s*(?:Bearer|Basic|token)\s+)([A-Za-z0-9._~+/\-=]{8,})")
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^\s:/@]+:)([^\s@/]{3,})(@)")


# Cheap substring checks first: most notes hold no secret, and the big regexes are slow on long text.
_TOKEN_HINTS = ("-----BEGIN", "sk-", "k_live_", "k_test_", "gh", "github_pat_", "glpat-", "AKIA", "ASIA", "xox",
                "AIza", "eyJ", "hooks.slack.com")
_KEY_HINTS = ("pass", "secret", "key", "token", "pwd", "bearer", "credential")


def redact(text: str) -> str:
    """The text with API keys, tokens, passwords and private keys replaced by [REDACTED]."""
    if not text:
        return text
    if any(hint in text for hint in _TOKEN_HINTS):
        text = _TOKENS.sub(MARK, text)
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
