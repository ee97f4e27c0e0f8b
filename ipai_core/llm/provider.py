"""`LlmProvider`: chat completions and embeddings through the `openai` SDK against any
OpenAI-compatible endpoint — OpenAI itself, Vercel AI Gateway, a local vLLM or Ollama.

Structured output asks for `response_format: json_schema`; an endpoint that refuses it is asked for
JSON in the reply text instead (remembered for the provider's lifetime), and either way the object
is read back and handed to the caller to validate (Genie validates it with pydantic). Each call
has a deadline and reports its tokens and its cost at the configured prices.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Literal, cast

import openai

from ipai_core.errors import LlmError
from ipai_core.llm.jsonout import parse_object, response_format, text_instruction
from ipai_core.settings import Settings

log = logging.getLogger(__name__)

StructuredOutput = Literal["json_schema", "text"]
OPENAI_BASE_URL = "https://api.openai.com/v1"
_KEYLESS = "not-needed"  # the SDK insists on a key; local vLLM/Ollama ignore it


@dataclass(frozen=True)
class Prices:
    """USD per 1,000 tokens."""

    prompt_per_1k: float = 0.0
    completion_per_1k: float = 0.0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return round(
            prompt_tokens / 1000 * self.prompt_per_1k
            + completion_tokens / 1000 * self.completion_per_1k,
            8,
        )


@dataclass(frozen=True)
class Completion:
    """One chat completion: the reply text, the JSON object when one was asked for, the usage."""

    text: str
    parsed: dict[str, Any] | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    model: str
    latency_ms: int


class LlmProvider:
    """An OpenAI-compatible chat and embeddings client. Build it with `from_settings`."""

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        embedding_model: str = "text-embedding-3-small",
        prices: Prices | None = None,
        timeout_s: float = 30.0,
        max_retries: int = 1,
        structured_output: StructuredOutput = "json_schema",
    ) -> None:
        self.model = model
        self.embedding_model = embedding_model
        self.base_url = base_url or OPENAI_BASE_URL
        self.prices = prices or Prices()
        self.timeout_s = timeout_s
        self._structured: StructuredOutput = structured_output
        self._limit_param = "max_tokens"
        self._client = openai.OpenAI(
            base_url=self.base_url,
            api_key=api_key or _KEYLESS,
            timeout=timeout_s,
            max_retries=max_retries,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> LlmProvider | None:
        """The configured provider, or None when neither IPAI_LLM_BASE_URL nor a key is set."""
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        if not settings.llm_base_url and not key:
            return None
        return cls(
            model=settings.llm_model,
            base_url=settings.llm_base_url,
            api_key=key,
            embedding_model=settings.llm_embedding_model,
            prices=Prices(settings.llm_price_prompt_per_1k, settings.llm_price_completion_per_1k),
            timeout_s=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
            structured_output=settings.llm_structured_output,
        )

    @property
    def structured_output(self) -> StructuredOutput:
        """How JSON is asked for now (`text` once the endpoint refused `json_schema`)."""
        return self._structured

    def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        json_schema: dict[str, Any] | None = None,
        max_tokens: int = 800,
        timeout_s: float | None = None,
    ) -> Completion:
        """One chat completion; with `json_schema`, `parsed` holds the JSON object replied."""
        started = time.monotonic()
        response = self._create(messages, json_schema, max_tokens, timeout_s or self.timeout_s)
        choice = response.choices[0] if response.choices else None
        if choice is None:
            raise self._error("the endpoint answered with no choices", "empty")
        if getattr(choice.message, "refusal", None):
            raise self._error(f"the model refused: {choice.message.refusal}", "refused")
        text = choice.message.content or ""
        parsed = None if json_schema is None else self._parsed(text, choice.finish_reason)
        prompt, completion = _usage(response)
        result = Completion(
            text=text,
            parsed=parsed,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost_usd=self.prices.cost(prompt, completion),
            model=response.model or self.model,
            latency_ms=int((time.monotonic() - started) * 1000),
        )
        log.info(
            "llm completion model=%s prompt_tokens=%d completion_tokens=%d cost_usd=%.6f ms=%d",
            result.model,
            prompt,
            completion,
            result.cost_usd,
            result.latency_ms,
        )
        return result

    def embed(self, texts: list[str], *, timeout_s: float | None = None) -> list[list[float]]:
        """One vector per text, in order."""
        if not texts:
            return []
        response = self._call(
            lambda: self._client.embeddings.create(
                model=self.embedding_model,
                input=texts,
                encoding_format="float",
                timeout=timeout_s or self.timeout_s,
            ),
            model=self.embedding_model,
            timeout_s=timeout_s or self.timeout_s,
        )
        vectors = sorted(response.data, key=lambda item: item.index)
        if len(vectors) != len(texts):
            raise self._error(
                f"the endpoint returned {len(vectors)} embeddings for {len(texts)} texts",
                "bad_response",
                model=self.embedding_model,
            )
        return [list(item.embedding) for item in vectors]

    def close(self) -> None:
        self._client.close()

    def _create(
        self,
        messages: list[dict[str, Any]],
        schema: dict[str, Any] | None,
        max_tokens: int,
        timeout_s: float,
    ) -> Any:
        """Send the request; adapts once to an endpoint that refuses `json_schema` or wants
        `max_completion_tokens`, and remembers the adaptation."""
        for _attempt in range(3):
            kwargs: dict[str, Any] = {self._limit_param: max_tokens, "timeout": timeout_s}
            sent = list(messages)
            if schema is not None and self._structured == "json_schema":
                kwargs["response_format"] = response_format(schema)
            elif schema is not None:
                sent = [{"role": "system", "content": text_instruction(schema)}, *sent]
            try:
                return self._client.chat.completions.create(
                    model=self.model, messages=cast(Any, sent), **kwargs
                )
            except openai.BadRequestError as exc:
                if not self._adapt(str(exc.message), schema):
                    raise self._translate(exc, timeout_s) from exc
            except openai.OpenAIError as exc:
                raise self._translate(exc, timeout_s) from exc
        raise self._error("the endpoint kept refusing the request", "bad_request")

    def _adapt(self, message: str, schema: dict[str, Any] | None) -> bool:
        lowered = message.lower()
        if "max_completion_tokens" in lowered and self._limit_param == "max_tokens":
            self._limit_param = "max_completion_tokens"
            return True
        if (
            schema is not None
            and self._structured == "json_schema"
            and ("response_format" in lowered or "json_schema" in lowered)
        ):
            log.warning(
                "`%s` refused response_format json_schema; asking for JSON text", self.model
            )
            self._structured = "text"
            return True
        return False

    def _call(self, fn: Any, *, model: str, timeout_s: float) -> Any:
        try:
            return fn()
        except openai.OpenAIError as exc:
            raise self._translate(exc, timeout_s, model=model) from exc

    def _parsed(self, text: str, finish_reason: str | None) -> dict[str, Any]:
        parsed = _json_object(text) if self._structured == "json_schema" else None
        parsed = parsed or parse_object(text)
        if parsed is None:
            cut = (
                " (the reply was cut at max_tokens; raise it)" if finish_reason == "length" else ""
            )
            raise self._error(
                f"the model did not answer with a JSON object{cut}: `{text[:120]}`", "not_json"
            )
        return parsed

    def _translate(
        self, exc: openai.OpenAIError, timeout_s: float, *, model: str | None = None
    ) -> LlmError:
        where = f"`{model or self.model}` at `{self.base_url}`"
        if isinstance(exc, openai.APITimeoutError):
            return self._error(
                f"{where} did not answer within {timeout_s:g} s; raise IPAI_LLM_TIMEOUT_S or use "
                "a faster model",
                "timeout",
                model=model,
            )
        if isinstance(exc, openai.APIConnectionError):
            return self._error(
                f"cannot reach {where}: {exc}; check IPAI_LLM_BASE_URL", "unreachable", model=model
            )
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return self._error(
                f"{where} refused the key; check IPAI_LLM_API_KEY", "auth", model=model
            )
        if isinstance(exc, openai.RateLimitError):
            return self._error(
                f"{where} is rate limiting; retry later", "rate_limited", model=model
            )
        if isinstance(exc, openai.APIStatusError):
            return self._error(
                f"{where} answered HTTP {exc.status_code}: {exc.message}; check IPAI_LLM_MODEL "
                "and IPAI_LLM_BASE_URL (it usually ends in /v1)",
                f"http_{exc.status_code}",
                model=model,
            )
        return self._error(f"{where} failed: {exc}", "failed", model=model)

    def _error(self, message: str, reason: str, *, model: str | None = None) -> LlmError:
        return LlmError(message, model=model or self.model, reason=reason)


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _usage(response: Any) -> tuple[int, int]:
    usage = getattr(response, "usage", None)
    if usage is None:
        return 0, 0
    return int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0)
