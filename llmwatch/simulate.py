"""Realistic simulated traffic from real conversations, with an optional topic shift.

Baseline traffic replays turn pairs from the chitchat-dataset package (7,168 open-domain chats,
BYU PCC lab); the shift mixes in question/answer pairs of one chatterbot-corpus topic (money,
computers, health, ...). Both are read as package data files. Malformed messages can be mixed
in to exercise the dead-letter path; feedback events follow a fraction of the calls.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path

import yaml

from llmwatch.schemas import FeedbackEvent, LLMEvent, hash_id

Pair = tuple[str, str]

MALFORMED: list[bytes] = [
    b"this is not json",
    b'{"kind": "llm_call", "app": "support-bot"}',
    b'{"kind": "llm_call", "event_id": "x", "timestamp": "2024-01-01T00:00:00Z", '
    b'"app": "support-bot", "model": "m", "prompt": "hi", "latency_ms": -5}',
    b'["an", "array"]',
    b'{"kind": "something_else"}',
]


SPLITS = ("train", "validation", "heldout")


def chitchat_split(conversation_id: str) -> str:
    """Conversations split by a hash of their id: what is fitted to chit-chat (the static
    embedding, the relevance head) learns from "train" (70 %), sets its thresholds on
    "validation" (10 %), and the benchmarks that judge those fits read "heldout" (20 %)."""
    bucket = zlib.crc32(conversation_id.encode()) % 10
    return "heldout" if bucket in (0, 5) else "validation" if bucket == 1 else "train"


@cache
def chitchat_pairs(split: str | None = None) -> list[Pair]:
    """(prompt, response) pairs: each turn of a chitchat conversation and the reply to it;
    of one split's conversations only when `split` is given."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    data = json.loads(resources.files("chitchat_dataset").joinpath("dataset.json").read_bytes())
    pairs: list[Pair] = []
    for key, conversation in data.items():
        if split is not None and chitchat_split(key) != split:
            continue
        turns = [" ".join(m["text"] for m in turn).strip() for turn in conversation["messages"]]
        turns = [t for t in turns if t]
        pairs.extend(zip(turns, turns[1:], strict=False))
    return pairs


def chatterbot_topics() -> list[str]:
    folder = resources.files("chatterbot_corpus").joinpath("data", "english")
    return sorted(p.name.removesuffix(".yml") for p in folder.iterdir() if p.name.endswith(".yml"))


@cache
def chatterbot_pairs(topic: str) -> list[Pair]:
    path = resources.files("chatterbot_corpus").joinpath("data", "english", f"{topic}.yml")
    if not path.is_file():
        raise ValueError(
            f"no chatterbot-corpus topic '{topic}'; choose one of: {', '.join(chatterbot_topics())}"
        )
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    pairs = []
    for conv in doc.get("conversations", []):
        texts = [str(t).strip() for t in conv if str(t).strip()]
        pairs.extend(zip(texts, texts[1:], strict=False))
    return pairs


WORDNET_NOUNS = Path("/usr/share/wordnet/data.noun")  # Debian's wordnet-base
WORDNET_THEMES = {4: "act", 5: "animal", 6: "artifact", 7: "attribute", 8: "body",
                  9: "cognition", 10: "communication", 13: "food", 15: "location",
                  18: "person", 20: "plant", 26: "state"}


def wordnet_glosses(split: str = "dev", path: Path = WORDNET_NOUNS) -> dict[str, list[str]]:
    """WordNet 3.0's noun definitions by theme (its lexicographer file: food, plant, person,
    ...): short texts all in one style, for drift within one register. `split`: "dev" (three
    synsets in four) or "held-out" (the fourth, by a hash of the synset's offset)."""
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: `apt-get install wordnet-base`")
    out: dict[str, list[str]] = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        if line.startswith("  ") or "|" not in line:
            continue  # the licence at the top
        head, gloss = line.split("|", 1)
        theme = WORDNET_THEMES.get(int(head.split()[1]))
        definition = gloss.split('; "')[0].strip()
        if theme is None or len(definition.split()) < 4:
            continue
        held_out = hashlib.sha256(head.split()[0].encode()).digest()[0] % 4 == 0
        if held_out == (split == "held-out"):
            out.setdefault(theme, []).append(definition)
    return out


@dataclass(frozen=True)
class TrafficPlan:
    events: int = 1000
    shift_at: float | None = None  # fraction of the stream after which the shift starts
    shift_topic: str = "money"
    shift_fraction: float = 0.3  # share of shifted events once the shift started
    malformed: int = 0
    feedback_rate: float = 0.1
    app: str = "support-bot"
    model: str = "chat-model"
    model_version: str = "2024-06"
    prompt_version: str = "v3"
    seed: int = 7
    start: datetime | None = None
    spacing_s: float = 1.0  # seconds between two calls' timestamps (spread a week: 604800/n)

    def __post_init__(self) -> None:
        if self.events < 1:
            raise ValueError("events must be at least 1")
        if self.shift_at is not None and not 0 <= self.shift_at <= 1:
            raise ValueError("shift_at is a fraction of the stream, between 0 and 1")
        if self.spacing_s <= 0:
            raise ValueError("spacing_s must be positive")
        if not 0 <= self.shift_fraction <= 1 or not 0 <= self.feedback_rate <= 1:
            raise ValueError("shift_fraction and feedback_rate are fractions between 0 and 1")


@dataclass(frozen=True)
class SimulatedMessage:
    key: bytes
    value: bytes
    kind: str  # "llm_call", "feedback" or "malformed"
    shifted: bool = False


def traffic(plan: TrafficPlan) -> Iterator[SimulatedMessage]:
    """The plan's messages in order: `events` calls, their feedback, and malformed ones."""
    rng = random.Random(plan.seed)
    base = chitchat_pairs()
    shifted_pairs = chatterbot_pairs(plan.shift_topic) if plan.shift_at is not None else []
    shift_from = None if plan.shift_at is None else int(plan.events * plan.shift_at)
    bad_at = _spread(plan.malformed, plan.events, rng)
    start = plan.start or datetime.now(UTC)
    for i in range(plan.events):
        for _ in range(bad_at.count(i)):
            yield SimulatedMessage(b"simulator/malformed", rng.choice(MALFORMED), "malformed")
        shifted = shift_from is not None and i >= shift_from and rng.random() < plan.shift_fraction
        prompt, response = rng.choice(shifted_pairs if shifted else base)
        at = start + timedelta(seconds=i * plan.spacing_s)
        event = _call(plan, rng, i, prompt, response, at)
        yield SimulatedMessage(event.partition_key, _json(event), "llm_call", shifted)
        if rng.random() < plan.feedback_rate:
            fb = _feedback(rng, event)
            yield SimulatedMessage(fb.partition_key, _json(fb), "feedback")


def _call(plan: TrafficPlan, rng: random.Random, i: int, prompt: str, response: str,
          at: datetime) -> LLMEvent:
    in_tokens = max(1, round(len(prompt.split()) * 1.3)) + 40  # + the app's system prompt
    out_tokens = max(1, round(len(response.split()) * 1.3))
    truncated = rng.random() < 0.02
    return LLMEvent(
        event_id=f"sim-{plan.seed}-{i:08d}-{uuid.UUID(int=rng.getrandbits(128)).hex[:8]}",
        timestamp=at,
        app=plan.app,
        model=plan.model,
        model_version=plan.model_version,
        prompt_version=plan.prompt_version,
        prompt=prompt,
        response=response,
        latency_ms=round(rng.lognormvariate(5.8, 0.35) + 12 * out_tokens, 1),
        input_tokens=in_tokens,
        output_tokens=out_tokens,
        cost_usd=round(in_tokens * 0.5e-6 + out_tokens * 1.5e-6, 8),
        finish_reason="length" if truncated else "stop",
        user_hash=hash_id(f"user-{rng.randrange(500)}", "simulator"),
        tags=["simulated"],
    )


def _feedback(rng: random.Random, event: LLMEvent) -> FeedbackEvent:
    up = rng.random() < 0.8
    return FeedbackEvent(
        feedback_id=f"fb-{event.event_id}", event_id=event.event_id,
        timestamp=event.timestamp + timedelta(seconds=5), thumbs="up" if up else "down",
        user_hash=event.user_hash,
    )


def _json(event: LLMEvent | FeedbackEvent) -> bytes:
    return event.model_dump_json(exclude_none=True).encode()


def _spread(count: int, length: int, rng: random.Random) -> list[int]:
    return sorted(rng.randrange(length) for _ in range(count))


@dataclass
class SendReport:
    llm_calls: int = 0
    feedback: int = 0
    malformed: int = 0
    shifted: int = 0
    failed: int = 0

    @property
    def produced(self) -> int:
        return self.llm_calls + self.feedback + self.malformed


def send(plan: TrafficPlan, *, topic: str, kafka_options: dict[str, object],
         rate: float = 0.0, progress: bool = True) -> SendReport:
    """Produce the plan's traffic to Kafka at `rate` calls per second (0 = as fast as it goes)."""
    from kafka import KafkaProducer
    from rich.progress import Progress

    report = SendReport()
    producer = KafkaProducer(**kafka_options, acks="all", linger_ms=10)
    started = time.monotonic()
    with Progress(disable=not progress, transient=False) as bar:
        task = bar.add_task("producing events", total=plan.events)
        for msg in traffic(plan):
            future = producer.send(topic, key=msg.key, value=msg.value)
            future.add_errback(lambda _e: setattr(report, "failed", report.failed + 1))
            _tally(report, msg)
            if msg.kind == "llm_call":
                bar.advance(task)
                if rate > 0:
                    ahead = report.llm_calls / rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
        producer.flush()
    producer.close()
    return report


def _tally(report: SendReport, msg: SimulatedMessage) -> None:
    if msg.kind == "llm_call":
        report.llm_calls += 1
        report.shifted += int(msg.shifted)
    elif msg.kind == "feedback":
        report.feedback += 1
    else:
        report.malformed += 1
