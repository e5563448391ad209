"""How patient vaultzoe is with GitHub: retries, backoff, rate-limit waits and request spacing (pure).

GitHubPolicy's fields come from VAULTZOE_GITHUB_* variables; the helpers read GitHub's rate-limit replies
(primary: X-RateLimit-Remaining 0 + Reset; secondary: Retry-After; 429) into seconds to wait.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass, fields
from typing import Mapping

from github import GithubException, RateLimitExceededException

from ..settings import env_number


@dataclass(frozen=True)
class GitHubPolicy:
    """How patient the forge is with GitHub. Each field can be set from the environment as
    VAULTZOE_GITHUB_<FIELD> (e.g. VAULTZOE_GITHUB_BACKOFF_S=5, VAULTZOE_GITHUB_REQUEST_SPACING_S=0 for a
    GitHub Enterprise without secondary limits); see `from_environ`."""

    tries: int = 4                      # per API operation: the first try and three retries
    backoff_s: float = 1.0              # first wait after a 5xx or connection error, doubled each retry
    max_wait_s: float = 10.0            # the longest wait inside a pass (other tasks wait too); longer -> next pass
    secondary_wait_s: float = 60.0      # GitHub's advice for a secondary rate limit without Retry-After
    timeout_s: int = 30                 # per HTTP request
    request_spacing_s: float = 0.25     # PyGithub's throttles (GitHub asks for spaced writes)
    write_spacing_s: float = 1.0
    checks_grace_s: float = 180.0       # a PR updated this recently with no checks yet: CI may still register

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "GitHubPolicy":
        """The defaults, each overridden by VAULTZOE_GITHUB_<FIELD NAME> when set (0 or more; tries 1 or more)."""
        return cls(**{spec.name: env_number(environ, f"VAULTZOE_GITHUB_{spec.name.upper()}", spec.default,
                                            minimum=1 if spec.name == "tries" else 0) for spec in fields(cls)})


def rate_limited(exc: GithubException, headers: Mapping[str, str]) -> bool:
    if exc.status == 429 or isinstance(exc, RateLimitExceededException):
        return True
    return exc.status == 403 and ("retry-after" in headers or headers.get("x-ratelimit-remaining") == "0")


def rate_limit_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds GitHub asks us to wait: Retry-After (seconds or a date), else until X-RateLimit-Reset."""
    retry_after = headers.get("retry-after", "").strip()
    if retry_after.isdigit():
        return float(retry_after)
    if retry_after:
        try:
            moment = email.utils.parsedate_to_datetime(retry_after)
        except (TypeError, ValueError):
            return None
        return max(moment.timestamp() - time.time(), 0.0)
    reset = headers.get("x-ratelimit-reset", "")
    if headers.get("x-ratelimit-remaining") == "0" and reset.replace(".", "", 1).isdigit():
        return max(float(reset) - time.time() + 1, 0.0)
    return None


def error_message(exc: GithubException) -> str:
    data = exc.data if isinstance(exc.data, dict) else {}
    errors = [e.get("message") or f"{e.get('field', '')} {e.get('code', '')}".strip()
              for e in data.get("errors", []) if isinstance(e, dict)]
    return "; ".join(filter(None, [exc.message or data.get("message") or "", *errors])) or "no message"
