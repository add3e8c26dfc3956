"""Logs without users' data: exception texts are redacted before any handler formats them.

Our own log lines carry names (with %r) and counts, never prompts. Exceptions are another
matter: a driver error can quote a value, a validation error its input. `install()` makes
every log record that carries an exception hold a redacted traceback: the frames (our code)
as they are, every other line (the messages) through `detectors.redact`.
"""

from __future__ import annotations

import logging
import traceback
from types import TracebackType
from typing import Any

from llmwatch.detectors.redact import redact

_installed = False


def redacted_traceback(exc_info: tuple[type[BaseException], BaseException,
                                       TracebackType | None]) -> str:
    lines = traceback.format_exception(*exc_info)
    out = []
    for chunk in lines:
        for line in chunk.splitlines():
            frame = line.startswith("  ")  # '  File "…", line N, in f' and its code line
            out.append(line if frame else redact(line, thorough=False))
    return "\n".join(out)


def safe_message(exc: BaseException, limit: int = 300) -> str:
    """An exception's first line, redacted: for log lines and CLI errors."""
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).strip().splitlines() or [type(orig).__name__])[0][:limit]
    return redact(first, thorough=False)


def config(fmt: str = "text", level: str = "INFO") -> dict[str, Any] | None:
    """The worker's logging dictConfig: None (faust's plain lines, for people) or, with
    `log.format = json`, one JSON object per line carrying the extra fields a record has
    (segment, event_id, batch)."""
    if fmt != "json":
        return None
    formatter: dict[str, Any] = {
        "()": "pythonjsonlogger.json.JsonFormatter",
        "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
        "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
    }
    return {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "default",
                                 "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["default"]},
    }


def install() -> None:
    """Redact the exception text of every log record of this process (idempotent)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redacted_traceback(record.exc_info)  # type: ignore[arg-type]
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
