"""Redact secret-looking strings before any text leaves vaultzoe (prompts, API requests, attempt notes).

Layers, cheapest first, each skipped when its hint is absent (most text holds no secret, and notes are long):
invisible characters out (zero-width, ANSI colours: they hide a token from every pattern); known token shapes;
`key = value` in its spellings (assignments, YAML blocks, "password is X", .netrc, .pgpass, URLs, headers);
an AWS secret beside its key id; then runs of base64/hex: decoded and redacted inside (an encoded secret is a
secret), else judged by entropy. Every regex is linear: no nested quantifiers over the same characters.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
import re
from collections import Counter
from typing import Callable

MARK = "[REDACTED]"
MAX_DEPTH = 2            # base64 of base64 of a token is still found; deeper nesting is not worth the time

_EDGE = r"(?:(?<![A-Za-z0-9])|(?<=\\[nrt]))"   # a token starts after a non-alphanumeric, or a JSON "\n" escape

# Whole-token secrets: the match itself is the secret. Each pattern runs only when its hint (a plain
# substring every match contains) is in the text.
_TOKEN_PATTERNS = (
    (("-----BEGIN",), r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
                      r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)"),
    (("sk-",), _EDGE + r"sk-ant-[A-Za-z0-9_\-]{8,}"),                          # Anthropic
    (("sk-",), _EDGE + r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}"),    # OpenAI and look-alikes
    (("k_live_", "k_test_"), _EDGE + r"[sr]k_(?:live|test)_[A-Za-z0-9]{10,}"),  # Stripe secret / restricted
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), _EDGE + r"gh[pousr]_[A-Za-z0-9]{10,}"),   # GitHub tokens
    (("github_pat_",), _EDGE + r"github_pat_[A-Za-z0-9_]{10,}"),
    (("glpat-",), _EDGE + r"glpat-[A-Za-z0-9_\-]{10,}"),                        # GitLab
    (("AKIA", "ASIA"), _EDGE + r"(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Za-z0-9])"),    # AWS access key ids
    (("xox",), _EDGE + r"xox[abposr]-[A-Za-z0-9\-]{10,}"),                      # Slack
    (("AIza",), _EDGE + r"AIza[0-9A-Za-z_\-]{35}"),                             # Google API keys
    (("eyJ",), _EDGE + r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),   # JWTs
    (("hooks.slack.com",), r"\bhooks\.slack\.com/services/[A-Za-z0-9/]+"),
)
_TOKENS = tuple((hints, re.compile(pattern)) for hints, pattern in _TOKEN_PATTERNS)

# Patterns led by key words are written in lower case and run on a lower-cased copy of the text (several times
# faster than re.IGNORECASE); the replacement keeps the original's spelling. _Folded holds both compilations.
# `password: x`, `token = x`, `"api_key": "x"` (also JSON-escaped), `export AWS_SECRET_ACCESS_KEY=x`: keep the
# key, hide the value. The key word must sit right before the operator, so "context_tokens: 8000" stays.
_KEY_WORDS = (r"password|passwd|passphrase|passcode|secret|api[_\-]?key|apikey|access[_\-]?key|"
              r"private[_\-]?key|token|bearer|pwd|credentials?")
_KEY_HINTS = ("pass", "secret", "key", "token", "pwd", "bearer", "credential")


class _Folded:
    """One pattern compiled for the lower-cased text, and case-insensitively for when lowering changes lengths."""

    def __init__(self, pattern: str) -> None:
        self.lower, self.any_case = re.compile(pattern), re.compile(pattern, re.IGNORECASE)

    def on(self, folded_ok: bool) -> re.Pattern[str]:
        return self.lower if folded_ok else self.any_case


_ASSIGNMENT = _Folded(
    rf"(?P<key>(?:{_KEY_WORDS})\\?[\"']?[ \t]*(?::=|=>|:|=)[ \t]*)"
    r"(?:(?P<quote>\\?[\"'`])(?P<quoted>[^\"'`\\\n]+)(?P=quote)|(?P<value>[^\s\"'`,;\\]{3,}))")
# YAML: `password: |` (or `>-`) and the indented lines under it; `secret:` with its value on the next line.
_YAML_OPEN = re.compile(r":[ \t]*(?P<style>[|>][-+0-9]*)?[ \t]*\n")
_YAML_KEY = _Folded(rf"(?:{_KEY_WORDS})[\"']?$")
# "the password is hunter2": only values that look made up (digits, symbols, inner capitals, or quoted).
_PROSE = _Folded(r"\b(?P<key>(?:password|passwd|passphrase|passcode|secret|api[ _\-]?key|token|pin)[ \t]+"
                 r"(?:is|was)[ \t]*:?[ \t]+)(?P<value>\S+)")
# .netrc: `machine HOST login USER password VALUE`, on one line or several.
_NETRC = _Folded(r"(?m)(?:\bmachine[ \t]+\S+|^[ \t]*default\b)(?:\s+(?:login|account|port|password|passwd|"
                 r"macdef)\s+\S+)+")
_NETRC_VALUE = re.compile(r"(?i)(\b(?:password|passwd|account)\s+)(\S+)")
_BEARER = _Folded(r"(?P<key>\bauthorization:\s*(?:bearer|basic|token)\s+)[a-z0-9._~+/\-=]{8,}")
# .pgpass: `host:port:database:user:password` (the port is digits or *; a clock time is no host).
_PGPASS = re.compile(r"(?m)^(?!\d+:)(?P<head>[^:\s]+:(?:\d+|\*):[^:\s]+:[^:\s]+:)(?P<value>\S+)[ \t]*$")
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^\s:/@]+:)([^\s@/]{3,})(@)")

# Characters that hide a token from the patterns without showing on screen, and terminal colour codes.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]")
_INVISIBLE_ESCAPED = re.compile(r"\\u(?:200[b-f]|206[0-4]|feff|00ad)", re.IGNORECASE)   # the same, JSON-escaped
_ANSI = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?)")

# AWS: a 40-character secret near an access key id, whatever separates them.
_AWS_ID = re.compile(r"(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Za-z0-9])")
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
AWS_WINDOW = 300

# Runs of base64/hex characters, joined across line breaks (real or JSON-escaped) as `base64` wraps them.
_RUN = re.compile(r"[A-Za-z0-9+/_\-](?:(?<![A-Za-z0-9+/_\-\\].)|(?<=\\[nrt].))[A-Za-z0-9+/_\-]{15,}={0,2}"
                  r"(?:(?:\r?\n|\\n)[A-Za-z0-9+/_\-]{4,}={0,2})*")
_BREAKS = re.compile(r"\r?\n|\\n")
_HEX = re.compile(r"[0-9a-fA-F]+")
_HEXISH = re.compile(r"[0-9a-fA-F\-]+")              # hashes, commit ids, UUIDs: public, never entropy-redacted
_WORDY = re.compile(r"[a-z]{4,}|[A-Z][a-z]{3,}")
PUBLIC_PREFIXES = ("sha1-", "sha256-", "sha384-", "sha512-")   # subresource-integrity hashes in lock files
PUBLIC_BEFORE = ("h1:", "sha256:", "sha512:")                  # go.sum, image digests
ENTROPY_MIN_LEN, ENTROPY_MAX_LEN = 32, 256
ENTROPY_BITS = 4.0       # random base62 of 32+ characters scores ~4.6-5; words, paths and identifiers ~3-4
WORDY_SHARE = 0.4        # a run mostly made of words (paths, CamelCase names) is no key


def redact(text: str) -> str:
    """The text with API keys, tokens, passwords and private keys replaced by [REDACTED]."""
    return _redact(text, 0) if text else text


def _redact(text: str, depth: int) -> str:
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    if _INVISIBLE.search(text):
        text = _INVISIBLE.sub("", text)
    if "\\u" in text:
        text = _INVISIBLE_ESCAPED.sub("", text)
    if "AKIA" in text or "ASIA" in text:
        text = _aws_pairs(text)
    for hints, pattern in _TOKENS:
        if any(hint in text for hint in hints):
            text = pattern.sub(MARK, text)
    text = _key_values(text)
    if depth < MAX_DEPTH:
        text = _RUN.sub(lambda m: _judge_run(m, depth), text)
    return text


def _key_values(text: str) -> str:
    if "://" in text and "@" in text:
        text = _URL_PASSWORD.sub(lambda m: m.group(1) + MARK + m.group(3), text)
    if text.count(":") >= 4:
        text = _PGPASS.sub(lambda m: m.group("head") + MARK, text)
    lower = text.lower()
    if "machine" in lower or "default" in lower:
        text = _sub_folded(_NETRC, text, lambda m, t: _NETRC_VALUE.sub(lambda v: v.group(1) + MARK, _part(m, t)))
    if "authorization" in lower:
        text = _sub_folded(_BEARER, text, lambda m, t: _part(m, t, "key") + MARK)
    if any(hint in lower for hint in _KEY_HINTS):
        text = _yaml_values(text)
        text = _sub_folded(_ASSIGNMENT, text, _hide_value)
        if " is" in lower or " was" in lower:
            text = _sub_folded(_PROSE, text, _hide_prose_value)
    return text


def _sub_folded(pattern: _Folded, text: str, replace: Callable[[re.Match[str], str], str]) -> str:
    """pattern.sub over text, matching on its lower-cased copy; replace(match, text) reads the original."""
    folded = text.lower()
    ok = len(folded) == len(text)
    out, last = [], 0
    for match in pattern.on(ok).finditer(folded if ok else text):
        out += [text[last:match.start()], replace(match, text)]
        last = match.end()
    return "".join(out) + text[last:] if out else text


def _part(match: re.Match[str], text: str, group: str | int = 0) -> str:
    start, end = match.span(group)
    return text[start:end] if start >= 0 else ""


def _yaml_values(text: str) -> str:
    """Hide the value lines under `secret: |` (block scalars) and under `password:` (a plain value, no mapping)."""
    folded = text.lower()
    ok = len(folded) == len(text)
    key = _YAML_KEY.on(ok)
    out, last = [], 0
    for opened in _YAML_OPEN.finditer(text):
        line_start = text.rfind("\n", 0, opened.start()) + 1
        head = (folded if ok else text)[line_start:opened.start()]
        if opened.start() < last or "#" in head or ":" in head or not key.search(head):
            continue
        indent = len(head) - len(head.lstrip(" \t"))
        end = _indented_end(text, opened.end(), indent)
        body = text[opened.end():end]
        if end == opened.end() or (not opened.group("style") and ":" in body):
            continue
        out += [text[last:opened.end()], " " * (indent + 2) + MARK + "\n"]
        last = end
    return "".join(out) + text[last:] if out else text


def _indented_end(text: str, pos: int, indent: int) -> int:
    """Where the lines from pos indented deeper than indent end (blank lines inside count, trailing ones not)."""
    found = _deeper_lines(indent).match(text, pos)
    return found.end() if found else pos


@functools.lru_cache(maxsize=64)
def _deeper_lines(indent: int) -> re.Pattern[str]:
    return re.compile(r"(?:(?:[ \t]*\n)*[ \t]{%d,}\S[^\n]*(?:\n|\Z))+" % (indent + 1))


def _hide_value(match: re.Match[str], text: str) -> str:
    key = _part(match, text, "key")
    if match.group("quote") is not None:
        quote = match.group("quote")
        if match.group("quoted").lower().startswith("[redacted"):
            return _part(match, text)
        return f"{key}{quote}{MARK}{quote}"
    if match.group("value").lower().startswith("[redacted"):
        return _part(match, text)
    return f"{key}{MARK}"


def _hide_prose_value(match: re.Match[str], text: str) -> str:
    raw = _part(match, text, "value")
    core = raw.rstrip(".,;:!?)")
    quoted = len(core) > 2 and core[0] == core[-1] and core[0] in "\"'`"
    word = core.strip("\"'`")
    if len(word) < 3 or word.startswith("[REDACTED") or not (quoted or _made_up(word)):
        return _part(match, text)
    return f"{_part(match, text, 'key')}{MARK}{raw[len(core):]}"


def _made_up(word: str) -> bool:
    """True for hunter2, P@ssw0rd, xKq9: a digit, a symbol or an inner capital; false for plain words."""
    return any(not c.isalpha() for c in word) or any(c.isupper() for c in word[1:])


def _aws_pairs(text: str) -> str:
    """Redact 40-character secrets within AWS_WINDOW characters of an access key id (mixed case, so not hex)."""
    windows: list[list[int]] = []
    for key in _AWS_ID.finditer(text):
        lo, hi = max(key.start() - AWS_WINDOW, 0), key.end() + AWS_WINDOW
        if windows and lo <= windows[-1][1]:
            windows[-1][1] = hi
        else:
            windows.append([lo, hi])
    spans = [found.span() for lo, hi in windows for found in _AWS_SECRET.finditer(text, lo, hi)
             if any(c.islower() for c in found.group(0)) and any(c.isupper() for c in found.group(0))]
    out, last = [], 0
    for start, end in spans:
        out += [text[last:start], MARK]
        last = end
    return "".join(out) + text[last:]


# ---------------------------------------------------------------- encoded and random-looking runs


def _judge_run(match: re.Match[str], depth: int) -> str:
    """The run with each encoded block that hides a secret, and each random-looking line, replaced by MARK."""
    run = match.group(0)
    parts, breaks = _BREAKS.split(run), _BREAKS.findall(run)
    before = match.string[max(match.start() - 7, 0):match.start()]
    if run.startswith(PUBLIC_PREFIXES) or before.endswith(PUBLIC_BEFORE):
        return run
    pieces: list[tuple[int, int, bool]] = []     # (first part, end part, secret?)
    i = 0
    while i < len(parts):
        end, secret = _encoded_block(parts, i, depth)
        if secret is None:       # no readable text inside: judge each line by itself
            pieces += [(k, k + 1, _looks_random(parts[k])) for k in range(i, end)]
        else:
            pieces.append((i, end, secret))
        i = end
    if not any(secret for _, _, secret in pieces):
        return run
    out = []
    for first, end, secret in pieces:
        if first:
            out.append(breaks[first - 1])
        out.append(MARK if secret else "".join(p + b for p, b in zip(parts[first:end], breaks[first:end - 1] + [""])))
    return "".join(out)


def _encoded_block(parts: list[str], i: int, depth: int) -> tuple[int, bool | None]:
    """(end, secret?) for the base64/hex block wrapped over parts[i:end] (equal lines, then a last one);
    secret is None when the block decodes to no readable text."""
    width, end = len(parts[i]), i + 1
    while (end < len(parts) and len(parts[end - 1]) == width and len(parts[end]) <= width
           and not parts[end - 1].endswith("=")):
        end += 1
    for stop in (end, end - 1) if end - 1 > i else (end,):   # the last line may be a word after the block
        decoded = _decode("".join(parts[i:stop]))
        if decoded is not None:
            return stop, _redact(decoded, depth + 1) != decoded
    return end, None


def _looks_random(part: str) -> bool:
    """A key-like run: long, mixed case with digits, high entropy, not hex, not made of words."""
    part = part.rstrip("=")
    if not ENTROPY_MIN_LEN <= len(part) <= ENTROPY_MAX_LEN or _HEXISH.fullmatch(part):
        return False
    if not (any(c.isupper() for c in part) and any(c.islower() for c in part) and any(c.isdigit() for c in part)):
        return False
    wordy = sum(len(w) for w in _WORDY.findall(part))
    return wordy < WORDY_SHARE * len(part) and _entropy(part) >= ENTROPY_BITS


def _entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def _decode(run: str) -> str | None:
    """The text a hex or base64 run encodes, or None when it encodes no readable text."""
    if _HEX.fullmatch(run):     # a cut block has an odd length: the cut is usually at the start
        return _as_text(binascii.unhexlify(run if len(run) % 2 == 0 else run[1:]))
    body = run.rstrip("=")
    if "=" in body:
        return None
    urlsafe, standard = ("-" in body or "_" in body), ("+" in body or "/" in body)
    if urlsafe and standard:
        return None
    for skip in range(4):          # a log tail may cut an encoded block anywhere: try each alignment
        piece = body[skip:]
        piece = piece[: len(piece) - (len(piece) % 4 == 1)]
        try:
            raw = (base64.urlsafe_b64decode if urlsafe else base64.b64decode)(piece + "=" * (-len(piece) % 4))
        except (binascii.Error, ValueError):
            continue
        text = _as_text(raw)
        if text is not None:
            return text
    return None


def _as_text(raw: bytes) -> str | None:
    if len(raw) < 8:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(1 for c in text if c.isprintable() or c in "\n\r\t")
    return text if printable >= 0.9 * len(text) else None
