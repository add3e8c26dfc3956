"""The CPU-bound half of ingest — embedding and the quality checks — in this process or in a
process of its own.

Both are pure functions of the calls (`analyse`). In the worker's own process they share one
interpreter lock with Kafka, storage and the drift stage; `ProcessAnalyser` runs them in a
child process (`embedding.processes = 1`, the default; more take a batch's chunks side by side)
so that they use a core of their own while the worker stores the previous batch, hands it on
and judges windows.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from llmwatch.detectors.quality import QualityScore, QualityScorer
from llmwatch.embedding import model_dir
from llmwatch.schemas import LLMEvent
from llmwatch.schemas.embedded import SourcePosition, to_wire

if TYPE_CHECKING:
    from llmwatch.config import EmbeddingSettings, QualitySettings
    from llmwatch.embedding import Embedder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Analysed:
    """One call's vectors and quality scores."""

    prompt_vector: np.ndarray
    response_vector: np.ndarray | None
    scores: dict[str, QualityScore]
    wire: bytes | None = None  # its enriched record (`to_wire`), made where it was analysed

    @property
    def quality(self) -> dict[str, tuple[float, bool]] | None:
        """check → (score, flagged), as `EmbeddedEvent.quality` holds them."""
        return {k: (s.score, s.flagged) for k, s in self.scores.items()} or None


@dataclass
class Analyses:
    items: list[Analysed]
    texts_embedded: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # embed, quality


def analyse(events: Sequence[LLMEvent], embedder: Embedder, scorer: QualityScorer | None,
            sources: Sequence[SourcePosition | None] | None = None) -> Analyses:
    """Embed every prompt and answer in one call, score each call, and encode each as the
    enriched record the worker hands on."""
    started = time.perf_counter()
    embedded = embedder.embed_events(events, sources)
    embed_s = time.perf_counter() - started
    started = time.perf_counter()
    items = []
    all_scores = (scorer.score_many([e.event for e in embedded],
                                    [e.prompt_vector for e in embedded],
                                    [e.response_vector for e in embedded])
                  if scorer else [{} for _ in embedded])
    for e, scores in zip(embedded, all_scores, strict=True):
        item = Analysed(e.prompt_vector, e.response_vector, scores)
        items.append(replace(item, wire=to_wire(replace(e, quality=item.quality))))
    texts = len(events) + sum(1 for e in events if e.response_text.strip())
    return Analyses(items, texts, {"embed": embed_s, "quality": time.perf_counter() - started})


class LocalAnalyser:
    """`analyse` in the calling process."""

    def __init__(self, embedder: Embedder, scorer: QualityScorer | None) -> None:
        self.embedder, self.scorer = embedder, scorer
        self.name, self.dim = embedder.name, embedder.dim

    def __call__(self, events: Sequence[LLMEvent],
                 sources: Sequence[SourcePosition | None] | None = None) -> Analyses:
        return analyse(events, self.embedder, self.scorer, sources)

    def submit(self, events: Sequence[LLMEvent],
               sources: Sequence[SourcePosition | None] | None = None) -> Future[Analyses]:
        """Done before it returns: in this process there is nothing to overlap with."""
        done: Future[Analyses] = Future()
        try:
            done.set_result(self(events, sources))
        except Exception as exc:  # noqa: BLE001 - raised where the result is taken
            done.set_exception(exc)
        return done


class ProcessAnalyser:
    """`analyse` in a child process that loads the embedder and the checks once. A child
    that dies is replaced and the batch sent again."""

    def __init__(self, embedding: EmbeddingSettings, quality: QualitySettings) -> None:
        if embedding.backend == "minilm":  # a missing model: said here, in one piece
            model_dir(embedding.model_path)
        self._processes = max(embedding.processes, 1)
        self._settings = (embedding.model_dump_json(), quality.model_dump_json())
        self._lock = threading.Lock()
        self._pool = self._start()
        self.name, self.dim = self._pool.submit(_info).result()

    def _start(self) -> ProcessPoolExecutor:
        # spawn, not fork: the worker has threads (faust, Kafka, the metrics server)
        return ProcessPoolExecutor(self._processes,
                                   mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_load, initargs=self._settings)

    def __call__(self, events: Sequence[LLMEvent],
                 sources: Sequence[SourcePosition | None] | None = None) -> Analyses:
        return self.submit(events, sources).result()

    def submit(self, events: Sequence[LLMEvent],
               sources: Sequence[SourcePosition | None] | None = None) -> Future[Analyses]:
        """The analysis, running in the child; a child that died is replaced and the work
        sent again (once: a second death is the caller's error)."""
        args = (list(events), None if sources is None else list(sources))
        out: Future[Analyses] = Future()

        def relay(first: Future[Analyses]) -> None:
            try:
                out.set_result(first.result())
            except BrokenProcessPool:
                log.error("the analysis process died; starting another and retrying")
                try:
                    self._send(args, broken=pool).add_done_callback(lambda f: _settle(out, f))
                except Exception as exc:  # noqa: BLE001
                    out.set_exception(exc)
            except Exception as exc:  # noqa: BLE001 - the caller's to raise
                out.set_exception(exc)

        pool = self._pool
        self._send(args).add_done_callback(relay)
        return out

    def _send(self, args: tuple[object, ...], broken: ProcessPoolExecutor | None = None
              ) -> Future[Analyses]:
        with self._lock:
            if broken is not None and self._pool is broken:
                self._restart()
            try:
                return self._pool.submit(_analyse, *args)
            except BrokenProcessPool:
                self._restart()
                return self._pool.submit(_analyse, *args)

    def _restart(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._start()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _settle(out: Future[Analyses], done: Future[Analyses]) -> None:
    try:
        out.set_result(done.result())
    except Exception as exc:  # noqa: BLE001
        out.set_exception(exc)


def local_analyser(emb: EmbeddingSettings, quality: QualitySettings) -> LocalAnalyser:
    from llmwatch.detectors.quality import ExemplarIndex, QualityConfig
    from llmwatch.embedding import head_space, make_embedder

    embedder = make_embedder(
        emb.backend, model_path=emb.model_path, device=emb.device,
        batch_size=emb.model_batch_size, cache_size=emb.cache_size,
        max_tokens=emb.max_tokens)
    borrowed = head_space(emb.backend)
    from llmwatch.detectors.language import reads_as_other_than_english

    # py3langid's model, loaded at start rather than by the first batch (the injection heads
    # ask it of every text that may not be English)
    reads_as_other_than_english("Bonjour, comment allez-vous aujourd'hui ?")
    return LocalAnalyser(embedder, QualityScorer(ExemplarIndex.of(embedder, borrowed),
                                                 QualityConfig(**quality.model_dump())))


# -- in the child process ------------------------------------------------------------------
_CHILD: LocalAnalyser | None = None


def _load(embedding_json: str, quality_json: str) -> None:
    global _CHILD
    from llmwatch.config import EmbeddingSettings, QualitySettings
    from llmwatch.logs import install

    _exit_with_parent(os.getppid())
    one_blas_thread()
    install()  # tracebacks redacted, as in the worker
    logging.basicConfig(level=logging.WARNING,
                        format="[%(asctime)s] [analysis] %(levelname)s %(name)s: %(message)s")
    _CHILD = local_analyser(EmbeddingSettings.model_validate_json(embedding_json),
                            QualitySettings.model_validate_json(quality_json))
    freeze_loaded()


def freeze_loaded() -> None:
    """Move everything loaded so far (models, vocabularies, modules) out of the garbage
    collector's walks: it lives as long as the process, and every full collection walked it
    again — unpickling one chunk's results took 5.6 ms with it, 1.2 ms without. Unfrozen at
    exit, so that the interpreter's last collection still frees it (an extension that
    counts its live objects at exit would otherwise report them as leaked)."""
    import atexit
    import gc

    gc.collect()
    gc.freeze()
    atexit.register(gc.unfreeze)


def one_blas_thread() -> None:
    """numpy's BLAS on one thread in this process. The worker and its analysis process are
    two of several busy processes on few cores (with the broker and the database): BLAS
    threads of their own only spin-wait for a core. Measured: the relevance head's matrix
    product took 12 % of the analysis process's time with two threads, ~1 % with one; the
    static worker drained 371 events/s instead of 323. (PyTorch's threads are its own.)"""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


def _exit_with_parent(parent: int) -> None:
    """A worker killed with SIGKILL (or exiting for a restart) cannot stop its child: the
    child notices that its parent is gone within a second and exits too."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="llmwatch-parent-watch", daemon=True).start()


def _info() -> tuple[str, int]:
    assert _CHILD is not None
    return _CHILD.name, _CHILD.dim


def _analyse(events: list[LLMEvent], sources: list[SourcePosition | None] | None) -> Analyses:
    assert _CHILD is not None
    return _CHILD(events, sources)
