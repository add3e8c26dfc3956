"""Segments: the unit drift is measured in (app × model × model_version × prompt_version)."""

from __future__ import annotations

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
        return "/".join(v or "-" for v in (self.app, self.model, self.model_version,
                                           self.prompt_version))

    @classmethod
    def from_key(cls, key: str) -> Segment:
        parts = [None if p == "-" else p for p in key.split("/")]
        if len(parts) != 4 or parts[0] is None or parts[1] is None:
            raise ValueError(f"not a segment key: {key!r}")
        return cls(parts[0], parts[1], parts[2], parts[3])

    def fields(self) -> dict[str, str | None]:
        """The fields this segment constrains (ANY fields are left out)."""
        values = {f: getattr(self, f) for f in SEGMENT_FIELDS}
        return {f: v for f, v in values.items() if v != ANY}

    @property
    def lineage(self) -> str:
        """Segments of one lineage are versions of the same app and model."""
        return f"{self.app}/{self.model}"

    def describe(self) -> str:
        parts = [f"{self.app} on {self.model}"]
        if self.model_version:
            parts.append(f"model version {self.model_version}")
        if self.prompt_version:
            parts.append(f"prompt {self.prompt_version}")
        return ", ".join(parts)


def segment_of(event: LLMEvent, by: Sequence[str] = SEGMENT_FIELDS) -> Segment:
    """The event's segment, keeping only the configured fields (the others collapse)."""
    unknown = set(by) - set(SEGMENT_FIELDS)
    if unknown:
        raise ValueError(f"cannot segment by {sorted(unknown)}; choose from {SEGMENT_FIELDS}")
    values = {f: getattr(event, f) if f in by else ANY for f in SEGMENT_FIELDS}
    return Segment(**values)
