"""Bytes from Kafka to a validated event, or a reason why not. Pure; no Kafka here.

This is the one total gate of the stream: `decode_event` never raises, whatever the bytes, and
what it accepts every later stage can take — storage (no NUL, no lone surrogate, finite and
bounded numbers, timestamps PostgreSQL and the detectors read back), the tokenizer, JSON
columns, and the enriched topic's message size. Everything else is rejected with a precise
reason and goes to the dead-letter topic.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from .events import EVENT_ADAPTER, FeedbackEvent, LLMEvent

MAX_EVENT_BYTES = 900_000  # with its vectors, an enriched record stays under Kafka's 1 MiB
MAX_DEPTH = 32  # an event nests 4 levels deep; a JSON bomb 100,000
MAX_NUMBER_CHARS = 40  # 1e308 is 5 characters; Python refuses ints of over 4,300 digits
# containers and values of one event: 1,000 chat messages of content parts take ~7,000; a
# message of 800 KB of `[],` holds 270,000 and cost the gate seconds before this bound
MAX_ELEMENTS = 20_000
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # unrolled: C speed on long strings
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class Limits:
    """What the gate admits beyond the contract's own rules (settings section `ingest`)."""

    max_bytes: int = MAX_EVENT_BYTES
    max_age: timedelta = timedelta(days=365)  # older timestamps are refused ...
    max_ahead: timedelta = timedelta(days=1)  # ... and those this far ahead (clock skew)

    @classmethod
    def of(cls, ingest: Any) -> Limits:
        """The limits of the `ingest` settings section (llmwatch.config.IngestSettings)."""
        return cls(max_bytes=ingest.max_event_bytes,
                   max_age=timedelta(days=ingest.max_event_age_days),
                   max_ahead=timedelta(seconds=ingest.max_clock_skew_s))


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Rejected:
    """Why a message is not a valid event; it goes to the dead-letter topic with this reason."""

    reason: str


def decode_event(raw: bytes | None, *, now: datetime | None = None,
                 limits: Limits = DEFAULT_LIMITS) -> LLMEvent | FeedbackEvent | Rejected:
    """Parse and validate one message value. Never raises, whatever the bytes. With `now`,
    timestamps too far from it are refused."""
    try:
        return _decode(raw, now, limits)
    except Exception as exc:  # noqa: BLE001 - the gate is total: a surprise is a rejection too
        return Rejected(f"cannot be decoded: {type(exc).__name__}: {str(exc)[:200]}")


def _decode(raw: bytes | None, now: datetime | None,
            limits: Limits) -> LLMEvent | FeedbackEvent | Rejected:
    if raw is None:
        return Rejected("empty message (null value)")
    if not raw.strip():
        return Rejected("empty message (no bytes)")
    if len(raw) > limits.max_bytes:
        return Rejected(f"message is {len(raw):,} bytes; the limit is {limits.max_bytes:,}")
    elements = _elements(raw)
    if elements > MAX_ELEMENTS:
        return Rejected(f"too many JSON values: {elements:,} containers and values (an event "
                        f"holds at most {MAX_ELEMENTS:,})")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejected(f"not UTF-8: {exc}")
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_int=_int, parse_float=_float)
    except json.JSONDecodeError as exc:
        return Rejected(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    except _NotANumber as exc:
        return Rejected(f"invalid JSON number: {exc}")
    except RecursionError:
        return Rejected(f"nested too deeply (an event nests at most {MAX_DEPTH} levels)")
    if _depth(data) > MAX_DEPTH:
        return Rejected(f"nested too deeply (an event nests at most {MAX_DEPTH} levels)")
    if not isinstance(data, dict):
        return Rejected(f"expected a JSON object, got {type(data).__name__}")
    if "kind" not in data:
        return Rejected("missing 'kind' (expected 'llm_call' or 'feedback')")
    unstorable = _unstorable_text(data, "")
    if unstorable:
        return Rejected(unstorable)
    try:
        event = EVENT_ADAPTER.validate_python(data)
    except ValidationError as exc:
        return Rejected(_describe(exc))
    if now is not None:
        out_of_range = _out_of_range(event.timestamp, now, limits)
        if out_of_range:
            return Rejected(out_of_range)
    return event


def _elements(raw: bytes) -> int:
    """At least how many containers and values the JSON holds, counted on the bytes before
    any parsing (C speed: ~1 ms for 900 KB): brackets and commas outside strings."""
    marks = raw.count(b"[") + raw.count(b"{") + raw.count(b",")
    if marks <= MAX_ELEMENTS:
        return marks  # an upper bound, low enough
    bare = _JSON_STRING.sub(b"", raw)
    return bare.count(b"[") + bare.count(b"{") + bare.count(b",")


class _NotANumber(ValueError):
    pass


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:  # checked before int() sees it
        raise _NotANumber(f"an integer of {len(text):,} digits (at most {MAX_NUMBER_CHARS})")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _NotANumber(f"a number of {len(text):,} characters (at most {MAX_NUMBER_CHARS})")
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _NotANumber(f"{text} is beyond the largest finite number")
    return value


def _no_constant(name: str) -> Any:
    raise _NotANumber(f"{name} is not a number JSON allows; send a finite number or null")


def _depth(value: Any) -> int:
    """How deep containers nest (iteratively: no recursion on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if deepest > MAX_DEPTH:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, level + 1) for c in children if isinstance(c, dict | list))
    return deepest


def _unstorable_text(value: Any, path: str) -> str | None:
    """NUL and lone surrogates fit no database text and no tokenizer: found anywhere, in keys
    or values, they reject the message, naming the field."""
    if isinstance(value, str):
        found = _UNSTORABLE.search(value)
        if found is None:
            return None
        what = "NUL" if found.group() == "\x00" else "a lone surrogate"
        return (f"invalid event: {path or 'event'}: contains {what} "
                f"(U+{ord(found.group()):04X}) at position {found.start()}; text cannot hold it")
    items: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            items += [(f"{path}.<key>", k), (f"{path}.{k}" if path else str(k), v)]
    elif isinstance(value, list):
        items = [(f"{path}.{i}", v) for i, v in enumerate(value)]
    for where, item in items:
        problem = _unstorable_text(item, where)
        if problem:
            return problem
    return None


def _out_of_range(timestamp: datetime, now: datetime, limits: Limits) -> str | None:
    try:
        timestamp.astimezone(UTC)
    except OverflowError:
        return (f"invalid event: timestamp {timestamp.isoformat()} is outside the years "
                "1-9999 once in UTC")
    if timestamp < now - limits.max_age:
        return (f"invalid event: timestamp {timestamp.isoformat()} is more than "
                f"{limits.max_age.days} days old (ingest.max_event_age_days)")
    if timestamp > now + limits.max_ahead:
        return (f"invalid event: timestamp {timestamp.isoformat()} is more than "
                f"{limits.max_ahead.total_seconds() / 3600:g} h ahead of the worker's clock "
                "(ingest.max_clock_skew_s)")
    return None


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "event"
        parts.append(f"{where}: {err['msg']}")
    more = exc.error_count() - len(parts)
    return "invalid event: " + "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
