"""The files shipped in `detectors/data/` and the checks made when one is loaded.

Each model artifact has a provenance file beside it (`<name>.provenance.json`, written by
`training/`): its digest, how it was built, and for a head the embedding space it reads. A
file whose digest differs from its provenance, or a head built in another space than the one
the worker runs, is refused with one line that says what to do.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

SUFFIXES = (".int8.onnx", ".tsv.gz", ".npz", ".onnx")
REBUILD = "rebuild the shipped artifacts with `make train`, or reinstall llmwatch"


class ArtifactMismatch(RuntimeError):
    """A shipped file is not the one its provenance describes, or reads another space."""


def data_file(name: str) -> Traversable:
    return resources.files("llmwatch.detectors").joinpath("data", name)


def provenance_name(name: str) -> str:
    """`x.npz` → `x.provenance.json`; so too `x.int8.onnx` and `x.tsv.gz`."""
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix) + ".provenance.json"
    return name + ".provenance.json"


@cache
def provenance(name: str) -> dict[str, object]:
    """The provenance record of a shipped artifact; a clear error when it is missing."""
    file = data_file(provenance_name(name))
    if not file.is_file():
        raise ArtifactMismatch(f"{name} has no provenance file ({provenance_name(name)}); "
                               f"{REBUILD}")
    return json.loads(file.read_text())


def verified_bytes(name: str) -> bytes:
    """The artifact's bytes, after checking them against the digest in its provenance."""
    data = data_file(name).read_bytes()
    want = provenance(name).get("sha256")
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        raise ArtifactMismatch(f"{name}: sha256 {got[:12]} differs from its provenance "
                               f"({str(want)[:12]}); {REBUILD}")
    return data


def check_space(name: str, space_name: str, space_sha256: str | None) -> None:
    """Refuses a head whose provenance names another embedding space than the worker's (by
    name and, when the worker's space has one, by digest)."""
    space = provenance(name).get("space")
    if not isinstance(space, dict):
        raise ArtifactMismatch(f"{name}: its provenance names no embedding space; {REBUILD}")
    if space.get("name") != space_name or (
            space_sha256 is not None and space.get("sha256") != space_sha256):
        raise ArtifactMismatch(
            f"{name} was trained in space {space.get('name')} "
            f"(sha256 {str(space.get('sha256'))[:12]}), the worker embeds in {space_name} "
            f"(sha256 {str(space_sha256)[:12]}); {REBUILD}")


def check_shipped() -> list[str]:
    """Every shipped artifact with a provenance file, its digest checked; a line each."""
    folder = resources.files("llmwatch.detectors").joinpath("data")
    lines = []
    for file in sorted(folder.iterdir(), key=lambda f: f.name):
        if not file.name.endswith(".provenance.json"):
            continue
        name = str(json.loads(file.read_text())["artifact"])
        verified_bytes(name)
        record = provenance(name)
        space = record.get("space")
        reads = f", reads {space['name']}" if isinstance(space, dict) else ""
        lines.append(f"{name}: sha256 {str(record['sha256'])[:12]} ok "
                     f"(built by `{record.get('command')}`{reads})")
    return lines
