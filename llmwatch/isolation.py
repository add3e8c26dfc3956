"""One segment's failure stays that segment's: contained, logged once, counted, retried.

Crash-only is for infrastructure: a database that cannot be reached makes the worker exit and
replay (the error passes through here). Anything else raised while working on one segment —
a bug tickled by its data, a name nobody foresaw — is caught at the segment's boundary; the
segment's cursor does not move, so its work is retried on a later round, and every other
segment carries on.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from llmwatch.detectors.segments import segment_name
from llmwatch.storage.retry import TRANSIENT, first_line

log = logging.getLogger(__name__)


class SegmentFailures:
    """Guards per-segment work of one stage (drift, alerts, tickets, report)."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.counts: Counter[str] = Counter()  # failures by segment key, since start
        self._failing: set[str] = set()

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def is_failing(self, segment: str) -> bool:
        return segment in self._failing

    @contextmanager
    def guard(self, segment: str) -> Iterator[None]:
        try:
            yield
        except TRANSIENT:
            raise  # infrastructure: crash-only (or waited out by the caller)
        except Exception as exc:  # noqa: BLE001 - contained by design
            self.counts[segment] += 1
            if segment not in self._failing:  # once per episode, not once per round
                self._failing.add(segment)
                log.error("%s failed for segment %r: %s: %s; it is retried on a later round, "
                          "the other segments go on", self.stage, segment_name(segment),
                          type(exc).__name__, first_line(exc), exc_info=exc,
                          extra={"segment": segment})
            else:
                log.debug("%s failed again for segment %r", self.stage, segment_name(segment))
        else:
            if segment in self._failing:
                self._failing.discard(segment)
                log.info("%s works again for segment %r after %d failure(s)", self.stage,
                         segment_name(segment), self.counts[segment])

