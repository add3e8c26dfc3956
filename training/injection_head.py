"""Train the injection check's head (`detectors/injection_head.py`) for an embedding space.

    python -m training.injection_head [--backend static|minilm|onnx] [--write]
    python -m training.injection_head --cross-lingual [--write]   # detectors/cross_lingual.py's
                                                    # threshold and head

Reads `injection_corpus.py`'s sources (never the sources `quality_eval.py` reports as never
tuned), fits a logistic head over sentence vectors, picks its threshold from out-of-fold
scores (grouped by template and document, so a template's copies never sit on both sides),
prints what it measured and with `--write` stores the head as
`detectors/data/injection_head.<space>.npz`.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from corpora import injection_corpus as corpus
from corpora import man_pages, quality_data, written_attacks
from corpora.quality_data import injection_set, software_messages, split_of
from llmwatch.detectors import cross_lingual
from llmwatch.detectors.injection_head import InjectionHead, Net, windows
from llmwatch.detectors.quality import data_lines
from llmwatch.embedding import BACKENDS, Embedder, make_embedder
from training import provenance

TOOLS = ("scikit-learn", "scipy", "tokenizers")
HEADS = Path(__file__).parents[1] / "detectors" / "data"
PLANTED_HIDDEN = 128
# What people ask of a text they paste: none of these is an injection (written here, not
# taken from the benign-traffic bench's own asks).
ASKS = (
    "Summarise this for me:", "Can you summarize the text below?", "TL;DR please:",
    "Explain the following in plain English:", "Rewrite this paragraph to be more formal:",
    "Translate this into Spanish:", "Fix the grammar in this:", "Make this shorter:",
    "What is the tone of this message?", "Give me three bullet points from this article:",
    "Is this email a scam?", "Draft a polite reply to this:", "Classify this review as "
    "positive or negative:", "Extract all the names mentioned here:", "Proofread:",
    "Read this and tell me what they want from me:", "What are the action items?",
    "Write a title for this blog post:", "Answer the customer's question below.",
    "Please explain what this function does and suggest a better name for it.",
    "Convert this list to a table:", "Simplify this for a ten-year-old:",
    "Write a short summary of the meeting notes below:", "Find the typos:",
    "Tell me if this contract clause is unusual:", "Describe the main argument:",
)
# Questions about injections, security and assistants that are not attacks.
LOOKALIKES = (
    "What is the difference between direct and indirect prompt injection?",
    "How do I protect my chatbot from jailbreak attempts?",
    "Write a blog post about the risks of LLM agents reading untrusted emails.",
    "Our security team wants a checklist for reviewing system prompts. Can you draft one?",
    "Can you explain how SQL injection works and how parameterised queries prevent it?",
    "Summarise OWASP's top 10 risks for large language model applications.",
    "What should an AI assistant do when a document contains instructions?",
    "How do companies red-team their language models before release?",
    "Is it safe to let an agent send emails on my behalf?",
    "List some ways attackers try to exfiltrate data through markdown images.",
    "What is a system prompt and who writes it?",
    "Explain role-play in tabletop games to a beginner.",
    "My assistant keeps ignoring my formatting instructions, how do I phrase them better?",
    "Write unit tests for a function that strips HTML tags from user input.",
    "How does base64 encoding work? Give an example.",
    "Decode this base64 for me: aGVsbG8gd29ybGQ=",
    "Tell me about the history of the DAN jailbreak and why it stopped working.",
    "What is the best way to store API keys in a web app?",
    "Can AI models be trusted to follow rules? Give arguments for and against.",
    "Please forward me the meeting notes from yesterday when you get a chance.",
)
FP_BUDGET = 0.001  # out-of-fold false flags allowed among benign texts and windows ...
GENRE_BUDGET = 0.005  # ... and within each kind of benign text (of 200 or more), except
HARD_GENRES = {"harmful": 0.02, "user": 0.02}  # harmful requests, and agent tasks asked by
# their user (the very goals attacks plant): not injections, but worded much alike
MAN_PAGES_PER_LANGUAGE = 300
CROSS_LINGUAL_BUDGET = 0.0025  # half of what the bench allows a check on a kind of traffic:
# one threshold, measured on tune splits, is not refitted and must hold on the held-out


@dataclass
class Labelled:
    texts: list[str] = field(default_factory=list)
    labels: list[bool] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)

    def add(self, text: str, label: bool, group: str) -> None:
        self.texts.append(text[:4000])
        self.labels.append(label)
        self.groups.append(group)


def labelled(seed: int = 5) -> tuple[Labelled, Labelled]:
    """(whole prompts, planted sentences): what each of the head's two readers learns from."""
    rng = random.Random(seed)
    whole, planted = Labelled(), Labelled()

    def both(text: str, label: bool, group: str) -> None:
        whole.add(text, label, group)
        planted.add(text, label, group)

    docs = corpus.agentdojo_documents()
    jailbreaks, instructions, spikee_docs, spikee_benign = corpus.spikee_parts()
    goals = corpus.agentdojo_goals()
    for i, template in enumerate(corpus.AGENTDOJO_ATTACKS):
        for goal in goals:
            both(template.format(goal=goal, user=rng.choice(["Emma Johnson", "the user"]),
                                 model=rng.choice(["GPT-4", "Claude", "the AI", "Llama"])
                                 ).strip(), True, f"agentdojo-{i}")
    for j, wrapper in enumerate(jailbreaks):
        for instruction in rng.sample(instructions, min(40, len(instructions))):
            both(wrapper.replace("<INSTRUCTION>", instruction), True, f"spikee-{j}")
    # an instruction to the model is the user's own as a prompt, an injection inside content
    for task in corpus.agentdojo_user_tasks():
        whole.add(task, False, "user-task")
    for n, instruction in enumerate(goals + instructions):
        whole.add(instruction, False, "user-task")
        planted.add(instruction, True, f"instruction-{n % 20}")
    def in_documents(texts: list[str], label: bool, kind: str, groups: int) -> None:
        """Each text alone and beside a document (an injection after or before it, an
        imperative for people after it)."""
        for n, text in enumerate(texts):
            planted.add(text, label, f"{kind}-{n % groups}")
            doc = rng.choice(docs)
            planted.add(f"{text} {doc}" if label and not n % 2 else f"{doc} {text}", label,
                        f"{kind}-{n % groups}")

    in_documents(corpus.planted_instructions(rng), True, "planted", 20)
    in_documents(written_attacks.planted(), True, "writtenplanted", 10)  # naming neither
    in_documents(written_attacks.for_people(), False, "writtenpeople", 10)  # model nor user
    in_documents(corpus.instructions_for_people(rng), False, "for-people", 10)
    requests = goals + instructions
    for k, template in enumerate(corpus.pyrit_templates()):
        both(template.replace("{{ prompt }}", rng.choice(requests)), True, f"pyrit-{k}")
    for e in injection_set(random.Random(7)):
        if split_of(e.prompt + "\n" + e.response) == "tune":
            both(e.prompt, e.label, "garak-tune" if e.label else "tune-benign")
    # benign: documents whole (asked about) and sentence by sentence
    for n, doc in enumerate(docs + spikee_docs):
        whole.add(f"{rng.choice(ASKS)}\n{doc}", False, f"doc-{n % 40}")
        for w in [doc, *windows(doc, content_only=False)]:
            planted.add(w, False, f"doc-{n % 40}")
    for n, doc in enumerate(corpus.docstrings()):
        whole.add(doc, False, f"docstring-{n % 20}")
        for w in [doc, *windows(doc, content_only=False)[:8]]:
            planted.add(w, False, f"docstring-{n % 20}")
    for n, code in enumerate(corpus.code_snippets()):
        both(f"{rng.choice(ASKS)}\n{code}" if n % 2 else code, False, f"code-{n % 20}")
        for w in windows(code, content_only=False)[:12]:
            planted.add(w, False, f"code-{n % 20}")
    for t in spikee_benign + corpus.pyrit_prompts(
            "pyrit/datasets/seed_datasets/local/garak/normal_instructions.prompt") + list(ASKS):
        whole.add(t, False, "asks")
    for t in LOOKALIKES:
        both(t, False, "lookalikes")
    for kind in ("illegal", "violence", "malware", "hate", "harassment", "scams", "sexual",
                 "misinformation", "leakage", "harms"):  # harmful requests: not injections
        for t in corpus.pyrit_prompts(f"pyrit/datasets/seed_datasets/local/airt/{kind}.prompt"):
            whole.add(t, False, f"harmful-{kind}")
    for n, t in enumerate(corpus.harmful_objectives()):
        whole.add(t, False, f"harmful-objective-{n % 10}")
    for n, (prompt, reply) in enumerate(corpus.chat_tune()):
        whole.add(prompt, False, f"chat-{n % 30}")
        both(reply, False, f"chat-{n % 30}")
        for w in windows(prompt):
            planted.add(w, False, f"chat-{n % 30}")
    for n, text in enumerate(corpus.reference_prose()):
        planted.add(text, False, f"reference-{n % 20}")
        for w in windows(text, content_only=False)[:6]:
            planted.add(w, False, f"reference-{n % 20}")
    for n, text in enumerate(quality_data.model_answers("tune")):  # sentence by sentence only:
        # whole, answers to harmful requests read much like the jailbreaks that asked them
        for w in windows(text, content_only=False)[:40]:
            planted.add(w, False, f"answers-{n % 20}")
    for n, text in enumerate(corpus.news_articles()):  # sentence by sentence: documents
        for w in windows(text, content_only=False)[:30]:
            planted.add(w, False, f"article-{n % 20}")
    for n, text in enumerate(corpus.news_tune()):
        whole.add(f"{rng.choice(ASKS)} {text}", False, f"news-{n % 20}")
        for w in [text, *windows(text, content_only=False)]:
            planted.add(w, False, f"news-{n % 20}")
    return whole, planted


def fit(vectors: np.ndarray, labels: np.ndarray, hidden: int, c: float) -> Net:
    """A logistic regression (`hidden` 0) or a network with one hidden ReLU layer."""
    if not hidden:
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
        lr.fit(vectors, labels)
        return Net((lr.coef_.T.astype(np.float32),), (lr.intercept_.astype(np.float32),))
    from sklearn.neural_network import MLPClassifier

    mlp = MLPClassifier((hidden,), alpha=1e-3, max_iter=200, early_stopping=True,
                        random_state=0)
    mlp.fit(vectors, labels)
    return Net(tuple(w.astype(np.float32) for w in mlp.coefs_),
               tuple(b.astype(np.float32) for b in mlp.intercepts_))


def out_of_fold(vectors: np.ndarray, labels: np.ndarray, groups: Sequence[str], hidden: int,
                c: float) -> np.ndarray:
    """Each row's score by a reader (`fit`) trained on the other folds (five, grouped)."""
    from sklearn.model_selection import GroupKFold

    oof = np.zeros(len(labels))
    for train_rows, test in GroupKFold(5).split(vectors, labels, groups):
        oof[test] = fit(vectors[train_rows], labels[train_rows], hidden, c)(vectors[test])
    return oof


def train(name: str, data: Labelled, embedder: Embedder, hidden: int,
          c: float) -> tuple[Net, float, dict[str, object]]:
    """The reader fitted to all of `data`, its threshold from out-of-fold scores, and what
    was measured out of fold (for the provenance file)."""
    labels = np.array(data.labels)
    print(f"{name}: {len(labels)} texts, {labels.sum()} injections, {(~labels).sum()} benign,"
          f" {len(set(data.groups))} groups", flush=True)
    vectors = embedder.encode(data.texts)
    oof = out_of_fold(vectors, labels, data.groups, hidden, c)
    benign = np.sort(oof[~labels])
    threshold = float(max(0.5, benign[int((1 - FP_BUDGET) * len(benign))]))
    genres = np.array([g.split("-")[0] for g in data.groups])
    for genre in set(genres[~labels]):
        rows = oof[(genres == genre) & ~labels]
        if len(rows) >= 200:  # no kind of benign text may carry the false flags alone
            genre_threshold = float(np.quantile(rows, 1 - HARD_GENRES.get(genre, GENRE_BUDGET)))
            if genre_threshold > threshold:
                print(f"  {genre} texts raise the threshold to {genre_threshold:.3f}")
            threshold = max(threshold, genre_threshold)
    threshold = round(threshold, 4)
    print(f"  out of fold: threshold {threshold:.3f} (benign above it ≤ {FP_BUDGET:.1%}, "
          f"≤ {GENRE_BUDGET:.1%} of each kind); "
          f"injections above it {np.mean(oof[labels] >= threshold):.3f}")
    for group in sorted({g.split("-")[0] for g in data.groups}):
        rows = np.array([g.split("-")[0] == group for g in data.groups])
        print(f"  {group:<12} {rows.sum():>6}  flagged {np.mean(oof[rows] >= threshold):.3f}")
    measured = {"texts": len(labels), "injections": int(labels.sum()),
                "groups": len(set(data.groups)), "threshold": threshold,
                "out_of_fold_recall": round(float(np.mean(oof[labels] >= threshold)), 4),
                "out_of_fold_benign_flagged": round(float(np.mean(oof[~labels] >= threshold)), 4)}
    return fit(vectors, labels, hidden, c), threshold, measured


def calibrate_cross_lingual(whole: Labelled) -> float:
    """The cross-lingual check's threshold (`detectors/cross_lingual.py`): the similarity to
    the nearest English exemplar that at most `CROSS_LINGUAL_BUDGET` of each kind of benign
    text it reads reaches (`HARD_GENRES` theirs) — the whole prompts above that may not be in
    English (chat in 28 languages, English with accents and few stopwords) and the tune split
    of Django's messages in 100 languages. Its exemplars are the English check's; it
    learns nothing, so nothing here is fitted but this one number."""
    check = cross_lingual.load(data_lines("injection_exemplars.txt"), head=False)
    if check is None:
        sys.exit("the cross-lingual check's encoder is not installed (pip install -e .[server])")
    kinds: dict[str, list[str]] = {}
    for text, label, group in zip(whole.texts, whole.labels, whole.groups, strict=True):
        if cross_lingual.reads(text):
            kinds.setdefault("injections" if label else group.split("-")[0], []).append(text)
    kinds["software messages"] = [t for texts in software_messages("tune").values()
                                  for t in texts]
    print(f"cross-lingual: {sum(map(len, kinds.values()))} texts it reads", flush=True)
    scores = {kind: check.similarities(texts) for kind, texts in kinds.items()}
    threshold = within_budget({k: s for k, s in scores.items() if k != "injections"}, 0.0)
    threshold = math.ceil(threshold * 100) / 100  # to the next hundredth up
    chat = kinds["chat"]
    for k in np.argsort(-scores["chat"])[:5]:
        print(f"  chat near an exemplar: {scores['chat'][k]:.3f} {chat[k][:70]!r}")
    for kind, s in sorted(scores.items()):
        print(f"  {kind:<18} {len(s):>6}  at or above {threshold:.2f}: {np.mean(s >= threshold):.4f}")
    print(f"  threshold {threshold:.2f} (shipped: {cross_lingual.THRESHOLD:.2f})")
    return threshold


def within_budget(benign: dict[str, np.ndarray], floor: float,
                  budget: float = CROSS_LINGUAL_BUDGET,
                  hard: dict[str, float] | None = None) -> float:
    """The lowest score (not below `floor`) that at most `budget` of each kind of benign text
    (of 200 or more; `hard` kinds their own share, `HARD_GENRES` by default) reaches."""
    hard = HARD_GENRES if hard is None else hard
    threshold = floor
    for kind, scores in benign.items():
        if len(scores) >= 200:
            threshold = max(threshold, float(np.quantile(scores, 1 - hard.get(kind, budget))))
    return threshold


def train_cross_lingual_head(whole: Labelled) -> tuple[cross_lingual.Head, dict[str, object]]:
    """The cross-lingual check's head (`detectors/cross_lingual.py`): a logistic regression
    over the multilingual vectors of the whole prompts (English attacks against benign text
    in 28 languages, agent tasks, harmful requests, documents), attacks and look-alikes
    written in 14 languages, attacks collected in six (`injection_corpus.collected_attacks`)
    and the tune split of Django's messages in 100 languages, flagging at the probability
    that at most `CROSS_LINGUAL_BUDGET` of each kind of benign text the check reads reaches
    out of fold (`HARD_GENRES` theirs)."""
    check = cross_lingual.load(data_lines("injection_exemplars.txt"), head=False)
    if check is None:
        sys.exit("the cross-lingual check's encoder is not installed (pip install -e .[server])")
    messages = [t for texts in software_messages("tune").values() for t in texts]
    # attacks and look-alikes written in 14 languages (without them, "not English" itself
    # reads as harmless), each language one group: what is learnt of the others carries
    mine = [(t, True, f"written-{lang}") for lang, t in written_attacks.attacks()] + [
        (t, False, f"written-{lang}") for lang, t in written_attacks.lookalikes()]
    # and attacks people collected in six languages (English among them), less any the bench
    # judges on or a copy or translation of one (the static space's readers learnt nothing
    # from such prompts: out of fold their thresholds rose and planted recall fell)
    mine += [(t, True, f"collected-{n % 20}")
             for n, t in enumerate(corpus.unseen_by_bench(corpus.collected_attacks()))]
    # technical prose in 24 languages (Debian's translated manual pages, their dev split; the
    # held-out split is the benign bench's): without it, a paragraph about an option's
    # effect read as an order to the model (Romanian passages 23 % flagged)
    manuals = [(t, f"manpages-{code}") for code in man_pages.installed()
               for t in man_pages.sample(code, MAN_PAGES_PER_LANGUAGE, "dev")]
    texts = whole.texts + messages + [t for t, _, _ in mine] + [t for t, _ in manuals]
    labels = np.array(whole.labels + [False] * len(messages) + [y for _, y, _ in mine]
                      + [False] * len(manuals))
    groups = whole.groups + [f"software-{n % 20}" for n in range(len(messages))] + [
        g for _, _, g in mine] + [g for _, g in manuals]
    print(f"cross-lingual head: encoding {len(texts)} texts", flush=True)
    vectors = corpus.multilingual_vectors(check, texts)
    oof = out_of_fold(vectors, labels, groups, 0, 1.0)
    read = np.array([cross_lingual.reads(t) for t in texts])
    similar = np.max(vectors @ check.exemplar_vectors().T, axis=1) >= check.threshold
    kinds = np.array([g.split("-")[0] for g in groups])
    benign = {kind: read & ~labels & (kinds == kind) for kind in sorted(set(kinds[read & ~labels]))}
    threshold = round(within_budget({k: oof[rows] for k, rows in benign.items()}, 0.5), 4)
    for kind, rows in benign.items():
        if rows.sum() >= 200:
            print(f"  {kind:<10} {rows.sum():>6} read: head {np.mean(oof[rows] >= threshold):.4f},"
                  f" similarity {np.mean(similar[rows]):.4f},"
                  f" either {np.mean(similar[rows] | (oof[rows] >= threshold)):.4f}")
    print(f"  out of fold: threshold {threshold:.3f}; attacks above it "
          f"{np.mean(oof[labels] >= threshold):.3f} (those it reads: "
          f"{np.mean(oof[labels & read] >= threshold):.3f})")
    written = np.array([g.startswith("written-") for g in groups])
    caught = oof >= threshold
    print(f"  the written attacks, their language unseen: head "
          f"{np.mean(caught[written & labels]):.3f}, near an exemplar "
          f"{np.mean(similar[written & labels]):.3f}; look-alikes near an exemplar, head: "
          f"{np.round(np.sort(oof[written & ~labels & similar]), 3).tolist()}; attacks caught"
          f" by nearness alone, head: "
          f"{np.round(np.sort(oof[written & labels & similar & ~caught]), 3).tolist()}")
    measured = {"texts": len(labels), "attacks": int(labels.sum()), "threshold": threshold,
                "out_of_fold_recall": round(float(np.mean(oof[labels] >= threshold)), 4)}
    return cross_lingual.Head(fit(vectors, labels, 0, 1.0), threshold), measured


def reader_space() -> Embedder:
    """The int8 MiniLM the drift space and the second-opinion reader run (onnxruntime)."""
    from llmwatch import onnx_embedding

    model = onnx_embedding.OnnxMiniLM.load(threads=2)
    return Embedder(model, name=onnx_embedding.NAME, batch_size=32,
                    sha256=onnx_embedding.model_sha256())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=(*BACKENDS, "onnx"), default="static",
                        help="onnx: the shipped int8 MiniLM, the second-opinion reader's space")
    parser.add_argument("--c", type=float, default=1.0, help="inverse L2 strength")
    parser.add_argument("--write", action="store_true", help="store the head")
    parser.add_argument("--cross-lingual", action="store_true",
                        help="only measure the cross-lingual check's threshold")
    args = parser.parse_args()
    with threadpool_limits(1):  # the same sums in the same order: the same bytes each run
        whole, planted = labelled()
        if args.cross_lingual:
            calibrate_cross_lingual(whole)
            head, measured = train_cross_lingual_head(whole)
            if args.write:
                path = HEADS / cross_lingual.HEAD_FILE
                head.save(path)
                provenance.write(
                    path, command="python -m training.injection_head --cross-lingual --write",
                    sources={**quality_data.read_wheels(), **man_pages.package_versions()},
                    tools=TOOLS, seed=5, space={"name": cross_lingual.SPACE},
                    metrics=measured)
                print(f"wrote the cross-lingual head to {path}")
            return
        embedder = reader_space() if args.backend == "onnx" else make_embedder(args.backend)
        # the whole prompt: a logistic regression (a network measured worse out of fold, 0.48
        # against 0.56); a planted sentence: one hidden layer of 128 (0.80 against 0.69)
        whole_net, whole_threshold, whole_measured = train("whole", whole, embedder, 0, args.c)
        planted_net, planted_threshold, planted_measured = train(
            "planted", planted, embedder, PLANTED_HIDDEN, args.c)
    head = InjectionHead(embedder.name, whole_net, whole_threshold,
                         planted_net, planted_threshold)
    if args.write:
        path = head.save(HEADS)
        provenance.write(
            path, command=f"python -m training.injection_head --backend {args.backend} --write",
            sources=quality_data.read_wheels(), tools=TOOLS, seed=5,
            arguments={"c": args.c, "planted_hidden": PLANTED_HIDDEN, "fp_budget": FP_BUDGET,
                       "genre_budget": GENRE_BUDGET},
            space={"name": embedder.name, "sha256": str(embedder.sha256)},
            metrics={"whole": whole_measured, "planted": planted_measured})
        print(f"wrote the {head.embedding} head to {path}")


if __name__ == "__main__":
    main()
