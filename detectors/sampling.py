"""Which calls drift reads in its own space: a uniform sample of each segment's calls.

Every call while a segment runs at up to `every_call_below` calls a second (windows fill as
fast as when drift read every call); above it, a share `every_call_below / rate`. And however
many segments are busy, the worker reads at most `max_per_s` calls a second in all: the
shares shrink together when the segments' sampled rates add up to more. A call is in the
sample when a hash of its id falls under its segment's share: a replay picks the same calls,
and the sample is uniform over the segment's calls whatever their content. Pure: the caller
passes the clock.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime


def in_sample(event_id: str, fraction: float) -> bool:
    if fraction >= 1.0:
        return True
    digest = hashlib.blake2b(event_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < fraction


@dataclass
class SampleRate:
    """Each segment's traffic (calls a second, smoothed over `half_life_s`) and the share of
    its calls to sample."""

    every_call_below: float = 10.0
    max_per_s: float = 10.0
    half_life_s: float = 10.0
    first_span_s: float = 1.0  # a segment's first calls are taken to span this long
    _rates: dict[str, tuple[float, datetime]] = field(default_factory=dict)

    def observe(self, segment: str, calls: int, now: datetime) -> float:
        """Counts `calls` seen at `now` and returns the share of them (and of the segment's
        next calls) to read."""
        seen = self._rates.get(segment)
        if seen is None:  # no history: as if they came within one batch's span
            self._rates[segment] = (calls / self.first_span_s, now)
            return self.fraction(segment)
        rate, since = seen
        elapsed = max((now - since).total_seconds(), 1e-3)
        keep = 0.5 ** (elapsed / self.half_life_s)
        rate = keep * rate + (1 - keep) * calls / elapsed
        self._rates[segment] = (rate, now)
        return self.fraction(segment)

    def fraction(self, segment: str) -> float:
        rate = self._rates.get(segment, (0.0, None))[0]
        own = 1.0 if rate <= self.every_call_below else self.every_call_below / rate
        wanted = sum(min(r, self.every_call_below) for r, _ in self._rates.values())
        return own * min(1.0, self.max_per_s / wanted) if wanted > 0 else own
