"""The language-model provider: one OpenAI-compatible client (OpenAI, Vercel AI Gateway, vLLM,
Ollama) for chat completions with structured output and for embeddings, with token and cost
accounting. Nothing here knows about Genie; Genie and the agents call it."""

from ipai_core.llm.provider import Completion, LlmProvider

__all__ = ["Completion", "LlmProvider"]
