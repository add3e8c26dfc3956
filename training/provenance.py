"""The provenance file every shipped artifact carries beside it (`<name>.provenance.json`).

It says how to rebuild the artifact (`command`, `arguments`, `seed`), from what (`sources`:
pinned packages and the digests of what was read), with what (`tools`: library versions,
Python), at which commit, and what it measured when it was built (`metrics`). `sha256` is the
artifact's own digest: loading checks it (`llmwatch.detectors.artifacts`), and `make train`
in a fresh clone reproduces it byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

from llmwatch.detectors.artifacts import provenance_name

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "detectors" / "data"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def commit() -> str:
    """The checkout's commit (`-dirty` when files differ from it), or "unknown" outside git."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"],
                             cwd=ROOT, capture_output=True, text=True, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def versions(packages: Iterable[str]) -> dict[str, str]:
    return {p: metadata.version(p) for p in packages}


def path_of(artifact: Path) -> Path:
    return artifact.with_name(provenance_name(artifact.name))


def write(artifact: Path, *, command: str, sources: Mapping[str, object],
          tools: Iterable[str], arguments: Mapping[str, object] | None = None,
          seed: int | None = None, metrics: Mapping[str, object] | None = None,
          space: Mapping[str, str] | None = None,
          extra: Mapping[str, object] | None = None) -> dict[str, object]:
    """Writes and returns the artifact's provenance; `space` names the embedding space the
    artifact reads (`{"name", "sha256"}`), checked again when it is loaded."""
    record: dict[str, object] = {
        "artifact": artifact.name, "sha256": sha256(artifact),
        "bytes": artifact.stat().st_size, "command": command, "commit": commit(),
        "sources": dict(sources),
        "tools": {"python": platform.python_version(),
                  **versions(sorted({"numpy", *tools}))},
    }
    if arguments is not None:
        record["arguments"] = dict(arguments)
    if seed is not None:
        record["seed"] = seed
    if space is not None:
        record["space"] = dict(space)
    if metrics is not None:
        record["metrics"] = dict(metrics)
    record.update(extra or {})
    path_of(artifact).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return record
