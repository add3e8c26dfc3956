"""The Evidently part of the report: its Report with the data-drift preset on the calls'
numeric and categorical fields and its embeddings drift on the prompt embeddings, this period
against the baseline, for all traffic and the busiest segments. Only derived fields and
embeddings go to Evidently, never prompt text, so nothing personal reaches its widgets.

Returns Evidently's own self-contained HTML (its JavaScript is inlined; it opens offline) for
the llmwatch report to embed, and the figures of each section for the JSON file.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmwatch.detectors.drift_monitor import (
    CATEGORICAL_METRICS,
    NUMERIC_METRICS,
    EventRecord,
    EventSample,
)
from llmwatch.detectors.segments import segment_name

from .figures import SegmentData

log = logging.getLogger(__name__)

NUMERIC = list(NUMERIC_METRICS)
CATEGORICAL = list(CATEGORICAL_METRICS)
MIN_ROWS = 30


@dataclass(frozen=True)
class EvidentlySection:
    html: str | None  # Evidently's HTML page with one group per section; None if nothing ran
    sections: list[dict[str, Any]] = field(default_factory=list)  # figures for the JSON file


def frame(records: Sequence[EventRecord]) -> Any:
    """The fields the drift detectors compare (EventSample's), plus the prompt embedding."""
    import pandas as pd

    sample = EventSample.of(records)
    vectors = sample.prompt_vectors.astype(np.float32)
    embedding = pd.DataFrame(vectors, columns=[f"prompt_emb_{i}" for i in range(vectors.shape[1])])
    fields = pd.DataFrame({**{c: sample.numeric[c] for c in NUMERIC},
                           **{c: [inert(v) for v in sample.categorical[c]]
                              for c in CATEGORICAL}})
    return pd.concat([fields, embedding], axis=1)


def build(segments: Sequence[SegmentData], *, max_segments: int) -> EvidentlySection:
    """Evidently's drift sections: all traffic, then the `max_segments` busiest segments."""
    if max_segments <= 0:
        return EvidentlySection(None)
    pooled = SegmentData("all traffic", [r for s in segments for r in s.current],
                         [r for s in segments for r in s.previous],
                         [r for s in segments for r in s.baseline])
    busiest = sorted(segments, key=lambda s: -len(s.current))[:max_segments]
    chosen = [pooled] + (busiest if len(segments) > 1 else [])
    os.environ.setdefault("DO_NOT_TRACK", "1")  # no usage telemetry from a monitoring service
    from evidently.core.metric_types import render_widgets
    from evidently.legacy.renderers.html_widgets import group_widget

    groups, sections = [], []
    for s in chosen:
        reference, against = (s.baseline, "baseline") if len(s.baseline) >= MIN_ROWS \
            else (s.previous, "previous period")
        if len(s.current) < MIN_ROWS or len(reference) < MIN_ROWS:
            sections.append({"segment": s.key, "skipped": f"fewer than {MIN_ROWS} calls to "
                             "compare"})
            continue
        with warnings.catch_warnings():  # scipy's divide-by-zero on an empty category, etc.
            warnings.simplefilter("ignore")
            snapshot = _run(s.current, reference)
        groups.append(group_widget(title=inert(f"{segment_name(s.key)}: this period vs {against}"),
                                   widgets=snapshot._widgets))  # noqa: SLF001
        sections.append({"segment": s.key, "reference": against,
                         "metrics": _values(snapshot.dict())})
    if not groups:
        return EvidentlySection(None, sections)
    html = render_widgets(groups)
    if _scripts(html) != _scripts(render_widgets([])):  # fail closed: never embed a page
        log.error("Evidently's page has more scripts than its template; left out of the report")
        return EvidentlySection(None, [*sections, {"skipped": "unexpected script elements"}])
    return EvidentlySection(html, sections)


def inert(text: str) -> str:
    """Text we did not write, as Evidently may put it into its inline <script> (its JSON is
    not escaped for HTML): without `<` and `>`, no `</script>` can end the script early."""
    return text.replace("<", "\u2039").replace(">", "\u203a") if isinstance(text, str) else text


def _scripts(html: str) -> int:
    return html.lower().count("<script")


def _run(current: Sequence[EventRecord], reference: Sequence[EventRecord]) -> Any:
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import EmbeddingsDrift
    from evidently.presets import DataDriftPreset

    cur, ref = frame(current), frame(reference)
    definition = DataDefinition(
        numerical_columns=NUMERIC, categorical_columns=CATEGORICAL,
        embeddings={"prompt": [c for c in cur.columns if c.startswith("prompt_emb_")]})
    report = Report([DataDriftPreset(columns=NUMERIC + CATEGORICAL),
                     EmbeddingsDrift(embeddings_name="prompt")])
    return report.run(Dataset.from_pandas(cur, data_definition=definition),
                      Dataset.from_pandas(ref, data_definition=definition))


def _values(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for m in doc.get("metrics", []):
        value = m.get("value")
        if isinstance(value, float | int):
            value = round(float(value), 6)
        out.append({"metric": m.get("metric_name"), "value": value})
    return out
