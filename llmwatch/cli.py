"""`llmwatch`: run the worker, replay traffic, try the demo, see what is happening."""

from __future__ import annotations

import logging
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from llmwatch.config import Settings, load_settings

app = typer.Typer(
    help="llmwatch: monitors LLM calls in production. Apps put one event per call on Kafka; "
    "the worker embeds, stores and checks them.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema: create or upgrade it.", no_args_is_help=True)
schemas_app = typer.Typer(help="The published JSON Schemas of the event contract.",
                          no_args_is_help=True)
tickets_app = typer.Typer(help="Retraining tickets: list, show, export a ticket's dataset.",
                          no_args_is_help=True)
app.add_typer(tickets_app, name="tickets")
app.add_typer(db_app, name="db")
app.add_typer(schemas_app, name="schemas")
embedding_app = typer.Typer(help="The embedding backend: check the shipped models.",
                            no_args_is_help=True)
app.add_typer(embedding_app, name="embedding")
console = Console()
err = Console(stderr=True)
_debug = False


def _version(value: bool) -> None:
    if value:
        from llmwatch import __version__

        console.print(f"llmwatch {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option(
        "--version", help="Print llmwatch's version and exit.", callback=_version,
        is_eager=True)] = False,
    debug: Annotated[bool, typer.Option(
        "--debug", help="Show the full traceback of an unexpected error.")] = False,
    config: Annotated[Path | None, typer.Option(
        "--config", help="A settings file (TOML), instead of LLMWATCH_CONFIG or "
        "./llmwatch.toml.", exists=True, dir_okay=False, readable=True)] = None,
) -> None:
    """llmwatch: monitors LLM calls in production."""
    global _debug
    _debug = debug
    if config is not None:
        import os

        os.environ["LLMWATCH_CONFIG"] = str(config)


@app.command()
def worker(
    loglevel: Annotated[str, typer.Option(help="crit, error, warn, info or debug.")] = "info",
) -> None:
    """Consume events from Kafka: validate, dead-letter, embed, store, hand on to detectors.

    Runs until Ctrl-C or SIGTERM. Reads LLMWATCH_* variables and llmwatch.toml.
    """
    from llmwatch.streams.app import run_worker

    run_worker(load_settings(), loglevel=loglevel)


@app.command()
def review() -> None:
    """Run a second-opinion worker: its own consumer group on the enriched topic re-judges
    calls the cheap checks are unsure of, calls carrying documents and a uniform sample,
    with the shipped reader, a classifier you supply and/or an LLM judge (`review.*`
    settings), within its budgets. Runs until Ctrl-C or SIGTERM."""
    from llmwatch.streams.review_app import run_review

    run_review(load_settings())


@app.command()
def gateway(
    port: Annotated[int | None, typer.Option(help="Port (gateway.port, 4318).")] = None,
    host: Annotated[str | None, typer.Option(help="Address (gateway.host, 127.0.0.1).")] = None,
) -> None:
    """Take calls over HTTP for producers without a Kafka client: OTLP/HTTP traces on
    /v1/traces (protobuf or JSON, gzip), JSON events on /v1/events; each passes the gate
    and goes to the events topic, rejects to the dead-letter topic. Runs until Ctrl-C or
    SIGTERM; several can run behind a load balancer."""
    from llmwatch.streams.gateway import run_gateway

    settings = load_settings()
    update = {k: v for k, v in {"port": port, "host": host}.items() if v is not None}
    if update:
        settings = settings.model_copy(
            update={"gateway": settings.gateway.model_copy(update=update)})
    run_gateway(settings)


@app.command()
def init() -> None:
    """Prepare Kafka and the database: wait until both answer, create llmwatch's topics and
    migrate the schema. Safe to run again, and from several places at once (the migration
    holds a lock). `llmwatch worker` does the same before it starts."""
    from llmwatch.config import mask_url
    from llmwatch.streams.app import wait_for_database, wait_for_kafka

    settings = load_settings()
    created = wait_for_kafka(settings)
    console.print(f"Kafka at {settings.kafka.bootstrap_servers}: "
                  + (f"created {', '.join(created)}" if created else "topics exist"))
    wait_for_database(settings)
    console.print(f"database at {mask_url(settings.storage.url)} is up to date")


@app.command()
def simulate(
    events: Annotated[int, typer.Option(help="LLM calls to produce.")] = 1000,
    rate: Annotated[float, typer.Option(help="Calls per second; 0 = as fast as possible.")] = 50,
    shift_at: Annotated[float | None, typer.Option(
        help="Start a topic shift after this fraction of the stream (e.g. 0.5).")] = None,
    shift_topic: Annotated[str, typer.Option(
        help="chatterbot-corpus topic mixed in by the shift (money, computers, health, ...).")
    ] = "money",
    shift_fraction: Annotated[float, typer.Option(
        help="Share of calls from the shift topic once the shift started.")] = 0.3,
    malformed: Annotated[int, typer.Option(
        help="Deliberately malformed messages to mix in (they go to the dead-letter topic).")
    ] = 0,
    feedback_rate: Annotated[float, typer.Option(
        help="Share of calls that get a thumbs up/down.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed replays the same stream.")
    ] = 7,
) -> None:
    """Replay realistic traffic (real chitchat conversations) into Kafka."""
    from llmwatch.simulate import send
    from llmwatch.streams.topics import ensure_topics

    settings = load_settings()
    plan = _plan(events, shift_at, shift_topic, shift_fraction, malformed, feedback_rate, seed)
    ensure_topics(settings)
    report = send(plan, topic=settings.topics.events,
                  kafka_options=settings.kafka.kafka_python_options(), rate=rate)
    console.print(
        f"produced {report.produced} messages to [bold]{settings.topics.events}[/]: "
        f"{report.llm_calls} calls ({report.shifted} shifted to '{shift_topic}'), "
        f"{report.feedback} feedback, {report.malformed} malformed; {report.failed} failed"
    )


@app.command()
def demo(
    events: Annotated[int, typer.Option(help="LLM calls in the simulated stream.")] = 1200,
    rate: Annotated[float, typer.Option(help="Calls per second; 0 = as fast as possible.")] = 200,
    shift_topic: Annotated[str, typer.Option(help="Topic mixed in half-way.")] = "money",
    workdir: Annotated[Path, typer.Option(help="Where the demo keeps its database and logs.")
    ] = Path(".llmwatch/demo"),
) -> None:
    """Everything on this machine: a local Apache Kafka, a worker, a shifted stream.

    Ends by printing what was produced, processed, stored and dead-lettered, and where to look.
    """
    from llmwatch.demo import run_demo

    sys.exit(run_demo(events=events, rate=rate, shift_topic=shift_topic, workdir=workdir,
                      console=console))


@app.command()
def report(
    from_: Annotated[str | None, typer.Option(
        "--from", help="First day (2026-11-16) or moment (2026-11-16T08:00) of the report, "
        "in the report time zone. Default: the last full period before today.")] = None,
    to: Annotated[str | None, typer.Option(
        help="End, exclusive (2026-11-23 = up to Sunday 22nd included). Default: today 00:00, "
        "or --from plus report.period_days.")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Folder for the HTML and JSON files (default: report.out_dir).")] = None,
    tz: Annotated[str | None, typer.Option(
        help="Time zone of --from/--to and of the report's days (default: report.timezone).")
    ] = None,
    slack: Annotated[bool, typer.Option(
        help="Also post the digest and the HTML file to Slack now (report.slack_channel; "
        "needs alerts.slack_token).")] = False,
) -> None:
    """Write a drift report for a period, now: HTML (opens offline) and JSON.

    Per segment, against the period before and the baseline: drift,
    topics, quality rates, latency, tokens and cost, versions, alerts and
    open tickets; Evidently's drift sections; a plain-words summary on top.

    The worker writes one on its schedule too (report.cron, report.timezone).
    """
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from llmwatch.report.period import Period, parse_day_or_time
    from llmwatch.report.service import write_report
    from llmwatch.storage import Store, upgrade

    settings = load_settings()
    if tz or out:
        settings = settings.model_copy(update={"report": settings.report.model_copy(update={
            k: v for k, v in (("timezone", tz), ("out_dir", out)) if v is not None})})
    zone = ZoneInfo(settings.report.timezone)
    days = timedelta(days=settings.report.period_days)
    try:
        today = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        start = parse_day_or_time(from_, zone) if from_ else None
        end = parse_day_or_time(to, zone) if to else (start + days if start else today)
        period = Period(start or end - days, end)
    except ValueError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    store = Store.of(settings)
    upgrade(store.engine)
    columns = [SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()]
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("reading storage", total=None)
        result = write_report(store, settings, period, slack=slack, now=datetime.now(UTC),
                              progress=lambda step: bar.update(task, description=step))
    assert result is not None  # an on-demand report has a key of its own
    f = result.figures
    console.print(f"[bold]llmwatch report[/] {f['period']['label']} ({f['period']['timezone']}): "
                  f"{f['overall']['volume']['current']:,} calls in {len(f['segments'])} "
                  f"segment(s), {f['alerts']['count']} alert(s), {len(f['tickets'])} open "
                  "ticket(s)")
    for item in f["summary"][:5]:
        console.print(f"  [{item['severity']}] {item['text']}", markup=False)
    console.print(f"HTML: {result.html_path}")
    console.print(f"JSON: {result.json_path}")
    if slack:
        _send_digest(store, settings)


def _send_digest(store, settings) -> None:  # type: ignore[no-untyped-def]
    """Deliver the report digest now if Slack is configured (only digests: alerts stay with
    the worker); otherwise it waits in the outbox, and the worker sends it once configured."""
    from llmwatch.storage.outbox import deliver, last_error
    from llmwatch.storage.reports import Reports
    from llmwatch.streams.alert_stage import AlertStage

    channel = settings.report.slack_channel or settings.alerts.channel
    if settings.alerts.slack_token is None:
        console.print(f"Slack digest for {channel} queued in the outbox: set "
                      "LLMWATCH_ALERTS__SLACK_TOKEN and the worker delivers it")
        return
    sinks = AlertStage(store, settings.alerts).sinks()
    deliver(store.engine, {"slack_report": sinks["slack_report"]})
    if Reports(store.engine).digests_pending():
        error = last_error(store.engine, "slack_report")
        err.print(f"[yellow]the Slack digest is not delivered yet[/] ({error or 'not due'}); "
                  "it waits in the outbox and the worker retries it")
    else:
        console.print(f"Slack digest and file delivered to {channel}")


@app.command()
def status(as_json: Annotated[bool, typer.Option(
        "--json", help="One JSON document, for scripts.")] = False) -> None:
    """What is stored, what is on the topics, lag per partition and the workers holding
    them, the last call stored, the outbox and the latest report."""
    import json

    from llmwatch.status import collect, render

    found = collect(load_settings())
    if as_json:
        print(json.dumps(found.to_json(), default=str, indent=2))
    else:
        render(found, console)


@app.command()
def kafka(
    port: Annotated[int, typer.Option(help="Loopback port for clients.")] = 9092,
    data_dir: Annotated[Path, typer.Option(help="Where the broker keeps its log.")
    ] = Path(".llmwatch/kafka"),
) -> None:
    """Run a local single-node Apache Kafka (KRaft) for development, until Ctrl-C."""
    import signal
    import time

    from llmwatch.local.kafka import KAFKA_VERSION, LocalKafka

    data_dir.mkdir(parents=True, exist_ok=True)
    broker = LocalKafka(port=port, data_dir=data_dir.resolve())
    with console.status(f"starting Apache Kafka {KAFKA_VERSION} ..."):
        broker.start()
    console.print(f"Kafka is up at [bold]{broker.bootstrap}[/] (log: {broker.log_file}); "
                  "Ctrl-C stops it.")
    signal.signal(signal.SIGTERM, _interrupt)  # `kill`, systemd, docker stop: as Ctrl-C
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        with console.status("stopping Apache Kafka ..."):
            broker.stop()
        console.print("Kafka stopped")


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


@app.command()
def event(event_id: Annotated[str, typer.Argument(help="The event_id of a stored call.")]) -> None:
    """Show one stored call with its quality scores (text as `privacy.examples` says:
    redacted by default)."""
    from llmwatch.storage import Store

    settings = load_settings()
    policy = settings.privacy.policy()

    def show(text: str | None, n: int) -> str:
        if not text:
            return ""
        return (policy.show(text, limit=n)
                or f"(withheld: privacy.examples = none, {len(text)} chars)")

    found = Store.of(settings).event(event_id)
    if found is None:
        err.print(f"no stored event '{event_id}'; `llmwatch status` shows what is stored")
        raise typer.Exit(1)
    row, scores = found
    from llmwatch.detectors.segments import Segment

    segment = Segment(row.app, row.model, row.model_version, row.prompt_version).describe()
    console.print(f"{row.event_id}  {row.timestamp:%Y-%m-%d %H:%M:%S}  {segment}", markup=False)
    console.print(f"prompt:   {show(row.prompt_text, 500)}", markup=False)
    console.print(f"response: {show(row.response_text, 500)}", markup=False)
    latency = f"{row.latency_ms:,.0f} ms" if row.latency_ms is not None else "-"
    cost = f"${row.cost_usd:.6f}".rstrip("0").rstrip(".") if row.cost_usd is not None else "-"
    console.print(f"latency {latency}, tokens {row.input_tokens or '-'} in / "
                  f"{row.output_tokens or '-'} out, cost {cost}, finish "
                  f"{row.finish_reason or '-'}" + (f", error {policy.redact(row.error)[:200]}"
                                                   if row.error else ""), markup=False)
    table = Table(title="quality checks")
    for column in ("check", "score", "flagged", "details"):
        table.add_column(column)
    for s in scores:
        shown = {k: round(v, 3) if isinstance(v, float) else v for k, v in s.details.items()
                 if v not in (None, [], {})}
        table.add_row(s.name, f"{s.score:.2f}", "[red]yes[/]" if s.flagged else "no",
                      escape(str(shown)[:80]))
    console.print(table)


alerts_app = typer.Typer(help="Alerts: list, show, acknowledge, silence (and list or end "
                         "silences).", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")


AS_JSON = typer.Option("--json", help="Print JSON (one array) instead of a table.")


def _print_json(rows: list[dict[str, object]]) -> None:
    import json

    sys.stdout.write(json.dumps(rows, indent=1, default=str, ensure_ascii=False) + "\n")


@alerts_app.command("list")
def alerts_list(as_json: Annotated[bool, AS_JSON] = False) -> None:
    """Alerts by state (firing first): what each is about, where, since when; and what waits
    in the outbox. Other alert commands take a fingerprint or any unique prefix of it."""
    from llmwatch.detectors.segments import segment_name
    from llmwatch.storage import Store
    from llmwatch.storage.alerts import alert_states
    from llmwatch.storage.outbox import pending

    settings = load_settings()
    store = Store.of(settings)
    rows = alert_states(store.engine)
    if as_json:
        _print_json([{"fingerprint": r.fingerprint, "status": r.status, "severity": r.severity,
                      "detector": r.detector, "metric": r.metric,
                      "segment": segment_name(r.segment), "since": r.since,
                      "notices": r.notifications, "windows_in_a_row": r.streak,
                      "acknowledged": bool(r.acknowledged)}
                     for r in sorted(rows, key=lambda r: (r.status != "firing", r.segment))])
        return
    table = Table(title="alerts")
    for column in ("fingerprint", "status", "severity", "what", "segment", "since", "notices",
                   "windows in a row", "ack"):
        table.add_column(column)
    for r in sorted(rows, key=lambda r: (r.status != "firing", r.segment)):
        what = f"{r.detector} · {r.metric}" if r.detector else "-"
        table.add_row(r.fingerprint[:10], r.status, r.severity, what, segment_name(r.segment),
                      f"{r.since:%Y-%m-%d %H:%M}" if r.since else "-", str(r.notifications),
                      str(r.streak), "yes" if r.acknowledged else "")
    console.print(table)
    waiting = pending(store.engine)
    console.print(f"{waiting} notice(s) waiting in the outbox"
                  + ("" if not waiting or settings.alerts.slack_token else
                     " (set LLMWATCH_ALERTS__SLACK_TOKEN to deliver them)"))


def _alert_state(engine, prefix: str):  # type: ignore[no-untyped-def]
    """The alert whose fingerprint starts with `prefix` (exit 1 if none or several)."""
    from llmwatch.storage.alerts import alerts_starting

    prefix = prefix.strip().lower()
    rows = alerts_starting(engine, prefix)
    if len(rows) != 1 or not prefix:
        what = "several alerts start with" if rows else "no alert"
        err.print(f"{what} '{prefix}'; `llmwatch alerts list` shows the fingerprints")
        raise typer.Exit(1)
    return rows[0]


@alerts_app.command("show")
def alerts_show(fingerprint: Annotated[str, typer.Argument(
        help="Fingerprint (or a unique prefix) from `llmwatch alerts list`.")]) -> None:
    """One alert's state and its latest findings."""
    from llmwatch.detectors.segments import segment_name
    from llmwatch.storage import Store
    from llmwatch.storage.alerts import latest_findings

    engine = Store.of(load_settings()).engine
    state = _alert_state(engine, fingerprint)
    rows = latest_findings(engine, state.segment, state.metric)
    what = f"{state.detector} · {state.metric} " if state.detector else ""
    console.print(f"[bold]{state.fingerprint}[/] {what}{state.status} {state.severity} on "
                  f"{segment_name(state.segment)}, {state.notifications} notice(s), "
                  f"{state.streak} window(s) in a row", markup=False)
    for r in rows:
        mark = "fired" if r.fired else "quiet"
        console.print(f"  {r.created_at:%Y-%m-%d %H:%M} {r.detector} {r.metric} {mark} "
                      f"{r.explanation or ''}", markup=False)


@alerts_app.command("ack")
def alerts_ack(fingerprint: Annotated[str, typer.Argument(
        help="Fingerprint (or a unique prefix) from `llmwatch alerts list`.")]) -> None:
    """Acknowledge a firing alert: no reminders until it resolves."""
    from llmwatch.storage import Store
    from llmwatch.storage.alerts import acknowledge

    engine = Store.of(load_settings()).engine
    fingerprint = _alert_state(engine, fingerprint).fingerprint
    status = acknowledge(engine, fingerprint)
    if status is not None:
        err.print(f"alert {fingerprint} is {status}, not firing: nothing to acknowledge")
        raise typer.Exit(1)
    console.print(f"acknowledged {fingerprint}: no reminders until it resolves")


@alerts_app.command("silence")
def alerts_silence(
    for_: Annotated[str, typer.Option("--for", help="How long: 30m, 2h, 1d.")],
    like: Annotated[str | None, typer.Option(
        help="Silence the segment of this alert (fingerprint or prefix), as Slack suggests.")
    ] = None,
    app_name: Annotated[str | None, typer.Option(
        "--app", help="Silence every segment of this app.")] = None,
    segment: Annotated[str | None, typer.Option(
        help="Segment key as stored (a JSON array), or a prefix of one ending in *.")] = None,
    detector: Annotated[str | None, typer.Option(help="Only this detector.")] = None,
    metric: Annotated[str | None, typer.Option(help="Only this metric.")] = None,
    reason: Annotated[str, typer.Option(help="Shown in the log and to the team.")] = "",
) -> None:
    """Silence matching alerts for a while (a maintenance window). Without --like, --app or
    --segment it silences every segment."""
    from datetime import UTC, datetime

    from llmwatch.detectors.segments import app_pattern, segment_name
    from llmwatch.storage import Store
    from llmwatch.storage.alerts import add_silence

    if sum(x is not None for x in (like, app_name, segment)) > 1:
        raise typer.BadParameter("give one of --like, --app and --segment")
    duration = _duration(for_)
    now = datetime.now(UTC)
    store = Store.of(load_settings())
    if like is not None:
        segment = _alert_state(store.engine, like).segment
    elif app_name is not None:
        segment = app_pattern(app_name)
    silence_id = add_silence(store.engine, segment=segment, detector=detector, metric=metric,
                             starts_at=now, ends_at=now + duration, reason=reason)
    where = (f"app {app_name}" if app_name is not None else
             segment_name(segment) if segment else "every segment")
    console.print(f"silence #{silence_id}: {where} ({detector or 'any detector'}, "
                  f"{metric or 'any metric'}) until {now + duration:%Y-%m-%d %H:%M} UTC; "
                  f"`llmwatch alerts unsilence {silence_id}` ends it", markup=False)


@alerts_app.command("silences")
def alerts_silences(
    all_: Annotated[bool, typer.Option("--all", help="Include expired silences.")] = False,
    as_json: Annotated[bool, AS_JSON] = False,
) -> None:
    """Silences and maintenance windows: active ones (or all)."""
    from datetime import UTC, datetime

    from llmwatch.detectors.segments import segment_name
    from llmwatch.storage import Store
    from llmwatch.storage.alerts import silences
    from llmwatch.storage.tables import as_utc

    now = datetime.now(UTC)
    rows = silences(Store.of(load_settings()).engine, now, ended_too=all_)
    if as_json:
        _print_json([{"id": r.id, "segment": segment_name(r.segment) if r.segment else None,
                      "detector": r.detector, "metric": r.metric,
                      "starts_at": as_utc(r.starts_at), "ends_at": as_utc(r.ends_at),
                      "active": as_utc(r.ends_at) > now, "reason": r.reason} for r in rows])
        return
    if not rows:
        console.print("no active silences" if not all_ else "no silences")
        return
    table = Table(title="silences")
    for column in ("id", "segment", "detector", "metric", "from", "until", "reason"):
        table.add_column(column)
    for r in rows:
        until = f"{as_utc(r.ends_at):%Y-%m-%d %H:%M}" + (
            "" if as_utc(r.ends_at) > now else " (over)")
        table.add_row(str(r.id), segment_name(r.segment) if r.segment else "every segment",
                      r.detector or "any", r.metric or "any",
                      f"{as_utc(r.starts_at):%Y-%m-%d %H:%M}", until, r.reason)
    console.print(table)


@alerts_app.command("unsilence")
def alerts_unsilence(silence_id: Annotated[int, typer.Argument(
        help="The silence's id, from `llmwatch alerts silences`.")]) -> None:
    """End a silence now (it stays listed under --all)."""
    from datetime import UTC, datetime

    from llmwatch.storage import Store
    from llmwatch.storage.alerts import end_silence

    if not end_silence(Store.of(load_settings()).engine, silence_id, datetime.now(UTC)):
        err.print(f"no active silence #{silence_id}; `llmwatch alerts silences` lists them")
        raise typer.Exit(1)
    console.print(f"silence #{silence_id} ended; matching alerts notify again")


def _duration(text: str):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    units = {"m": 60, "h": 3600, "d": 86400}
    try:
        return timedelta(seconds=float(text[:-1]) * units[text[-1]])
    except (KeyError, ValueError, IndexError):
        raise typer.BadParameter(f"'{text}' is not a duration like 30m, 2h or 1d") from None


@tickets_app.command("list")
def tickets_list(as_json: Annotated[bool, AS_JSON] = False) -> None:
    """Open and closed retraining tickets, newest first."""
    from llmwatch.storage import Store
    from llmwatch.storage.tickets import Tickets

    rows = Tickets(Store.of(load_settings()).engine).listing()
    if as_json:
        _print_json([{"id": r.id, "status": r.status, "windows": r.windows,
                      "examples": r.examples, "title": r.title, "action": r.action}
                     for r in rows])
        return
    if not rows:
        console.print("no tickets yet: they open when an alert keeps firing "
                      "(LLMWATCH_ALERTS__TICKET_AFTER_WINDOWS windows in a row)")
        return
    table = Table(title="retraining tickets")
    for column in ("id", "status", "windows", "examples", "title", "suggested action"):
        table.add_column(column)
    for r in rows:
        table.add_row(str(r.id), r.status, str(r.windows), str(r.examples), r.title, r.action)
    console.print(table)


@tickets_app.command("show")
def tickets_show(ticket_id: Annotated[int, typer.Argument(help="The ticket's id.")]) -> None:
    """A ticket's evidence, as JSON."""
    from llmwatch.storage import Store
    from llmwatch.storage.tickets import Tickets

    row = _ticket(ticket_id)
    console.print(f"[bold]#{row.id} {row.title}[/] ({row.status}); action: {row.action}")
    console.print_json(data=row.evidence)
    content = Tickets(Store.of(load_settings()).engine).content(ticket_id)
    for r in content.replays if content else ():
        console.print(f"replayed: {r['model']} → {r['decision']}: {r['headline']} "
                      f"(llmwatch replays show {r['run_id']})", markup=False)


@tickets_app.command("export")
def tickets_export(
    ticket_id: Annotated[int, typer.Argument(help="The ticket's id.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the JSONL.")],
) -> None:
    """Write a ticket's fine-tuning dataset (chat JSONL, PII-redacted) to a file."""
    row = _ticket(ticket_id)
    output.write_text(row.dataset + ("\n" if row.dataset else ""), encoding="utf-8")
    console.print(f"wrote {row.examples} examples to {output}; review the assistant turns "
                  "before training: they are the model's current answers")


def _ticket(ticket_id: int):  # type: ignore[no-untyped-def]
    from llmwatch.storage import Store
    from llmwatch.storage.tickets import Tickets

    row = Tickets(Store.of(load_settings()).engine).get(ticket_id)
    if row is None:
        err.print(f"no ticket {ticket_id}; `llmwatch tickets list` shows them")
        raise typer.Exit(1)
    return row


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the tables or migrate them to the newest schema (safe to run again)."""
    from llmwatch.storage import Store, upgrade

    store = Store.of(load_settings())
    upgrade(store.engine)
    console.print(f"database at {store.engine.url.render_as_string(hide_password=True)} "
                  "is up to date")


@embedding_app.command("check")
def embedding_check() -> None:
    """Check the shipped models against their provenance (digests, the space each head was
    trained in) and that the configured backend embeds."""
    from llmwatch.detectors.artifacts import ArtifactMismatch, check_shipped
    from llmwatch.embedding import make_embedder

    emb = load_settings().embedding
    started = time.monotonic()
    try:
        for line in check_shipped():
            console.print(line, markup=False)
        embedder = make_embedder(emb.backend, model_path=emb.model_path)
    except (ArtifactMismatch, ModuleNotFoundError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    refund, again, weather = embedder.encode(["How do I get my money back?",
                                              "I want a refund for my order.",
                                              "Rain is expected in Paris tomorrow."])
    console.print(f"embedding {embedder.name} (sha256 {str(embedder.sha256)[:12]}) ready "
                  f"in {time.monotonic() - started:.1f} s; refund·refund {refund @ again:.2f}, "
                  f"refund·weather {refund @ weather:.2f}", markup=False)
    head = embedder.relevance_head
    if head is not None:
        off = head.off_topic(refund[None, :], weather[None, :])[0]
        verdict = "flagged" if off >= head.threshold else "not flagged"
        console.print(f"relevance head: flags an answer at p(off-topic) ≥ {head.threshold:.2f}"
                      f"; refund question, weather answer: {off:.2f} ({verdict})", markup=False)


@schemas_app.command("export")
def schemas_export(
    check: Annotated[bool, typer.Option(
        help="Only check that the files match the models; exit 1 if not.")] = False,
) -> None:
    """Write schemas/json/*.schema.json from the pydantic models."""
    from llmwatch.schemas.export import JSON_DIR, export, published_schemas, render

    if check:
        stale = [name for name, doc in published_schemas().items()
                 if not (JSON_DIR / name).is_file() or (JSON_DIR / name).read_text() != render(doc)]
        if stale:
            err.print(f"out of date: {', '.join(stale)}; run `llmwatch schemas export`")
            raise typer.Exit(1)
        console.print("JSON Schemas match the models")
        return
    for path in export():
        console.print(f"wrote {path}")


@app.command()
def erase(
    user_hash: Annotated[str | None, typer.Option(
        "--user-hash", help="The user's hash as stored (user_hash of `llmwatch event`).")] = None,
    user: Annotated[str | None, typer.Option(
        "--user", help="The user's raw id: hashed here with LLMWATCH_SDK__ID_SALT, as the SDK "
        "does.")] = None,
    events: Annotated[list[str] | None, typer.Option(
        "--event", help="An event id to erase (repeat for several).")] = None,
) -> None:
    """Erase a user's data (or given events): events, vectors, scores, feedback, and every
    copy made from their text (finding and alert examples, ticket dataset lines, reports of
    those weeks). Kafka records age out by topic retention."""
    from llmwatch.schemas.ids import hash_id
    from llmwatch.storage import Store
    from llmwatch.storage.retention import erase as erase_data

    settings = load_settings()
    if user is not None:
        salt = settings.sdk.id_salt
        if salt is None:
            err.print("--user needs the SDK's salt: set LLMWATCH_SDK__ID_SALT (or pass "
                      "--user-hash)")
            raise typer.Exit(2)
        user_hash = hash_id(user, salt.get_secret_value())
    if not user_hash and not events:
        err.print("name what to erase: --user-hash H, --user ID or --event ID")
        raise typer.Exit(2)
    removed = erase_data(Store.of(settings).engine, user_hash=user_hash,
                         event_ids=events or (), privacy=settings.privacy.policy())
    console.print(f"erased: {removed.describe()}", markup=False)
    for path in removed.files:
        console.print(f"  deleted {path}", markup=False)
    if removed.counts.get("reports"):
        console.print("re-run `llmwatch report --from … --to …` for the weeks whose reports "
                      "were deleted", markup=False)
    for line in beyond_reach(settings, datetime.now(UTC)):
        console.print(line, markup=False)


def beyond_reach(settings: Settings, now: datetime) -> list[str]:
    """What `erase` cannot reach, and until when."""
    from llmwatch.streams.topics import erase_bound_hours, raw_text_topics

    lines = ["not erased (out of reach):"]
    for topic in raw_text_topics(settings):
        hours, bound = erase_bound_hours(settings, topic)
        by = (now + timedelta(hours=bound)).strftime("%Y-%m-%d %H:%M")
        lines.append(f"  Kafka topic {topic}: copies as sent stay until they age out "
                     f"(retention {hours:g} h): gone by {by} UTC at the latest "
                     "(retention.raw_topic_hours shortens it)")
    lines.append("  messages already delivered to Slack, webhooks, PagerDuty and trackers "
                 "(they carried redacted examples); delete them there if needed")
    lines.append("  files exported with `llmwatch ticket export` or copied from reports")
    return lines


@app.command()
def retention() -> None:
    """Apply the retention settings now (the worker does it every `retention.every_s`)."""
    from datetime import UTC, datetime

    from llmwatch.storage import Store
    from llmwatch.storage.retention import apply_retention

    settings = load_settings()
    removed = apply_retention(Store.of(settings).engine, settings.retention.policy(),
                              datetime.now(UTC), settings.report.out_dir)
    console.print(f"removed: {removed.describe()}", markup=False)


@app.command("config")
def show_config() -> None:
    """Print the effective configuration and where it came from. Secrets are hidden:
    tokens, passwords and keys, and the credentials inside URLs."""
    from llmwatch.config import config_file

    settings = load_settings()
    source = config_file()
    console.print(f"# file: {source if source else 'none (defaults + LLMWATCH_* variables)'}")
    console.print_json(data=settings.masked())


def _plan(events: int, shift_at: float | None, shift_topic: str, shift_fraction: float,
          malformed: int, feedback_rate: float, seed: int):  # type: ignore[no-untyped-def]
    from llmwatch.simulate import TrafficPlan

    try:
        return TrafficPlan(events=events, shift_at=shift_at, shift_topic=shift_topic,
                           shift_fraction=shift_fraction, malformed=malformed,
                           feedback_rate=feedback_rate, seed=seed)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def main() -> None:
    from llmwatch import logs

    logs.install()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.CRITICAL)  # its connection errors are ours
    try:
        app()
    except Exception as exc:  # noqa: BLE001 - a clear last word instead of a traceback
        if _debug:
            raise
        message, code = _explain(exc)
        err.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
        sys.exit(code)


def _explain(exc: Exception) -> tuple[str, int]:
    """One line a person can act on, and the exit code (2: configuration or usage)."""
    from kafka.errors import KafkaError
    from pydantic import ValidationError

    from llmwatch.config import describe_settings_error
    from llmwatch.local.kafka import KafkaUnavailable
    from llmwatch.local.postgres import PostgresUnavailable

    if isinstance(exc, ValidationError):
        return describe_settings_error(exc), 2
    if isinstance(exc, KafkaError):
        return (f"{type(exc).__name__}: no Kafka broker answers at the configured address; "
                "start one (`llmwatch kafka`, `docker compose up`) or set "
                "LLMWATCH_KAFKA__BOOTSTRAP_SERVERS", 2)
    if isinstance(exc, KafkaUnavailable | PostgresUnavailable | FileNotFoundError):
        return str(exc), 2
    if isinstance(exc, ModuleNotFoundError):
        return (f"this command needs llmwatch's server side (no module {exc.name!r}): "
                "pip install 'llmwatch[server]'", 2)
    database = _database_error(exc)
    if database:
        return database, 1
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return (f"{type(exc).__name__}: {first} (unexpected; `llmwatch --debug ...` shows the "
            "traceback)", 1)


def _database_error(exc: Exception) -> str | None:
    try:
        from llmwatch.storage.retry import explain
    except ImportError:  # the producer-only install
        return None
    from llmwatch.config import mask_url

    try:
        url = mask_url(load_settings().storage.url)
    except Exception:  # noqa: BLE001
        url = "storage.url"
    return explain(exc, url)


replays_app = typer.Typer(help="Replays of stored traffic through candidate models: list, "
                          "show.", no_args_is_help=True)
app.add_typer(replays_app, name="replays")
FAIL_ON = ("regression", "not-fixed", "never")


@app.command()
def replay(
    base_url: Annotated[str, typer.Option(
        help="The candidate's OpenAI-compatible API, e.g. http://localhost:8000/v1.")],
    model: Annotated[str, typer.Option(help="The candidate model's name at that endpoint.")],
    ticket: Annotated[int | None, typer.Option(
        help="Replay a ticket's failing examples beside the rest of its segment's traffic.")
    ] = None,
    file: Annotated[Path | None, typer.Option(
        help="Replay a JSONL file in the ticket-export format (`llmwatch tickets export`).",
        exists=True, dir_okay=False, readable=True)] = None,
    app_name: Annotated[str | None, typer.Option(
        "--app", help="Replay a segment's calls: its app …")] = None,
    serving_model: Annotated[str | None, typer.Option(
        help="… its serving model (default: every model of the app) …")] = None,
    serving_version: Annotated[str | None, typer.Option(
        help="… and model version (default: every version).")] = None,
    since: Annotated[str | None, typer.Option(
        help="Segment calls from (2026-11-16 or 2026-11-16T08:00, UTC; default: 7 days ago).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="… up to, exclusive (default: now).")
                     ] = None,
    system_prompt: Annotated[Path | None, typer.Option(
        help="A file with another system prompt: replaces the calls' own (a prompt change).",
        exists=True, dir_okay=False, readable=True)] = None,
    limit: Annotated[int | None, typer.Option(
        help="Prompts at most, sampled by topic cluster (default: replay.limit).")] = None,
    concurrency: Annotated[int | None, typer.Option(
        help="Calls in flight (default: replay.concurrency).")] = None,
    rate: Annotated[float | None, typer.Option(
        help="Calls a second at most (default: replay.rate_per_s).")] = None,
    price: Annotated[str | None, typer.Option(
        help="The candidate's price in USD per million tokens, 'input,output' (default: "
        "the price table's, if it knows the model).")] = None,
    check: Annotated[str | None, typer.Option(
        help="With --file: the check its examples failed (refusal, relevance, …).")] = None,
    run_id: Annotated[str | None, typer.Option(
        help="Resume this run (prompts already answered are not sent again).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sample.")] = 0,
    out: Annotated[Path | None, typer.Option(
        help="Folder for the HTML and JSON (default: replay.out_dir).")] = None,
    slack: Annotated[bool, typer.Option(
        help="Post the verdict's digest to Slack through the outbox.")] = True,
    fail_on: Annotated[str, typer.Option(
        help="Exit 3 on: regression (default), not-fixed (also when the finding is not "
        "fixed), never.")] = "regression",
    second_opinion: Annotated[bool, typer.Option(
        help="Re-judge flagged answers with the review tier's evaluators where configured "
        "(review.classifier_dir, review.judge_url), as production does.")] = True,
    judge_model: Annotated[str | None, typer.Option(
        help="Also ask this model which answer is better, serving or candidate (a pairwise "
        "LLM judge; the texts redacted).")] = None,
    judge_base_url: Annotated[str | None, typer.Option(
        help="The pairwise judge's OpenAI-compatible API (default: --base-url).")] = None,
) -> None:
    """Does the fix work? Replay stored traffic through a candidate model, score its answers
    with the worker's own checks beside the serving answers, and judge them paired.

    Sources: --ticket N, --file FILE, or a segment (--app, --serving-model, --since,
    --until). The key is read from replay.api_key_env (OPENAI_API_KEY). Ctrl-C stops
    sending; answers under way are kept; run again with --run-id to go on.
    Exit codes: 0 done, 3 the --fail-on gate failed, 130 interrupted, 1/2 errors.
    """
    import signal
    import threading

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from llmwatch import replay as rp
    from llmwatch.detectors.replay_verdict import Finding
    from llmwatch.detectors.segments import Segment
    from llmwatch.integrations.prices import DEFAULT as PRICES
    from llmwatch.storage import Store, upgrade
    from llmwatch.streams.analysis import local_analyser

    if fail_on not in FAIL_ON:
        err.print(f"[red]error:[/] --fail-on is one of {', '.join(FAIL_ON)}")
        raise typer.Exit(2)
    sources = sum(x is not None for x in (ticket, file, app_name))
    if run_id is None and sources != 1:
        err.print("[red]error:[/] name what to replay: one of --ticket N, --file FILE or "
                  "--app NAME (or --run-id RUN to resume a run)")
        raise typer.Exit(2)
    settings = load_settings()
    cfg = settings.replay
    prices = PRICES
    if price is not None:
        try:
            pin, pout = (float(x) for x in price.split(","))
        except ValueError:
            err.print("[red]error:[/] --price is 'input,output' in USD per million tokens, "
                      "e.g. 0.15,0.6")
            raise typer.Exit(2) from None
        prices = PRICES.with_prices({model: (pin, pout)})
    try:
        candidate = rp.Candidate(
            base_url, model, api_key_env=cfg.api_key_env,
            system_prompt=system_prompt.read_text(encoding="utf-8") if system_prompt else None,
            concurrency=concurrency or cfg.concurrency, rate_per_s=rate or cfg.rate_per_s,
            timeout_s=cfg.timeout_s, max_retries=cfg.max_retries,
            max_attempts=cfg.max_attempts, prices=prices)
        candidate.api_key  # noqa: B018 - said before any work
        store = Store.of(settings)
        upgrade(store.engine)
        policy = settings.privacy.policy()
        wanted = limit or cfg.limit
        traffic = None
        if sources == 1 and not (run_id and rp.run_exists(store, run_id)):
            run_id = run_id or rp.new_run_id()
            with console.status("choosing the prompts ..."):
                if ticket is not None:
                    traffic = rp.select_ticket(store, ticket, limit=wanted, seed=seed,
                                               privacy=policy)
                elif file is not None:
                    finding = Finding("quality_rate", f"{check}_rate") if check else None
                    traffic = rp.select_file(file, limit=wanted, seed=seed, finding=finding,
                                             as_findings=finding is not None)
                else:
                    assert app_name is not None
                    end = _utc(until) if until else datetime.now(UTC)
                    start = _utc(since) if since else end - timedelta(days=7)
                    segment = Segment(app_name, serving_model or "*", serving_version or "*",
                                      "*")
                    traffic = rp.select_segment(store, segment, start, end, limit=wanted,
                                                seed=seed, privacy=policy)
        assert run_id is not None
        with console.status("loading the checks ..."):
            analyser = local_analyser(settings.embedding, settings.quality)
            tier = _second_opinion(settings) if second_opinion else []
        pairwise = None if judge_model is None else rp.Candidate(
            judge_base_url or base_url, judge_model, api_key_env=cfg.api_key_env,
            concurrency=candidate.concurrency, timeout_s=cfg.timeout_s,
            max_retries=cfg.max_retries)
        job = rp.Replay(store, analyser, candidate, run_id, alpha=cfg.alpha,
                        second_opinion=tier, pairwise=pairwise,
                        pairwise_redact=policy.redact)
        total = job.start(traffic, datetime.now(UTC))
    except rp.ReplayError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    except ValueError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    skipped = ", ".join(f"{n} left out: {why}" for why, n in
                        (traffic.skipped.items() if traffic else ()))
    console.print(f"replay [bold]{run_id}[/]: {total} prompts through {escape(model)} at "
                  f"{escape(base_url)}" + (f" ({skipped})" if skipped else ""))
    stop = threading.Event()

    def interrupt(_signum: int, _frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        err.print("stopping: no new prompts are sent; the answers under way are kept "
                  "(Ctrl-C again to quit now)")

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    columns = [TextColumn("replaying"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn()]
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("replay", total=total)
        result = job.run(stop=stop, progress=lambda done, n: bar.update(task, completed=done,
                                                                         total=n))
    if not result.complete:
        console.print(f"stopped with {result.pending} prompt(s) still to send; go on with "
                      f"[bold]llmwatch replay --base-url {escape(base_url)} --model "
                      f"{escape(model)} --run-id {run_id}[/]")
        raise typer.Exit(130)
    verdict = result.verdict
    assert verdict is not None
    from llmwatch.streams.alert_stage import ticket_sinks

    trackers = [t.name for t in ticket_sinks(settings.alerts)]
    published = rp.publish(store, run_id, privacy=policy, out_dir=out or cfg.out_dir,
                           slack_channel=(cfg.slack_channel or settings.alerts.channel)
                           if slack else None, trackers=trackers)
    _print_verdict(verdict.as_dict())
    console.print(f"HTML: {published.html_path}\nJSON: {published.json_path}")
    if published.notices:
        console.print(f"{published.notices} notice(s) in the outbox (Slack digest, ticket "
                      "update): the worker delivers them")
    failed = verdict.decision == "regression" or (
        fail_on == "not-fixed" and verdict.decision == "not_fixed")
    if fail_on != "never" and failed:
        raise typer.Exit(3)


def _second_opinion(settings: Settings) -> list[object]:
    """The configured review evaluators (none configured: none)."""
    from llmwatch.streams.review_app import evaluators

    r = settings.review
    if not (r.reader or r.classifier_dir is not None or r.judge_url):
        return []
    return list(evaluators(settings))


def _utc(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _print_verdict(v: dict[str, object]) -> None:
    colour = {"regression": "red", "fixed": "green", "not_fixed": "yellow",
              "no_worse": "green"}[str(v["decision"])]
    console.print(f"[{colour}]{escape(str(v['headline']))}[/]")
    table = Table("check", "serving", "candidate", "fixed", "newly flagged", "McNemar p")
    quiet = []
    for c in v["checks"]:  # type: ignore[attr-defined]
        if not (c["serving"]["failed"] or c["candidate"]["failed"]):
            quiet.append(c["check"])
            continue
        table.add_row(c["check"], _rate(c["serving"]), _rate(c["candidate"]), str(c["fixed"]),
                      str(c["regressed"]), f"{c['p_value']:.3g}")
    if table.rows:
        console.print(table)
    if quiet:
        console.print(f"flagged on neither side: {', '.join(quiet)}")
    n = v["numbers"]  # type: ignore[index]
    for side in ("serving", "candidate"):
        x = n[side]
        per_1000 = x["cost_usd_per_1000"]
        console.print(f"{side:9} latency p50 {_num(x['latency_ms_p50'])} ms, p95 "
                      f"{_num(x['latency_ms_p95'])} ms · cost per 1,000 calls "
                      + ("—" if per_1000 is None else f"${per_1000:.4f}"))

def _rate(r: dict[str, object]) -> str:
    if r["rate"] is None:
        return "—"
    lo, hi = r["ci"]  # type: ignore[misc]
    return f"{100 * float(r['rate']):.1f} % [{100 * lo:.1f}–{100 * hi:.1f}]"  # type: ignore[arg-type]


def _num(value: object) -> str:
    return "—" if value is None else f"{float(value):,.0f}"  # type: ignore[arg-type]


@replays_app.command("list")
def replays_list(as_json: Annotated[bool, AS_JSON] = False) -> None:
    """Every replay run, the newest first, with its verdict."""
    from llmwatch.storage import Store
    from llmwatch.storage.replays import Replays

    runs = Replays(Store.of(load_settings()).engine).listing()
    rows = [{"run_id": r["run_id"], "status": r["status"], "model": r["candidate"].get("model"),
             "source": r["source"].get("kind"), "ticket": (r["finding"] or {}).get("ticket_id"),
             "decision": (r["verdict"] or {}).get("decision"),
             "headline": (r["verdict"] or {}).get("headline"),
             "created_at": r["created_at"]} for r in runs]
    if as_json:
        _print_json(rows)
        return
    table = Table("run", "status", "candidate", "source", "verdict")
    for r in rows:
        table.add_row(r["run_id"], r["status"], escape(str(r["model"])),
                      f"{r['source']}" + (f" #{r['ticket']}" if r["ticket"] else ""),
                      escape(str(r["headline"] or "—")))
    console.print(table)


@replays_app.command("show")
def replays_show(
    run: Annotated[str, typer.Argument(help="The run id.")],
    html: Annotated[Path | None, typer.Option(help="Write the run's HTML page here.")] = None,
) -> None:
    """A run's verdict (and its HTML page with --html)."""
    from llmwatch.replay import ReplayError, run_record
    from llmwatch.storage import Store
    from llmwatch.storage.replays import Replays

    store = Store.of(load_settings())
    try:
        record, rows = run_record(store, run)
    except ReplayError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    done = sum(1 for r in rows if r.status == "done")
    name = escape(str(record["candidate"]["model"]))
    console.print(f"[bold]{run}[/] ({record['status']}): {name} on {len(rows)} prompts, "
                  f"{done} answered")
    if record["verdict"]:
        _print_verdict(record["verdict"])
    if html is not None:
        page = Replays(store.engine).html(run)
        if page is None:
            err.print("no HTML for this run (not finished, or its examples were erased)")
            raise typer.Exit(1)
        html.write_text(page, encoding="utf-8")
        console.print(f"HTML: {html}")
