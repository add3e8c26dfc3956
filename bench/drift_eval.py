"""How honest and how fast is llmwatch's drift detection? Real data, side by side with Evidently.

    python -m bench.drift_eval [--topic coding] [--null-trials 1000] [--power-trials 100]

Baseline traffic: distinct chitchat-dataset prompts (embedded with all-MiniLM-L6-v2). Shift: the
prompts of one chatterbot-corpus topic mixed into the current window at 5 %, 10 % and 20 %.
Reference and current windows are 1,000 × 384, drawn with replacement from the baseline pool
(independent draws from the same distribution, as "no drift" means).

Per method it prints: the measured false-alarm rate over the no-shift trials against the
configured rate; power (share of trials whose first shifted window fires) and the median
delay in events after the shift per shift size; and the time per test, beside Evidently's
default embedding drift (its domain classifier, `model()`) on the same windows in the same
run. The online detector is measured on streams: its mean run length between false alarms
against the configured one, and its delay after the shift.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from bench.embedded_corpus import Corpus, load_corpus
from llmwatch.detectors.embedding_drift import make_test
from llmwatch.detectors.online import OnlineCentroidDetector

N = 1000
ALPHA = 0.05
SHIFTS = (0.05, 0.10, 0.20)
MAX_WINDOWS = 5  # windows watched after the shift before a trial counts as missed


@dataclass
class Row:
    method: str
    false_alarm_rate: float
    null_trials: int
    power: dict[float, float]
    delay: dict[float, float]
    fit_ms: float
    test_ms: float


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topic", default="coding")
    parser.add_argument("--null-trials", type=int, default=1000)
    parser.add_argument("--slow-null-trials", type=int, default=200)
    parser.add_argument("--power-trials", type=int, default=100)
    parser.add_argument("--online-trials", type=int, default=200)
    parser.add_argument("--online-only", action="store_true",
                        help="only the online detector (run length, detection delay)")
    parser.add_argument("--backend", default="minilm", help="whose vectors (minilm, static)")
    parser.add_argument("--online-window", type=int, help="default: the worker's")
    parser.add_argument("--online-check-every", type=int, help="default: the worker's")
    parser.add_argument("--round", action="store_true",
                        help="then the worker's full round (every metric, weighted BH) and its "
                             "explanations, as bench/drift_round_eval.py measures them")
    parser.add_argument("--round-topic", default="emotion",
                        help="the round's shift: a topic never used for tuning (default emotion)")
    parser.add_argument("--round-trials", type=int, default=200)
    args = parser.parse_args()
    if args.online_window:
        ONLINE.update(window=args.online_window,
                      every=args.online_check_every or max(args.online_window // 10, 1))
    corpus = load_corpus(args.topic, backend=args.backend)
    if args.online_only:
        online(corpus, np.random.default_rng(42), args.online_trials, args.power_trials)
    else:
        windowed_tests(corpus, args)
    if args.round:
        import drift_round_eval

        print(f"\nthe worker's full round, on chatterbot '{args.round_topic}' "
              f"(bench/drift_round_eval.py):", flush=True)
        drift_round_eval.run(args.round_topic, args.backend, args.round_trials)
    else:
        print("\nthe worker's full round and its explanations: --round "
              "(or bench/drift_round_eval.py)")


def windowed_tests(corpus: Corpus, args: argparse.Namespace) -> None:
    """Every windowed test side by side with Evidently's, then the online detector."""
    print(f"baseline pool: {len(corpus.baseline)} chitchat prompts; shift: "
          f"{len(corpus.shift)} chatterbot '{args.topic}' prompts; windows {N}×{N}×"
          f"{corpus.baseline.shape[1]}; alpha {ALPHA}\n", flush=True)
    rng = np.random.default_rng(42)
    rows = [
        windowed("centroid (default)", _ours("centroid"), corpus, rng, args.null_trials,
                 args.power_trials),
        windowed("mmd", _ours("mmd"), corpus, rng, args.slow_null_trials, args.power_trials),
        windowed("classifier", _ours("classifier"), corpus, rng, args.slow_null_trials,
                 args.power_trials),
        windowed("evidently model()", _evidently(), corpus, rng, args.slow_null_trials,
                 args.power_trials),
    ]
    report(rows)
    online(corpus, rng, args.online_trials, args.power_trials)
    verdict(rows)


Tester = tuple[Callable[[np.ndarray], object], Callable[[object, np.ndarray], bool]]


def _ours(method: str) -> Tester:
    test = make_test(method, alpha=ALPHA)
    return test.fit, lambda state, cur: test.test(state, cur).drifted  # type: ignore[arg-type]


def _evidently() -> Tester:
    import pandas as pd
    from evidently.legacy.metrics.data_drift.embedding_drift_methods import model

    method = model(bootstrap=N < 1000)  # what EmbeddingsDriftMetric picks by default

    def fit(ref: np.ndarray) -> object:
        return ref

    def drifted(ref: object, cur: np.ndarray) -> bool:
        _, fired, _ = method(pd.DataFrame(cur), pd.DataFrame(ref))
        return bool(fired)

    return fit, drifted


def draw(pool: np.ndarray, rng: np.random.Generator, n: int = N) -> np.ndarray:
    return pool[rng.integers(0, len(pool), n)]


def shifted(corpus: Corpus, rng: np.random.Generator, share: float) -> np.ndarray:
    window = draw(corpus.baseline, rng)
    mixed = rng.random(N) < share
    window[mixed] = draw(corpus.shift, rng, int(mixed.sum()))
    return window


def windowed(name: str, tester: Tester, corpus: Corpus, rng: np.random.Generator,
             null_trials: int, power_trials: int) -> Row:
    fit, drifted = tester
    fit_s = test_s = 0.0
    alarms = 0
    for _ in range(null_trials):
        reference, current = draw(corpus.baseline, rng), draw(corpus.baseline, rng)
        t0 = time.perf_counter()
        state = fit(reference)
        t1 = time.perf_counter()
        alarms += drifted(state, current)
        t2 = time.perf_counter()
        fit_s, test_s = fit_s + t1 - t0, test_s + t2 - t1
    power, delay = {}, {}
    for share in SHIFTS:
        delays = []
        for _ in range(power_trials):
            state = fit(draw(corpus.baseline, rng))
            k = next((k for k in range(MAX_WINDOWS) if drifted(state, shifted(corpus, rng, share))),
                     None)
            delays.append(np.inf if k is None else (k + 1) * N)
        power[share] = float(np.mean([d == N for d in delays]))
        delay[share] = float(np.median(delays))
    row = Row(name, alarms / null_trials, null_trials, power, delay,
              1000 * fit_s / null_trials, 1000 * test_s / null_trials)
    print(f"  measured {name}", flush=True)
    return row


def report(rows: list[Row]) -> None:
    head = (f"{'method':<20} {'false alarms':>14} {'(trials)':>8} "
            + " ".join(f"{f'power@{s:.0%}':>10} {f'delay@{s:.0%}':>10}" for s in SHIFTS)
            + f" {'fit ms':>8} {'test ms':>8} {'fit+test':>9}")
    print("\n" + head)
    for r in rows:
        cells = " ".join(f"{r.power[s]:>10.2f} {r.delay[s]:>10.0f}" for s in SHIFTS)
        print(f"{r.method:<20} {r.false_alarm_rate:>9.3f}/{ALPHA:.2f} {r.null_trials:>8} {cells} "
              f"{r.fit_ms:>8.1f} {r.test_ms:>8.2f} {r.fit_ms + r.test_ms:>9.1f}")
    print("(false alarms: measured / configured; power: first shifted window fires; delay: "
          "median events after the shift until a window fires, inf = not within "
          f"{MAX_WINDOWS} windows)")


def online(corpus: Corpus, rng: np.random.Generator, trials: int, power_trials: int,
           power_ert: int = 100_000) -> None:
    """The online detector (`--online-window`, default the worker's): run length between
    false alarms against the configured one, then detection within N events of a shift at a
    week's budget for modest traffic (`power_ert`, ≈ 7 days at 0.17 events/s)."""
    from llmwatch.config import DriftSettings

    ert = 5_000
    defaults = DriftSettings()
    window, every = ONLINE.get("window", defaults.online_window), ONLINE.get(
        "every", defaults.online_check_every)
    detector = OnlineCentroidDetector(window=window, check_every=every, expected_run_length=ert)
    run_lengths, cal_s = [], 0.0
    cap = 10 * ert
    for _ in range(trials):
        t0 = time.perf_counter()
        cal = detector.calibrate(draw(corpus.baseline, rng))
        cal_s += time.perf_counter() - t0
        state = detector.initial_state(cal)
        while state.events_seen < cap:
            state, alarms = detector.step(state, draw(corpus.baseline, rng, 500))
            if alarms:
                run_lengths.append(alarms[0].event_index)
                break
        else:
            run_lengths.append(cap)
    measured = float(np.mean(run_lengths))
    print(f"\nonline centroid (window {window}, check every {every}), configured one false alarm per "
          f"{ert} events: measured mean run length {measured:.0f} over {trials} no-shift "
          f"streams → false-alarm rate {1 / measured:.2e}/event vs {1 / ert:.2e} configured "
          f"({measured / ert - 1:+.0%}); calibration {1000 * cal_s / trials:.0f} ms")
    detector = replace(detector, expected_run_length=power_ert)
    print(f"  at one false alarm per {power_ert:,} events:")
    for share in SHIFTS:
        delays = []
        for t in range(power_trials):
            if t % 10 == 0:
                cal = detector.calibrate(draw(corpus.baseline, rng, 3000))
            state = detector.initial_state(cal)
            state, early = detector.step(state, draw(corpus.baseline, rng, window))
            if early:
                continue  # a false alarm before the shift: not a detection
            start = state.events_seen
            delay = np.inf
            for _ in range(5 * N // 100):
                state, alarms = detector.step(state, shifted(corpus, rng, share)[:100])
                if alarms:
                    delay = alarms[0].event_index - start
                    break
            delays.append(delay)
        within = np.mean([d <= N for d in delays])
        print(f"  shift {share:.0%}: detected within {N} events in {within:.2f} of streams, "
              f"median delay {np.median(delays):.0f} events")
    ONLINE_RESULT.update(measured=measured, configured=ert)


ONLINE_RESULT: dict[str, float] = {}
ONLINE: dict[str, int] = {}  # --online-window / --online-check-every


def verdict(rows: list[Row]) -> None:
    ours = rows[0]
    evidently = rows[-1]
    fa_ok = abs(ours.false_alarm_rate - ALPHA) <= 0.25 * ALPHA
    online_ok = abs(ONLINE_RESULT["measured"] / ONLINE_RESULT["configured"] - 1) <= 0.25
    evidently_ms = evidently.fit_ms + evidently.test_ms
    speed_test = evidently_ms / ours.test_ms
    speed_refit = evidently_ms / (ours.fit_ms + ours.test_ms)
    print("\ntargets")
    print(f"  default false-alarm rate within ±25 % of {ALPHA}: {ours.false_alarm_rate:.3f} "
          f"{'PASS' if fa_ok else 'FAIL'}")
    print(f"  online run length within ±25 % of configured: "
          f"{ONLINE_RESULT['measured']:.0f} vs {ONLINE_RESULT['configured']:.0f} "
          f"{'PASS' if online_ok else 'FAIL'}")
    print(f"  10 % shift detected within one window with power ≥ 0.9: {ours.power[0.10]:.2f} "
          f"{'PASS' if ours.power[0.10] >= 0.9 else 'FAIL'}")
    print(f"  default ≥ 10× faster than Evidently's default per window test: {speed_test:.0f}× "
          f"{'PASS' if speed_test >= 10 else 'FAIL'} (the baseline is fitted once per segment; "
          f"refitting it for every window too: {speed_refit:.0f}×)")
    equal = all(ours.power[s] >= evidently.power[s] for s in SHIFTS)
    print("  ... at equal or better power: "
          + ", ".join(f"{s:.0%}: {ours.power[s]:.2f} vs {evidently.power[s]:.2f}" for s in SHIFTS)
          + f" {'PASS' if equal else 'FAIL'}")


if __name__ == "__main__":
    main()
