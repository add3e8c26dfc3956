"""Where things sit: the database is reached through llmwatch/storage/ alone, and storage
takes record types from the detectors, never their logic."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("llmwatch", "streams", "detectors", "alerts", "schemas")
# what storage may take from the detectors: records, their codecs, the privacy policy's type,
RECORDS = {
    "llmwatch.detectors.segments": {"Segment"},
    "llmwatch.detectors.findings": {"Finding"},
    "llmwatch.detectors.quality": {"QualityScore"},
    "llmwatch.detectors.drift_monitor": {"Baseline", "EventRecord", "baseline_from_bytes",
                                         "baseline_to_bytes"},
    "llmwatch.detectors.redact": {"Privacy", "DEFAULT_PRIVACY"},
    # and the order of its tiers, so a threshold rule's SQL decides a call as `decided` does
    "llmwatch.detectors.second_opinion": {"Call", "Verdict", "TIERS", "ADDS_ONLY"},
}


def _imports(path: Path) -> Iterator[tuple[str, list[str]]]:
    """(module, names) of every import that runs (not those under `if TYPE_CHECKING:`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
                   for n in ast.walk(node)}
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module, [a.name for a in node.names]


def _modules(*folders: str) -> list[Path]:
    return sorted(p for f in folders for p in (ROOT / f).rglob("*.py")
                  if "migrations" not in p.parts)


def test_only_storage_imports_sqlalchemy() -> None:
    storage = ROOT / "llmwatch" / "storage"
    outside = [f"{p.relative_to(ROOT)}: {module}" for p in _modules(*PRODUCT)
               if storage not in p.parents
               for module, _ in _imports(p) if module.split(".")[0] in {"sqlalchemy", "alembic"}]
    assert len(_modules(*PRODUCT)) > 80  # the walk sees the product
    assert not outside, "the database is reached outside llmwatch/storage/:\n" + "\n".join(
        outside)


def test_storage_takes_records_from_the_detectors_not_their_logic() -> None:
    taken = [(p.relative_to(ROOT), module, names)
             for p in _modules("llmwatch/storage")
             for module, names in _imports(p) if module.startswith("llmwatch.detectors")]
    assert taken  # it does take records
    logic = [f"{p}: {module} {sorted(set(names) - RECORDS.get(module, set()))}"
             for p, module, names in taken if not set(names) <= RECORDS.get(module, set())]
    assert not logic, "storage imports detector logic:\n" + "\n".join(logic)


def test_the_readme_stays_a_readme() -> None:
    """The README says what llmwatch is and how to run it, in at most 400 lines; history and
    details live in docs/ (the house issue's bar). Every local link in it resolves."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 400, "README.md is over 400 lines: move details to docs/"
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if not target.startswith(("http://", "https://")):
            assert (ROOT / target).exists(), f"README.md links to {target}, which is not there"
