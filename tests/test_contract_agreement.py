"""The published JSON Schema and the gate (`decode_event`) agree, case by case: one table,
both run on every row. Where the schema cannot say a rule (a rule of time, of size before
parsing, of how a name looks), the row names it `gate_only` and the test holds the schema to
accepting it — the list of such rules is docs/events.md's, and it can only shrink."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from factories import make_event

from llmwatch.schemas import FeedbackEvent, LLMEvent, decode_event
from llmwatch.schemas.export import JSON_DIR

NOW = datetime.now(UTC).replace(microsecond=0)
GOOD: dict[str, Any] = json.loads(make_event(1, timestamp=NOW, prompt=[
    {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}],
    metadata={"region": "eu"}).model_dump_json(exclude_none=True))


@dataclass(frozen=True)
class Case:
    name: str
    change: Callable[[dict[str, Any]], dict[str, Any]]
    valid: bool
    gate_only: str = ""  # why JSON Schema cannot say this rule


def _with(**kw: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda e: {**e, **kw}


def _message(content: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda e: {**e, "prompt": [{"role": "user", "content": content}]}


CASES = [
    Case("a valid call", lambda e: e, True),
    Case("any script in names and text", _with(app="客服-bot", model="Llama-3.1 8B/instruct",
                                               response="Xin chào 👋\nמה שלומך?"), True),
    Case("NUL in the prompt", _with(prompt="hi\x00there"), False),
    Case("NUL in the response", _with(response="ok\x00"), False),
    Case("NUL in a chat message", _message("a\x00b"), False),
    Case("NUL in a metadata value", _with(metadata={"k": "v\x00"}), False),
    Case("NUL in a metadata key", _with(metadata={"k\x00": "v"}), False),
    Case("NUL in the error", _with(error="Timeout\x00"), False),
    Case("a newline in a name", _with(app="billing\nbot"), False),
    Case("a bidirectional override in a tag", _with(tags=["ok\u202e"]), False),
    Case("a negative latency", _with(latency_ms=-1), False),
    Case("a latency over 24 h", _with(latency_ms=86_400_001), False),
    Case("tokens as a string", _with(input_tokens="12"), False),
    Case("tokens as true", _with(output_tokens=True), False),
    Case("a float token count", _with(output_tokens=1.5), False),
    Case("an unknown field", _with(surprise=1), False),
    Case("no model", lambda e: {k: v for k, v in e.items() if k != "model"}, False),
    Case("an unknown role", _with(prompt=[{"role": "robot", "content": "x"}]), False),
    Case("an unknown kind", _with(kind="llm_cal"), False),
    Case("a text over 200,000 characters", _with(response="x" * 200_001), False),
    Case("a cost over $100,000", _with(cost_usd=100_001), False),
    Case("more than 100 metadata keys", _with(metadata={f"k{i}": i for i in range(101)}), False),
    Case("a timestamp without a zone", _with(timestamp="2026-11-01T12:00:00"), False),
    Case("a timestamp with an offset", _with(timestamp=NOW.astimezone(
        __import__("zoneinfo").ZoneInfo("Asia/Kolkata")).isoformat()), True),
    Case("a Unix timestamp", _with(timestamp=int(NOW.timestamp())), False),
    Case("an empty prompt", _with(prompt="   "), False,
         gate_only="'not only whitespace' is no JSON Schema keyword"),
    Case("no chat messages", _with(prompt=[]), False,
         gate_only="kept out of the schema: minItems on one arm of a union reads badly"),
    Case("a name that mixes Latin with Cyrillic", _with(app="billing-b\u043et"), False,
         gate_only="which letters look alike is Unicode's confusables data, not a pattern"),
    Case("a name not in NFKC form", _with(app="\uff42illing"), False,
         gate_only="Unicode normalisation is not a pattern"),
    Case("a timestamp a week ahead", _with(timestamp=(NOW + timedelta(days=7)).isoformat()),
         False, gate_only="relative to the gate's clock (ingest.max_clock_skew_s)"),
    Case("a timestamp two years old", _with(timestamp=(NOW - timedelta(days=730)).isoformat()),
         False, gate_only="relative to the gate's clock (ingest.max_event_age_days)"),
]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Validator:
    schema = json.loads((JSON_DIR / "llm_event.v1.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _schema_says(validator: jsonschema.Validator, doc: dict[str, Any]) -> bool:
    return not list(validator.iter_errors(doc))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_schema_and_the_gate_agree(validator: jsonschema.Validator, case: Case) -> None:
    doc = case.change(dict(GOOD))
    got = decode_event(json.dumps(doc).encode(), now=NOW)
    gate = isinstance(got, LLMEvent | FeedbackEvent)
    assert gate is case.valid, got
    if case.gate_only:
        assert _schema_says(validator, doc), "the schema says it now: drop gate_only"
    else:
        assert _schema_says(validator, doc) is case.valid, list(validator.iter_errors(doc))[:1]


def test_the_gate_only_rules_are_documented() -> None:
    doc = (JSON_DIR.parents[1] / "docs" / "events.md").read_text()
    for case in CASES:
        if case.gate_only:
            assert case.name in doc, f"docs/events.md does not list {case.name!r}"
