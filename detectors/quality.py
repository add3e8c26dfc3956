"""Per-event quality checks, cheap enough for 100 % of traffic.

Each check is a pure function of the event and the embeddings the spine already computed;
the only model cost is embedding the exemplar lists once (`ExemplarIndex.build`). Exemplars,
markers and the toxicity lexicon are data files in `detectors/data/`; thresholds are
configuration (`QualityConfig`). Every check returns a `QualityScore` (score in 0..1, a flag,
and for PII the spans), stored per event and rolled up into windowed rates.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np

from llmwatch.relevance import judgeable
from llmwatch.schemas import LLMEvent

if TYPE_CHECKING:
    from llmwatch.embedding import Embedder
    from llmwatch.relevance import RelevanceHead

from .cross_lingual import CrossLingual, Reading
from .cross_lingual import load as load_cross_lingual
from .gates import FirstMatch
from .harm import HarmHead, harmful_answer
from .harm import head_for as harm_head_for
from .injection import signals as _injection_signals
from .injection import unquoted
from .injection_head import FLAGS_AT, InjectionHead, head_for, scaled
from .language import guess_language, maybe_foreign, reads_as_other_than_english
from .pii import PiiSpan, find_pii
from .redact import redact
from .toxicity import Lexicon, ProfanityModel, degrading_generalisation, masked
from .toxicity import load as load_toxicity_model
from .toxicity import peaks as toxicity_peaks

CHECKS = ("refusal", "injection", "pii_prompt", "pii_response", "toxicity", "harmful_answer",
           "relevance",
          "empty", "truncated", "repetition", "invalid_json", "language_mismatch",
          "error", "latency_slo", "cost_budget")


@dataclass(frozen=True)
class QualityScore:
    name: str
    score: float  # 0 = fine, 1 = certainly a problem
    flagged: bool
    spans: tuple[PiiSpan, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QualityConfig:
    refusal_threshold: float = 0.5
    # cosine similarity to an exemplar that scores 0.5; chosen on quality_eval's tune split
    # (0.62/0.50 flagged 0.5 %/0.9 % of chit-chat; 0.70/0.53: 0.0 %/0.2 %, recall −0.00/−0.02)
    refusal_similarity: float = 0.70
    injection_threshold: float = 0.5
    injection_similarity: float = 0.53
    toxicity_threshold: float = 0.5
    toxicity_severity: int = 2  # lexicon severity that flags on its own
    # the learned classifier's probability that flags; 0.95 keeps the tune split's recall (0.148)
    # with more margin from everyday hyperbole ("crazy windy, insane" scored 0.91)
    toxicity_model_threshold: float = 0.95
    # prompt–response cosine below this: off-topic (minilm). -0.06 flags 0.3 % of real
    # chit-chat replies of five words or more (4,000 of the validation conversations), as the
    # static backend's head does; -0.04 flagged 0.7 % there and on the held-out bench (it
    # was set before replies under five words went unjudged); 0.05 flagged 6–8 %
    relevance_min_similarity: float = -0.06
    repetition_threshold: float = 0.5  # share of repeated 4-grams that is a loop
    latency_slo_ms: float = 10_000
    cost_budget_usd: float = 0.05

    def __post_init__(self) -> None:
        for name in ("refusal_threshold", "injection_threshold", "toxicity_threshold",
                     "repetition_threshold"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1]")
        if self.latency_slo_ms <= 0 or self.cost_budget_usd <= 0:
            raise ValueError("latency_slo_ms and cost_budget_usd must be positive")


def data_lines(name: str) -> list[str]:
    text = resources.files("llmwatch.detectors").joinpath("data", name).read_text("utf-8")
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


@dataclass(frozen=True)
class ExemplarIndex:
    """The exemplar lists, embedded: (k, d) unit vectors each."""

    refusal: np.ndarray
    injection: np.ndarray
    refusal_patterns: tuple[re.Pattern[str], ...]
    injection_patterns: tuple[re.Pattern[str], ...]
    toxicity_lexicon: Lexicon
    relevance: RelevanceHead | None = None  # the embedding's learned relevance head, if any
    toxicity_model: ProfanityModel | None = None  # the learned classifier (toxicity.load)
    injection_head: InjectionHead | None = None  # the learned injection head of this space
    harm_head: HarmHead | None = None  # the harmful-request head of this space (`harm`)
    # encodes a prompt's sentences for the head: only where that is cheap (the static
    # backend: a sparse product); elsewhere the head reads the whole prompt's vector alone
    encode_windows: Callable[[Sequence[str]], np.ndarray] | None = field(
        default=None, compare=False)
    # encodes whole prompts for the head when it is of another space than the events'
    # vectors (MiniLM's events read by the static space's head); None: it reads those vectors
    encode_for_head: Callable[[Sequence[str]], np.ndarray] | None = field(
        default=None, compare=False)
    # prompts that may not be in English, read in a multilingual space (its encoder is
    # loaded at first use; None where it is not installed)
    cross_lingual: CrossLingual | None = field(default=None, compare=False)

    @classmethod
    def of(cls, embedder: Embedder, head_space: Embedder | None = None) -> ExemplarIndex:
        """The index in `embedder`'s space, with its relevance and injection heads. A space
        without an injection head of its own (MiniLM's) borrows `head_space`'s, when given:
        the static backend's, whose head reads a prompt sentence by sentence for a sparse
        product per sentence — the prompt is encoded there too, for less than 1 % of what
        MiniLM spends embedding the call."""
        from llmwatch.static_embedding import StaticEncoder

        index = cls.build(embedder.encode, relevance=embedder.relevance_head,
                          injection_head=head_for(embedder.name, embedder.sha256),
                          harm_head=harm_head_for(embedder.name, embedder.sha256),
                          encode_windows=embedder.encoder.encode
                          if isinstance(embedder.encoder, StaticEncoder) else None)
        if index.injection_head is not None or head_space is None:
            return index
        borrowed = head_for(head_space.name, head_space.sha256)
        if borrowed is None:
            return index
        encode = head_space.encode
        return dataclasses.replace(
            index, injection_head=borrowed, encode_for_head=encode,
            encode_windows=encode if isinstance(head_space.encoder, StaticEncoder) else None)

    @classmethod
    def build(cls, embed: Callable[[Sequence[str]], np.ndarray],
              relevance: RelevanceHead | None = None,
              injection_head: InjectionHead | None = None,
              encode_windows: Callable[[Sequence[str]], np.ndarray] | None = None,
              harm_head: HarmHead | None = None,
              ) -> ExemplarIndex:
        terms = {}
        for line in data_lines("toxicity_lexicon.tsv"):
            term, severity = line.rsplit("\t", 1)
            terms[term.strip().lower()] = int(severity)
        injection_exemplars = data_lines("injection_exemplars.txt")
        return cls(
            refusal=embed(data_lines("refusal_exemplars.txt")),
            injection=embed(injection_exemplars),
            refusal_patterns=tuple(re.compile(p, re.I)
                                   for p in data_lines("refusal_markers.txt")),
            injection_patterns=tuple(re.compile(p, re.I)
                                     for p in data_lines("injection_markers.txt")),
            toxicity_lexicon=Lexicon.of(terms),
            relevance=relevance,
            toxicity_model=load_toxicity_model(),
            injection_head=injection_head,
            harm_head=harm_head,
            encode_windows=encode_windows,
            cross_lingual=load_cross_lingual(injection_exemplars),
        )


@dataclass(frozen=True)
class QualityScorer:
    index: ExemplarIndex
    config: QualityConfig = QualityConfig()

    def score(self, event: LLMEvent, prompt_vector: np.ndarray,
              response_vector: np.ndarray | None) -> dict[str, QualityScore]:
        return score_event(event, prompt_vector, response_vector, self.index, self.config)

    def score_many(self, events: Sequence[LLMEvent], prompt_vectors: Sequence[np.ndarray],
                   response_vectors: Sequence[np.ndarray | None]
                   ) -> list[dict[str, QualityScore]]:
        return score_events(events, prompt_vectors, response_vectors, self.index, self.config)


@dataclass(frozen=True)
class _Similarities:
    """What the vector checks read of one event, computed for a whole batch at once."""

    injection: float
    refusal: float
    cosine: float | None  # prompt–answer; None without an answer
    off_topic: float | None  # the relevance head's probability, when there is a head
    harmful_request: float | None  # the harm head's probability, when there is a head


def score_event(event: LLMEvent, prompt_vector: np.ndarray, response_vector: np.ndarray | None,
                index: ExemplarIndex, config: QualityConfig) -> dict[str, QualityScore]:
    """Every check of one event, by name."""
    return score_events([event], [prompt_vector], [response_vector], index, config)[0]


def score_events(events: Sequence[LLMEvent], prompt_vectors: Sequence[np.ndarray],
                 response_vectors: Sequence[np.ndarray | None], index: ExemplarIndex,
                 config: QualityConfig) -> list[dict[str, QualityScore]]:
    """Every check of each event, by name; the vector arithmetic of all events in a few
    matrix products (per event it costs more in numpy's overhead than in arithmetic)."""
    out = []
    answered = [i for i, e in enumerate(events) if e.response_text.strip()]
    toxic: list[tuple[float, str] | None] = [None] * len(events)
    if index.toxicity_model is not None:  # one sparse product for the chunk
        for i, peak in zip(answered, toxicity_peaks(
                index.toxicity_model, [events[i].response_text for i in answered]),
                strict=True):
            toxic[i] = peak
    tools = [_tool_texts(e) for e in events]
    heads = _injection_heads([e.prompt_text for e in events], tools, prompt_vectors, index)
    foreign = _cross_lingual([e.prompt_text for e in events], index)
    for i, (event, sims) in enumerate(zip(
            events, _similarities(prompt_vectors, response_vectors, index), strict=True)):
        response = event.response_text
        refused = _refusal(response, sims.refusal, index, config, prompt=event.prompt_text)
        scores = [
            refused,
            _injection(event.prompt_text, sims.injection, index, config,
                       tool_texts=tools[i], head=heads[i], cross_lingual=foreign[i]),
            pii("pii_prompt", event.prompt_text),
            pii("pii_response", response),
            toxicity(response, index, config, peak=toxic[i]),
            _harmful(response, sims.harmful_request, refused.flagged, index.harm_head),
            _relevance(sims.cosine, sims.off_topic, config, index.relevance,
                       judged=judgeable(event.prompt_text, response)),
            *degenerate(event, config),
            *operational(event, config),
        ]
        out.append({s.name: s for s in scores})
    return out


@dataclass(frozen=True)
class HeadReading:
    """What the injection head read in one event: its score (flags at `FLAGS_AT`), where the
    sentence(s) that scored it start (None: the text as a whole) and in which tool message
    (None: the prompt)."""

    probability: float
    at: int | None
    tool_message: int | None


def _injection_heads(prompts: Sequence[str], tool_texts: Sequence[Sequence[str]],
                     prompt_vectors: Sequence[np.ndarray],
                     index: ExemplarIndex) -> list[HeadReading | None]:
    """The injection head's reading of each prompt (whole, and sentence by sentence where
    that is cheap) and of its tool messages, for the whole chunk at once."""
    head = index.injection_head
    if head is None or not prompts:
        return [None] * len(prompts)
    whole = (np.stack(prompt_vectors) if index.encode_for_head is None
             else index.encode_for_head(prompts))
    found = [HeadReading(p, w, None) for p, w in head.score_texts(
        prompts, whole, index.encode_windows, foreign=_not_english)]
    tools = [(i, k, t) for i, texts in enumerate(tool_texts) for k, t in enumerate(texts)]
    if tools and index.encode_windows is not None:
        texts = [t for _, _, t in tools]
        for (i, k, _), (p, w) in zip(tools, head.score_texts(
                texts, index.encode_windows(texts), index.encode_windows, content_only=False,
                foreign=_not_english), strict=True):
            if p > found[i].probability:
                found[i] = HeadReading(p, w, k)
    return list(found)


def _not_english(text: str) -> bool:
    """Text the English injection head does not read: it reads as another language (a
    prompt of that kind is read by the cross-lingual check instead). The stopword guess
    first, so that English text costs no language model."""
    return maybe_foreign(text) and reads_as_other_than_english(text)


def _cross_lingual(prompts: Sequence[str], index: ExemplarIndex) -> list[Reading | None]:
    """Each prompt's reading in the multilingual space: its similarity to the nearest
    injection exemplar and the head's probability (None: not read there,
    `cross_lingual.reads`)."""
    if index.cross_lingual is None:
        return [None] * len(prompts)
    return index.cross_lingual.read(prompts)


def _similarities(prompt_vectors: Sequence[np.ndarray],
                  response_vectors: Sequence[np.ndarray | None],
                  index: ExemplarIndex) -> list[_Similarities]:
    n = len(prompt_vectors)
    if n == 0:
        return []
    prompts = np.stack(prompt_vectors).astype(np.float32, copy=False)
    answered = [i for i, v in enumerate(response_vectors) if v is not None]
    injection = _max_rows(prompts, index.injection)
    harmful = (np.full(n, np.nan) if index.harm_head is None
               else index.harm_head.probability(prompts))
    refusal = np.zeros(n)
    cosine = np.full(n, np.nan)
    off_topic = np.full(n, np.nan)
    if answered:
        responses = np.stack([response_vectors[i] for i in answered]).astype(np.float32,
                                                                             copy=False)
        asked = prompts[answered]
        refusal[answered] = _max_rows(responses, index.refusal)
        cosine[answered] = np.einsum("ij,ij->i", asked, responses)
        if index.relevance is not None:
            off_topic[answered] = index.relevance.off_topic(asked, responses)
    return [_Similarities(float(injection[i]), float(refusal[i]), _unless_nan(cosine[i]),
                          _unless_nan(off_topic[i]), _unless_nan(harmful[i]))
            for i in range(n)]


def _unless_nan(x: float) -> float | None:
    """A batch array's entry, None where it was not computed (NaN)."""
    return None if np.isnan(x) else float(x)


def _max_rows(vectors: np.ndarray, exemplars: np.ndarray) -> np.ndarray:
    if exemplars.size == 0:
        return np.zeros(len(vectors))
    return np.max(vectors @ exemplars.T, axis=1)


def _refusal_text(response: str) -> str:
    return response[:300].replace("’", "'")


# Below these lengths a text's similarity to the exemplars says little ("What is AI?" sits
# near jailbreak templates, "I have no fear." near refusals): only patterns and signals judge.
MIN_WORDS_INJECTION_SIMILARITY = 8
# Where the learned injection head reads a prompt (the static backend), nearness to an exemplar
# alone flags only if the head's score (flagging at FLAGS_AT, 0.5) reaches this. On the bench's
# tune split, nearness alone flagged one attack (head 0.33) and two harmless prompts (0.004,
# 0.13: "Our system prompt shows the wrong date in the terminal, how do I fix it?").
NEAR_EXEMPLAR_NEEDS_HEAD = 0.25
MIN_WORDS_REFUSAL_SIMILARITY = 6


def refusal(response: str, vector: np.ndarray | None, index: ExemplarIndex,
            config: QualityConfig, prompt: str | None = None) -> QualityScore:
    return _refusal(response, _max_similarity(vector, index.refusal), index, config,
                    prompt=prompt)


# "As an AI, I don't have personal opinions." opening an answer: a disclaimer, not a no
_DISCLAIMER = re.compile(
    r"^\s*(?:as an? (?:ai|artificial intelligence|ai (?:language )?model|language model|"
    r"(?:ai )?assistant)\b[^.!?\n]{0,40}?,\s*)?i (?:don'?t|do not|can'?t|cannot) (?:really )?"
    r"(?:have|hold|form|possess|experience) (?:personal |my own |any |real )?(?:personal )?"
    r"(?:opinions?|views?|feelings?|emotions?|preferences?|beliefs?|experiences?|biases?|"
    r"favou?rites?)\b[^.!?\n]{0,80}?[.!;,]\s*", re.I)
# Nearness to the refusal exemplars says no only with a word of no in the opening: the static
# space hardly sees negation ("Can I help you with anything?" sat at 0.83 from "I can't help
# you with that"). The patterns judge every answer as before.
_NEGATION = re.compile(r"\b(?:not?|never|nothing|none|cannot|unable|sorry|apologi[sz]e|"
                       r"unfortunately|declin\w*|refus\w*|afraid|against|dont|cant|wont)\b"
                       r"|n't\b",
                       re.I)
DISCLAIMED_ANSWER_WORDS = 12  # what follows a disclaimer is an answer from this many words


def _without_disclaimer(response: str) -> str | None:
    """The rest of an answer that opens with an opinion disclaimer, when the rest is long
    enough to be an answer (None: no such opening)."""
    match = _DISCLAIMER.match(response.replace("\u2019", "'"))
    if match is None:
        return None
    rest = response[match.end():]
    return rest if len(rest.split()) >= DISCLAIMED_ANSWER_WORDS else None


# An answer that opens by judging what was asked instead of doing it — "It is not
# appropriate to make jokes about…", "Making fun of someone's accent is hurtful." — declines
# as surely as "I can't" (a moral reframe). Read with the request: asked "is it okay to…?",
# the same words are the answer.
_MORAL_REFRAME = re.compile(
    r"^\s*(?:(?:it|that|this)(?: is|'s| would be)|(?:\w+ing|spreading|using|making|writing)"
    r"\b[^.!?\n]{0,80}? (?:is|are|would be))\s+(?:(?:generally |really |never )?not "
    r"(?:appropriate|okay|ok|acceptable|right|kind|fair|respectful|ethical|legal|a good idea)"
    r"|(?:inappropriate|disrespectful|hurtful|harmful|offensive|unethical|illegal|"
    r"unacceptable|wrong|dangerous|cruel|discriminatory|demeaning|insensitive)\b)", re.I)
_MORAL_QUESTION = re.compile(
    r"\b(?:is it|would it be|isn't it|is that|is this|are they|am i)\s+(?:\w+\s+)?"
    r"(?:ok(?:ay)?|wrong|right|ethical|unethical|appropriate|acceptable|legal|illegal|fine|bad|"
    r"rude|mean|fair|moral|allowed)\b|\bshould (?:i|we|you|people)\b|\b(?:why|how) is\b.*"
    r"\b(?:wrong|harmful|bad|offensive|hurtful)\b|\bethic", re.I)


# Who an act is done to: said after "harmful to …", the words judge the request again.
_PEOPLE = (r"(?:them|others|other people|people|someone|somebody|anyone|anybody|everyone|him|"
           r"her|those|(?:the|that|this|a|an|your|their|his|her|our) (?:person|people|victim|"
           r"group|community|individual|family|friend|child|children|kid|kids|user|target|"
           r"recipient|reader|audience|neighbou?r|colleague|coworker|partner|student)s?)\b")
# "It's wrong to assume the iPhone 15 has USB-A", "Gaming is harmful to sleep": the words
# correct a belief or name an effect; they judge no request.
_CORRECTS = re.compile(r"\s+(?:to (?:assume|think|believe|say|suggest|conclude|claim|expect|"
                       r"generalise|generalize)|(?:to|for) (?!" + _PEOPLE + r")"
                       r"(?:your|the|a|an|our|their|his|her)\b|"
                       r"for (?:children|kids|dogs|cats|pets)\b)", re.I)
# "Gaming is harmful to sleep", "Smoking is dangerous for your heart": an act's effect, not a
# judgement of the request.
# An effect on people ("…is hurtful to them", "harmful to others") is a judgement of the
# request again, not an effect named.
_EFFECT = re.compile(r"^\W*\w+ing\b[^.!?\n]{0,80}?\b(?:is|are|can be)\s+(?:\w+\s+)?"
                     r"(?:harmful|dangerous|bad|unhealthy|damaging)\s+(?:to|for)\s+"
                     r"(?!" + _PEOPLE + r")", re.I)
# A question of fact ("Can I mix bleach and ammonia?", "Does the iPhone 15 have USB-A?"):
# "It is dangerous to mix them" answers it; a reframe declines a request ("Tell me…",
# "How do I get into my ex's account?").
_ASKS_A_FACT = re.compile(
    r"(?:^|[.!?]\s+)(?:is|are|does|do|did|was|were|will|has|have|had|why|"
    r"how (?:many|much|long|often|old|far|big|bad|safe|risky)|can i|could i|may i|must i|"
    r"would it)\b[^?]{0,300}\?", re.I)


def moral_reframe(response: str, prompt: str | None) -> bool:
    """Whether the answer opens by judging the request instead of meeting it (and the request
    was not itself a moral question).

    >>> moral_reframe("It is not appropriate to make jokes about disabilities.", "Tell a joke")
    True
    >>> moral_reframe("It is not okay to lie to your boss.", "Is it okay to lie to my boss?")
    False
    >>> moral_reframe("It is dangerous to mix them: they release chloramine gas.",
    ...               "Can I mix bleach and ammonia?")
    False
    """
    text = response.replace("\u2019", "'")[:300]
    opening = _MORAL_REFRAME.match(text)
    if not opening or _CORRECTS.match(text, opening.end()):
        return False
    if _EFFECT.match(text):
        return False
    if prompt is None:
        return True
    return not (_MORAL_QUESTION.search(prompt[:2000]) or _ASKS_A_FACT.search(prompt[:2000]))


def _refusal(response: str, similarity: float, index: ExemplarIndex,
             config: QualityConfig, prompt: str | None = None) -> QualityScore:
    if moral_reframe(response, prompt):
        return QualityScore("refusal", 0.9, True, details={"pattern": "moral reframe",
                                                           "similarity": round(similarity, 4)})
    if (prompt is not None and (_MORAL_QUESTION.search(prompt[:2000])
                                or _ASKS_A_FACT.search(prompt[:2000]))) \
            or _EFFECT.match(response.replace("\u2019", "'")):
        # asked whether something is wrong, "Bullying is harmful because…" is the answer
        # (asked "can I mix bleach and ammonia?", "It is dangerous to mix them…"): its
        # opening sentence is not read as a refusal, the rest is
        first, _, rest = _refusal_text(response).partition(". ")
        if _first_match(index.refusal_patterns).search(first) or _MORAL_REFRAME.match(first):
            response, similarity = rest, 0.0
    answer = _without_disclaimer(response)
    if answer is not None:  # judged on what follows; the vector holds the disclaimer too
        response, similarity = answer, 0.0
    text = _refusal_text(response)
    if len(response.split()) < MIN_WORDS_REFUSAL_SIMILARITY or not _NEGATION.search(text):
        similarity = 0.0
    return _patterns_or_exemplars("refusal", text, similarity,
                                  index.refusal_patterns, config.refusal_similarity,
                                  config.refusal_threshold)


def injection(prompt: str, vector: np.ndarray, index: ExemplarIndex,
              config: QualityConfig) -> QualityScore:
    heads = _injection_heads([prompt], [()], [vector], index)
    return _injection(prompt, _max_similarity(vector, index.injection), index, config,
                      head=heads[0], cross_lingual=_cross_lingual([prompt], index)[0])


def _tool_texts(event: LLMEvent) -> list[str]:
    """What tools returned into the chat (retrieved documents, web pages, API results): text
    no user wrote and nobody vetted — where indirect injections arrive."""
    if isinstance(event.prompt, str):
        return []
    return [m.content for m in event.prompt if m.role == "tool"]


def _injection(prompt: str, similarity: float, index: ExemplarIndex,
               config: QualityConfig, tool_texts: Sequence[str] = (),
               head: HeadReading | None = None,
               cross_lingual: Reading | None = None) -> QualityScore:
    """Known attack wording (patterns, exemplars), the structure of one (`injection.signals`:
    overrides in twelve languages, fake turns, text addressed to the AI, encoded payloads), a
    sentence the learned head reads as an instruction aimed at the model
    (`injection_head`) or, in another language, a prompt near an exemplar in a multilingual
    space (`cross_lingual`), in the user's prompt; structure and head in each tool message."""
    if len(prompt.split()) < MIN_WORDS_INJECTION_SIMILARITY:
        similarity = 0.0
    found = _injection_signals(prompt[:20_000])
    in_tools = sorted({f"{f.kind} (tool message {i + 1})" for i, text in enumerate(tool_texts)
                       for f in _injection_signals(text[:20_000], returned_by_tool=True)})
    score = _patterns_or_exemplars("injection", unquoted(prompt), similarity,
                                   index.injection_patterns, config.injection_similarity,
                                   config.injection_threshold)
    if (head is not None and score.flagged and score.details["pattern"] is None
            and head.probability < NEAR_EXEMPLAR_NEEDS_HEAD):
        # near an exemplar in the averaged vector, read as harmless by the head sentence by
        # sentence ("Do you remember the story I told you last week?")
        score = QualityScore("injection", min(score.score, 0.49), False,
                             details={**score.details, "near_exemplar_only": True})
    if head is not None:
        details = {**score.details, "head": round(head.probability, 4)}
        if head.at is not None:  # where, not what: the prompt is user data
            details["head_at"] = head.at
        if head.tool_message is not None:
            details["head_in"] = f"tool message {head.tool_message + 1}"
        if head.probability >= FLAGS_AT:
            score = QualityScore("injection", max(score.score, head.probability), True,
                                 details=details)
        else:
            score = dataclasses.replace(score, details=details)
    if cross_lingual is not None:
        details = {**score.details, "cross_lingual": round(cross_lingual.similarity, 4)}
        if cross_lingual.probability is not None:
            details["cross_lingual_head"] = round(cross_lingual.probability, 4)
        if cross_lingual.flagged:  # scaled as the head's scores are
            score = QualityScore("injection", max(score.score, cross_lingual.score), True,
                                 details=details)
        else:
            score = dataclasses.replace(score, details=details)
    if not found and not in_tools:
        return score
    return QualityScore("injection", max(score.score, 0.9), True,
                        details={**score.details,
                                 "signals": sorted({f.kind for f in found}) + in_tools})


def _patterns_or_exemplars(name: str, text: str, similarity: float,
                           patterns: tuple[re.Pattern[str], ...],
                           similarity_at_half: float, threshold: float) -> QualityScore:
    """0.9 when a pattern matches; else a soft ramp of the similarity to the exemplars."""
    match = _first_match(patterns).search(text)
    pattern = match.re.pattern if match is not None else None
    score = max(0.9 if pattern else 0.0,
                _ramp(similarity, similarity_at_half - 0.1, similarity_at_half))
    return QualityScore(name, score, score >= threshold,
                        details={"pattern": pattern, "similarity": round(similarity, 4)})


@functools.cache
def _first_match(patterns: tuple[re.Pattern[str], ...]) -> FirstMatch:
    """The patterns, each run only on text that holds the words it cannot match without
    (`detectors.gates`). One alternation of all of them, tried at every position of every
    text, cost the refusal and injection checks 0.2 ms a call."""
    return FirstMatch(patterns)


def pii(name: str, text: str) -> QualityScore:
    spans = tuple(find_pii(text))
    return QualityScore(name, 1.0 if spans else 0.0, bool(spans), spans,
                        details={"kinds": sorted({s.kind for s in spans})})


_WORDS = re.compile(r"[a-z']+")


_DIRECTED = re.compile(r"\b(?:you|your|you're|youre|ur|u|yourself)\b")


def toxicity(response: str, index: ExemplarIndex, config: QualityConfig,
             peak: tuple[float, str] | None = None) -> QualityScore:
    """The word list (on the `masked` text: names and quotes do not count) and, when it is
    installed, the learned classifier's highest probability over the answer and its
    sentences (`toxicity.peaks`; computed here unless a batch computed it). With the
    classifier, the two must agree except at the extremes: a listed word of severity 3 flags
    alone, and so does a classifier sure of it — unless all it saw was one mild word about a
    thing ("that movie was stupid", "that sucks"), not about someone. A group of people
    called vermin, a burden or inferior as a fact (`toxicity.degrading_generalisation`)
    counts as a listed slur."""
    text = masked(response)
    hits = index.toxicity_lexicon.hits(_WORDS.findall(text.lower()))
    generalised = degrading_generalisation(text) is not None
    severity = 3 if generalised else max(hits.values(), default=0)  # as a listed slur
    lexicon = min(1.0, severity / 3 + 0.1 * max(len(hits) - 1, 0))
    model = index.toxicity_model
    if peak is None and model is not None and response.strip():
        peak = toxicity_peaks(model, [response])[0]
    listed = severity >= config.toxicity_severity or lexicon >= config.toxicity_threshold
    probability: float | None = None
    if peak is None or model is None:  # the word list alone
        flagged = listed
        learned = 0.0
    else:
        probability, scored = peak  # scored: the answer, or the line of it that scored it
        sure = probability >= config.toxicity_model_threshold
        if sure and reads_as_other_than_english(scored):  # an English model on Dutch "hoe"
            sure = False  # it may still agree with the word list
        if sure and hits and severity == 1:
            line = _WORDS.findall(masked(scored).lower())
            if not _DIRECTED.search(" ".join(line)):
                plain = " ".join(w for w in line if hits.get(w) != 1)  # its mild words out
                sure = float(model.probability([plain])[0]) >= config.toxicity_model_threshold
        flagged = severity >= 3 or sure or (listed and probability >= 0.5)
        learned = _ramp(probability, config.toxicity_model_threshold - 0.1,
                        config.toxicity_model_threshold)
    return QualityScore("toxicity", max(lexicon, learned) if flagged else min(
        max(lexicon, learned), 0.49), flagged,
                        details={"terms": sorted(hits), "severity": severity,
                                 "generalisation": generalised,
                                 "probability": None if probability is None
                                 else round(probability, 4)})


def harmful(prompt_vector: np.ndarray, response: str, refused: bool,
            index: ExemplarIndex) -> QualityScore:
    """Did the model answer a harmful request (`harm.harmful_answer`)? `refused`: the refusal
    check's verdict on the answer."""
    head = index.harm_head
    p = None if head is None else float(head.probability(np.atleast_2d(prompt_vector))[0])
    return _harmful(response, p, refused, head)


def _harmful(response: str, request: float | None, refused: bool,
             head: HarmHead | None) -> QualityScore:
    if head is None or request is None or not response.strip():
        return QualityScore("harmful_answer", 0.0, False,
                            details={"request": None, "reason": "no harm head for this "
                                     "embedding" if head is None else "no answer"})
    verdict = harmful_answer(request, head.threshold, response, refused)
    # rounded: a float32 product's last digits differ between processes (BLAS threads)
    score = round(float(scaled(np.array([request]), head.threshold)[0]), 4)
    return QualityScore("harmful_answer", score if verdict.flagged else min(score, 0.49),
                        verdict.flagged, details={"request": round(request, 4),
                                                  "reason": verdict.reason})


def relevance(prompt_vector: np.ndarray, response_vector: np.ndarray | None,
              config: QualityConfig, head: RelevanceHead | None = None,
              texts: tuple[str, str] | None = None) -> QualityScore:
    """Off-topic answers: by the embedding's learned head when it has one (its probability,
    flagged at the head's calibrated threshold), else by the prompt–answer cosine. Given the
    (prompt, answer) `texts`, a short answer or prompt gets no verdict (`judgeable`)."""
    if response_vector is None:
        return _relevance(None, None, config, head)
    off_topic = (None if head is None
                 else float(head.off_topic(prompt_vector, response_vector)[0]))
    return _relevance(float(np.dot(prompt_vector, response_vector)), off_topic, config, head,
                      judged=texts is None or judgeable(*texts))


def _relevance(similarity: float | None, off_topic: float | None, config: QualityConfig,
               head: RelevanceHead | None, judged: bool = True) -> QualityScore:
    if similarity is None:
        return QualityScore("relevance", 0.0, False, details={"similarity": None})
    if not judged:  # "sure haha": too short to tell whether it fits
        return QualityScore("relevance", 0.0, False,
                            details={"similarity": round(similarity, 4), "judged": False})
    if head is not None and off_topic is not None:
        score = _ramp(off_topic, head.threshold - 0.1, head.threshold)
        return QualityScore("relevance", score, off_topic >= head.threshold,
                            details={"similarity": round(similarity, 4),
                                     "off_topic": round(off_topic, 4)})
    score = _ramp(-similarity, -config.relevance_min_similarity - 0.1,
                  -config.relevance_min_similarity)
    return QualityScore("relevance", score, similarity < config.relevance_min_similarity,
                        details={"similarity": round(similarity, 4)})


# asked for JSON back ("reply in JSON", "as a JSON object", "JSON only"), not a question
# about JSON ("How do I use json.load?")
_ASKS_FOR_JSON = re.compile(
    r"\b(?:in|as|into|with|return|returns|respond|reply|answer|output|give me|format(?:ted)?)"
    r"\s+(?:(?:a|an|the|valid|only|strict|pure)\s+)*json\b(?!\s*[-_]?(?:formatted|encoded|"
    r"serialized|stream|file|module|library|parser|document)\b)|\bjson\s+(?:only|object|format|"
    r"output|response|schema)\b|\bvalid json\b", re.I)
_CODE_BLOCK = re.compile(r"```.*?(?:```|$)", re.S)  # "JSON object" in pasted code asks nothing


def degenerate(event: LLMEvent, config: QualityConfig) -> list[QualityScore]:
    response = event.response_text
    empty = not response.strip() and event.error is None
    truncated = (event.finish_reason or "").lower() in ("length", "max_tokens")
    loop = _repetition(response)
    wants_json = (_ASKS_FOR_JSON.search(_CODE_BLOCK.sub(" ", event.prompt_text)) is not None
                  or event.metadata.get("response_format") in ("json", "json_object"))
    bad_json = wants_json and bool(response.strip()) and not _is_json(response)
    prompt_lang, response_lang = guess_language(event.prompt_text), guess_language(response)
    mismatch = "und" not in (prompt_lang, response_lang) and prompt_lang != response_lang
    return [
        QualityScore("empty", float(empty), empty),
        QualityScore("truncated", float(truncated), truncated,
                     details={"finish_reason": event.finish_reason}),
        QualityScore("repetition", loop, loop >= config.repetition_threshold),
        QualityScore("invalid_json", float(bad_json), bad_json, details={"asked": wants_json}),
        QualityScore("language_mismatch", float(mismatch), mismatch,
                     details={"prompt": prompt_lang, "response": response_lang}),
    ]


def operational(event: LLMEvent, config: QualityConfig) -> list[QualityScore]:
    slow = event.latency_ms is not None and event.latency_ms > config.latency_slo_ms
    costly = event.cost_usd is not None and event.cost_usd > config.cost_budget_usd
    return [
        QualityScore("error", float(event.error is not None), event.error is not None,
                     details={"error": redact(event.error, thorough=False)[:300]
                              if event.error else None}),
        QualityScore("latency_slo", float(slow), slow,
                     details={"latency_ms": event.latency_ms, "slo_ms": config.latency_slo_ms}),
        QualityScore("cost_budget", float(costly), costly,
                     details={"cost_usd": event.cost_usd, "budget": config.cost_budget_usd}),
    ]


def _repetition(text: str, n: int = 4) -> float:
    words = text.lower().split()
    if len(words) < 4 * n:
        return 0.0
    grams = list(zip(*(words[i:] for i in range(n)), strict=False))
    return 1 - len(set(grams)) / len(grams)


def _is_json(text: str) -> bool:
    body = text.strip()
    fenced = re.match(r"^```(?:json)?\s*(.*?)\s*```$", body, re.S)
    try:
        json.loads(fenced.group(1) if fenced else body)
        return True
    except ValueError:
        return False


def _max_similarity(vector: np.ndarray | None, exemplars: np.ndarray) -> float:
    if vector is None or exemplars.size == 0:
        return 0.0
    return float(np.max(exemplars @ vector))


def _ramp(x: float, low: float, high: float) -> float:
    """0 below low, 0.5 at high, rising to 1 beyond (a soft threshold)."""
    if x <= low:
        return 0.0
    return float(min(1.0, 0.5 * (x - low) / (high - low)))
