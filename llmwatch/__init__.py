"""llmwatch: event-driven monitoring for LLMs in production."""

__version__ = "0.1.0"
