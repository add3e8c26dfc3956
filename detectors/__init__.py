"""Drift and quality detectors: pure functions and classes over arrays and records.

They consume `llmwatch.schemas.embedded.EmbeddedEvent` (from the enriched topic) and never
import faust, a database or Slack. Built by the drift (#3) and quality (#4) issues.
"""
