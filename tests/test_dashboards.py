"""The Grafana boards: the LLM-traffic board's SQL runs on a real PostgreSQL holding the
simulated world (three weeks of calls through the real pipeline, with a drift, alerts and a
ticket), every panel and variable, with Grafana's macros expanded as its PostgreSQL data
source expands them; and neither board hard-codes a data source."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy import text

from llmwatch.storage import Store, upgrade

ROOT = Path(__file__).resolve().parents[1]
FROM, TO = "2026-11-01T00:00:00Z", "2026-11-24T00:00:00Z"
VARIABLES = {"$app": "'support-bot'", "$model": "'chat-model'"}


def expand(sql: str, interval_s: int = 3600) -> str:
    """Grafana's PostgreSQL macros, as its data source expands them."""
    sql = re.sub(r"\$__timeFilter\(([^)]+)\)", rf"\1 BETWEEN '{FROM}' AND '{TO}'", sql)
    sql = re.sub(r"\$__timeGroupAlias\(([^,]+),\s*\$__interval\)",
                 rf'floor(extract(epoch from \1)/{interval_s})*{interval_s} AS "time"', sql)
    for name, value in VARIABLES.items():
        sql = sql.replace(name, value)
    assert "$" not in sql, f"an unexpanded macro or variable: {sql}"
    return sql


def board(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "deploy" / "grafana" / name).read_text())


def test_every_panel_of_the_traffic_board_runs_on_postgresql(world_db: str,
                                                             postgres_url: str) -> None:
    from report_world import copy_world

    store = Store(postgres_url)
    upgrade(store.engine)
    copy_world(world_db, store)
    dashboard = board("llm-traffic.json")
    queries = [(p["title"], t) for p in dashboard["panels"] for t in p["targets"]]
    assert len(queries) >= 12
    with store.engine.connect() as conn:
        for variable in dashboard["templating"]["list"]:
            if variable["type"] == "query":
                values = conn.execute(text(expand(variable["query"]))).scalars().all()
                assert values, variable["name"]
        for title, target in queries:
            result = conn.execute(text(expand(target["rawSql"])))
            rows, columns = result.fetchall(), list(result.keys())
            assert rows, f"{title}: no rows on the world's data"
            if target["format"] == "time_series":  # Grafana needs a time column
                assert columns[0] == "time", (title, columns)
    titles = {p["title"] for p in dashboard["panels"]}
    for wanted in ("Calls by app and model", "Cost by app and model (USD)",
                   "Latency p50 and p95 (ms)", "Flag rates by check",
                   "Drift and quality findings that fired", "Open retraining tickets",
                   "Top users by cost (hashed ids)"):
        assert wanted in titles
    store.dispose()


def test_no_board_hard_codes_its_data_source() -> None:
    for name, kind in (("llm-traffic.json", "grafana-postgresql-datasource"),
                       ("llmwatch.json", "prometheus")):
        dashboard = board(name)
        [ds] = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
        assert ds["name"] == "ds" and ds["query"] == kind
        used = [p.get("datasource") for p in dashboard["panels"]] + [
            t.get("datasource") for p in dashboard["panels"] for t in p.get("targets", [])
            if "datasource" in t]
        assert used and all(u == {"type": kind, "uid": "${ds}"} for u in used), name
