"""The event contract, version 1: one `LLMEvent` per LLM call, one `FeedbackEvent` per verdict.

Both travel on the same Kafka topic and are told apart by `kind`. The JSON Schema files in
`schemas/json/` are generated from these models (`llmwatch schemas export`) and a test keeps
them equal, so producers in any language can validate against the files.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    model_validator,
)

SCHEMA_VERSION = 1

HashedId = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-f]{16,128}$",
        description="A salted hash (lower-case hex), never the raw id: see llmwatch.sdk.hash_id.",
    ),
]
# Names (app, model, versions, finish_reason, tags) are data shown to people in Slack, reports,
# tickets and logs. Any text is welcome — slashes, colons, spaces, any script — except what
# would forge or hide text where they are shown: control characters (newlines, tabs, NUL),
# Unicode line separators, bidirectional overrides, lone surrogates, and leading or trailing
# whitespace; and names that would read as another: invisible characters, forms NFKC folds
# (full-width letters) and words mixing Latin with look-alike Cyrillic or Greek letters (two
# names that look the same would be two segments).
_FORBIDDEN = r"\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_FORBIDDEN_RE = re.compile(f"[{_FORBIDDEN}]")
NAME_PATTERN = f"^[^{_FORBIDDEN}]*$"


def _name(value: str) -> str:
    bad = _FORBIDDEN_RE.search(value)
    if bad:
        char = bad.group()
        label = unicodedata.name(char, "") if not 0xD800 <= ord(char) <= 0xDFFF else ""
        raise ValueError(f"contains U+{ord(char):04X} {label or 'a control character'} at "
                         f"position {bad.start()}; names cannot hold control, line-break or "
                         "bidirectional-override characters")
    if value != value.strip():
        raise ValueError("has leading or trailing whitespace")
    return _canonical(value)


_CONFUSABLE_SCRIPTS = frozenset({"CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE", "COPTIC"})


def _canonical(value: str) -> str:
    """A name that only looks like another is refused with the reason, not folded into it:
    folding would merge segments a producer chose to keep apart, silently, while a refusal
    tells the producer what to send. Real instrumentation never writes these."""
    invisible = next((c for c in value if unicodedata.category(c) == "Cf"), None)
    if invisible is not None:
        raise ValueError(f"contains U+{ord(invisible):04X} "
                         f"{unicodedata.name(invisible, 'an invisible character')}; names cannot "
                         "hold invisible or format characters (it would look like another name)")
    folded = unicodedata.normalize("NFKC", value)
    if folded != value:
        raise ValueError(f"is not in Unicode's NFKC form (full-width or compatibility "
                         f"characters); send {folded!r}")
    for word in re.findall(r"[^\W\d_]+", value):
        scripts = {unicodedata.name(c, "?").split(" ", 1)[0] for c in word}
        if "LATIN" in scripts and scripts & _CONFUSABLE_SCRIPTS and _looks_latin(word):
            raise ValueError(f"mixes Latin with {'/'.join(sorted(scripts - {'LATIN'})).title()} "
                             f"letters that look like Latin ones in {word!r}; it would read as "
                             "another name")
    return value


def _looks_latin(word: str) -> bool:
    from confusable_homoglyphs import confusables  # type: ignore[import-untyped]

    return bool(confusables.is_dangerous(word, preferred_aliases=["latin"]))


def name_type(max_length: int) -> object:
    return Annotated[str, Field(min_length=1, max_length=max_length,
                                json_schema_extra={"pattern": NAME_PATTERN}),
                     AfterValidator(_name)]


Name = name_type(200)
Id = name_type(128)
# Numbers are numbers: no true for 1, no "12" for 12, no NaN or Infinity, and bounds that no
# real call comes near but that keep every stored value within its column.
MAX_TEXT = 200_000  # characters of any one text: a prompt, a chat message, a response
# Free text holds anything but NUL, which no database text column and no tokenizer takes (the
# gate also refuses lone surrogates, which JSON Schema cannot name).
TEXT_PATTERN = "^[^\\u0000]*$"


def _no_nul(value: str) -> str:
    at = value.find("\x00")
    if at >= 0:
        raise ValueError(f"contains NUL (U+0000) at position {at}; text cannot hold it")
    return value


def text_type(max_length: int) -> object:
    return Annotated[str, Field(max_length=max_length,
                                json_schema_extra={"pattern": TEXT_PATTERN}),
                     AfterValidator(_no_nul)]


Text = text_type(MAX_TEXT)
_MetadataKey = Annotated[str, Field(max_length=100), AfterValidator(_no_nul)]
# ISO 8601 with a zone, as the schema says it (pydantic's AwareDatetime reads the same)
def _not_a_number(value: object) -> object:
    if isinstance(value, int | float):  # pydantic would read 1764000000 as a Unix time
        raise ValueError("a timestamp is an ISO 8601 string with a zone, e.g. "
                         "'2026-11-01T12:00:00Z', not a number")
    return value


TIMESTAMP_PATTERN = (r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?"
                     r"([Zz]|[+-]\d{2}(:?\d{2})?)$")
Timestamp = Annotated[AwareDatetime, BeforeValidator(_not_a_number),
                      Field(json_schema_extra={"pattern": TIMESTAMP_PATTERN})]
FiniteFloat = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Count = Annotated[int, Strict(), Field(ge=0, le=10_000_000)]
MetadataValue = (text_type(1_000) | Annotated[int, Strict(),
                 Field(ge=-(2**63), le=2**63 - 1)] | FiniteFloat | bool | None)


class _Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class ChatMessage(_Contract):
    """One message of a chat prompt, as OpenAI-style APIs take them."""

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: Text  # type: ignore[valid-type]


class LLMEvent(_Contract):
    """One call to a language model, as the calling app saw it."""

    kind: Literal["llm_call"] = "llm_call"
    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: Id = Field(description="Unique per call; the idempotency key.")  # type: ignore[valid-type]
    timestamp: Timestamp = Field(description="When the call started (ISO 8601, with zone).")
    app: Name = Field(description="The feature or service making the call, e.g. 'support-bot'.")
    model: Name = Field(description="Model family as requested, e.g. 'gpt-4o' or 'llama-3-8b'.")
    model_version: Name | None = Field(  # type: ignore[valid-type]
        default=None, description="Exact model build or snapshot, if known."
    )
    prompt_version: Name | None = Field(  # type: ignore[valid-type]
        default=None, description="Version of the app's prompt template."
    )
    prompt: Text | Annotated[  # type: ignore[valid-type]
        list[ChatMessage], Field(max_length=1_000)] = Field(
        description="The prompt as plain text or as chat messages (at most 1,000)."
    )
    response: Text | None = Field(  # type: ignore[valid-type]
        default=None, description="The model's answer; null on error."
    )
    latency_ms: FiniteFloat | None = Field(default=None, ge=0, le=86_400_000)
    input_tokens: Count | None = None
    output_tokens: Count | None = None
    cost_usd: FiniteFloat | None = Field(default=None, ge=0, le=100_000)
    finish_reason: name_type(64) | None = Field(  # type: ignore[valid-type]
        default=None, description="'stop', 'length', 'content_filter', ..."
    )
    error: text_type(2_000) | None = Field(  # type: ignore[valid-type]
        default=None, description="Error type or message if the call failed."
    )
    user_hash: HashedId | None = None
    session_hash: HashedId | None = None
    tags: list[name_type(100)] = Field(  # type: ignore[valid-type]
        default_factory=list, max_length=50)
    metadata: dict[_MetadataKey, MetadataValue] = Field(  # type: ignore[valid-type]
        default_factory=dict, max_length=100,
        json_schema_extra={"propertyNames": {"maxLength": 100, "pattern": TEXT_PATTERN}})

    @model_validator(mode="after")
    def _prompt_not_empty(self) -> LLMEvent:
        if isinstance(self.prompt, str) and not self.prompt.strip():
            raise ValueError("prompt is empty")
        if isinstance(self.prompt, list) and not self.prompt:
            raise ValueError("prompt has no messages")
        return self

    @property
    def prompt_text(self) -> str:
        """The text the user asked: the last user message of a chat, or the plain prompt."""
        if isinstance(self.prompt, str):
            return self.prompt
        user_turns = [m.content for m in self.prompt if m.role == "user"]
        return user_turns[-1] if user_turns else self.prompt[-1].content

    @property
    def response_text(self) -> str:
        return self.response or ""

    @property
    def partition_key(self) -> bytes:
        """Kafka key of the events topic: the event id, so the calls of one busy app/model
        spread over every partition (and every worker); a resent call keeps its partition.
        Ingest needs no order: storage is idempotent and windows are read in stored order."""
        return self.event_id.encode()

    @property
    def state_key(self) -> bytes:
        """Kafka key of the enriched topic: app and model, so the drift, alert and ticket
        state of a segment lives with one worker."""
        return json.dumps([self.app, self.model], ensure_ascii=False).encode()


class FeedbackEvent(_Contract):
    """A user's verdict on an earlier call, referenced by its event_id."""

    kind: Literal["feedback"] = "feedback"
    schema_version: Literal[1] = SCHEMA_VERSION
    feedback_id: Id = Field(description="Unique per verdict.")  # type: ignore[valid-type]
    event_id: Id = Field(description="The LLMEvent this is about.")  # type: ignore[valid-type]
    timestamp: Timestamp
    thumbs: Literal["up", "down"] | None = None
    score: FiniteFloat | None = Field(default=None, ge=0, le=1,
                                      description="0 = worst, 1 = best.")
    comment: text_type(10_000) | None = None  # type: ignore[valid-type]
    user_hash: HashedId | None = None

    @model_validator(mode="after")
    def _says_something(self) -> FeedbackEvent:
        if self.thumbs is None and self.score is None and not self.comment:
            raise ValueError("feedback needs at least one of thumbs, score or comment")
        return self

    @property
    def partition_key(self) -> bytes:
        return f"feedback/{self.event_id}".encode()


Event = Annotated[LLMEvent | FeedbackEvent, Field(discriminator="kind")]
EVENT_ADAPTER: TypeAdapter[LLMEvent | FeedbackEvent] = TypeAdapter(Event)


def user_turn(messages: Sequence[Mapping[str, Any]]) -> str:
    """The text a chat asks: its last user message, else its last message ("" for none)."""
    users = [m.get("content") for m in messages if m.get("role") == "user"]
    last = users[-1] if users else (messages[-1].get("content") if messages else "")
    return str(last or "")


def as_chat(messages: Sequence[Mapping[str, Any]] | None, prompt: str) -> list[dict[str, str]]:
    """A stored call as chat messages: its messages, or its plain prompt as one user turn."""
    if messages:
        return [{"role": str(m["role"]), "content": str(m["content"])} for m in messages]
    return [{"role": "user", "content": prompt}]


def utcnow() -> datetime:
    return datetime.now(UTC)
