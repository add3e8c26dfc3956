"""The drift space: a uniform sample of each segment's calls, embedded by all-MiniLM-L6-v2
(onnxruntime, int8; `llmwatch/onnx_embedding.py`) in the drift thread, stored in
`drift_vectors`. Per-call checks keep the fast per-call space on every call; drift windows,
baselines, the online detector and their explanations read these vectors.

Its cost is bounded by the sample (`drift.sample_every_call_below` calls a second per
segment, `drift.sample_max_per_s` in all) and by what it reads (prompts; answers too with
`drift.space_answers`, else the answers' per-call vectors). It runs on
`drift.space_threads` cores in the drift thread, never in ingest's: when it falls behind,
the enriched topic's lag grows (the watchdog says so) and drift is late, never wrong — a
call's vectors are stored before the round that reads them, and offsets are committed
after it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime

from llmwatch.config import DriftSettings
from llmwatch.detectors.sampling import SampleRate, in_sample
from llmwatch.detectors.segments import segment_of
from llmwatch.embedding import Encoder
from llmwatch.schemas.embedded import EmbeddedEvent
from llmwatch.storage import Store

log = logging.getLogger(__name__)


class DriftSpace:
    def __init__(self, store: Store, settings: DriftSettings, encoder: Encoder | None) -> None:
        self.store = store
        self.settings = settings
        self.encoder = encoder  # None: drift reads the per-call space, every call
        self.rates = SampleRate(every_call_below=settings.sample_every_call_below,
                                max_per_s=settings.sample_max_per_s)
        self.seconds = 0.0  # of the last round's embedding

    def process(self, batch: Sequence[EmbeddedEvent], now: datetime) -> list[EmbeddedEvent]:
        """The batch's calls in the drift space: the sampled ones with their drift vectors
        (stored before this returns), or the whole batch when drift reads the per-call space."""
        if self.encoder is None:
            return list(batch)
        by_segment: dict[str, list[EmbeddedEvent]] = {}
        for item in batch:
            key = segment_of(item.event, self.settings.segment_by).key
            by_segment.setdefault(key, []).append(item)
        chosen: list[tuple[EmbeddedEvent, float]] = []
        for key, items in by_segment.items():
            fraction = self.rates.observe(key, len(items), now)
            chosen += [(i, fraction) for i in items if in_sample(i.event.event_id, fraction)]
        started = time.perf_counter()
        out = self._embed(chosen)
        self.seconds = time.perf_counter() - started
        return out

    def _embed(self, chosen: list[tuple[EmbeddedEvent, float]]) -> list[EmbeddedEvent]:
        """Prompts in the drift space; answers too with `drift.space_answers`, else their
        per-call vectors (a third of the cost: answers are the long texts)."""
        if not chosen:
            return []
        assert self.encoder is not None
        events = [item.event for item, _ in chosen]
        answered = ([k for k, e in enumerate(events) if (e.response_text or "").strip()]
                    if self.settings.space_answers else [])
        vectors = self.encoder.encode([e.prompt_text for e in events]
                                      + [events[k].response_text or "" for k in answered])
        responses = ({k: vectors[len(events) + n] for n, k in enumerate(answered)}
                     if self.settings.space_answers
                     else {k: item.response_vector for k, (item, _) in enumerate(chosen)})
        self.store.save_drift_vectors([
            (e.event_id, vectors[k], responses.get(k), fraction)
            for k, (e, (_, fraction)) in enumerate(zip(events, chosen, strict=True))])
        return [EmbeddedEvent(item.event, vectors[k], responses.get(k), item.source)
                for k, (item, _) in enumerate(chosen)]


def drift_encoder(settings: DriftSettings) -> Encoder | None:
    """The drift space's encoder (None when drift reads the per-call space)."""
    if settings.space != "minilm":
        return None
    from llmwatch.onnx_embedding import OnnxMiniLM

    encoder = OnnxMiniLM.load(threads=settings.space_threads)
    log.info("drift space: all-MiniLM-L6-v2 (onnxruntime, int8) on every call of a segment "
             "up to %g a second, %g a second in all; %s; %d core(s)",
             settings.sample_every_call_below, settings.sample_max_per_s,
             "prompts and answers" if settings.space_answers else "prompts (answers: the "
             "per-call space)", settings.space_threads)
    return encoder
