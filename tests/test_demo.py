"""The demo, as a user runs it: everything on this machine, end to end."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from installs import without_torch


def test_demo_runs_end_to_end_and_names_the_shifted_topic(tmp_path: Path) -> None:
    """Run as after `pip install 'llmwatch[server]'`: PyTorch cannot be imported."""
    out = subprocess.run(
        [sys.executable, "-m", "llmwatch", "demo", "--workdir", str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=900,
        env=without_torch({**os.environ, "COLUMNS": "200"}),
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    text = out.stdout
    assert "✓ worker ready" in text  # events are produced only once the worker reads them
    assert "✓ counts add up" in text and "dead-lettered" in text
    assert "calls 400–600: no prompt drift" in text  # quiet before the shift
    shifted = [line for line in text.splitlines() if "calls 600–800" in line]
    assert shifted and "prompt drift" in shifted[0] and "no prompt drift" not in shifted[0]
    # a new topic, or one the reference had a little of (its clusters depend on the order the
    # calls were stored in, which varies from run to run)
    assert "new: prompts about" in shifted[0] or "grew: prompts about" in shifted[0]
    assert any(term in shifted[0] for term in ("stock", "money", "market", "dollar"))
    assert "online detector (calibrated to one false alarm per 7 days" in text
    assert "alerts: 1 Slack message(s) in the outbox" in text  # one alert, not one per window
    flat = " ".join(text.split())  # rich wraps long lines
    assert "retraining tickets: 1" in flat and "every line valid" in flat
    # the loop closed: a candidate that knows the topic replayed on the ticket and judged
    assert "replay of ticket #1 through" in flat and "fixes the finding" in flat
    assert "ticket #1 now lists: money-finetune → fixed" in flat
    report = re.search(r"(/\S+/reports/llmwatch-report-\S+\.html)", flat)
    assert report, "the demo prints the path of its report"
    page = Path(report.group(1)).read_text()
    assert "What changed, and what to do" in page and "prompts about" in page
    assert Path(report.group(1)).with_suffix(".json").is_file()
