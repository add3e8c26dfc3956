"""What the benches measured, as JSON beside them (`bench/results/<name>.json`), read by
`bench/trust_table.py` to write the README's trust table: numbers are never typed by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).parent / "results"


def write(name: str, data: dict[str, Any]) -> Path:
    FOLDER.mkdir(exist_ok=True)
    path = FOLDER / f"{name}.json"
    record = {"measured": datetime.now(UTC).strftime("%Y-%m-%d"), **data}
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    return path


def read(name: str) -> dict[str, Any] | None:
    path = FOLDER / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None
