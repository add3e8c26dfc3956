"""Salted hashing of user and session ids: raw ids never enter the event stream."""

from __future__ import annotations

import hashlib
import hmac


def hash_id(raw: str, salt: str) -> str:
    """HMAC-SHA256 of `raw` keyed by `salt`, as 32 hex characters (stable per salt)."""
    if not salt:
        raise ValueError("hash_id needs a non-empty salt (set LLMWATCH_SDK__ID_SALT)")
    return hmac.new(salt.encode(), raw.encode(), hashlib.sha256).hexdigest()[:32]
