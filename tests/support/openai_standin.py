"""A stand-in OpenAI-compatible server: real HTTP on 127.0.0.1 (a random port), speaking
`POST /v1/chat/completions` (with `response_format: json_schema`) and `POST /v1/embeddings` well
enough for the `openai` SDK, with scripted replies and a record of every request it got.

    with OpenAIStandIn() as llm:
        llm.reply(Reply(json={"kind": "clarify", ...}))        # queued, used in order
        llm.respond_with(lambda request: Reply(content="hi"))  # when the queue is empty
        provider = LlmProvider(model=llm.model, base_url=llm.base_url, api_key="k")
        ...
        assert llm.chat_requests[0].response_format["type"] == "json_schema"

Embeddings are deterministic vectors derived from each text's SHA-256 (or `embed_fn`), sent as
floats or base64 as the client asks.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted answer. `json` is shorthand for `content=json.dumps(json)`; a `status` other
    than 200 sends an OpenAI-style error with `error`; `delay_s` holds the answer back."""

    content: str | None = None
    json: dict[str, Any] | None = None
    status: int = 200
    error: str = "scripted error"
    delay_s: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str = "stop"
    refusal: str | None = None

    @property
    def text(self) -> str:
        if self.json is not None:
            return json.dumps(self.json)
        return self.content or ""


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def response_format(self) -> dict[str, Any] | None:
        return self.body.get("response_format")

    @property
    def prompt_text(self) -> str:
        return "\n".join(str(m.get("content", "")) for m in self.messages)


Responder = Callable[[RecordedRequest], Reply]


class OpenAIStandIn:
    """The server; a context manager that starts it on entry and stops it on exit."""

    def __init__(
        self,
        *,
        model: str = "standin-model",
        supports_json_schema: bool = True,
        embedding_dim: int = 16,
        embed_fn: Callable[[str], list[float]] | None = None,
    ) -> None:
        self.model = model
        self.supports_json_schema = supports_json_schema
        self.embedding_dim = embedding_dim
        self.embed_fn = embed_fn or self._hash_embedding
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Reply] = deque()
        self._responder: Responder | None = None
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def reply(self, *replies: Reply) -> None:
        """Queue replies; each chat request takes the next one."""
        with self._lock:
            self._queue.extend(replies)

    def respond_with(self, responder: Responder | None) -> None:
        """Answer chat requests with `responder(request)` once the queue is empty."""
        self._responder = responder

    def start(self) -> OpenAIStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        if self._responder is not None:
            return self._responder(request)
        return Reply(status=500, error="the stand-in has no scripted reply for this request")

    def chat_body(self, request: RecordedRequest, reply: Reply) -> dict[str, Any]:
        prompt_tokens = reply.prompt_tokens
        if prompt_tokens is None:
            prompt_tokens = max(1, len(request.prompt_text) // 4)
        completion_tokens = reply.completion_tokens
        if completion_tokens is None:
            completion_tokens = max(1, len(reply.text) // 4)
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if reply.refusal is not None:
            message = {"role": "assistant", "content": None, "refusal": reply.refusal}
        return {
            "id": f"chatcmpl-standin-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.body.get("model", self.model),
            "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def embeddings_body(self, request: RecordedRequest) -> dict[str, Any]:
        texts = request.body.get("input", [])
        texts = [texts] if isinstance(texts, str) else list(texts)
        as_base64 = request.body.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate(texts):
            vector = self.embed_fn(str(text))
            encoded: Any = vector
            if as_base64:
                encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(max(1, len(str(t)) // 4) for t in texts)
        return {
            "object": "list",
            "data": data,
            "model": request.body.get("model", "standin-embedding"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    def _hash_embedding(self, text: str) -> list[float]:
        digest = hashlib.sha256(text.encode()).digest()
        return [(digest[i % len(digest)] - 127.5) / 127.5 for i in range(self.embedding_dim)]


def _handler_for(standin: OpenAIStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            return

        def do_GET(self) -> None:
            self._record({})
            if self.path.rstrip("/").endswith("/models"):
                self._send(200, {"object": "list", "data": [{"id": standin.model}]})
            else:
                self._error(404, f"no route {self.path}")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                self._error(400, "the body is not JSON")
                return
            request = self._record(body)
            if self.path.endswith("/chat/completions"):
                self._chat(request)
            elif self.path.endswith("/embeddings"):
                self._send(200, standin.embeddings_body(request))
            else:
                self._error(404, f"no route {self.path}")

        def _chat(self, request: RecordedRequest) -> None:
            wants_schema = (request.response_format or {}).get("type") == "json_schema"
            if wants_schema and not standin.supports_json_schema:
                self._error(400, "response_format `json_schema` is not supported by this model")
                return
            reply = standin.next_reply(request)
            if reply.delay_s:
                time.sleep(reply.delay_s)
            if reply.status != 200:
                self._error(reply.status, reply.error)
                return
            self._send(200, standin.chat_body(request, reply))

        def _record(self, body: dict[str, Any]) -> RecordedRequest:
            request = RecordedRequest(
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            standin.record(request)
            return request

        def _error(self, status: int, message: str) -> None:
            kind = "invalid_request_error" if status < 500 else "server_error"
            self._send(status, {"error": {"message": message, "type": kind, "code": None}})

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

    return Handler
