"""FakeClock: time that moves only when a test says so (grace periods, forge pacing, timeouts, stamps)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


class FakeClock:
    """Monotonic seconds (call it) and a wall-clock `now()`, both moved on by `advance()`."""

    def __init__(self, start: float = 1_000.0, wall: datetime | None = None) -> None:
        self._start = start
        self._seconds = start
        self._wall = wall or datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> float:
        return self._seconds

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a monotonic clock never goes back: advance by zero or more seconds")
        self._seconds += seconds

    def now(self) -> datetime:
        """The wall clock, as far past `wall` as the seconds are past `start`."""
        return self._wall + timedelta(seconds=self._seconds - self._start)

    def epoch(self) -> float:
        """The wall clock as epoch seconds (what FakeRunner stamps runs with)."""
        return self.now().timestamp()
