"""Does the fix work? Replay stored traffic through a candidate model before it ships.

    llmwatch replay --ticket 3 --base-url http://… --model my-finetune

Three sources of prompts (`select_segment`, `select_ticket`, `select_file`): a segment's calls
in a period (raw text within its retention), a ticket's failing examples beside the rest of
its segment's traffic, or a JSONL file in the ticket-export format. `--limit` samples them
stratified by the prompts' topic clusters (`detectors/explain.py:fit_clusters`), so rare
topics stay in. Each prompt goes, as the exact chat messages the serving model got (or with
another system prompt), to any OpenAI-compatible endpoint through the `openai` client:
bounded concurrency, a rate, retries with back-off, timeouts; cost from usage and a price
table. Every answer then goes through the worker's own checks (`streams/analysis.py`), with
the serving answer beside it, so both are scored by the same code; the pairs are stored in
`replay_calls` as they finish — a run interrupted and started again with its run id calls
the endpoint only for the prompts it has no answer to. Candidate answers never enter
`events`: baselines, alerts and reports cannot see them.

The verdict is pure (`detectors/replay_verdict.py`); `llmwatch/report/replay_html.py` writes
it as HTML and `replay_digest` as a Slack message.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from llmwatch.alerts.tickets import validate_line
from llmwatch.detectors.explain import assign, fit_clusters
from llmwatch.detectors.replay_verdict import (
    ANSWER_CHECKS,
    Finding,
    PairedCall,
    Side,
    Verdict,
    verdict,
)
from llmwatch.detectors.second_opinion import ADDS_ONLY
from llmwatch.detectors.segments import Segment
from llmwatch.integrations.prices import DEFAULT as DEFAULT_PRICES
from llmwatch.integrations.prices import Prices
from llmwatch.schemas import LLMEvent, user_turn
from llmwatch.storage import Store
from llmwatch.storage.replays import NewCall, Replays, StoredCall, calls_by_id, segment_calls
from llmwatch.storage.replays import ticket_source as stored_ticket

log = logging.getLogger(__name__)

MIN_FOR_CLUSTERS = 40  # fewer prompts than this are one stratum
MAX_TEXT = 200_000
_TICK = timedelta(microseconds=1)


class ReplayError(Exception):
    """A replay that cannot start or go on, with what to do about it."""


# -- what is replayed -----------------------------------------------------------------------
@dataclass(frozen=True)
class SourceCall:
    """One prompt to replay, with the serving model's answer."""

    source_id: str
    timestamp: datetime
    messages: list[dict[str, str]]
    answer: str | None
    app: str = "replay"
    latency_ms: float | None = None
    cost_usd: float | None = None
    error: bool = False
    user_hash: str | None = None
    role: str = "other"  # finding | other
    cluster: str = ""
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Traffic:
    calls: list[SourceCall]
    source: dict[str, Any]  # how it was chosen, for the run's record
    finding: Finding | None = None
    skipped: dict[str, int] = field(default_factory=dict)  # why calls were left out


def _source(c: StoredCall) -> SourceCall:
    return SourceCall(c.event_id, c.timestamp, c.messages, c.answer, c.app, c.latency_ms,
                      c.cost_usd, c.error, c.user_hash, vector=c.vector)


def stratify(calls: Sequence[SourceCall], limit: int | None, seed: int = 0,
             privacy: Any = None) -> list[SourceCall]:
    """Label each call with its topic cluster and keep at most `limit`, every cluster
    represented: each gets its share of the limit, but at least `limit / (2 k)` (or all it
    has), so a rare topic is not sampled away. Chosen by a seeded shuffle: the same run
    chooses the same calls."""
    calls = list(calls)
    with_vectors = [c for c in calls if c.vector is not None]
    if len(with_vectors) >= MIN_FOR_CLUSTERS and len(with_vectors) == len(calls):
        kwargs = {} if privacy is None else {"privacy": privacy}
        texts = [user_turn(c.messages) for c in calls]
        model = fit_clusters(np.stack([c.vector for c in calls]), texts, seed=seed, **kwargs)
        ids = assign(model, np.stack([c.vector for c in calls]))
        labels = [model.labels[i] if i >= 0 else "(far from the rest)" for i in ids]
        calls = [replace(c, cluster=(c.cluster or lab)[:200]) for c, lab in
                 zip(calls, labels, strict=True)]
    if limit is None or len(calls) <= limit:
        return calls
    groups: dict[str, list[SourceCall]] = {}
    for c in calls:
        groups.setdefault(c.cluster, []).append(c)
    rng = random.Random(seed)
    for g in groups.values():
        rng.shuffle(g)
    floor = max(1, limit // (2 * len(groups)))
    want = {k: min(len(g), max(floor, round(limit * len(g) / len(calls))))
            for k, g in groups.items()}
    while sum(want.values()) > limit:  # trim the biggest stratum first
        biggest = max(want, key=lambda k: (want[k], k))
        want[biggest] -= 1
    spare = limit - sum(want.values())
    for k in sorted(groups, key=lambda k: -len(groups[k])):  # fill from the biggest
        extra = min(spare, len(groups[k]) - want[k])
        want[k] += extra
        spare -= extra
    chosen = [c for k, g in groups.items() for c in g[:want[k]]]
    return sorted(chosen, key=lambda c: (c.timestamp, c.source_id))


def select_segment(store: Store, segment: Segment, start: datetime | None,
                   end: datetime | None, *, limit: int | None = None, seed: int = 0,
                   privacy: Any = None) -> Traffic:
    stored, cleared = segment_calls(store.engine, segment, start, end, store.embedding_model)
    calls = [_source(c) for c in stored]
    if not calls:
        raise ReplayError(
            f"no calls with their text in {_segment_words(segment)} between {start} and "
            f"{end}" + (f" ({cleared} had their text removed by retention)" if cleared else "")
            + ": widen the period (--since/--until) or check the segment's names "
            "(`llmwatch status` lists them)")
    return Traffic(stratify(calls, limit, seed, privacy), {
        "kind": "segment", "segment": segment.key, "start": _iso(start), "end": _iso(end),
        "limit": limit, "seed": seed, "available": len(calls)},
        skipped={"text removed by retention": cleared} if cleared else {})


def select_ticket(store: Store, ticket_id: int, *, limit: int | None = None,
                  seed: int = 0, privacy: Any = None) -> Traffic:
    """The ticket's failing examples (the calls its dataset came from, from storage while
    their text is kept, else the dataset's own lines) and, beside them, the rest of its
    segment's traffic in the ticket's window: the fixes and the regressions of one replay."""
    ticket = stored_ticket(store.engine, ticket_id)
    if ticket is None:
        raise ReplayError(f"no ticket {ticket_id}: `llmwatch tickets list` shows them")
    evidence, dataset, segment = ticket.evidence, ticket.dataset, ticket.segment
    finding = Finding(ticket.detector, ticket.metric, ticket_id)
    ids = list(evidence.get("dataset_event_ids") or evidence.get("example_event_ids") or [])
    found, cleared = calls_by_id(store.engine, ids, store.embedding_model) if ids else ([], 0)
    failing = [_source(c) for c in found]
    source = "storage"
    if not failing:  # their text is gone: the dataset's lines carry what the ticket saw
        failing = _from_lines(dataset.splitlines(), f"ticket-{ticket_id}")
        source = "dataset"
    failing = [replace(c, role="finding", cluster="the finding") for c in failing]
    window = evidence.get("window") or {}
    start = _parse(window.get("start"))
    end = _parse(window.get("end"))
    seg = Segment.from_key(segment)
    known = {c.source_id for c in failing}
    stored, _ = segment_calls(store.engine, seg, start, None if end is None else end + _TICK,
                              store.embedding_model)
    others = [_source(c) for c in stored if c.event_id not in known]
    if limit is not None:
        failing = stratify(failing, max(1, limit // 2), seed, privacy)
        others = stratify(others, max(0, limit - len(failing)), seed, privacy)
    else:
        others = stratify(others, None, seed, privacy)
    if not failing:
        raise ReplayError(f"ticket {ticket_id} has no examples left to replay (its calls' "
                          "text is gone and its dataset is empty): replay its segment over "
                          "a newer period instead (--app/--model with --since)")
    return Traffic([*failing, *others], {
        "kind": "ticket", "ticket_id": ticket_id, "segment": segment,
        "examples_from": source, "start": _iso(start), "end": _iso(end), "limit": limit,
        "seed": seed}, finding,
        skipped={"text removed by retention": cleared} if cleared else {})


def select_file(path: Path, *, as_findings: bool = True, limit: int | None = None,
                seed: int = 0, finding: Finding | None = None) -> Traffic:
    """A JSONL file in the ticket-export format: each line's messages end with the serving
    model's answer. Its lines are the finding's failing examples unless `as_findings` is off."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ReplayError(f"cannot read {path}: {exc.strerror}") from exc
    calls = _from_lines(lines, f"file-{path.name}")
    if not calls:
        raise ReplayError(f"{path} holds no examples: one JSON object per line, "
                          '{"messages": [..., {"role": "assistant", ...}]}')
    role = "finding" if as_findings else "other"
    calls = [replace(c, role=role) for c in calls]
    return Traffic(stratify(calls, limit, seed), {"kind": "file", "file": path.name,
                                                  "limit": limit, "seed": seed}, finding)


def _from_lines(lines: Sequence[str], prefix: str) -> list[SourceCall]:
    out, now = [], datetime.now(UTC)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            validate_line(line)
        except ValueError as exc:
            raise ReplayError(f"line {number}: {exc} (the ticket-export format: "
                              '{"messages": [..., {"role": "assistant", ...}]})') from exc
        messages = json.loads(line)["messages"]
        digest = hashlib.sha256(line.encode()).hexdigest()[:24]
        out.append(SourceCall(f"{prefix[:90]}-{digest}", now, messages[:-1],
                              messages[-1]["content"]))
    return out


# -- the candidate --------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """An OpenAI-compatible chat endpoint and how to call it. The key is read from the
    environment variable `api_key_env`, never stored."""

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    system_prompt: str | None = None  # replaces the calls' system message (a prompt change)
    concurrency: int = 8
    rate_per_s: float | None = None
    timeout_s: float = 60.0
    max_retries: int = 4  # the client's, with exponential back-off (429 honours Retry-After)
    max_attempts: int = 3  # runs of the client's retries before a call is counted failed
    temperature: float | None = 0.0
    max_tokens: int | None = None
    prices: Prices = DEFAULT_PRICES

    def __post_init__(self) -> None:
        if self.concurrency < 1 or (self.rate_per_s is not None and self.rate_per_s <= 0):
            raise ReplayError("concurrency must be at least 1 and the rate above 0")

    @property
    def api_key(self) -> str:
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ReplayError(f"set {self.api_key_env} to the candidate endpoint's key "
                              "(any non-empty value for a local server without keys)")
        return key

    def describe(self) -> dict[str, Any]:
        """What the run record keeps: no key."""
        return {"base_url": self.base_url, "model": self.model,
                "system_prompt_sha256": None if self.system_prompt is None else
                hashlib.sha256(self.system_prompt.encode()).hexdigest(),
                "temperature": self.temperature, "max_tokens": self.max_tokens,
                "price_per_mtok": self.prices.price_of(self.model)}

    def messages(self, original: Sequence[dict[str, str]]) -> list[dict[str, str]]:
        if self.system_prompt is None:
            return [dict(m) for m in original]
        rest = [dict(m) for m in original if m["role"] not in ("system", "developer")]
        return [{"role": "system", "content": self.system_prompt}, *rest]


@dataclass(frozen=True)
class Answer:
    text: str | None
    latency_ms: float
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    finish_reason: str | None
    error: str | None = None


class _Rate:
    """At most `per_s` starts a second, spread evenly."""

    def __init__(self, per_s: float | None) -> None:
        self.gap = 0.0 if per_s is None else 1.0 / per_s
        self.next = 0.0

    async def wait(self) -> None:
        if not self.gap:
            return
        now = time.monotonic()
        at = max(self.next, now)
        self.next = at + self.gap
        if at > now:
            await asyncio.sleep(at - now)


async def ask(client: Any, candidate: Candidate, messages: list[dict[str, str]],
              call: str | None = None) -> Answer:
    """One chat completion, timed; errors become an `Answer` with `error` after the client's
    own retries. `call` ("run/source id") goes as the `X-Llmwatch-Replay` header: a proxy
    or a log can tell the replay's calls, and a repeated one, apart."""
    import openai

    started = time.perf_counter()
    kwargs: dict[str, Any] = {}
    if candidate.temperature is not None:
        kwargs["temperature"] = candidate.temperature
    if candidate.max_tokens is not None:
        kwargs["max_tokens"] = candidate.max_tokens
    if call is not None:
        kwargs["extra_headers"] = {"X-Llmwatch-Replay": call[:200]}
    try:
        reply = await client.chat.completions.create(model=candidate.model,
                                                     messages=messages, **kwargs)
    except openai.APIError as exc:
        took = 1000 * (time.perf_counter() - started)
        status = getattr(exc, "status_code", None)
        return Answer(None, took, None, None, None, None,
                      f"{type(exc).__name__}" + (f" {status}" if status else "")
                      + f": {str(exc)[:300]}")
    took = 1000 * (time.perf_counter() - started)
    choice = reply.choices[0] if reply.choices else None
    usage = reply.usage
    tin = usage.prompt_tokens if usage else None
    tout = usage.completion_tokens if usage else None
    return Answer((choice.message.content or "") if choice else "", took, tin, tout,
                  candidate.prices.cost_usd(candidate.model, tin, tout),
                  choice.finish_reason if choice else None)


# -- the run --------------------------------------------------------------------------------
Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class RunResult:
    run_id: str
    verdict: Verdict | None
    complete: bool
    called: int  # endpoint calls made by this invocation
    pending: int
    stats: dict[str, float] = field(default_factory=dict)


RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%S") + "-" + os.urandom(3).hex()


class Replay:
    """A replay run in storage: `start` records what to replay (or finds the run again),
    `run` asks the candidate what is still unanswered and scores the answers, `judge` reads
    the pairs back into a verdict."""

    def __init__(self, store: Store, analyser: Any, candidate: Candidate, run_id: str,
                 alpha: float = 0.05, second_opinion: Sequence[Any] = (),
                 pairwise: Candidate | None = None,
                 pairwise_redact: Callable[[str], str] | None = None) -> None:
        """`second_opinion`: the review tier's evaluators (`streams/review_app.evaluators`);
        each re-judges the answers a cheap check flagged on a check it can clear, on both
        sides alike, and its verdict decides the flag as it does in production."""
        self.alpha = alpha
        self.pairwise, self.pairwise_redact = pairwise, pairwise_redact
        self.second_opinion = [e for e in second_opinion
                               if set(e.checks) & set(ANSWER_CHECKS) and e.tier not in ADDS_ONLY]
        if not RUN_ID.match(run_id):
            raise ReplayError(f"a run id is 1–64 letters, digits, '.', '_' or '-', not "
                              f"{run_id!r}")
        self.store, self.stored = store, Replays(store.engine)
        self.analyser, self.candidate, self.run_id = analyser, candidate, run_id
        self.stats: dict[str, float] = {"llmwatch_s": 0.0, "endpoint_s": 0.0}

    # recording ------------------------------------------------------------------------
    def start(self, traffic: Traffic | None, now: datetime) -> int:
        """Record the run and its prompts (pending); a run that exists is resumed as it is
        (its prompts were chosen once). Returns how many prompts the run has."""
        run = self.stored.get(self.run_id)
        if run is not None:
            if run["candidate"].get("model") != self.candidate.model or \
                    run["candidate"].get("base_url") != self.candidate.base_url:
                raise ReplayError(
                    f"run {self.run_id} replays {run['candidate'].get('model')} at "
                    f"{run['candidate'].get('base_url')}: resume it with the same --model "
                    "and --base-url, or start a new run")
            return self.stored.count(self.run_id)
        if traffic is None:
            raise ReplayError(f"no replay run {self.run_id}: `llmwatch replays list` "
                              "shows the runs")
        self.stored.create(
            self.run_id, source=traffic.source, candidate=self.candidate.describe(),
            finding=None if traffic.finding is None else {
                "detector": traffic.finding.detector, "metric": traffic.finding.metric,
                "ticket_id": traffic.finding.ticket_id},
            calls=[NewCall(c.source_id, c.timestamp, c.user_hash, c.role, c.cluster,
                           c.messages, {"answer": c.answer, "latency_ms": c.latency_ms,
                                        "cost_usd": c.cost_usd, "error": c.error,
                                        "app": c.app}) for c in traffic.calls], now=now)
        return len(traffic.calls)

    def finding(self) -> Finding | None:
        run = self.stored.get(self.run_id)
        f = run["finding"] if run is not None else None
        return None if not f else Finding(f["detector"], f["metric"], f.get("ticket_id"))

    # asking ---------------------------------------------------------------------------
    def run(self, *, stop: threading.Event | None = None, progress: Progress | None = None,
            client: Any = None) -> RunResult:
        """Ask the candidate every prompt without an answer (and those that failed fewer
        than `max_attempts` times), score and store the answers as they come. `stop` set:
        no new prompt is sent; those under way are finished and stored."""
        stop = stop or threading.Event()
        called = asyncio.run(self._ask_all(stop, progress, client))
        pending = self.stored.count(self.run_id, "pending")
        complete = pending == 0 and not stop.is_set()
        if complete and self.pairwise is not None:
            asyncio.run(self._compare_all(stop))
            complete = not stop.is_set()
        result = RunResult(self.run_id, None, complete, called, pending, dict(self.stats))
        if complete:
            result.verdict = self.judge()
        return result

    async def _ask_all(self, stop: threading.Event, progress: Progress | None,
                       client: Any) -> int:
        import openai

        todo = self.stored.todo(self.run_id, self.candidate.max_attempts)
        total = self.stored.count(self.run_id)
        done_before = total - len(todo)
        if progress:
            progress(done_before, total)
        if not todo:
            return 0
        own = client is None
        if own:
            client = openai.AsyncOpenAI(base_url=self.candidate.base_url,
                                        api_key=self.candidate.api_key,
                                        timeout=self.candidate.timeout_s,
                                        max_retries=self.candidate.max_retries)
        gate = asyncio.Semaphore(self.candidate.concurrency)
        rate = _Rate(self.candidate.rate_per_s)
        finished: list[tuple[Any, Answer]] = []
        wake, closing = asyncio.Event(), asyncio.Event()
        called = 0
        stored = done_before

        async def one(row: Any) -> None:
            try:
                started = time.perf_counter()
                answer = await ask(client, self.candidate, self.candidate.messages(
                    row.messages or []), f"{self.run_id}/{row.source_id}")
                self.stats["endpoint_s"] += time.perf_counter() - started
                finished.append((row, answer))
                wake.set()
            finally:
                gate.release()

        async def store_loop() -> None:
            nonlocal stored
            while True:
                await wake.wait()
                wake.clear()
                while finished:
                    batch = finished[:64]
                    del finished[:64]
                    started = time.perf_counter()
                    await asyncio.to_thread(self._store_answers, batch)
                    self.stats["llmwatch_s"] += time.perf_counter() - started
                    stored += len(batch)
                    if progress:
                        progress(stored, total)
                if closing.is_set():
                    return

        keeper = asyncio.create_task(store_loop())
        tasks: list[asyncio.Task[None]] = []
        try:
            for row in todo:
                await gate.acquire()
                if stop.is_set():
                    gate.release()
                    break
                await rate.wait()
                called += 1
                tasks.append(asyncio.create_task(one(row)))
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:  # only on an error: a stop lets the calls under way finish
                if not t.done():
                    t.cancel()
            closing.set()
            wake.set()
            await keeper  # whatever came back is stored
            if own:
                await client.close()
        return called

    # scoring --------------------------------------------------------------------------
    def _events(self, row: Any, answer: Answer) -> tuple[LLMEvent, LLMEvent]:
        """The serving call and the candidate's, as the checks read events: the candidate's
        is of a segment of its own (model `candidate.model`, version `replay:<run>`)."""
        prompt = [m for m in (row.messages or []) if m.get("content")] or \
            [{"role": "user", "content": "(empty)"}]
        app = str(row.serving.get("app") or "replay")
        common = {"timestamp": datetime.now(UTC), "app": app[:200], "prompt": prompt,
                  "tags": ["replay"]}
        key = hashlib.sha256(f"{self.run_id}/{row.source_id}".encode()).hexdigest()[:40]
        serving = LLMEvent(event_id=f"replay-s-{key}", model="serving", **common,
                           response=(row.serving.get("answer") or "")[:MAX_TEXT] or None)
        candidate = LLMEvent(
            event_id=f"replay-c-{key}", model=self.candidate.model[:200],
            model_version=f"replay:{self.run_id}"[:200], **common,
            response=(answer.text or "")[:MAX_TEXT] or None,
            latency_ms=min(answer.latency_ms, 86_400_000.0),
            input_tokens=answer.input_tokens, output_tokens=answer.output_tokens,
            cost_usd=answer.cost_usd, finish_reason=(answer.finish_reason or None) and
            answer.finish_reason[:64])
        return serving, candidate

    def _store_answers(self, batch: Sequence[tuple[Any, Answer]]) -> None:
        ok = [(r, a) for r, a in batch if a.error is None]
        scored: list[tuple[dict[str, Any], dict[str, Any], float | None]] = []
        if ok:
            events = [e for r, a in ok for e in self._events(r, a)]
            analyses = self.analyser(events).items
            for i in range(len(ok)):
                s, c = analyses[2 * i], analyses[2 * i + 1]
                if self.second_opinion:
                    s, c = (self._reviewed(e, a) for e, a in
                            zip(events[2 * i:2 * i + 2], (s, c), strict=True))
                scored.append(({"flags": {k: v.flagged for k, v in s.scores.items()},
                                "relatedness": _cosine(s.prompt_vector, s.response_vector)},
                               {"flags": {k: v.flagged for k, v in c.scores.items()},
                                "relatedness": _cosine(c.prompt_vector, c.response_vector)},
                               _cosine(s.response_vector, c.response_vector)))
        done = [(row, {**row.serving, **sseen},
                 {"answer": answer.text, "latency_ms": answer.latency_ms,
                  "input_tokens": answer.input_tokens, "output_tokens": answer.output_tokens,
                  "cost_usd": answer.cost_usd, "finish_reason": answer.finish_reason,
                  **cseen, "similarity": sim})
                for (row, answer), (sseen, cseen, sim) in zip(ok, scored, strict=True)]
        failed = [(row, answer.error) for row, answer in batch if answer.error is not None]
        self.stored.save_answers(self.run_id, done, failed, datetime.now(UTC))

    def _reviewed(self, event: LLMEvent, analysed: Any) -> Any:
        """The answer's flags with the second opinion on those a cheap check raised."""
        from llmwatch.detectors.second_opinion import (
            Call,
            EvaluatorError,
            EvaluatorUnavailable,
            overlay,
        )

        scores = dict(analysed.scores)
        flags = {event.event_id: {k: v.flagged for k, v in scores.items()}}
        messages = event.prompt if isinstance(event.prompt, list) else []
        call = Call(event.event_id,
                    "\n".join(m.content for m in messages if m.role == "user") or
                    event.prompt_text, event.response,
                    tuple(m.content for m in messages if m.role == "tool"),
                    next((m.content for m in messages if m.role == "system"), None),
                    {k: (v.score, v.flagged) for k, v in scores.items()})
        verdicts = []
        for evaluator in self.second_opinion:
            if not any(flags[event.event_id].get(k) for k in evaluator.checks
                       if k in ANSWER_CHECKS):
                continue
            try:
                verdicts.extend(v for v in evaluator.judge(call).verdicts
                                if v.check in ANSWER_CHECKS)
            except (EvaluatorUnavailable, EvaluatorError) as exc:
                log.warning("second opinion %s unavailable for a replayed answer (%s): the "
                            "cheap check's flag stands", evaluator.name, exc)
        if not verdicts:
            return analysed
        overlay(flags, verdicts)
        for k, flagged in flags[event.event_id].items():
            if k in scores and scores[k].flagged != flagged:
                scores[k] = replace(scores[k], flagged=flagged,
                                    details={**scores[k].details, "second_opinion": True})
        return replace(analysed, scores=scores)

    async def _compare_all(self, stop: threading.Event) -> None:
        """The pairwise judge on every answered prompt it has not compared yet."""
        import openai

        from llmwatch import pairwise

        judge = self.pairwise
        assert judge is not None
        rows = [r for r in self.stored.rows(self.run_id, ("done",))
                if r.candidate and "preferred" not in r.candidate]
        client = openai.AsyncOpenAI(base_url=judge.base_url, api_key=judge.api_key,
                                    timeout=judge.timeout_s, max_retries=judge.max_retries)
        gate = asyncio.Semaphore(judge.concurrency)

        async def one(row: Any) -> None:
            async with gate:
                if stop.is_set():
                    return
                call = f"{self.run_id}/{row.source_id}"
                answer = await ask(client, judge, pairwise.messages(
                    call, row.messages or [], row.serving.get("answer") or "",
                    (row.candidate or {}).get("answer") or "", self.pairwise_redact))
            try:
                if answer.error is not None:
                    raise ValueError(answer.error)
                preference = pairwise.parse(answer.text or "", call)
                found = {"preferred": preference.winner,
                         "preferred_why": preference.reason}
            except ValueError as exc:
                log.warning("the pairwise judge gave no usable answer for a call: %s", exc)
                return
            await asyncio.to_thread(self.stored.set_candidate, self.run_id, row.source_id,
                                    {**(row.candidate or {}), **found})

        try:
            await asyncio.gather(*(one(r) for r in rows))
        finally:
            await client.close()

    # judging --------------------------------------------------------------------------
    def pairs(self) -> list[PairedCall]:
        rows = self.stored.rows(self.run_id, ("done", "failed"))
        out = []
        for r in rows:
            serving = Side(r.serving.get("flags") or {}, len(r.serving.get("answer") or ""),
                           r.serving.get("latency_ms"), r.serving.get("cost_usd"),
                           bool(r.serving.get("error")), r.serving.get("relatedness"))
            if r.status == "done" and r.candidate:
                c = r.candidate
                cand = Side(c.get("flags") or {}, len(c.get("answer") or ""),
                            c.get("latency_ms"), c.get("cost_usd"),
                            relatedness=c.get("relatedness"))
                sim = c.get("similarity")
            else:
                cand, sim = Side({}, 0, None, None, error=True), None
            out.append(PairedCall(r.source_id, "finding" if r.role == "finding" else "other",
                                  r.cluster, serving, cand, sim,
                                  (r.candidate or {}).get("preferred")))
        return out

    def judge(self) -> Verdict:
        v = verdict(self.pairs(), self.finding(), alpha=self.alpha)
        self.stored.finish(self.run_id, v.as_dict(), datetime.now(UTC))
        return v


def _cosine(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    if a is None or b is None:
        return None
    a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return None if norm == 0 else round(float(a @ b) / norm, 4)


def _segment_words(segment: Segment) -> str:
    return " / ".join(f"{k}={v}" for k, v in segment.fields().items())


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)



# -- publishing -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Published:
    html_path: Path | None
    json_path: Path | None
    notices: int


def run_exists(store: Store, run_id: str) -> bool:
    return Replays(store.engine).get(run_id) is not None


def run_record(store: Store, run_id: str) -> tuple[dict[str, Any], list[Any]]:
    """A run's record and its calls."""
    stored = Replays(store.engine)
    record = stored.get(run_id)
    if record is None:
        raise ReplayError(f"no replay run {run_id}: `llmwatch replays list` shows them")
    return record, stored.rows(run_id)


def publish(store: Store, run_id: str, *, privacy: Any, out_dir: Path | None = None,
            slack_channel: str | None = None, trackers: Sequence[str] = (),
            now: datetime | None = None) -> Published:
    """Write the verdict as HTML and JSON (kept in the run's row, and in `out_dir` if given),
    and through the outbox: a Slack digest to `slack_channel`, and for a ticket's replay an
    update of its issue in each tracker (the ticket then lists the replay)."""
    from llmwatch.report import replay_html
    from llmwatch.storage.outbox import Notice

    now = now or datetime.now(UTC)
    record, rows = run_record(store, run_id)
    if record["verdict"] is None:
        raise ReplayError(f"run {run_id} is not finished: run it again with --run-id {run_id}")
    figures = replay_html.figures(record, rows, privacy)
    html = replay_html.render(figures)
    html_path = json_path = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        html_path = out_dir / f"replay-{run_id}.html"
        json_path = out_dir / f"replay-{run_id}.json"
        html_path.write_text(html, encoding="utf-8")
        json_path.write_text(json.dumps(figures, indent=1, default=str, ensure_ascii=False),
                             encoding="utf-8")
    notices = []
    if slack_channel:
        text, blocks = replay_html.digest(figures, html_path=None if html_path is None
                                          else html_path.name)
        notices.append(Notice(f"replay:{run_id}:slack", slack_channel, text, blocks))
    ticket_id = (record["finding"] or {}).get("ticket_id")
    if ticket_id is not None:
        notices += [Notice(f"ticket:{ticket_id}:{name}:replay:{run_id}", "",
                           f"replay {run_id}", [], name, {"ticket_id": ticket_id,
                                                           "replay_run": run_id})
                    for name in trackers]

    return Published(html_path, json_path,
                     Replays(store.engine).publish(run_id, html, notices, now))
