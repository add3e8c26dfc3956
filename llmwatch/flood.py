"""Hostile traffic: every kind of bad message a producer can send, for the flood benchmark
(`bench/flood.py`) and its short version in the tests.

Each message says what it is and what must become of it: `dead_letter` (rejected with a
reason) or `replay` (the exact bytes of a valid event sent before: stored once, silently).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class Hostile:
    kind: str
    key: bytes | None
    value: bytes | None
    expect: str = "dead_letter"  # or "replay"


Valid = Sequence[tuple[bytes | None, bytes]]  # (key, value) of valid events already produced


def hostile_messages(n: int, valid: Valid, *, seed: int = 0,
                     huge_every: int = 250) -> Iterator[Hostile]:
    """`n` bad messages, mixed; `valid` are valid events already produced (replayed as they
    are, or with their ids reused for other content, under their own key so that they come
    after the original). Every `huge_every`-th message is near 1 MB: one long text, or
    ~800 KB of nested containers."""
    rng = random.Random(seed)
    kinds = [k for k in KINDS if k not in _LARGE]
    for i in range(n):
        if huge_every and i % huge_every == huge_every - 1:
            kind = rng.choice(_LARGE)
        else:
            kind = rng.choice(kinds)
        yield KINDS[kind](rng, valid)


def _event(rng: random.Random, **overrides: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "kind": "llm_call", "event_id": f"bad-{rng.getrandbits(64):016x}",
        "timestamp": (datetime.now(UTC) - timedelta(minutes=rng.randrange(600))).isoformat(),
        "app": "flood-bot", "model": "gpt-flood", "prompt": "what is the weather like",
        "response": "sunny", "latency_ms": 500.0, "input_tokens": 10, "output_tokens": 5,
    }
    doc.update(overrides)
    return doc


def _json(doc: object, **kw: object) -> bytes:
    return json.dumps(doc, **kw).encode("utf-8", "surrogatepass")  # type: ignore[arg-type]


def _h(kind: str, value: bytes | None, key: bytes | None = b"flood-bot/gpt-flood",
       expect: str = "dead_letter") -> Hostile:
    return Hostile(kind, key, value, expect)


def _random_bytes(rng: random.Random, _: Valid) -> Hostile:
    return _h("random_bytes", rng.randbytes(rng.randrange(1, 2_000)))


def _truncated(rng: random.Random, valid: Valid) -> Hostile:
    whole = rng.choice(valid)[1] if valid else _json(_event(rng))
    return _h("truncated_json", whole[:rng.randrange(1, len(whole) - 1)])


def _deep(rng: random.Random, _: Valid) -> Hostile:
    depth = rng.choice((40, 1_000, 100_000))
    if rng.random() < 0.5:
        return _h("deep_json", b"[" * depth + b"]" * depth)
    inner = "{\"a\":" * depth + "1" + "}" * depth
    return _h("deep_json", _json(_event(rng))[:-1] + f',"metadata":{inner}}}'.encode())


def _wrong_type(rng: random.Random, _: Valid) -> Hostile:
    field, value = rng.choice([("input_tokens", True), ("input_tokens", "12"),
                               ("latency_ms", "fast"), ("prompt", 5), ("app", 7),
                               ("timestamp", "yesterday"), ("tags", "a,b"),
                               ("metadata", [1, 2]), ("cost_usd", False),
                               ("prompt", [{"role": "wizard", "content": "hi"}])])
    return _h("wrong_type", _json(_event(rng, **{field: value})))


def _non_finite(rng: random.Random, _: Valid) -> Hostile:
    field = rng.choice(("latency_ms", "cost_usd", "metadata"))
    value = rng.choice((float("nan"), float("inf"), float("-inf")))
    doc = _event(rng, **({field: {"x": value}} if field == "metadata" else {field: value}))
    return _h("nan_infinity", _json(doc))


def _surrogate(rng: random.Random, _: Valid) -> Hostile:
    field = rng.choice(("prompt", "response", "app"))
    return _h("lone_surrogate", _json(_event(rng, **{field: "hello \ud83d there"})))


def _nul(rng: random.Random, _: Valid) -> Hostile:
    field = rng.choice(("prompt", "response", "model", "error"))
    return _h("nul_byte", _json(_event(rng, **{field: "null \u0000 byte"})))


def _timestamp(rng: random.Random, _: Valid) -> Hostile:
    when = rng.choice(("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                       "1970-01-01T00:00:00Z", "2999-01-01T00:00:00Z", "2026-13-45T99:00:00Z",
                       "2026-11-30T12:00:00"))
    return _h("extreme_timestamp", _json(_event(rng, timestamp=when)))


def _number(rng: random.Random, _: Valid) -> Hostile:
    raw = rng.choice(("1e308", "-1", "1" * 5_000, "1e999", "12345678901234567890123",
                      "-0.5e-3", "1" + "0" * 60))
    field = rng.choice(("latency_ms", "input_tokens", "cost_usd"))
    doc = _json(_event(rng, **{field: 0})).replace(f'"{field}": 0'.encode(),
                                                    f'"{field}": {raw}'.encode())
    return _h("extreme_number", doc)


def _conflict(rng: random.Random, valid: Valid) -> Hostile:
    key, value = rng.choice(valid)
    original = json.loads(value)
    original["prompt"] = f"other content under a reused id {rng.random()}"
    return _h("duplicate_id_other_content", _json(original), key=key)


def _replay(rng: random.Random, valid: Valid) -> Hostile:
    key, value = rng.choice(valid)
    return _h("exact_replay", value, key=key, expect="replay")


def _empty(rng: random.Random, _: Valid) -> Hostile:
    return rng.choice([_h("empty", b""), _h("empty", None), _h("empty", b"   \n"),
                       _h("null_key", b"not even json", key=None),
                       _h("null_key", _json(_event(rng, app="")), key=None)])


def _bad_name(rng: random.Random, _: Valid) -> Hostile:
    app = rng.choice(("bot\n:rotating_light: *CRITICAL*", "bot\u202eevil", " padded ",
                      "x" * 201, "tab\there"))
    return _h("bad_name", _json(_event(rng, app=app)))


def _not_an_event(rng: random.Random, _: Valid) -> Hostile:
    return _h("not_an_event", rng.choice((b"[1, 2]", b'"a string"', b"null", b"42",
                                          b'{"kind": "something_else"}', b'{"app": "x"}',
                                          b"\xff\xfe\x00\x01")))


def _huge(rng: random.Random, _: Valid) -> Hostile:
    """Over the gate's limit, under the broker's: rejected, and its dead letter must fit."""
    return _h("huge", _json(_event(rng, prompt="z" * 990_000)))


def _near_limit(rng: random.Random, _: Valid) -> Hostile:
    """Just under the size limit, but a prompt longer than the contract allows."""
    return _h("near_limit", _json(_event(rng, prompt="y" * 880_000)))


def _nested(rng: random.Random, _: Valid) -> Hostile:
    """~800 KB of small nested containers (`[[],[{}]],…`): cheap to send, costly to walk."""
    unit = rng.choice(([], [[]], {"a": []}, [{}, [0]]))
    count = 800_000 // (len(json.dumps(unit)) + 2)
    return _h("nested", _json(_event(rng, metadata={"x": [unit] * count})))


_LARGE = ("huge", "near_limit", "nested")
KINDS = {
    "random_bytes": _random_bytes, "truncated_json": _truncated, "deep_json": _deep,
    "wrong_type": _wrong_type, "nan_infinity": _non_finite, "lone_surrogate": _surrogate,
    "nul_byte": _nul, "extreme_timestamp": _timestamp, "extreme_number": _number,
    "duplicate_id_other_content": _conflict, "exact_replay": _replay, "empty": _empty,
    "bad_name": _bad_name, "not_an_event": _not_an_event, "huge": _huge,
    "near_limit": _near_limit, "nested": _nested,
}
