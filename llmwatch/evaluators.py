"""Second-opinion evaluators that run on this machine (`detectors/second_opinion.Evaluator`).

- `MiniLMReader` ("reader" tier, shipped, opt-in): all-MiniLM-L6-v2 as int8 ONNX (the drift
  space's model) reads the prompt and every sentence window of every tool message, and an
  injection head trained in that space (`python -m training.injection_head --backend onnx`)
  scores them. It reads each sentence in context of a transformer, where the per-call check
  reads a static space; ~20 ms a call on one core instead of ~1 ms.
- `SequenceClassifier` ("classifier" tier): any local Hugging Face sequence-classification
  directory a team supplies — a prompt-guard or toxicity model they downloaded — run by
  ONNX Runtime when the directory holds `model.onnx` (an Optimum export) and by transformers
  otherwise (PyTorch, the `minilm` extra); its labels are mapped to checks in config.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from llmwatch.detectors import injection_head
from llmwatch.detectors.injection_head import FLAGS_AT, InjectionHead
from llmwatch.detectors.second_opinion import Call, Judgement, Verdict

log = logging.getLogger("llmwatch.review")

# What a classifier reads for each check (the largest score over the texts counts).
READS = {"injection": ("prompt", "documents"), "toxicity": ("prompt", "response"),
         "refusal": ("response",), "harmful_answer": ("response",)}


def _texts(call: Call, parts: Sequence[str]) -> list[str]:
    out: list[str] = []
    for part in parts:
        if part == "prompt" and call.prompt.strip():
            out.append(call.prompt)
        elif part == "response" and call.response and call.response.strip():
            out.append(call.response)
        elif part == "documents":
            out.extend(d for d in call.documents if d.strip())
    return out


class MiniLMReader:
    """The shipped reader: int8 MiniLM and its injection head (see the module's doc)."""

    tier = "reader"
    checks = frozenset({"injection"})

    def __init__(self, encoder: Any, head: InjectionHead) -> None:
        self.encoder, self.head = encoder, head
        self.name = f"reader/{head.embedding}"

    @classmethod
    def load(cls, threads: int = 1) -> MiniLMReader:
        from . import onnx_embedding

        head = injection_head.head_for(onnx_embedding.NAME, onnx_embedding.model_sha256())
        if head is None:
            raise FileNotFoundError(
                f"the reader's head {injection_head.head_file(onnx_embedding.NAME)} is not "
                "shipped in this install; rebuild it with `python -m training.injection_head "
                "--backend onnx --write`, or turn review.reader off")
        return cls(onnx_embedding.OnnxMiniLM.load(threads=threads), head)

    def judge(self, call: Call) -> Judgement:
        texts = _texts(call, ("prompt", "documents"))
        if not texts:
            return Judgement(())
        vectors = self.encoder.encode(texts)
        has_prompt = bool(call.prompt.strip())
        # the prompt's first line is the user's request (read whole); a tool's output is
        # content from its first word (read sentence by sentence)
        scores = (self.head.score_texts(texts[:1], vectors[:1], self.encoder.encode)
                  if has_prompt else [])
        scores += self.head.score_texts(texts[int(has_prompt):], vectors[int(has_prompt):],
                                        self.encoder.encode, content_only=False)
        k = int(np.argmax([s for s, _ in scores]))
        score, at = scores[k]
        where = "the prompt" if k == 0 and has_prompt else "a tool message"
        reason = (f"an instruction aimed at the model in {where}" if score >= FLAGS_AT
                  else "no instruction aimed at the model")
        if at is not None and score >= FLAGS_AT:
            reason += f" (from character {at})"
        return Judgement((Verdict(call.event_id, "injection", self.tier, self.name,
                                  score >= FLAGS_AT, round(float(score), 4), reason),))


class SequenceClassifier:
    """A local Hugging Face sequence-classification model (see the module's doc).

    `labels` maps the model's label names (its `config.json` id2label) to checks: e.g.
    {"INJECTION": "injection", "JAILBREAK": "injection"} for a prompt guard, {"toxic":
    "toxicity"} for a toxicity model. A check's score is the summed probability of its
    labels, over the texts it reads (`READS`), the largest; it flags at `threshold`."""

    tier = "classifier"

    def __init__(self, path: Path, labels: Mapping[str, str], run: Any, id2label: list[str],
                 multi_label: bool, *, threshold: float = 0.5) -> None:
        unknown = sorted(set(labels) - set(id2label))
        if unknown:
            raise ValueError(f"review.classifier_labels names {unknown}, which the model at "
                             f"{path} does not have; its labels are {id2label}")
        unread = sorted(set(labels.values()) - set(READS))
        if unread:
            raise ValueError(f"review.classifier_labels maps to {unread}; a classifier can "
                             f"judge {sorted(READS)}")
        self.path, self.labels, self.run = path, dict(labels), run
        self.id2label, self.multi_label, self.threshold = id2label, multi_label, threshold
        self.checks = frozenset(labels.values())
        self.name = f"classifier/{path.name}"

    @classmethod
    def load(cls, path: Path, labels: Mapping[str, str], *, threshold: float = 0.5,
             max_tokens: int = 512, threads: int = 1) -> SequenceClassifier:
        path = Path(path)
        config_file = path / "config.json"
        if not config_file.is_file():
            raise FileNotFoundError(
                f"{path} is not a Hugging Face model directory (no config.json); give "
                "review.classifier_dir the folder `save_pretrained` or `optimum-cli export "
                "onnx` wrote")
        config = json.loads(config_file.read_text())
        id2label = [str(config.get("id2label", {}).get(str(i), f"LABEL_{i}"))
                    for i in range(len(config.get("id2label", {})) or 2)]
        multi = config.get("problem_type") == "multi_label_classification"
        onnx_file = next((p for p in (path / "model.onnx", path / "onnx" / "model.onnx")
                          if p.is_file()), None)
        run = (_onnx_runner(onnx_file, path, max_tokens, threads) if onnx_file
               else _torch_runner(path, max_tokens))
        return cls(path, labels, run, id2label, multi, threshold=threshold)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        logits = np.asarray(self.run(list(texts)), dtype=np.float64)
        if self.multi_label:
            return 1 / (1 + np.exp(-logits))
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def judge(self, call: Call) -> Judgement:
        out = []
        for check in sorted(self.checks):
            texts = _texts(call, READS[check])
            if not texts:
                continue
            probs = self.probabilities(texts)
            columns = [i for i, name in enumerate(self.id2label)
                       if self.labels.get(name) == check]
            per_text = probs[:, columns].sum(axis=1)
            k = int(np.argmax(per_text))
            score = float(min(1.0, per_text[k]))
            top = self.id2label[int(np.argmax(probs[k]))]
            out.append(Verdict(call.event_id, check, self.tier, self.name,
                               score >= self.threshold, round(score, 4),
                               f"{top} ({score:.2f}) on text {k + 1} of {len(texts)}"))
        return Judgement(tuple(out))


def _onnx_runner(model: Path, folder: Path, max_tokens: int, threads: int) -> Any:
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tokenizer_file = folder / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise FileNotFoundError(f"{folder} has model.onnx but no tokenizer.json (a fast "
                                "tokenizer); save it beside the model")
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.enable_truncation(max_tokens)
    tokenizer.no_padding()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}

    def run(texts: list[str]) -> np.ndarray:
        rows = []
        for enc in tokenizer.encode_batch(texts):  # one at a time: no padding to agree on
            feed = {"input_ids": np.array([enc.ids], dtype=np.int64),
                    "attention_mask": np.array([enc.attention_mask], dtype=np.int64),
                    "token_type_ids": np.array([enc.type_ids], dtype=np.int64)}
            rows.append(session.run(None, {k: v for k, v in feed.items() if k in wanted})[0][0])
        return np.stack(rows)

    return run


def _torch_runner(folder: Path, max_tokens: int) -> Any:
    try:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
    except ImportError:
        raise ModuleNotFoundError(
            f"{folder} has no model.onnx, so it runs through transformers and PyTorch, which "
            "the server install leaves out: `pip install 'llmwatch[server,minilm]'`, or "
            "export it once with `optimum-cli export onnx --model DIR DIR`") from None
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(str(folder),
                                                               local_files_only=True).eval()

    def run(texts: list[str]) -> np.ndarray:
        with torch.inference_mode():
            batch = tokenizer(texts, padding=True, truncation=True, max_length=max_tokens,
                              return_tensors="pt")
            return model(**batch).logits.float().numpy()

    return run
