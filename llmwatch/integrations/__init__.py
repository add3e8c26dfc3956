"""Ways in for calls an app already makes or already traces, all through the SDK's `Monitor`
(never blocking, never raising into the app):

- `llmwatch.integrations.otel.LLMWatchSpanProcessor`: an OpenTelemetry span processor that
  turns the LLM spans of OpenLLMetry, OpenInference or the official GenAI instrumentation
  into events (`pip install 'llmwatch[otel]'`);
- `llmwatch.integrations.openai.watch`: wraps an `openai` client (sync, async, streaming);
- `llmwatch.integrations.langchain.LLMWatchCallbackHandler`: a LangChain callback handler;
- `llmwatch.integrations.prices`: list prices per model, for the cost of a call whose
  instrumentation does not report one.
"""
