"""Retry database writes through an outage: the work waits, it is never dropped."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

T = TypeVar("T")
log = logging.getLogger(__name__)
TRANSIENT = (OperationalError, InterfaceError)


def _no_count() -> None:
    pass


on_retry: Callable[[], None] = _no_count  # the worker counts retries (metrics)


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
            result = write()
        except TRANSIENT as exc:
            on_retry()
            if attempt == 1 or attempt % 10 == 0:  # a line when it starts, then now and then
                log.warning("database unavailable (attempt %d), retrying with back-off up to "
                            "%.0fs: %s", attempt, max_wait_s, first_line(exc))
            sleep(wait)
            wait = min(wait * 2, max_wait_s)
            attempt += 1
            continue
        if attempt > 1:
            log.info("database reachable again after %d attempts", attempt)
        return result


def first_line(exc: Exception) -> str:
    """The driver's own words, without SQLAlchemy's statement and parameters, redacted (a
    driver can quote a value)."""
    from llmwatch.logs import safe_message
    return safe_message(exc)


def explain(exc: Exception, url: str) -> str | None:
    """One line on what a database error means and what to do (None: not a database error).
    `url`: the database's address, password masked."""
    if not isinstance(exc, DBAPIError):
        return None
    why = first_line(exc)
    if "no such table" in why or ("relation" in why and "does not exist" in why):
        return f"the database at {url} has no llmwatch tables yet: run `llmwatch db upgrade`"
    if exc.connection_invalidated or "connect" in why.lower() or "unable to open" in why:
        return f"cannot reach the database at {url}: {why}; start it or set LLMWATCH_STORAGE__URL"
    return f"the database at {url} answered: {why}"
