"""Segments: the unit drift is measured in (app × model × model_version × prompt_version).

Names are data, never syntax: a segment's key is a JSON array of its four fields, which
round-trips any name the contract accepts (`meta-llama/Llama-3.1-8B-Instruct`,
`anthropic.claude-3-5-sonnet-20240620-v1:0`, spaces, any script). People read `describe()`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from llmwatch.schemas import LLMEvent

SEGMENT_FIELDS = ("app", "model", "model_version", "prompt_version")
ANY = "*"  # a field the configuration does not segment by


@dataclass(frozen=True)
class Segment:
    app: str
    model: str
    model_version: str | None = None
    prompt_version: str | None = None

    @property
    def key(self) -> str:
        """The segment's identity in storage, topics and fingerprints (reversible)."""
        return _dumps([self.app, self.model, self.model_version, self.prompt_version])

    @classmethod
    def from_key(cls, key: str) -> Segment:
        try:
            parts = json.loads(key)
        except ValueError:
            parts = None
        if (not isinstance(parts, list) or len(parts) != 4
                or not all(p is None or isinstance(p, str) for p in parts)
                or not parts[0] or not parts[1]):
            raise ValueError(f"not a segment key: {key!r}")
        return cls(*parts)

    def fields(self) -> dict[str, str | None]:
        """The fields this segment constrains (ANY fields are left out)."""
        values = {f: getattr(self, f) for f in SEGMENT_FIELDS}
        return {f: v for f, v in values.items() if v != ANY}

    @property
    def lineage(self) -> str:
        """Segments of one lineage are versions of the same app and model."""
        return _dumps([self.app, self.model])

    def describe(self) -> str:
        """For people: 'support-bot on gpt-4o, model version gpt-4o-2024-08-06, prompt v7'."""
        parts = [f"{self.app} on {self.model}" if self.model != ANY else self.app]
        if self.model_version and self.model_version != ANY:
            parts.append(f"model version {self.model_version}")
        if self.prompt_version and self.prompt_version != ANY:
            parts.append(f"prompt {self.prompt_version}")
        return ", ".join(parts)


def segment_name(key: str) -> str:
    """How people read a segment key; a key that is not one (e.g. 'all traffic') as is."""
    try:
        return Segment.from_key(key).describe()
    except ValueError:
        return key


def app_pattern(app: str) -> str:
    """A silence pattern matching every segment of one app (a key prefix ending in '*')."""
    return _dumps([app])[:-1] + ",*"


def _dumps(values: list[str | None]) -> str:
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def segment_of(event: LLMEvent, by: Sequence[str] = SEGMENT_FIELDS) -> Segment:
    """The event's segment, keeping only the configured fields (the others collapse)."""
    unknown = set(by) - set(SEGMENT_FIELDS)
    if unknown:
        raise ValueError(f"cannot segment by {sorted(unknown)}; choose from {SEGMENT_FIELDS}")
    values = {f: getattr(event, f) if f in by else ANY for f in SEGMENT_FIELDS}
    return Segment(**values)
