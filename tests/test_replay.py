"""`llmwatch replay`: stored traffic through a candidate model, judged paired on the same
prompts — against a real local OpenAI-compatible server that answers from a corpus
(`llmwatch/local/chat_server.py`): one that knows the new topic, one that does not, one that
refuses, one slow and failing now and then; on the simulated world's drift ticket (its
calls went through the real pipeline), on a JSONL file, and end to end on Kafka with a
worker and PostgreSQL."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from llmwatch.config import EmbeddingSettings, QualitySettings
from llmwatch.detectors.replay_verdict import Finding, PairedCall, Side, mcnemar, verdict
from llmwatch.integrations.prices import Prices
from llmwatch.local.chat_server import REFUSAL, ChatServer, CorpusModel, topic_model
from llmwatch.replay import Candidate, Replay, ReplayError, publish, select_file, select_ticket
from llmwatch.storage import Store, upgrade
from llmwatch.storage.tables import (
    DriftBaselineRow,
    EventRow,
    FindingRow,
    ReplayCallRow,
    ReplayRunRow,
    TicketRow,
)

KEY = "sk-replay-test"


@pytest.fixture(scope="module")
def analyser() -> Any:
    from llmwatch.streams.analysis import local_analyser

    return local_analyser(EmbeddingSettings(), QualitySettings())


@pytest.fixture
def world(world_db: str, tmp_path: Path) -> Store:
    from report_world import copy_world

    store = Store(f"sqlite:///{tmp_path / 'world.db'}")
    upgrade(store.engine)
    copy_world(world_db, store)
    return store


@pytest.fixture(scope="module")
def knows_money() -> ChatServer:
    return ChatServer(topic_model("money"), api_key=KEY).start()


@pytest.fixture(scope="module")
def chitchat_only() -> ChatServer:
    return ChatServer(topic_model(None), api_key=KEY).start()


def candidate(server: ChatServer, model: str = "candidate", **kw: Any) -> Candidate:
    os.environ["LLMWATCH_TEST_REPLAY_KEY"] = KEY
    return Candidate(server.base_url, model, api_key_env="LLMWATCH_TEST_REPLAY_KEY",
                     concurrency=kw.pop("concurrency", 8), timeout_s=10, **kw)


def drift_ticket(store: Store) -> int:
    with Session(store.engine) as s:
        return s.execute(select(TicketRow.id).where(
            TicketRow.detector == "embedding_drift")).scalars().one()


# -- the verdict, pure ---------------------------------------------------------------------
def side(*flags: str, error: bool = False, cost: float | None = None) -> Side:
    return Side({f: True for f in flags} | {"refusal": "refusal" in flags}, 100, 500.0, cost,
                error)


def test_mcnemar_reads_only_the_discordant_pairs() -> None:
    assert mcnemar(0, 0) == 1.0
    assert mcnemar(10, 0) < 0.01 and mcnemar(5, 5) == 1.0
    # 30 concordant failures change nothing
    calls = [PairedCall(str(i), "other", "", side("refusal"), side("refusal")) for i in range(30)]
    calls += [PairedCall(f"b{i}", "other", "", side(), side("refusal")) for i in range(8)]
    v = verdict(calls)
    refusal = next(c for c in v.checks if c.check == "refusal")
    assert (refusal.fixed, refusal.broke) == (0, 8) and refusal.p_value == mcnemar(0, 8)
    assert v.decision == "regression" and "refusal got worse" in v.headline


def test_a_rate_finding_is_fixed_by_most_of_its_examples_and_not_by_noise() -> None:
    finding = Finding("quality_rate", "refusal_rate", 7)
    failing = [PairedCall(f"f{i}", "finding", "", side("refusal"), side() if i < 9
                          else side("refusal")) for i in range(12)]
    others = [PairedCall(f"o{i}", "other", "", side(), side()) for i in range(40)]
    v = verdict(failing + others, finding)
    assert v.decision == "fixed"
    assert v.finding is not None and (v.finding["fixes"], v.finding["failing"]) == (9, 12)
    assert "fixes 9 of 12 failing examples" in v.headline and "regresses 0 of 40" in v.headline
    # the same fixes with a third of the other prompts now refused: a regression
    worse = others[:26] + [PairedCall(f"r{i}", "other", "", side(), side("refusal"))
                           for i in range(14)]
    assert verdict(failing + worse, finding).decision == "regression"
    # 3 of 12 fixed: not fixed
    few = [PairedCall(f"f{i}", "finding", "", side("refusal"), side() if i < 3
                      else side("refusal")) for i in range(12)]
    assert verdict(few + others, finding).decision == "not_fixed"


def test_unanswered_calls_count_against_the_candidate() -> None:
    calls = [PairedCall(str(i), "other", "", side(), side(error=i < 10)) for i in range(40)]
    v = verdict(calls)
    assert v.decision == "regression" and v.errors.candidate.failed == 10
    assert "failed 10 of 40 calls" in v.headline


# -- on the simulated world's drift ticket --------------------------------------------------
def test_a_candidate_that_knows_the_new_topic_fixes_the_drift_ticket(
    world: Store, analyser: Any, knows_money: ChatServer, chitchat_only: ChatServer,
    tmp_path: Path,
) -> None:
    from slack_sdk import WebClient
    from slack_server import TOKEN, SlackAPI
    from test_tickets import IssueTracker

    from llmwatch.alerts.sinks import SlackSink
    from llmwatch.alerts.ticket_sinks import GitHubIssues, TrackerSink
    from llmwatch.detectors.redact import DEFAULT_PRIVACY
    from llmwatch.storage.outbox import deliver
    from llmwatch.storage.tickets import Tickets

    ticket = drift_ticket(world)
    traffic = select_ticket(world, ticket, limit=160, privacy=DEFAULT_PRIVACY)
    failing = [c for c in traffic.calls if c.role == "finding"]
    assert len(failing) >= 20 and len(traffic.calls) > len(failing)
    assert traffic.finding is not None and traffic.finding.drift
    results = {}
    for name, server in (("knows-money", knows_money), ("chitchat-only", chitchat_only)):
        job = Replay(world, analyser, candidate(server, name), f"run-{name}")
        assert job.start(traffic, datetime.now(UTC)) == len(traffic.calls)
        results[name] = job.run()
        assert results[name].complete and results[name].called == len(traffic.calls)
    good, bad = (results[n].verdict for n in ("knows-money", "chitchat-only"))
    assert good is not None and bad is not None
    assert good.decision == "fixed", good.headline
    assert bad.decision == "not_fixed", bad.headline
    assert good.finding and bad.finding
    assert good.finding["on_topic"] >= 0.8 * good.finding["answered"]
    assert bad.finding["on_topic"] < 0.5 * bad.finding["answered"]
    # off-topic answers sit further from the serving model's on-topic ones
    assert (good.finding["similarity_to_serving_median"]
            > bad.finding["similarity_to_serving_median"])

    # published: HTML (escaped, redacted) and JSON, a Slack digest, the ticket's issue
    slack, tracker = SlackAPI().start(), IssueTracker()
    try:
        out = publish(world, "run-knows-money", privacy=DEFAULT_PRIVACY,
                      out_dir=tmp_path / "replays", slack_channel="C-ML",
                      trackers=["github"])
        assert out.notices == 2 and out.html_path is not None and out.json_path is not None
        html = out.html_path.read_text()
        assert "fixes the finding" in html and "<script>" not in html
        assert json.loads(out.json_path.read_text())["verdict"]["decision"] == "fixed"
        client = WebClient(token=TOKEN, base_url=slack.base_url, timeout=5, retry_handlers=[])
        github = GitHubIssues(tracker.url, "acme/ml", "ghs_test")
        deliver(world.engine, {"slack": SlackSink(client),
                               "github": TrackerSink(github, Tickets(world.engine))})
        [digest] = [m for m in slack.messages if m["channel"] == "C-ML"]  # (the world's
        assert "knows-money" in json.dumps(digest["blocks"])  # alerts went to theirs)
        [issue] = [c for c in tracker.created if c["path"].endswith("/issues")]
        assert "Candidates replayed" in issue["body"] and "run\\-knows\\-money" not in \
            issue["body"] and "llmwatch replays show run-knows-money" in issue["body"]
        [comment] = [c for c in tracker.created if c["path"] == "/repos/acme/ml/issues/1/comments"]
        assert "fixes the finding" in comment["body"] and "knows\\-money" in comment["body"]
        # the notice delivered again (a lost reply): the comment is found, not posted twice
        sink = TrackerSink(github, Tickets(world.engine))
        sink.send(type("N", (), {"payload": {"ticket_id": ticket,
                                             "replay_run": "run-knows-money"}})())
        assert len([c for c in tracker.created if c["path"].endswith("/comments")]) == 1
        content = Tickets(world.engine).content(ticket)
        assert content is not None  # every finished replay of the ticket, newest first
        assert [(r["run_id"], r["decision"]) for r in content.replays] == [
            ("run-knows-money", "fixed"), ("run-chitchat-only", "not_fixed")]
    finally:
        slack.stop()
        tracker.close()
    # publishing again adds nothing to the outbox
    assert publish(world, "run-knows-money", privacy=DEFAULT_PRIVACY, slack_channel="C-ML",
                   trackers=["github"]).notices == 0


def test_no_candidate_answer_reaches_production_tables(world: Store, analyser: Any,
                                                       knows_money: ChatServer) -> None:
    def counts() -> tuple[int, int, int, int]:
        with Session(world.engine) as s:
            return (s.execute(select(func.count()).select_from(EventRow)).scalar_one(),
                    s.execute(select(func.count()).select_from(FindingRow)).scalar_one(),
                    s.execute(select(func.count()).select_from(DriftBaselineRow)).scalar_one(),
                    s.execute(select(func.count()).select_from(EventRow).where(
                        EventRow.model == "cand")).scalar_one())

    before = counts()
    traffic = select_ticket(world, drift_ticket(world), limit=60)
    job = Replay(world, analyser, candidate(knows_money, "cand"), "isolated")
    job.start(traffic, datetime.now(UTC))
    assert job.run().complete
    assert counts() == before and before[3] == 0
    with Session(world.engine) as s:
        assert not s.execute(select(FindingRow).where(FindingRow.segment.contains("cand"))
                             ).first()


# -- a file, a refusing candidate, a flaky one, costs --------------------------------------
def refusal_file(path: Path, n: int = 24) -> Path:
    from llmwatch.simulate import chitchat_pairs

    pairs = chitchat_pairs("heldout")[:n]
    path.write_text("\n".join(json.dumps({"messages": [
        {"role": "system", "content": "You are a friendly chat partner."},
        {"role": "user", "content": q}, {"role": "assistant", "content": REFUSAL}]})
        for q, _ in pairs) + "\n")
    return path


def test_a_file_of_refused_prompts_is_fixed_and_costs_add_up(
    store: Store, analyser: Any, chitchat_only: ChatServer, tmp_path: Path
) -> None:
    traffic = select_file(refusal_file(tmp_path / "refused.jsonl"),
                          finding=Finding("quality_rate", "refusal_rate"))
    prices = Prices({"priced-model": (2.0, 8.0)})
    job = Replay(store, analyser, candidate(chitchat_only, "priced-model", prices=prices),
                 "file-run")
    job.start(traffic, datetime.now(UTC))
    result = job.run()
    v = result.verdict
    assert v is not None and v.decision == "fixed", v.headline
    assert v.finding is not None and v.finding["fixes"] == v.finding["failing"] == 24
    with Session(store.engine) as s:
        rows = s.execute(select(ReplayCallRow).where(ReplayCallRow.run_id == "file-run")
                         ).scalars().all()
    # each call's cost from its usage and the price table; the total is their sum
    for r in rows:
        c = r.candidate
        assert c is not None and c["cost_usd"] == pytest.approx(
            (2.0 * c["input_tokens"] + 8.0 * c["output_tokens"]) / 1e6)
        # the system message went as the serving model got it
    n = v.numbers["candidate"]
    assert n["cost_usd_total"] == pytest.approx(sum(r.candidate["cost_usd"] for r in rows))
    assert n["cost_usd_per_1000"] == pytest.approx(1000 * n["cost_usd_total"] / len(rows))
    assert chitchat_only.asked  # answered through HTTP


def test_a_candidate_that_refuses_fails_the_gate_from_the_cli(
    world: Store, tmp_path: Path
) -> None:
    refuses = ChatServer(topic_model("money", refuse=lambda p: zlib.crc32(p.encode()) % 3 == 0),
                         api_key=KEY).start()
    try:
        env = {**os.environ, "LLMWATCH_STORAGE__URL": str(world.engine.url),
               "OPENAI_API_KEY": KEY}
        run = subprocess.run(
            [sys.executable, "-m", "llmwatch", "replay", "--app", "support-bot",
             "--since", "2026-11-16", "--until", "2026-11-23", "--limit", "90",
             "--base-url", refuses.base_url, "--model", "refuser", "--no-slack",
             "--out", str(tmp_path / "out")], env=env, capture_output=True, text=True,
            timeout=300)
        assert run.returncode == 3, run.stdout + run.stderr
        assert "REGRESSION" in run.stdout and "refusal got worse" in run.stdout
        [page] = (tmp_path / "out").glob("replay-*.html")
        assert "newly flagged" in page.read_text().lower()
        listing = subprocess.run([sys.executable, "-m", "llmwatch", "replays", "list", "--json"],
                                 env=env, capture_output=True, text=True, timeout=60)
        [row] = json.loads(listing.stdout)
        assert row["decision"] == "regression" and row["model"] == "refuser"
        shown = subprocess.run([sys.executable, "-m", "llmwatch", "replays", "show",
                                row["run_id"], "--html", str(tmp_path / "again.html")],
                               env=env, capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0 and "REGRESSION" in shown.stdout
        assert (tmp_path / "again.html").read_text() == page.read_text()
    finally:
        refuses.stop()


def test_a_slow_flaky_endpoint_is_retried_and_every_prompt_answered_once(
    world: Store, analyser: Any
) -> None:
    flaky = ChatServer(topic_model("money"), api_key=KEY, delay_s=0.05, fail_every=4).start()
    try:
        traffic = select_ticket(world, drift_ticket(world), limit=50)
        job = Replay(world, analyser, candidate(flaky, "flaky", max_retries=3), "flaky-run")
        job.start(traffic, datetime.now(UTC))
        result = job.run()
        assert result.complete and result.verdict is not None
        assert result.verdict.errors.candidate.failed == 0
        assert flaky.requests > len(traffic.calls)  # 503s were retried …
        assert len(flaky.calls) == len(traffic.calls)  # … and each call answered once
        assert set(flaky.calls.values()) == {1}
    finally:
        flaky.stop()


def test_an_interrupted_replay_resumes_without_asking_a_prompt_twice(
    world: Store, tmp_path: Path
) -> None:
    slow = ChatServer(topic_model("money"), api_key=KEY, delay_s=0.25).start()
    env = {**os.environ, "LLMWATCH_STORAGE__URL": str(world.engine.url), "OPENAI_API_KEY": KEY,
           "LLMWATCH_REPLAY__CONCURRENCY": "2"}
    args = [sys.executable, "-m", "llmwatch", "replay", "--base-url", slow.base_url,
            "--model", "slow", "--no-slack", "--out", str(tmp_path / "out")]
    try:
        first = subprocess.Popen([*args, "--ticket", str(drift_ticket(world)), "--limit", "60",
                                  "--run-id", "resumable"], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)

        def answered() -> int:
            with Session(world.engine) as s:
                return s.execute(select(func.count()).select_from(ReplayCallRow).where(
                    ReplayCallRow.status == "done")).scalar_one()

        deadline = time.monotonic() + 240  # the checks load first (longer on a busy machine)
        while answered() < 10 and time.monotonic() < deadline:
            time.sleep(0.2)
        first.send_signal(signal.SIGTERM)
        out, _ = first.communicate(timeout=60)
        assert first.returncode == 130, out
        assert "--run-id resumable" in out
        stopped_at = answered()
        assert 10 <= stopped_at < 60
        assert sum(slow.calls.values()) == stopped_at  # what was asked was kept
        again = subprocess.run([*args, "--run-id", "resumable"], env=env, capture_output=True,
                               text=True, timeout=300)
        assert again.returncode in (0, 3), again.stdout + again.stderr
        assert answered() == 60
        assert len(slow.calls) == 60 and set(slow.calls.values()) == {1}  # each call once
        with Session(world.engine) as s:
            run = s.get(ReplayRunRow, "resumable")
            assert run is not None and run.status == "done" and run.html_gz is not None
            assert b"Does the candidate fix it?" in gzip.decompress(run.html_gz)
    finally:
        slow.stop()


def test_clear_errors(world: Store, analyser: Any, knows_money: ChatServer,
                      tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="no ticket 99"):
        select_ticket(world, 99)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    with pytest.raises(ReplayError, match="line 1: .*assistant"):
        select_file(bad)
    with pytest.raises(ReplayError, match="no replay run nope"):
        Replay(world, analyser, candidate(knows_money), "nope").start(None, datetime.now(UTC))
    os.environ.pop("LLMWATCH_TEST_MISSING_KEY", None)
    with pytest.raises(ReplayError, match="set LLMWATCH_TEST_MISSING_KEY"):
        _ = Candidate(knows_money.base_url, "m", api_key_env="LLMWATCH_TEST_MISSING_KEY").api_key
    with pytest.raises(ReplayError, match="run id"):
        Replay(world, analyser, candidate(knows_money), "../etc")


def test_retention_and_erasure_reach_replayed_prompts(world: Store, analyser: Any,
                                                      knows_money: ChatServer) -> None:
    from llmwatch.storage.retention import RetentionPolicy, apply_retention, erase

    traffic = select_ticket(world, drift_ticket(world), limit=30)
    job = Replay(world, analyser, candidate(knows_money), "kept")
    job.start(traffic, datetime.now(UTC))
    job.run()
    some = traffic.calls[0].source_id
    erase(world.engine, event_ids=[some])
    with Session(world.engine) as s:
        assert s.get(ReplayCallRow, ("kept", some)) is None
    apply_retention(world.engine, RetentionPolicy(raw_text_days=1),
                    datetime(2026, 11, 23, tzinfo=UTC) + timedelta(days=30))
    with Session(world.engine) as s:
        assert not s.execute(select(ReplayCallRow)).first()


def test_the_corpus_model_answers_from_its_corpus() -> None:
    model = CorpusModel([("what is a stock", "A share of a company."),
                         ("how are you", "Fine, thanks.")])
    assert model.answer([{"role": "user", "content": "What's a stock?"}]) == \
        "A share of a company."
    with pytest.raises(ValueError):
        CorpusModel([])


# -- end to end: Kafka, a worker, PostgreSQL ------------------------------------------------
def test_replay_end_to_end_on_kafka_never_mixes_with_production(
    kafka: Any, postgres_url: str, settings_for: Any, tmp_path: Path, analyser: Any,
    chitchat_only: ChatServer,
) -> None:
    """Calls go through Kafka and the worker into PostgreSQL; a replay of their segment is
    judged; the worker goes on with more traffic, drift rounds and a report — and none of it
    ever sees the candidate."""
    from kafka import KafkaProducer
    from test_end_to_end import prepared, start_worker, wait_for

    from llmwatch.detectors.segments import Segment
    from llmwatch.replay import select_segment
    from llmwatch.report.period import Period
    from llmwatch.report.service import write_report
    from llmwatch.simulate import TrafficPlan, traffic

    s = settings_for(kafka.bootstrap, postgres_url,
                     drift={"reference_size": 100, "window_size": 50, "online": False})
    store = prepared(s)
    log = tmp_path / "worker.log"
    worker = start_worker(s, log)
    start = datetime.now(UTC) - timedelta(hours=2)
    try:
        def produce(plan: TrafficPlan) -> int:
            producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
            n = 0
            for m in traffic(plan):
                producer.send(s.topics.events, key=m.key, value=m.value)
                n += m.kind == "llm_call"
            producer.close()
            return n

        first = produce(TrafficPlan(events=160, seed=11, start=start, spacing_s=20,
                                    feedback_rate=0))
        wait_for(lambda: store.counts().events == first, "the calls to be stored", log)
        segment = Segment("support-bot", "*", "*", "*")
        traffic_ = select_segment(store, segment, start, datetime.now(UTC), limit=80)
        assert len(traffic_.calls) == 80
        job = Replay(store, analyser, candidate(chitchat_only, "cand-e2e"), "e2e")
        job.start(traffic_, datetime.now(UTC))
        result = job.run()
        assert result.complete and result.verdict is not None
        assert result.verdict.calls == 80
        # the worker goes on: more traffic, drift windows over it
        second = produce(TrafficPlan(events=120, seed=12, start=start + timedelta(hours=1),
                                     spacing_s=20, feedback_rate=0))
        wait_for(lambda: store.counts().events == first + second, "more calls stored", log)
        with Session(store.engine) as db:
            wait_for(lambda: db.execute(select(func.count()).select_from(DriftBaselineRow))
                     .scalar_one() > 0, "a drift baseline", log)
            models = set(db.execute(select(EventRow.model).distinct()).scalars())
            segments = set(db.execute(select(DriftBaselineRow.segment)).scalars())
            segments |= set(db.execute(select(FindingRow.segment)).scalars())
        assert models == {"chat-model"}
        assert segments and not any("cand-e2e" in seg or "replay:" in seg for seg in segments)
        report = write_report(store, s, Period(start, datetime.now(UTC) + timedelta(minutes=1)))
        assert report is not None
        assert "cand-e2e" not in json.dumps(report.figures, default=str)
        assert report.figures["overall"]["volume"]["current"] == first + second
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)


def test_the_second_opinion_decides_replayed_flags_as_in_production(
    store: Store, analyser: Any, tmp_path: Path
) -> None:
    """A judge (a local OpenAI-compatible server) that reads every refusal the cheap check
    raised as no refusal clears them on both sides: with it the refusing candidate is no
    regression, without it it is."""
    from openai_server import API_KEY, OpenAICompatible

    from llmwatch.judge import OpenAIJudge

    judge = OpenAICompatible(rule=lambda doc, checks: {c: False for c in checks}).start()
    refuses = ChatServer(topic_model(None, refuse=lambda p: zlib.crc32(p.encode()) % 2 == 0),
                         api_key=KEY).start()
    try:
        from llmwatch.simulate import chitchat_pairs

        path = tmp_path / "calls.jsonl"
        path.write_text("\n".join(json.dumps({"messages": [
            {"role": "user", "content": q}, {"role": "assistant", "content": a}]})
            for q, a in chitchat_pairs("heldout")[:40]) + "\n")
        traffic = select_file(path, as_findings=False)
        plain = Replay(store, analyser, candidate(refuses, "r1"), "plain")
        plain.start(traffic, datetime.now(UTC))
        assert plain.run().verdict.decision == "regression"  # type: ignore[union-attr]
        tier = OpenAIJudge.connect(judge.base_url, "judge", API_KEY, timeout_s=10, retries=0,
                                   checks=("refusal",))
        judged = Replay(store, analyser, candidate(refuses, "r2"), "judged",
                        second_opinion=[tier])
        judged.start(traffic, datetime.now(UTC))
        v = judged.run().verdict
        assert v is not None and v.decision == "no_worse", v.headline
        assert judge.requests  # the judge was asked, only about flagged answers
        assert len(judge.requests) <= 40
    finally:
        judge.stop()
        refuses.stop()


def test_a_pairwise_judge_prefers_answers_over_refusals_whatever_the_order(
    store: Store, analyser: Any, chitchat_only: ChatServer, tmp_path: Path
) -> None:
    """The pairwise judge (a local OpenAI-compatible server) sees the two answers in an order
    decided per call; it prefers whichever is not a refusal, so the tally must credit the
    candidate whichever slot it was shown in."""
    import re as re_

    from openai_server import API_KEY, OpenAICompatible

    shown: list[str] = []

    def prefer_the_answer(messages: list[dict[str, Any]]) -> str:
        doc = json.loads(re_.search(r"```json\n(.*?)\n```", messages[-1]["content"],
                                    re_.S).group(1))
        shown.append(doc["answer_A"])
        better = "B" if doc["answer_A"] == REFUSAL else "A"
        return json.dumps({"better": better, "reason": "it answers"})

    judge = OpenAICompatible(chat=prefer_the_answer).start()
    try:
        path = refusal_file(tmp_path / "refused.jsonl", n=20)
        traffic = select_file(path, finding=Finding("quality_rate", "refusal_rate"))
        os.environ["LLMWATCH_TEST_JUDGE_KEY"] = API_KEY
        pairwise = Candidate(judge.base_url, "pairwise-judge",
                             api_key_env="LLMWATCH_TEST_JUDGE_KEY", concurrency=4)
        job = Replay(store, analyser, candidate(chitchat_only), "pairwise", pairwise=pairwise)
        job.start(traffic, datetime.now(UTC))
        v = job.run().verdict
        assert v is not None
        t = v.numbers["pairwise"]
        assert (t["candidate"], t["serving"], t["judged"]) == (20, 0, 20) and t["p_value"] < 0.001
        assert 0 < shown.count(REFUSAL) < 20  # both orders were used
        assert "pairwise judge preferred the candidate in 20 of 20" in v.headline
    finally:
        judge.stop()
