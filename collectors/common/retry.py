"""Retry delays: exponential backoff with jitter, one rule for every retry loop (the alert
outbox, remote write). The delay lies uniformly within the upper half of the step, so many
agents coming back online at once do not retry in lockstep, and it never exceeds the cap.
"""

from __future__ import annotations

import random


def backoff(attempts: int, initial: float, maximum: float,
            rng: random.Random | None = None) -> float:
    """The delay before retry number `attempts` (1 = the first retry)."""
    step = min(maximum, initial * (2 ** max(0, attempts - 1)))
    return step * (0.5 + (rng or random).random() / 2)
