"""Embeddings as bytes, the same on SQLite and PostgreSQL.

Stored as little-endian float16 (2 bytes a dimension: 768 bytes for a 384-d vector, half of
float32): unit vectors lose nothing that cosine similarity or a centroid test can see
(relative error < 0.1 %). Vectors written before as float32 (4 bytes a dimension) still read:
the length tells which.
"""

from __future__ import annotations

import numpy as np

_STORED = np.dtype("<f2")
_LEGACY = np.dtype("<f4")


def to_bytes(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=_STORED).tobytes()


def from_bytes(data: bytes, dim: int) -> np.ndarray:
    """float32 of shape (dim,), whichever width it was stored in."""
    if len(data) == dim * _STORED.itemsize:
        return np.frombuffer(data, dtype=_STORED).astype(np.float32)
    vector = np.frombuffer(data, dtype=_LEGACY)
    if vector.shape != (dim,):
        raise ValueError(f"stored vector has {len(data)} bytes, expected {dim} values")
    return vector
