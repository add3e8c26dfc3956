"""A static embedding distilled from the installed MiniLM: a vector per token, no network.

MiniLM reads every text through six transformer layers (~10–40 ms a text on a CPU core). A
static embedding looks each token's vector up and averages them (~0.1 ms a text): 50–100×
faster, at some loss of agreement with MiniLM. It is built here, once per machine, from the
installed weights (nothing is downloaded) and cached as a `.npz` file:

1. *token pass* (model2vec's recipe): every token of MiniLM's vocabulary goes through MiniLM
   alone (`[CLS] token [SEP]`, mean-pooled); the shared component is removed and tokens are
   weighted by an estimate of their rarity (SIF over Zipf ranks), so "the" counts little;
2. *fit* (tokenlearn's idea, as a ridge regression): on sentences that ship with the
   installed packages (Python's own docstrings and the replies of the chit-chat dataset's
   training conversations — never its prompts, which the drift benchmark draws from, nor its
   held-out conversations), the token vectors are moved so that their average lands where
   MiniLM puts the whole sentence. One sparse least-squares solve;
3. *relevance head* (`llmwatch.relevance`): what the static cosine cannot tell — is this
   reply about its prompt — learned over the static vectors from the training
   conversations' real and shuffled turn pairs (~1 minute).

`StaticEncoder.encode` is pure numpy over the tokenizer's ids; `build_static` does the
two steps above and needs PyTorch only while building.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pydoc
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .relevance import RelevanceHead

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

RECIPE = "static-v4"  # bump when the build changes: cached files carry it in their name
SIF = 1e-4
FIT_TEXTS = 12_000
RIDGE = 0.5


@dataclass(frozen=True)
class StaticEncoder:
    """Texts → L2-normalised mean of weighted token vectors, float32."""

    vectors: np.ndarray  # (vocab, dim) float32, weights already applied
    tokenize: Callable[[Sequence[str]], list[list[int]]]
    max_tokens: int = 512
    relevance: RelevanceHead | None = None  # the quality check's head for this space

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids = [row[: self.max_tokens] for row in self.tokenize(texts)]
        return pool(self.vectors, ids)


def pool(vectors: np.ndarray, ids: Sequence[Sequence[int]]) -> np.ndarray:
    """Each row's token vectors summed (one sparse product: no copy of the vectors), then
    L2-normalised, which makes it their mean's direction; an empty text is a zero vector."""
    from scipy import sparse

    lengths = np.fromiter((len(r) for r in ids), dtype=np.int64, count=len(ids))
    flat = np.fromiter((t for r in ids for t in r), dtype=np.int64, count=int(lengths.sum()))
    indptr = np.concatenate(([0], np.cumsum(lengths)))
    bag = sparse.csr_matrix((np.ones(len(flat), dtype=np.float32), flat, indptr),
                            shape=(len(ids), vectors.shape[0]))
    out = np.asarray(bag @ vectors, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


def _fast_tokenizer(model_path: Path) -> Callable[[Sequence[str]], list[list[int]]]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()

    def tokenize(texts: Sequence[str]) -> list[list[int]]:
        encodings = tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [e.ids for e in encodings]

    return tokenize


def cache_path(model_path: Path, cache_dir: Path) -> Path:
    """Named by what the model *is* (its config, tokenizer and the size and edges of its
    weights), not where it is installed: every virtualenv with the same model shares one
    build."""
    digest = hashlib.sha256(RECIPE.encode())
    for name in ("config.json", "tokenizer.json"):
        file = model_path / name
        digest.update(file.read_bytes() if file.exists() else b"-")
    weights = model_path / "model.safetensors"
    if weights.exists():
        size = weights.stat().st_size
        with weights.open("rb") as f:
            digest.update(str(size).encode() + f.read(1 << 20))
            f.seek(max(size - (1 << 20), 0))
            digest.update(f.read())
    return cache_dir / f"{RECIPE}-{digest.hexdigest()[:12]}.npz"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llmwatch" / "embeddings"


def load_static(model_path: Path, cache_dir: Path, max_tokens: int = 512) -> StaticEncoder:
    """The cached static embedding of the model at `model_path`, built first if missing."""
    path = cache_path(model_path, cache_dir)
    tokenize = _fast_tokenizer(model_path)
    if path.exists():
        with np.load(path) as stored:
            vectors = stored["vectors"].astype(np.float32)
            head = RelevanceHead.from_arrays(stored)
    else:
        from llmwatch import relevance
        from llmwatch.simulate import chitchat_pairs

        from .embedding import load_model

        model = load_model(str(model_path))
        log.info("building the static embedding from %s once (about 5 minutes on 2 cores); "
                 "cached at %s", model_path.name, path)
        vectors = build_static(model, fit_texts=fit_corpus()).astype(np.float32)
        encoder = StaticEncoder(vectors, tokenize, max_tokens)
        validation = random.Random(0).sample(relevance.judged(chitchat_pairs("validation")),
                                             relevance.VALIDATION_PAIRS)
        log.info("3/3 training the relevance head (to flag %.1f %% of real replies)",
                 100 * relevance.FALSE_ALARMS)
        head = relevance.train(encoder.encode, chitchat_pairs("train"), validation,
                               relevance.FALSE_ALARMS)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")  # two first workers race
        np.savez(tmp, vectors=vectors, **head.arrays())
        os.replace(tmp, path)
    return StaticEncoder(vectors, tokenize, max_tokens, head)


def token_pass(model: SentenceTransformer, batch: int = 1024) -> np.ndarray:
    """MiniLM's mean-pooled output for each vocabulary token on its own, (vocab, dim)."""
    import torch

    tokenizer = model.tokenizer
    bert = model[0].auto_model
    size = len(tokenizer)
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    out = np.zeros((size, bert.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, size, batch):
            ids = torch.arange(start, min(start + batch, size))
            inputs = torch.stack([torch.full_like(ids, cls), ids, torch.full_like(ids, sep)], 1)
            hidden = bert(input_ids=inputs, attention_mask=torch.ones_like(inputs))[0]
            out[start:start + len(ids)] = hidden.mean(1).numpy()
    return out


def sif_weights(size: int) -> np.ndarray:
    """Rarity weights from Zipf ranks (wordpiece vocabularies are roughly frequency-ordered)."""
    inverse_rank = 1.0 / np.arange(2, size + 2)
    p = inverse_rank / inverse_rank.sum()
    return (SIF / (SIF + p)).astype(np.float32)


def build_static(model: SentenceTransformer, fit_texts: Sequence[str] = ()) -> np.ndarray:
    log.info("1/3 every vocabulary token through MiniLM alone")
    raw = token_pass(model)
    raw -= raw.mean(0)
    vectors = raw * sif_weights(len(raw))[:, None]
    if fit_texts:
        log.info("2/3 fitting token vectors to MiniLM's sentence vectors (%d sentences)",
                 len(fit_texts))
        vectors = fit(vectors, model, fit_texts)
    return vectors.astype(np.float32)


def fit(vectors: np.ndarray, model: SentenceTransformer, texts: Sequence[str]) -> np.ndarray:
    """Ridge: move token vectors so their mean matches MiniLM's sentence vector (scaled)."""
    from scipy import sparse

    targets = np.asarray(model.encode(list(texts), batch_size=32, normalize_embeddings=True,
                                      show_progress_bar=False), dtype=np.float32)
    ids = [model.tokenizer(t, add_special_tokens=False, truncation=True,
                           max_length=256)["input_ids"] for t in texts]
    rows = np.repeat(np.arange(len(ids)), [len(r) for r in ids])
    cols = np.fromiter((t for r in ids for t in r), dtype=np.int64)
    counts = np.maximum(np.bincount(rows, minlength=len(ids)), 1)
    bag = sparse.csr_matrix((1.0 / counts[rows], (rows, cols)),
                            shape=(len(ids), vectors.shape[0]), dtype=np.float64)
    # The start's scale: the norm of pooled token vectors, so that targets are comparable.
    start = vectors.astype(np.float64)
    scale = float(np.median(np.linalg.norm(bag @ start, axis=1)))
    y = targets.astype(np.float64) * scale
    seen = np.asarray(bag.sum(0)).ravel() > 0
    # (BᵀB + λI) E = BᵀY + λE₀ for the tokens seen (the others keep their start)
    b = bag[:, seen]
    gram = (b.T @ b).tocsr()
    lam = RIDGE * float(gram.diagonal().mean())
    system = (gram + lam * sparse.identity(gram.shape[0], format="csr")).tocsr()
    solved = _block_cg(system, b.T @ y + lam * start[seen], start[seen])
    out = start.copy()
    out[seen] = solved
    return out.astype(np.float32)


def _block_cg(a: object, rhs: np.ndarray, x0: np.ndarray, iterations: int = 300,
              tol: float = 1e-6) -> np.ndarray:
    """Conjugate gradients on every column of `rhs` at once (a symmetric positive `a`)."""
    x = x0.copy()
    r = rhs - a @ x  # type: ignore[operator]
    p = r.copy()
    rs = (r * r).sum(0)
    limit = (tol * np.linalg.norm(rhs, axis=0)) ** 2
    for _ in range(iterations):
        ap = a @ p  # type: ignore[operator]
        alpha = rs / np.maximum((p * ap).sum(0), 1e-300)
        x += p * alpha
        r -= ap * alpha
        new = (r * r).sum(0)
        if (new <= limit).all():
            break
        p = r + p * (new / np.maximum(rs, 1e-300))
        rs = new
    return x


def fit_corpus(n: int = FIT_TEXTS, seed: int = 0) -> list[str]:
    """Sentences from installed packages: Python's docstrings and chit-chat replies (of the
    training conversations)."""
    rng = random.Random(seed)
    texts: list[str] = []
    for name in sorted(sys.stdlib_module_names):
        if name.startswith("_") or name in {"antigravity", "this", "idlelib", "tkinter",
                                             "turtle", "turtledemo"}:
            continue
        try:
            module = __import__(name)
        except Exception:  # noqa: BLE001 - platform modules that do not import here
            continue
        doc = pydoc.getdoc(module)
        for obj in vars(module).values():
            if callable(obj) and getattr(obj, "__module__", None) == name:
                doc += "\n\n" + pydoc.getdoc(obj)
        texts += [" ".join(p.split()) for p in doc.split("\n\n") if len(p.split()) >= 6]
    from llmwatch.simulate import chitchat_pairs  # a dependency: the corpus is always whole

    texts += [r for _, r in chitchat_pairs("train") if len(r.split()) >= 3]
    texts = sorted(set(texts))
    rng.shuffle(texts)
    return texts[:n]
