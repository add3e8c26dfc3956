"""all-MiniLM-L6-v2 run by onnxruntime: the transformer without PyTorch.

The model file ships in `detectors/data/` (built once by `python -m training.minilm_onnx`
from the pinned weights, int8, mean pooling and normalisation inside the graph) with its
tokenizer and a provenance file; both digests are checked when it loads. It reads up to
`max_tokens` word pieces a text (MiniLM was trained on 256 and its cost grows with them)
and runs on `threads` cores (one by default: the worker's other stages keep theirs).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

import llmwatch.detectors

DATA = Path(llmwatch.detectors.__file__).resolve().parent / "data"
MODEL = DATA / "minilm-l6-v2.int8.onnx"
TOKENIZER = DATA / "minilm-l6-v2.tokenizer.json"
PROVENANCE = DATA / "minilm-l6-v2.provenance.json"
NAME = "all-MiniLM-L6-v2/onnx-int8"
DIM = 384


class ModelMismatch(RuntimeError):
    pass


@cache
def _verified(model: Path, tokenizer: Path, provenance: Path) -> None:
    if not provenance.exists():
        return  # a model given by path, outside the shipped set: the user vouches for it
    expected = json.loads(provenance.read_text())
    for path, key in ((model, "sha256"), (tokenizer, "tokenizer_sha256")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != expected[key]:
            raise ModelMismatch(
                f"{path.name} has sha256 {digest[:12]}…, its provenance says "
                f"{expected[key][:12]}…: the file was changed or cut short; reinstall, or "
                "rebuild it with `make train`.")


class OnnxMiniLM:
    """Texts → L2-normalised float32 vectors (n, 384), in batches of similar length."""

    dim = DIM

    def __init__(self, session: object, tokenizer: object, *, batch_size: int = 32,
                 max_tokens: int = 256) -> None:
        self.session = session
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_tokens = max_tokens

    @classmethod
    def load(cls, model: Path = MODEL, tokenizer: Path = TOKENIZER, *, threads: int = 1,
             batch_size: int = 32, max_tokens: int = 256) -> OnnxMiniLM:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        for path in (model, tokenizer):
            if not path.exists():
                raise FileNotFoundError(
                    f"{path} is missing: reinstall llmwatch[server], or run `make train` in a "
                    "checkout to export the model again.")
        _verified(model, tokenizer, PROVENANCE if model == MODEL else model.with_suffix(".json"))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        tok = Tokenizer.from_file(str(tokenizer))
        tok.no_padding()
        tok.enable_truncation(max_tokens)
        return cls(session, tok, batch_size=batch_size, max_tokens=max_tokens)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts))  # type: ignore[attr-defined]
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            width = max(len(encodings[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for row, i in enumerate(chunk):
                piece = encodings[i].ids
                ids[row, :len(piece)] = piece
                mask[row, :len(piece)] = 1
            (vectors,) = self.session.run(  # type: ignore[attr-defined]
                ["sentence_embedding"], {"input_ids": ids, "attention_mask": mask})
            out[chunk] = vectors
        return out


@cache
def model_sha256(model: Path = MODEL) -> str:
    """The shipped model file's digest: the space's, recorded by heads trained in it."""
    return hashlib.sha256(model.read_bytes()).hexdigest()
