"""The static embedding: a vector per token of MiniLM's vocabulary, no network, no PyTorch.

MiniLM reads every text through six transformer layers (~10–40 ms a text on a CPU core). A
static embedding looks each token's vector up and averages them (~0.1 ms a text): 50–100×
faster, at some loss of agreement with MiniLM. The vectors are distilled from MiniLM once, by
`python -m training.static_space` (`make train`), and ship in `detectors/data/static-v5.npz`
with their relevance head and a provenance file (sources, versions, digest, agreement with
MiniLM). Loading checks the file's digest against its provenance; the heads trained in this
space (`detectors/data/*_static-v5.npz`) check the same digest.

`StaticEncoder.encode` is pure numpy over the tokenizer's ids.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from .relevance import RelevanceHead

RECIPE = "static-v5"  # bump when the build changes: the file and the space carry it
SPACE_FILE = f"{RECIPE}.npz"
TOKENIZER_FILE = "minilm-l6-v2.tokenizer.json"


@dataclass(frozen=True)
class StaticEncoder:
    """Texts → L2-normalised mean of weighted token vectors, float32."""

    vectors: np.ndarray  # (vocab, dim) float32, weights already applied
    tokenize: Callable[[Sequence[str]], list[list[int]]]
    max_tokens: int = 512
    relevance: RelevanceHead | None = None  # the quality check's head for this space
    sha256: str | None = None  # the shipped file's digest: heads trained here record it

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


def shipped_tokenizer() -> Callable[[Sequence[str]], list[list[int]]]:
    """MiniLM's WordPiece tokenizer (shipped beside the ONNX model), without special tokens,
    padding or truncation."""
    from tokenizers import Tokenizer

    from .detectors.artifacts import data_file

    tokenizer = Tokenizer.from_str(data_file(TOKENIZER_FILE).read_text("utf-8"))
    tokenizer.no_padding()
    tokenizer.no_truncation()

    def tokenize(texts: Sequence[str]) -> list[list[int]]:
        encodings = tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [e.ids for e in encodings]

    return tokenize


@cache
def load_static(max_tokens: int = 512) -> StaticEncoder:
    """The shipped static embedding, its digest checked (one copy per process)."""
    import io

    from .detectors.artifacts import provenance, verified_bytes

    data = verified_bytes(SPACE_FILE)
    with np.load(io.BytesIO(data)) as stored:
        vectors = stored["vectors"].astype(np.float32)
        head = RelevanceHead.from_arrays(stored)
    return StaticEncoder(vectors, shipped_tokenizer(), max_tokens, head,
                         str(provenance(SPACE_FILE)["sha256"]))
