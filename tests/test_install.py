"""What a team installs: the service without PyTorch, from one checkout."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
from installs import without_torch

import llmwatch

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "triton", "nvidia-", "sentence-transformers", "transformers")


@pytest.mark.timeout(900)
def test_the_server_install_resolves_without_pytorch(tmp_path: Path) -> None:
    """pip's own resolver, as `pip install '.[server]'` would run it into an empty
    virtualenv: no torch, triton, NVIDIA or transformers package among what it would
    install."""
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--report", str(report), f"{ROOT}[server]"],
        capture_output=True, text=True, timeout=840)
    assert done.returncode == 0, done.stderr[-3000:]
    names = sorted(item["metadata"]["name"].lower()
                   for item in json.loads(report.read_text())["install"])
    assert "onnxruntime" in names and "numpy" in names  # the resolution is the real one
    heavy = [n for n in names if n.startswith(HEAVY)]
    assert not heavy, f"the server install pulls {heavy}"


def test_the_service_runs_its_models_without_pytorch() -> None:
    """Every shipped model loads and checks against its provenance, the static space and
    the drift space embed, with PyTorch impossible to import."""
    check = subprocess.run([sys.executable, "-m", "llmwatch", "embedding", "check"],
                           capture_output=True, text=True, timeout=300, env=without_torch())
    assert check.returncode == 0, check.stderr[-3000:]
    assert "static-v5.npz: sha256" in check.stdout and "ready in" in check.stdout
    probe = subprocess.run([sys.executable, "-c", (
        "try:\n    import torch\nexcept ModuleNotFoundError: pass\n"
        "else: raise SystemExit('torch imported')\n"
        "from llmwatch.onnx_embedding import OnnxMiniLM\n"
        "from llmwatch.streams.analysis import local_analyser\n"
        "from llmwatch.config import Settings\n"
        "s = Settings()\n"
        "a = local_analyser(s.embedding, s.quality)\n"
        "print(OnnxMiniLM.load().encode(['a refund, please']).shape)\n"
        "import sys; print(sorted(m for m in sys.modules if m.startswith('torch')))\n")],
        capture_output=True, text=True, timeout=300, env=without_torch())
    assert probe.returncode == 0, probe.stderr[-3000:]
    assert "(1, 384)" in probe.stdout and "[]" in probe.stdout


def test_the_minilm_backend_without_pytorch_says_what_to_install() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "llmwatch", "embedding", "check"], capture_output=True,
        text=True, timeout=300,
        env={**without_torch(), "LLMWATCH_EMBEDDING__BACKEND": "minilm"})
    assert done.returncode == 1
    assert "pip install 'llmwatch[server,minilm]'" in " ".join(done.stderr.split())


def test_every_llmwatch_module_comes_from_one_checkout() -> None:
    """The design card's folders install as `llmwatch.schemas`, `.streams`, `.detectors` and
    `.alerts` (pyproject's package-dir): all of them, and every module below, resolve under
    the root `llmwatch` itself came from — never a second checkout or an old install."""
    root = Path(llmwatch.__file__).resolve().parents[1]
    outside = []
    for info in pkgutil.walk_packages(llmwatch.__path__, "llmwatch."):
        if ".migrations.versions." in info.name:
            continue
        spec = importlib.util.find_spec(info.name)
        assert spec is not None and spec.origin is not None, info.name
        if not Path(spec.origin).resolve().is_relative_to(root):
            outside.append(f"{info.name}: {spec.origin}")
    assert not outside, f"modules outside {root}: {outside}"
    checkout = (root / "pyproject.toml").is_file()  # editable: the folders of the checkout
    for folder in ("schemas", "streams", "detectors", "alerts"):
        package = importlib.import_module(f"llmwatch.{folder}")
        where = Path(package.__file__).resolve().parent  # type: ignore[arg-type]
        assert where == (root / folder if checkout else root / "llmwatch" / folder)
