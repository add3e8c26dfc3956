"""Segments: the unit drift is measured in (app × model × model_version × prompt_version)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llmwatch.schemas import LLMEvent

SEGMENT_FIELDS = ("app", "model", "model_version", "prompt_version")


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
    values = {f: getattr(event, f) if f in by else None for f in SEGMENT_FIELDS}
    values["app"] = values["app"] or "*"
    values["model"] = values["model"] or "*"
    return Segment(**values)
