"""Retry database writes through an outage: the work waits, it is never dropped."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError

T = TypeVar("T")
log = logging.getLogger(__name__)
TRANSIENT = (OperationalError, InterfaceError)


def until_stored(
    write: Callable[[], T],
    *,
    first_wait_s: float = 0.5,
    max_wait_s: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `write` until it succeeds, backing off while the database is unreachable.

    Only connection-level errors are retried; anything else (a bug, a constraint) raises.
    """
    wait = first_wait_s
    attempt = 1
    while True:
        try:
            return write()
        except TRANSIENT as exc:
            log.warning("database unavailable (attempt %d), retrying in %.1fs: %s",
                        attempt, wait, str(exc).splitlines()[0])
            sleep(wait)
            wait = min(wait * 2, max_wait_s)
            attempt += 1
