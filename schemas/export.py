"""Write the published JSON Schema files from the pydantic models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .deadletter import DeadLetter
from .events import SCHEMA_VERSION, FeedbackEvent, LLMEvent

JSON_DIR = Path(__file__).parent / "json"
_BASE_ID = "https://llmwatch.dev/schemas"


def published_schemas() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema document, for every model producers may need."""
    out = {}
    for name, model in {
        "llm_event": LLMEvent,
        "feedback_event": FeedbackEvent,
        "dead_letter": DeadLetter,
    }.items():
        filename = f"{name}.v{SCHEMA_VERSION}.schema.json"
        doc = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{_BASE_ID}/{filename}",
            **model.model_json_schema(mode="validation"),
        }
        out[filename] = doc
    return out


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def export(directory: Path = JSON_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, doc in published_schemas().items():
        path = directory / filename
        path.write_text(render(doc))
        written.append(path)
    return written
