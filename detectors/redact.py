"""Redact personal data from text that leaves the service (alert examples, reports)."""

from .pii import redact

__all__ = ["redact"]
