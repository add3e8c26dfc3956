"""The event contract: validation, the published JSON Schemas, decoding, OpenTelemetry."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jsonschema
import pytest
from factories import make_event
from pydantic import ValidationError

from llmwatch.schemas import (
    ChatMessage,
    FeedbackEvent,
    LLMEvent,
    Rejected,
    decode_event,
    event_from_otel,
    hash_id,
)
from llmwatch.schemas.export import JSON_DIR, published_schemas, render


def test_published_json_schemas_equal_the_models() -> None:
    for filename, doc in published_schemas().items():
        path = JSON_DIR / filename
        assert path.is_file(), f"{filename} missing: run `llmwatch schemas export`"
        assert path.read_text() == render(doc), f"{filename} stale: run `llmwatch schemas export`"


def test_json_schema_accepts_what_the_model_accepts_and_rejects_the_rest() -> None:
    schema = json.loads((JSON_DIR / "llm_event.v1.schema.json").read_text())
    good = json.loads(make_event(1).model_dump_json())
    jsonschema.validate(good, schema)
    for bad in ({**good, "latency_ms": -1}, {**good, "surprise": 1},
                {k: v for k, v in good.items() if k != "model"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
        with pytest.raises(ValidationError):
            LLMEvent.model_validate(bad)


def test_chat_prompt_text_is_the_last_user_message() -> None:
    event = make_event(prompt=[
        ChatMessage(role="system", content="You are helpful."),
        ChatMessage(role="user", content="first question"),
        ChatMessage(role="assistant", content="an answer"),
        ChatMessage(role="user", content="follow-up question"),
    ])
    assert event.prompt_text == "follow-up question"
    assert make_event(prompt="plain").prompt_text == "plain"


@pytest.mark.parametrize("change, message", [
    ({"prompt": "   "}, "prompt is empty"),
    ({"prompt": []}, "prompt has no messages"),
    ({"timestamp": datetime(2026, 1, 1)}, "timezone"),
    ({"user_hash": "alice@example.com"}, "pattern"),
    ({"input_tokens": -3}, "greater than or equal to 0"),
])
def test_invalid_events_say_why(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make_event(**change)


def test_feedback_needs_a_verdict() -> None:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(ValidationError, match="at least one of thumbs, score or comment"):
        FeedbackEvent(feedback_id="f1", event_id="e1", timestamp=at)
    assert FeedbackEvent(feedback_id="f1", event_id="e1", timestamp=at, thumbs="down").thumbs


def test_calls_spread_over_partitions_and_state_stays_with_app_and_model() -> None:
    assert make_event(1).partition_key == b"evt-000001" != make_event(2).partition_key
    assert make_event(1).state_key == make_event(2).state_key == b'["support-bot", "gpt-test"]'
    slash = make_event(3, app="a/b", model="c").state_key
    assert slash != make_event(3, app="a", model="b/c").state_key  # names never run together


def test_decode_accepts_both_kinds() -> None:
    call = decode_event(make_event(3).model_dump_json().encode())
    assert isinstance(call, LLMEvent) and call.event_id == "evt-000003"
    fb = decode_event(b'{"kind":"feedback","feedback_id":"f","event_id":"evt-000003",'
                      b'"timestamp":"2026-11-01T00:00:00Z","score":0.2}')
    assert isinstance(fb, FeedbackEvent) and fb.score == 0.2


@pytest.mark.parametrize("raw, reason", [
    (None, "empty message"),
    (b"\xff\xfe", "not UTF-8"),
    (b"{nope", "not JSON"),
    (b"[1, 2]", "expected a JSON object, got list"),
    (b'{"app": "x"}', "missing 'kind'"),
    (b'{"kind": "llm_call", "event_id": "1"}', "llm_call.timestamp: Field required"),
    (b'{"kind": "weird"}', "invalid event"),
    (b"x" * 900_001, "the limit is 900,000"),
])
def test_decode_rejects_with_a_reason(raw: bytes | None, reason: str) -> None:
    result = decode_event(raw)
    assert isinstance(result, Rejected)
    assert reason in result.reason


def test_hash_id_is_stable_salted_and_valid_for_the_schema() -> None:
    a = hash_id("alice@example.com", "salt-1")
    assert a == hash_id("alice@example.com", "salt-1") != hash_id("alice@example.com", "salt-2")
    assert make_event(user_hash=a).user_hash == a
    with pytest.raises(ValueError, match="salt"):
        hash_id("alice", "")


def test_otel_genai_current_conventions() -> None:
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.response.id": "chatcmpl-123",
        "gen_ai.usage.input_tokens": 97,
        "gen_ai.usage.output_tokens": 52,
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.conversation.id": "conv-42",
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
        "gen_ai.input.messages": json.dumps([
            {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}
        ]),
        "gen_ai.output.messages": json.dumps([
            {"role": "assistant", "parts": [{"type": "text", "content": "Rainy, 57°F"}],
             "finish_reason": "stop"}
        ]),
    }
    start = 1_764_000_000_000_000_000
    event = event_from_otel(attrs, app="weather", start_time_unix_nano=start,
                            end_time_unix_nano=start + 1_250_000_000, id_salt="s")
    assert (event.event_id, event.model, event.model_version) == (
        "chatcmpl-123", "gpt-4o", "gpt-4o-2024-08-06")
    assert (event.input_tokens, event.output_tokens, event.finish_reason) == (97, 52, "stop")
    assert event.latency_ms == pytest.approx(1250.0)
    assert event.prompt_text == "Weather in Paris?"
    assert isinstance(event.prompt, list) and event.prompt[0].role == "system"
    assert event.response == "Rainy, 57°F"
    assert event.session_hash == hash_id("conv-42", "s")
    assert event.metadata["provider"] == "openai" and event.tags == ["chat"]


def test_otel_genai_legacy_conventions() -> None:
    event = event_from_otel({
        "gen_ai.system": "anthropic",
        "gen_ai.request.model": "claude-x",
        "gen_ai.prompt": "Summarise this.",
        "gen_ai.completion": "A summary.",
        "gen_ai.usage.prompt_tokens": 10,
        "gen_ai.usage.completion_tokens": 3,
        "gen_ai.response.finish_reasons": "length",
    }, app="summariser")
    assert (event.prompt, event.response) == ("Summarise this.", "A summary.")
    assert (event.input_tokens, event.output_tokens) == (10, 3)
    assert event.finish_reason == "length" and event.metadata["provider"] == "anthropic"


def test_otel_span_without_genai_attributes_is_refused() -> None:
    with pytest.raises(ValueError, match="gen_ai.request.model"):
        event_from_otel({"http.method": "GET"}, app="x")


@pytest.mark.parametrize("app,why", [
    ("billing-b\u043et", "mixes Latin with Cyrillic"),  # a Cyrillic о
    ("bill\u200bing-bot", "U\\+200B ZERO WIDTH SPACE"),
    ("\uff42illing-bot", "NFKC.*send 'billing-bot'"),  # full-width b
    ("billing-bot\U000e0041", "U\\+E0041 TAG"),
    ("billing-bot\u200f", "U\\+200F RIGHT-TO-LEFT MARK"),
])
def test_names_that_only_look_like_another_are_refused_with_the_reason(app: str,
                                                                         why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        make_event(app=app)


@pytest.mark.parametrize("app", ["support-bot", "meta-llama/Llama-3.1-8B-Instruct",
                                 "anthropic.claude-3-5-sonnet-20240620-v1:0", "gpt-4o日本語",
                                 "support-бот", "αβγ-bot", "Модель", "客服机器人"])
def test_real_names_in_any_script_stay_as_sent(app: str) -> None:
    assert make_event(app=app).app == app


def test_a_message_of_too_many_values_is_refused_before_it_is_parsed() -> None:
    event = json.loads(make_event().model_dump_json())
    event["metadata"] = {"x": [[] for _ in range(150_000)]}  # ~450 KB of `[],`
    out = decode_event(json.dumps(event).encode())
    assert isinstance(out, Rejected) and "too many JSON values" in out.reason
    # brackets and commas inside text are not values
    event = json.loads(make_event().model_dump_json())
    event["prompt"] = "f(a, [b], {c}), " * 12_000
    assert isinstance(decode_event(json.dumps(event).encode()), LLMEvent)
