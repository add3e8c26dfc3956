"""The install a test's subprocess sees."""

from __future__ import annotations

import os
from pathlib import Path

NO_TORCH = str(Path(__file__).resolve().parent / "no_torch")


def without_torch(env: dict[str, str] | None = None) -> dict[str, str]:
    """An environment whose Python cannot import PyTorch, as after
    `pip install 'llmwatch[server]'` (tests/no_torch/sitecustomize.py)."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (NO_TORCH, env.get("PYTHONPATH")) if p)
    return env
