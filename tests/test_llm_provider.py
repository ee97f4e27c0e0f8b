"""The LLM provider against a real HTTP stand-in of an OpenAI-compatible endpoint, with the real
`openai` SDK as the client: structured output, the JSON-text fallback, accounting, failures."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ipai_core.errors import LlmError
from ipai_core.llm.provider import LlmProvider, Prices
from ipai_core.settings import Settings
from tests.support.openai_standin import OpenAIStandIn, RecordedRequest, Reply

SCHEMA = {
    "title": "Answer",
    "type": "object",
    "properties": {"city": {"type": "string"}, "count": {"type": "integer"}},
    "required": ["city", "count"],
    "additionalProperties": False,
}
ASK = [{"role": "user", "content": "Which city, and how many?"}]


@pytest.fixture
def standin() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as server:
        yield server


def provider_for(server: OpenAIStandIn, **kwargs: object) -> LlmProvider:
    options: dict[str, object] = {"model": "planner-1", "api_key": "sk-test", "max_retries": 0}
    options.update(kwargs)
    return LlmProvider(base_url=server.base_url, **options)  # type: ignore[arg-type]


def test_structured_output_is_requested_parsed_and_costed(standin: OpenAIStandIn) -> None:
    standin.reply(
        Reply(json={"city": "Manila", "count": 3}, prompt_tokens=1200, completion_tokens=300)
    )
    provider = provider_for(standin, prices=Prices(prompt_per_1k=0.5, completion_per_1k=2.0))

    answer = provider.complete(ASK, json_schema=SCHEMA, max_tokens=200)

    assert answer.parsed == {"city": "Manila", "count": 3}
    assert (answer.prompt_tokens, answer.completion_tokens) == (1200, 300)
    assert answer.cost_usd == pytest.approx(1.2 * 0.5 + 0.3 * 2.0)
    assert answer.model == "planner-1"
    [request] = standin.chat_requests
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.body["model"] == "planner-1"
    assert request.body["max_tokens"] == 200
    fmt = request.response_format
    assert fmt is not None and fmt["type"] == "json_schema"
    assert fmt["json_schema"] == {"name": "Answer", "schema": SCHEMA, "strict": True}


def test_schema_that_strict_mode_would_refuse_is_sent_non_strict(standin: OpenAIStandIn) -> None:
    loose = {"type": "object", "properties": {"city": {"type": "string"}}}
    standin.reply(Reply(json={"city": "Cebu"}))
    assert provider_for(standin).complete(ASK, json_schema=loose).parsed == {"city": "Cebu"}
    fmt = standin.chat_requests[0].response_format
    assert fmt is not None and fmt["json_schema"]["strict"] is False


def test_endpoint_without_json_schema_gets_json_in_text_and_it_is_remembered() -> None:
    with OpenAIStandIn(supports_json_schema=False) as server:
        server.reply(
            Reply(content='Here you go:\n```json\n{"city": "Davao", "count": 1}\n```'),
            Reply(content='{"city": "Cebu", "count": 2}'),
        )
        provider = provider_for(server)
        first = provider.complete(ASK, json_schema=SCHEMA)
        second = provider.complete(ASK, json_schema=SCHEMA)

    assert first.parsed == {"city": "Davao", "count": 1}
    assert second.parsed == {"city": "Cebu", "count": 2}
    assert provider.structured_output == "text"
    refused, fallback, remembered = server.chat_requests
    assert refused.response_format is not None
    assert fallback.response_format is None and remembered.response_format is None
    system = fallback.messages[0]
    assert system["role"] == "system" and '"required":["city","count"]' in system["content"]


def test_text_mode_from_settings_never_sends_response_format(standin: OpenAIStandIn) -> None:
    standin.reply(Reply(content='{"city": "Manila", "count": 5}'))
    provider = provider_for(standin, structured_output="text")
    assert provider.complete(ASK, json_schema=SCHEMA).parsed == {"city": "Manila", "count": 5}
    assert standin.chat_requests[0].response_format is None


def test_plain_completion_has_no_parsed_object(standin: OpenAIStandIn) -> None:
    standin.reply(Reply(content="Manila."))
    answer = provider_for(standin).complete(ASK)
    assert (answer.text, answer.parsed) == ("Manila.", None)
    assert standin.chat_requests[0].response_format is None


def test_reply_that_is_not_json_is_an_error(standin: OpenAIStandIn) -> None:
    standin.reply(Reply(content="I think Manila", finish_reason="length"))
    with pytest.raises(LlmError) as caught:
        provider_for(standin).complete(ASK, json_schema=SCHEMA)
    assert caught.value.reason == "not_json"


def test_model_refusal_is_an_error(standin: OpenAIStandIn) -> None:
    standin.reply(Reply(refusal="I can't help with that."))
    with pytest.raises(LlmError) as caught:
        provider_for(standin).complete(ASK, json_schema=SCHEMA)
    assert caught.value.reason == "refused"


def test_slow_endpoint_is_cut_at_the_deadline(standin: OpenAIStandIn) -> None:
    standin.reply(Reply(content="late", delay_s=3))
    started = time.monotonic()
    with pytest.raises(LlmError) as caught:
        provider_for(standin).complete(ASK, timeout_s=0.5)
    assert caught.value.reason == "timeout"
    assert time.monotonic() - started < 2.5


def test_http_errors_are_translated(standin: OpenAIStandIn) -> None:
    standin.reply(Reply(status=401, error="bad key"), Reply(status=404, error="no such model"))
    provider = provider_for(standin)
    with pytest.raises(LlmError) as auth:
        provider.complete(ASK)
    with pytest.raises(LlmError) as missing:
        provider.complete(ASK)
    assert (auth.value.reason, missing.value.reason) == ("auth", "http_404")


def test_unreachable_endpoint() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = LlmProvider(model="m", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    with pytest.raises(LlmError) as caught:
        provider.complete(ASK, timeout_s=2)
    assert caught.value.reason == "unreachable"


def test_endpoint_wanting_max_completion_tokens_is_adapted_to(standin: OpenAIStandIn) -> None:
    def responder(request: RecordedRequest) -> Reply:
        if "max_tokens" in request.body:
            return Reply(status=400, error="Unsupported parameter: use 'max_completion_tokens'")
        return Reply(content="ok")

    standin.respond_with(responder)
    provider = provider_for(standin)
    assert provider.complete(ASK, max_tokens=50).text == "ok"
    assert provider.complete(ASK, max_tokens=50).text == "ok"
    assert [("max_tokens" in r.body) for r in standin.chat_requests] == [True, False, False]
    assert standin.chat_requests[-1].body["max_completion_tokens"] == 50


def test_embeddings_come_back_in_order_as_floats(standin: OpenAIStandIn) -> None:
    provider = provider_for(standin, embedding_model="embedder-1")
    vectors = provider.embed(["profit and loss", "deployments", "profit and loss"])
    assert len(vectors) == 3 and len(vectors[0]) == standin.embedding_dim
    assert vectors[0] == vectors[2] != vectors[1]
    [request] = [r for r in standin.requests if r.path.endswith("/embeddings")]
    assert request.body["model"] == "embedder-1"
    assert request.body["encoding_format"] == "float"
    assert provider.embed([]) == []


def test_from_settings(standin: OpenAIStandIn, tmp_path: Path) -> None:
    def settings(**values: object) -> Settings:
        return Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[call-arg]

    assert LlmProvider.from_settings(settings()) is None
    keyless = LlmProvider.from_settings(
        settings(
            llm_base_url=standin.base_url,
            llm_model="llama3.1",
            llm_price_prompt_per_1k=1.0,
            llm_price_completion_per_1k=4.0,
        )
    )
    assert keyless is not None
    standin.reply(Reply(content="hi", prompt_tokens=500, completion_tokens=250))
    answer = keyless.complete(ASK)
    assert answer.cost_usd == pytest.approx(0.5 + 1.0)
    assert standin.chat_requests[0].body["model"] == "llama3.1"
    keyed = LlmProvider.from_settings(settings(llm_api_key="sk-live"))
    assert keyed is not None and keyed.base_url == "https://api.openai.com/v1"
