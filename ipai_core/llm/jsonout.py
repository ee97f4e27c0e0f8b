"""JSON answers from a model: the response_format for a JSON schema, the instruction used when an
endpoint has no structured output, and reading a JSON object back out of the reply text."""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def response_format(schema: dict[str, Any]) -> dict[str, Any]:
    """`response_format` for `schema`; strict mode only when the schema meets its rules (every
    object closed and every property required), as OpenAI refuses strict mode otherwise."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": _schema_name(schema),
            "schema": schema,
            "strict": is_strict_compatible(schema),
        },
    }


def text_instruction(schema: dict[str, Any]) -> str:
    """The system message that asks for JSON when `response_format` cannot be used."""
    return (
        "Reply with one JSON object and nothing else (no prose, no code fence). "
        f"It must validate against this JSON Schema:\n{json.dumps(schema, separators=(',', ':'))}"
    )


def parse_object(text: str) -> dict[str, Any] | None:
    """The JSON object in a reply: the whole text, a fenced block, or the outermost braces."""
    for candidate in _candidates(text):
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def is_strict_compatible(schema: Any) -> bool:
    if isinstance(schema, list):
        return all(is_strict_compatible(item) for item in schema)
    if not isinstance(schema, dict):
        return True
    if schema.get("type") == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is not False:
            return False
        if set(schema.get("required", [])) != set(properties):
            return False
    return all(is_strict_compatible(value) for value in schema.values())


def _candidates(text: str) -> list[str]:
    stripped = text.strip()
    found = [stripped, *(m.group(1).strip() for m in _FENCE.finditer(stripped))]
    start, end = stripped.find("{"), stripped.rfind("}")
    if 0 <= start < end:
        found.append(stripped[start : end + 1])
    return found


def _schema_name(schema: dict[str, Any]) -> str:
    title = str(schema.get("title") or "answer")
    return re.sub(r"[^A-Za-z0-9_-]", "_", title)[:64]
