"""The drift space: a uniform sample of each segment's calls in all-MiniLM-L6-v2 (ONNX, no
PyTorch), windows in event time up to the slowest partition, and the model's provenance."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.request import urlopen

import numpy as np
import pytest
from factories import make_event
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from llmwatch.config import DriftSettings
from llmwatch.detectors.sampling import SampleRate, in_sample
from llmwatch.detectors.segments import Segment
from llmwatch.detectors.watermark import Watermark
from llmwatch.onnx_embedding import MODEL, PROVENANCE, TOKENIZER, ModelMismatch, OnnxMiniLM
from llmwatch.schemas.embedded import EmbeddedEvent, SourcePosition
from llmwatch.storage import Store
from llmwatch.storage.tables import DriftVectorRow
from llmwatch.streams.drift_space import DriftSpace
from llmwatch.streams.drift_stage import DriftStage

T0 = datetime(2026, 11, 2, tzinfo=UTC)


# -- sampling --------------------------------------------------------------------------------
def test_the_sample_is_uniform_and_a_replay_picks_the_same_calls() -> None:
    ids = [f"call-{i}" for i in range(20_000)]
    chosen = [i for i in ids if in_sample(i, 0.25)]
    assert 0.24 < len(chosen) / len(ids) < 0.26
    assert chosen == [i for i in ids if in_sample(i, 0.25)]  # by the id alone
    assert all(in_sample(i, 1.0) for i in ids[:100])
    assert not any(in_sample(i, 0.0) for i in ids[:100])


def test_every_call_below_the_rate_then_a_share_that_caps_the_cost() -> None:
    rates = SampleRate(every_call_below=20.0, max_per_s=1000.0, half_life_s=1.0)
    now = T0
    assert rates.observe("quiet", 5, now) == 1.0
    for _ in range(30):  # 5 calls a second
        now += timedelta(seconds=1)
        assert rates.observe("quiet", 5, now) == 1.0
    busy = T0
    rates.observe("busy", 400, busy)
    for _ in range(30):  # 400 calls a second
        busy += timedelta(seconds=1)
        share = rates.observe("busy", 400, busy)
    assert share == pytest.approx(20 / 400, rel=0.05)  # ~20 calls a second are read


def test_busy_segments_share_the_workers_budget() -> None:
    rates = SampleRate(every_call_below=10.0, max_per_s=20.0, half_life_s=1.0)
    now = T0
    for _ in range(30):
        now += timedelta(seconds=1)
        shares = [rates.observe(f"app-{k}", 100, now) for k in range(4)]
    read = sum(share * 100 for share in shares)
    assert read == pytest.approx(20.0, rel=0.05)  # 4 busy segments, 20 calls a second in all
    assert max(shares) == pytest.approx(min(shares), rel=0.05)
    burst = SampleRate(every_call_below=10.0, max_per_s=10.0)
    assert burst.observe("new", 256, T0) == pytest.approx(10 / 256)  # not read whole


# -- watermark -------------------------------------------------------------------------------
def test_the_watermark_waits_for_the_slowest_partition() -> None:
    mark = Watermark(idle_s=10, lateness_s=0)
    now = T0
    mark.observe(0, T0 + timedelta(minutes=30), now)
    mark.observe(1, T0 + timedelta(minutes=5), now)  # behind: its worker restarted
    assert mark.value(now) == T0 + timedelta(minutes=5)
    mark.observe(1, T0 + timedelta(minutes=29), now + timedelta(seconds=1))
    assert mark.value(now + timedelta(seconds=1)) == T0 + timedelta(minutes=29)


def test_an_idle_partition_stops_holding_back_and_quiet_settles_everything() -> None:
    mark = Watermark(idle_s=10, lateness_s=0)
    mark.observe(0, T0, T0)
    for k in range(1, 20):  # partition 1 keeps going, partition 0 gets no more calls
        mark.observe(1, T0 + timedelta(seconds=k), T0 + timedelta(seconds=k))
    assert mark.value(T0 + timedelta(seconds=19)) == T0 + timedelta(seconds=19)
    assert mark.value(T0 + timedelta(seconds=5)) is not None
    quiet = Watermark(idle_s=10, lateness_s=2)
    quiet.observe(0, T0 + timedelta(seconds=3), T0)
    quiet.observe(1, T0 + timedelta(seconds=9), T0)
    assert quiet.value(T0) == T0 + timedelta(seconds=1)  # the slowest, less the slack
    assert quiet.value(T0 + timedelta(seconds=11)) == T0 + timedelta(seconds=9)


def test_no_watermark_until_every_partition_spoke_or_calls_came_for_a_while() -> None:
    mark = Watermark(idle_s=10, lateness_s=0, partitions=3)
    mark.observe(0, T0 + timedelta(seconds=50), T0)
    mark.observe(1, T0 + timedelta(seconds=40), T0 + timedelta(seconds=1))
    assert mark.value(T0 + timedelta(seconds=2)) is None  # partition 2 may hold older calls
    mark.observe(2, T0 + timedelta(seconds=30), T0 + timedelta(seconds=3))
    assert mark.value(T0 + timedelta(seconds=3)) == T0 + timedelta(seconds=30)
    thin = Watermark(idle_s=10, lateness_s=0, partitions=3)
    for k in range(12):  # one partition only, for longer than idle_s
        thin.observe(0, T0 + timedelta(seconds=k), T0 + timedelta(seconds=k))
    assert thin.value(T0 + timedelta(seconds=11)) == T0 + timedelta(seconds=11)


def _call(i: int, partition: int, vector: np.ndarray) -> EmbeddedEvent:
    event = make_event(i, timestamp=T0 + timedelta(seconds=i), prompt=f"question {i}")
    return EmbeddedEvent(event, vector, vector, SourcePosition("events", partition, i))


def test_windows_follow_event_time_when_partitions_progress_unevenly(store: Store) -> None:
    """Partition 1 lags 150 calls behind partition 0: each window still holds calls of one
    stretch of time, never a mix of the two."""
    settings = DriftSettings(reference_size=100, window_size=100, online=False, clusters=2,
                             idle_partition_s=3600, lateness_s=0)
    stage = DriftStage(store, settings, partitions=2)
    rng = np.random.default_rng(0)
    calls = []
    for i in range(600):
        v = rng.normal(size=16)
        calls.append(_call(i, i % 2, (v / np.linalg.norm(v)).astype(np.float32)))
    even = [c for c in calls if c.source and c.source.partition == 0]
    odd = [c for c in calls if c.source and c.source.partition == 1]
    now = datetime.now(UTC)
    windows = []
    for step in range(0, 300, 25):  # partition 0 runs 75 calls (150 s) ahead of partition 1
        batch = even[step:step + 25] + (odd[step - 75:step - 50] if step >= 75 else [])
        store.save_events(batch)
        windows += [f.window for f in stage.process(batch, now)
                    if f.metric == "prompt_embedding"]
    assert len(windows) >= 2
    for a, b in zip(windows, windows[1:], strict=False):
        assert a.end is not None and b.start is not None and a.end < b.start
    assert stage.late == 0


# -- the ONNX model ----------------------------------------------------------------------------
def test_the_shipped_model_matches_its_provenance_and_pytorch() -> None:
    provenance = json.loads(PROVENANCE.read_text())
    assert provenance["command"] == "python -m training.minilm_onnx"
    assert provenance["agreement_with_pytorch"]["mean_cosine"] >= 0.98
    texts = ["How do I reset my password?", "Quels sont les horaires d'ouverture ?",
             "a fabric woven from goat hair and camel hair", ""]
    onnx = OnnxMiniLM.load().encode(texts)
    assert onnx.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-4)
    torch_model = pytest.importorskip("sentence_transformers")
    del torch_model
    from llmwatch.embedding import load_model

    reference = load_model().encode(texts, normalize_embeddings=True)
    assert float(np.min(np.sum(onnx * reference, axis=1))) > 0.95


def test_a_changed_model_file_is_refused_with_what_to_do(tmp_path: Path) -> None:
    model, tokenizer = tmp_path / MODEL.name, tmp_path / TOKENIZER.name
    shutil.copyfile(MODEL, model)
    shutil.copyfile(TOKENIZER, tokenizer)
    with model.open("r+b") as f:
        f.seek(-1, 2)
        f.write(b"\x00" if f.read(1) != b"\x00" else b"\x01")
    model.with_suffix(".json").write_text(PROVENANCE.read_text())
    with pytest.raises(ModelMismatch, match="make train"):
        OnnxMiniLM.load(model, tokenizer)


# -- the space on a real database ----------------------------------------------------------
def test_sampled_calls_are_stored_in_the_drift_space_once(store: Store) -> None:
    space_store = Store(store.url, drift_space="all-MiniLM-L6-v2/onnx-int8")
    settings = DriftSettings(sample_every_call_below=20.0, space_answers=True)
    space = DriftSpace(space_store, settings, OnnxMiniLM.load())
    space.rates = SampleRate(every_call_below=20.0, max_per_s=1000.0, half_life_s=1.0)
    v = np.ones(8, dtype=np.float32) / np.sqrt(8)
    first = [_call(i, 0, v) for i in range(10)]
    store.save_events(first)
    read = space.process(first, T0)  # a quiet segment: every call is read
    assert len(read) == 10 and read[0].prompt_vector.shape == (384,)
    assert len(space.process(first, T0 + timedelta(seconds=1))) == 10  # a replay
    assert space_store.save_drift_vectors([("evt-000000", v, None, 1.0)]) == 0  # stored once
    busy = [_call(1000 + i, 0, v) for i in range(2000)]
    store.save_events(busy)
    space.process(busy[:10], T0 + timedelta(seconds=2))
    share = []
    for k in range(10):  # 2,000 calls in 10 s: 200 a second, ten times the cap
        chunk = busy[k * 200:(k + 1) * 200]
        share.append(len(space.process(chunk, T0 + timedelta(seconds=3 + k))) / len(chunk))
    assert share[-1] < 0.3  # the cost is capped
    with space_store.engine.connect() as conn:
        rows = conn.execute(select(func.count(), func.min(DriftVectorRow.fraction))
                            .select_from(DriftVectorRow)).one()
    assert rows[0] < 10 + 10 + 2000 * 0.5 and rows[1] < 0.3


def test_a_baseline_of_the_other_space_is_taken_anew_once_and_said(
        store: Store, caplog: pytest.LogCaptureFixture) -> None:
    settings = DriftSettings(reference_size=50, window_size=50, online=False, clusters=2,
                             sample_every_call_below=1e6, sample_max_per_s=1e6)
    rng = np.random.default_rng(1)

    def calls(start: int) -> list[EmbeddedEvent]:
        vs = rng.normal(size=(60, 16))
        return [_call(start + i, 0, (v / np.linalg.norm(v)).astype(np.float32))
                for i, v in enumerate(vs)]

    old = calls(0)
    store.save_events(old)
    DriftStage(store, settings).process(old, datetime.now(UTC))  # fitted in the per-call space
    name = "all-MiniLM-L6-v2/onnx-int8"
    space_store = Store(store.url, drift_space=name)
    stage, space = DriftStage(space_store, settings), DriftSpace(space_store, settings,
                                                                OnnxMiniLM.load())
    for k in range(3):
        new = calls(100 + 60 * k)
        store.save_events(new)
        now = datetime.now(UTC)
        stage.process(space.process(new, now), now, arrived=new)
    said = [r for r in caplog.records if "drift now reads" in r.getMessage()]
    assert len(said) == 1 and name in said[0].getMessage()
    [key] = stage._baselines
    baseline = stage.repo.baseline(key)
    assert baseline is not None and baseline[0].embedding == name


# -- the worker on real Kafka and PostgreSQL ---------------------------------------------------
def test_a_stalled_drift_space_delays_drift_raises_the_watchdog_and_loses_no_window(
        kafka, postgres_url: str, settings_for, tmp_path: Path) -> None:  # noqa: ANN001
    """The drift space cannot write (its table is locked): ingest goes on and stores every
    call, the enriched topic's lag grows and the watchdog says drift is behind; once the
    lock goes, every window is judged and the alert resolves."""
    from slack_server import TOKEN, SlackAPI
    from sqlalchemy import create_engine, text
    from test_end_to_end import prepared, wait_for
    from test_observability import produce, start, stop

    from llmwatch.simulate import TrafficPlan
    from llmwatch.storage.tables import DriftCursorRow, EventRow

    s = settings_for(kafka.bootstrap, postgres_url)
    store = prepared(s)
    slack = SlackAPI().start()
    worker, port, log, _ = start(
        s, tmp_path, LLMWATCH_ALERTS__SLACK_TOKEN=TOKEN,
        LLMWATCH_ALERTS__SLACK_BASE_URL=slack.base_url, LLMWATCH_ALERTS__DELIVER_EVERY_S="1",
        LLMWATCH_ALERTS__GROUP_INTERVAL_S="0", LLMWATCH_WATCHDOG__EVERY_S="2",
        LLMWATCH_WATCHDOG__MAX_LAG="1", LLMWATCH_REPORT__ENABLED="false")
    blocker = create_engine(postgres_url).connect()

    def behind() -> list[str]:
        return [m["text"] for m in slack.messages if "drift_lag" in (m["text"] or "")]

    def windows() -> int:
        with store.engine.connect() as conn:
            return int(conn.execute(select(func.coalesce(func.sum(DriftCursorRow.windows), 0))
                                    ).scalar_one())

    try:
        tx = blocker.begin()
        blocker.execute(text("LOCK TABLE drift_vectors IN EXCLUSIVE MODE"))
        plan = TrafficPlan(events=1000, feedback_rate=0, seed=4,
                           start=datetime.now(UTC) - timedelta(hours=1))
        produce(kafka.bootstrap, s.topics.events, plan)

        def stored() -> int:
            with store.engine.connect() as conn:
                return int(conn.execute(select(func.count()).select_from(EventRow)).scalar_one())

        wait_for(lambda: stored() == 1000, "ingest storing every call", log, timeout_s=180)
        wait_for(lambda: len(behind()) >= 1, "the drift-behind alert", log, timeout_s=120)
        assert windows() == 0  # drift waits; nothing was judged on a part of the calls
        tx.rollback()
        wait_for(lambda: windows() == 9, "every window judged (reference 100, 9 of 100)", log,
                 timeout_s=240)
        wait_for(lambda: any("resolve" in t for t in behind()), "the alert resolved", log,
                 timeout_s=120)
        metrics = urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert "llmwatch_drift_late_calls_total 0.0" in metrics
        assert 'llmwatch_drift_calls_total{sampled="yes"} 1000.0' in metrics
    finally:
        blocker.close()
        stop(worker)
        slack.stop()
    store.dispose()


def test_the_drift_space_sees_a_new_subject_in_the_same_style_that_the_static_space_misses(
        kafka, postgres_url: str, settings_for, tmp_path: Path) -> None:  # noqa: ANN001
    """WordNet's definitions: 600 of eight everyday themes, then 600 in which 8 % define
    animals. Through the worker (real Kafka, PostgreSQL), drift in the MiniLM space fires on
    the window; the static per-call vectors of the very same calls, judged by the same round,
    do not (seed 4 of the dev split: static p 0.37, MiniLM p 0.009 when it was chosen)."""
    from kafka import KafkaProducer
    from test_end_to_end import prepared, wait_for
    from test_observability import start, stop

    from llmwatch.detectors.drift_monitor import EventSample, decide, evaluate_window, fit_baseline
    from llmwatch.schemas import LLMEvent
    from llmwatch.simulate import wordnet_glosses
    from llmwatch.storage.drift_repo import DriftRepository
    from llmwatch.storage.tables import DriftBaselineRow, FindingRow
    from llmwatch.streams.drift_stage import drift_config

    glosses = wordnet_glosses("dev")
    everyday = [t for theme in ("artifact", "person", "act", "communication", "state",
                                "attribute", "cognition", "location") for t in glosses[theme]]
    rng = np.random.default_rng(4)
    reference = [str(x) for x in rng.choice(everyday, 600, replace=False)]
    window = [str(x) for x in rng.choice(everyday, 600, replace=False)]
    window[:48] = [str(x) for x in rng.choice(glosses["animal"], 48, replace=False)]
    s = settings_for(kafka.bootstrap, postgres_url)
    store = prepared(s)
    # every call read: the sample's share follows the arrival rate on the wall clock, so on a
    # busy machine the default (10 calls/s) read another share of the backlog, the 600-call
    # reference reached into the window's calls and the window never filled (this test is
    # about the space, not the sampling)
    worker, _, log, _ = start(s, tmp_path, LLMWATCH_DRIFT__REFERENCE_SIZE="600",
                              LLMWATCH_DRIFT__WINDOW_SIZE="600", LLMWATCH_DRIFT__ONLINE="false",
                              LLMWATCH_DRIFT__SAMPLE_EVERY_CALL_BELOW="100000",
                              LLMWATCH_DRIFT__SAMPLE_MAX_PER_S="100000")
    start_at = datetime.now(UTC) - timedelta(hours=2)
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")

    def send(texts: list[str], first: int) -> None:
        for i, text in enumerate(texts, start=first):
            event = LLMEvent(event_id=f"wn-{i:05d}", timestamp=start_at + timedelta(seconds=i),
                             app="glossary", model="gpt-4o-mini", prompt=text,
                             response="Here is a short definition.", latency_ms=400.0,
                             input_tokens=20, output_tokens=8)
            producer.send(s.topics.events, key=event.partition_key,
                          value=event.model_dump_json().encode())
        producer.flush()

    def baselines() -> int:
        with Session(store.engine) as session:
            return len(session.execute(select(DriftBaselineRow)).all())

    # the reference first, then the window: sent as one burst, the calls of a partition
    # read late could leave the reference's first calls out of it and pull 20 window calls
    # in (seen with the language gate's slower first batches: the watermark's open issue),
    # and the window would never fill
    send(reference, 0)
    wait_for(lambda: baselines() == 1, "the reference's baseline", log, timeout_s=300)
    send(window, len(reference))
    producer.close()

    def judged() -> list[FindingRow]:
        with Session(store.engine) as session:
            return list(session.execute(select(FindingRow).where(
                FindingRow.detector == "embedding_drift",
                FindingRow.metric == "prompt_embedding")).scalars())

    try:
        wait_for(lambda: len(judged()) == 1, "the window judged in the drift space", log,
                 timeout_s=300)
    finally:
        stop(worker)
    [minilm] = judged()
    assert minilm.fired, minilm.p_value
    assert minilm.details["sample"] == {"read": 600, "calls": 600}

    from llmwatch.embedding import embedding_name

    static = DriftRepository(Store(postgres_url, embedding_model=embedding_name("static")))
    config = drift_config(DriftSettings())
    segment = Segment("glossary", "gpt-4o-mini", None, None)
    before, last = static.records(segment, limit=600)
    after, _ = static.records(segment, after=last, limit=600)
    assert [r.prompt_text for r in after] == window
    baseline = fit_baseline(segment.key, EventSample.of(before), config)
    found = decide(evaluate_window(baseline, EventSample.of(after), config), config)
    [prompt] = [f for f in found if f.metric == "prompt_embedding"]
    assert not prompt.fired, prompt.p_value
    store.dispose()


def test_a_partition_with_calls_waiting_is_behind_not_idle() -> None:
    """Quiet for longer than idle_s, but its calls still wait in the events topic (ingest is
    behind on it): it holds the watermark; never heard from, it holds it back altogether."""
    mark = Watermark(idle_s=10, lateness_s=0, partitions=2)
    mark.observe(0, T0 + timedelta(seconds=100), T0)
    mark.observe(1, T0 + timedelta(seconds=20), T0)
    for k in range(1, 30):  # partition 0 advances; partition 1 falls quiet
        mark.observe(0, T0 + timedelta(seconds=100 + k), T0 + timedelta(seconds=k))
    later = T0 + timedelta(seconds=29)
    assert mark.value(later) == T0 + timedelta(seconds=129)  # by quiet alone: idle
    assert mark.value(later, {0: 0, 1: 300}) == T0 + timedelta(seconds=20)  # behind
    assert mark.value(later, {0: 0, 1: 0}) == T0 + timedelta(seconds=129)  # caught up
    unseen = Watermark(idle_s=10, lateness_s=0, partitions=2)
    unseen.observe(0, T0 + timedelta(seconds=5), T0)
    quiet = T0 + timedelta(seconds=60)
    assert unseen.value(quiet) == T0 + timedelta(seconds=5)
    assert unseen.value(quiet, {0: 0, 1: 40}) is None  # partition 1's calls may be older
